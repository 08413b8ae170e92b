"""Embedding bags end to end: nn.EmbeddingBag in every form torch exports
(sum, mean, max; per-sample weights; include_last_offset; 2-D input; a
Gather + Reduce fixed-length bag) compiled by recq-compile and run, against
torch on random bags including empty ones, with the table embedded and in
model.weights. Needs RECQ_BIN (set by ctest)."""

import os
import subprocess

import numpy as np
import pytest
import torch
from torch import nn

import recq
from recq.export import export_module

BIN = os.environ.get("RECQ_BIN")
pytestmark = pytest.mark.skipif(not BIN, reason="RECQ_BIN (the built recq tools) is not set")
ROWS, DIM = 50, 20  # D not a multiple of any vector width


class Bag(nn.Module):
    def __init__(self, mode, last=False, weighted=False):
        super().__init__()
        self.e = nn.EmbeddingBag(ROWS, DIM, mode=mode, include_last_offset=last)
        self.weighted = weighted

    def forward(self, indices, offsets, *weights):
        return self.e(indices, offsets, per_sample_weights=weights[0] if weights else None)


class Bag2d(nn.Module):
    def __init__(self, mode):
        super().__init__()
        self.e = nn.EmbeddingBag(ROWS, DIM, mode=mode)

    def forward(self, indices):
        return self.e(indices)


class Fixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.e = nn.Embedding(ROWS, DIM)

    def forward(self, indices):
        return self.e(indices).sum(dim=1)


def random_bags(rng, batch, last):
    lengths = rng.integers(0, 6, batch)
    lengths[::3] = 0  # empty bags
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    indices = rng.integers(0, ROWS, offsets[-1])
    return indices, (offsets if last else offsets[:-1])


CASES = [
    ("sum", dict(mode="sum")), ("mean", dict(mode="mean")), ("max", dict(mode="max")),
    ("weighted", dict(mode="sum", weighted=True)), ("last", dict(mode="sum", last=True)),
    ("2d_sum", None), ("2d_max", None), ("fixed", None),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("external", [False, True], ids=["embedded", "external"])
def test_bag_matches_torch(name, kwargs, external, tmp_path):
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    if kwargs is not None:
        module = Bag(**kwargs)
        indices, offsets = random_bags(rng, 9, kwargs.get("last", False))
        args = [torch.from_numpy(indices), torch.from_numpy(offsets)]
        names = ["indices", "offsets"]
        if kwargs.get("weighted"):
            args.append(torch.rand(len(indices)))
            names.append("weights")
    else:
        module = Fixed() if name == "fixed" else Bag2d(name.split("_")[1])
        args = [torch.from_numpy(rng.integers(0, ROWS, (9, 3)))]
        names = ["indices"]
    path = tmp_path / "bag.onnx"
    export_module(module, args, path, names)
    so = tmp_path / "bag.so"
    cmd = [os.path.join(BIN, "recq-compile"), str(path), "-o", str(so)]
    if external:
        cmd.append("--external-weights")
    subprocess.run(cmd, check=True)
    assert (tmp_path / "bag.weights").exists() == external
    model = recq.load(str(so), threads=1)
    with torch.no_grad():
        want = module(*args).numpy()
    got = model.run(**{n: a.numpy() for n, a in zip(names, args)})
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def export_weighted(tmp_path):
    torch.manual_seed(0)
    module = Bag("sum", weighted=True)
    args = (torch.tensor([0, 1, 2]), torch.tensor([0, 1]), torch.rand(3))
    path = tmp_path / "bag.onnx"
    export_module(module, args, path, ["indices", "offsets", "weights"])
    so = tmp_path / "bag.so"
    subprocess.run([os.path.join(BIN, "recq-compile"), str(path), "-o", str(so)], check=True)
    return module, so


def test_weights_of_another_length_are_an_error(tmp_path):
    _, so = export_weighted(tmp_path)
    model = recq.load(str(so), threads=1)
    with pytest.raises(recq.RecqError, match=r"table 0: the per-sample weights 'weights' do not "
                       r"have the shape of the indices 'indices' \(dimension 0: 2 vs 3\)"):
        model.run(indices=np.array([0, 1, 2]), offsets=np.array([0, 1]),
                  weights=np.ones(2, np.float32))


def test_weighted_bags_split_across_threads(tmp_path):
    """Per-sample weights are cut with their indices, so a weighted model
    runs batch tiles in parallel and gives the single-thread result."""
    module, so = export_weighted(tmp_path)
    rng = np.random.default_rng(5)
    indices, offsets = random_bags(rng, 200, False)
    weights = rng.random(len(indices)).astype(np.float32)
    one = recq.load(str(so), threads=1).run(indices=indices, offsets=offsets, weights=weights)
    two = recq.load(str(so), threads=2).run(indices=indices, offsets=offsets, weights=weights)
    np.testing.assert_array_equal(one, two)
    with torch.no_grad():
        want = module(torch.from_numpy(indices), torch.from_numpy(offsets),
                      torch.from_numpy(weights)).numpy()
    np.testing.assert_allclose(one, want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("tile", ["0", "32"])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("bad", [ROWS, -1, 1 << 40])
def test_index_outside_the_table_is_an_error(bad, threads, tile, tmp_path, monkeypatch):
    """The compiled code checks every index in its pooling loop (reading a
    clamped row, never memory past the table) and the runtime names table,
    sample, value and position, also when the batch is cut into tiles (for
    threads, or for the caches: RECQ_TILE_SAMPLES)."""
    monkeypatch.setenv("RECQ_TILE_SAMPLES", tile)
    torch.manual_seed(0)
    module = Bag("sum")
    args = (torch.tensor([0, 1, 2]), torch.tensor([0, 1]))
    path = tmp_path / "bag.onnx"
    export_module(module, args, path, ["indices", "offsets"])
    so = tmp_path / "bag.so"
    subprocess.run([os.path.join(BIN, "recq-compile"), str(path), "-o", str(so),
                    "--tables=int8"], check=True)
    model = recq.load(str(so), threads=threads)
    rng = np.random.default_rng(6)
    indices, offsets = random_bags(rng, 300, False)
    good = model.run(indices=indices, offsets=offsets)
    position = len(indices) - 7  # in the last tile
    sample = int(np.searchsorted(offsets, position, side="right") - 1)
    broken = indices.copy()
    broken[position] = bad
    with pytest.raises(recq.RecqError, match=rf"table 0: index {bad} of sample {sample} is "
                       rf"outside \[0, {ROWS}\) \(input 'indices', position {position}\)"):
        model.run(indices=broken, offsets=offsets)
    np.testing.assert_array_equal(model.run(indices=indices, offsets=offsets), good)


class Stacked(nn.Module):
    """Fixed-length bags of one stacked [T, B, L] indices input, sliced per
    table in the graph, as recommendation models with fixed bag lengths
    often feed their sparse features."""

    def __init__(self):
        super().__init__()
        self.tables = nn.ModuleList([nn.Embedding(ROWS + 7 * t, DIM) for t in range(3)])

    def forward(self, indices):
        return torch.cat([t(indices[k]).sum(dim=1) for k, t in enumerate(self.tables)], dim=1)


@pytest.mark.parametrize("threads", [1, 2])
def test_stacked_indices_match_torch_and_are_checked(threads, tmp_path):
    """Gather(indices, t) -> Gather(table) -> ReduceSum per table compiles,
    matches torch, and an index outside its table is an error naming the
    table, the sample, the value and its place in the stacked input."""
    torch.manual_seed(0)
    module = Stacked()
    rng = np.random.default_rng(7)
    indices = rng.integers(0, ROWS, (3, 300, 5))
    path = tmp_path / "stacked.onnx"
    with torch.no_grad():
        export_module(module, [torch.from_numpy(indices[:, :4])], path, ["indices"])
    # export_module makes dimension 0 dynamic; the batch is dimension 1 here.
    import onnx
    m = onnx.load(str(path))
    dims = m.graph.input[0].type.tensor_type.shape.dim
    dims[0].ClearField("dim_param")
    dims[0].dim_value = 3
    dims[1].dim_param = "batch"
    onnx.save(m, str(path))
    so = tmp_path / "stacked.so"
    subprocess.run([os.path.join(BIN, "recq-compile"), str(path), "-o", str(so)], check=True)
    model = recq.load(str(so), threads=threads)
    with torch.no_grad():
        want = module(torch.from_numpy(indices)).numpy()
    got = model.run(indices=indices)
    assert got.shape == (300, 3 * DIM)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    broken = indices.copy()
    broken[2, 123, 4] = ROWS + 14  # table 2 has ROWS + 14 rows
    with pytest.raises(recq.RecqError, match=rf"table 2: index {ROWS + 14} of sample 123 is "
                       rf"outside \[0, {ROWS + 14}\) \(input 'indices', row 2, "
                       rf"position {123 * 5 + 4}\)"):
        model.run(indices=broken)
    broken = indices.copy()
    broken[0, 7, 0] = -1
    with pytest.raises(recq.RecqError, match=r"table 0: index -1 of sample 7 "):
        model.run(indices=broken)
