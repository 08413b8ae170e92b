"""Quantized embedding tables (recq-compile --tables=fp16|int8|int4) against
PyTorch: the bytes recq stores are exactly what
torch.ops.quantized.embedding_bag_byte_prepack / _4bit_prepack make of the
same table, and the compiled bags agree with
embedding_bag_byte_rowwise_offsets / _4bit_rowwise_offsets (sum, mean,
per-sample weights, include_last_offset, empty bags). The kernels are
checked bit for bit against plain loops by the gtest EmbeddingBagKernelTest;
accuracy on trained models is in test_int8.py. Needs RECQ_BIN (set by
ctest)."""

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
ROWS, DIM = 300, 24


class Bag(nn.Module):
    def __init__(self, mode, last=False):
        super().__init__()
        self.e = nn.EmbeddingBag(ROWS, DIM, mode=mode, include_last_offset=last)
        with torch.no_grad():  # rows on different scales, one constant row
            self.e.weight.mul_(torch.logspace(-3, 2, ROWS).unsqueeze(1))
            self.e.weight[5] = 0.75

    def forward(self, indices, offsets, *weights):
        return self.e(indices, offsets, per_sample_weights=weights[0] if weights else None)


def compile_bag(tmp_path, module, args, names, *flags):
    path = tmp_path / "bag.onnx"
    export_module(module, args, path, names)
    so = tmp_path / "bag.so"
    subprocess.run([os.path.join(BIN, "recq-compile"), str(path), "-o", str(so), *flags],
                   check=True, capture_output=True, text=True)
    return so


def random_bags(rng, batch, last):
    lengths = rng.integers(0, 40, batch)
    lengths[::4] = 0  # empty bags
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    indices = rng.integers(0, ROWS, offsets[-1])
    return indices, (offsets if last else offsets[:-1])


PREPACK = {"int8": torch.ops.quantized.embedding_bag_byte_prepack,
           "int4": torch.ops.quantized.embedding_bag_4bit_prepack}
LOOKUP = {"int8": torch.ops.quantized.embedding_bag_byte_rowwise_offsets,
          "int4": torch.ops.quantized.embedding_bag_4bit_rowwise_offsets}


@pytest.mark.parametrize("precision", ["int8", "int4"])
def test_stored_bytes_are_torchs_prepacked_table(precision, tmp_path):
    torch.manual_seed(0)
    module = Bag("sum")
    args = [torch.tensor([0, 1]), torch.tensor([0])]
    compile_bag(tmp_path, module, args, ["indices", "offsets"],
                f"--tables={precision}", "--external-weights")
    raw = np.fromfile(tmp_path / "bag.weights", dtype=np.uint8)
    # The file: recq's 64-byte header (recq_weights_header), then the table.
    assert raw[:8].tobytes() == b"RECQWTS\0"
    assert int.from_bytes(raw[24:32].tobytes(), "little") == raw.size
    stored = raw[64:]
    want = PREPACK[precision](module.e.weight.detach()).numpy()
    assert stored.size == want.size
    np.testing.assert_array_equal(stored.reshape(want.shape), want)
    # recq-run --info reports the mapped file (and how much huge pages map).
    info = subprocess.run([os.path.join(BIN, "recq-run"), str(tmp_path / "bag.so"), "--info"],
                          check=True, capture_output=True, text=True).stdout
    assert f"weights: {raw.size / 1024:.1f} KiB mapped, " in info, info


CASES = [("sum", dict(mode="sum")), ("mean", dict(mode="mean")),
         ("weighted", dict(mode="sum", weighted=True)),
         ("last", dict(mode="sum", last=True))]


@pytest.mark.parametrize("name,case", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("precision", ["int8", "int4"])
def test_bags_match_torch_quantized_ops(precision, name, case, tmp_path):
    torch.manual_seed(1)
    rng = np.random.default_rng(2)
    last = case.get("last", False)
    module = Bag(case["mode"], last)
    indices, offsets = random_bags(rng, 33, last)
    args = [torch.from_numpy(indices), torch.from_numpy(offsets)]
    names = ["indices", "offsets"]
    weights = None
    if case.get("weighted"):
        weights = torch.rand(len(indices)) * 4 - 2
        args.append(weights)
        names.append("weights")
    so = compile_bag(tmp_path, module, args, names, f"--tables={precision}")
    got = recq.load(str(so), threads=1).run(**{n: a.numpy() for n, a in zip(names, args)})
    packed = PREPACK[precision](module.e.weight.detach())
    want = LOOKUP[precision](packed, args[0], args[1], per_sample_weights=weights,
                             include_last_offset=last).numpy()
    if case["mode"] == "mean":  # torch's quantized bags only sum (mode is ignored)
        bounds = np.append(offsets, len(indices)) if not last else offsets
        want /= np.maximum(np.diff(bounds), 1)[:, None]
    assert got.shape == want.shape
    # Same dequantized values; only the summation's rounding may differ
    # (recq: fma per row, in bag order).
    scale = np.abs(module.e.weight.detach().numpy()).max()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * scale)


def test_fp16_table_is_the_rounded_table(tmp_path):
    torch.manual_seed(3)
    rng = np.random.default_rng(4)
    module = Bag("max")
    indices, offsets = random_bags(rng, 20, False)
    args = [torch.from_numpy(indices), torch.from_numpy(offsets)]
    so = compile_bag(tmp_path, module, args, ["indices", "offsets"], "--tables=fp16")
    got = recq.load(str(so), threads=1).run(indices=indices, offsets=offsets)
    rounded = nn.EmbeddingBag.from_pretrained(module.e.weight.detach().half().float(),
                                              mode="max")
    with torch.no_grad():
        want = rounded(*args).numpy()
    np.testing.assert_array_equal(got, want)  # max selects, nothing rounds


def test_unknown_precision_is_refused(tmp_path):
    module = Bag("sum")
    path = tmp_path / "bag.onnx"
    export_module(module, (torch.tensor([0, 1]), torch.tensor([0])), path,
                  ["indices", "offsets"])
    r = subprocess.run([os.path.join(BIN, "recq-compile"), str(path), "-o",
                        str(tmp_path / "bag.so"), "--tables=int2"],
                       capture_output=True, text=True)
    assert r.returncode != 0
    assert "unknown table precision 'int2' (fp32, fp16, int8, int4)" in r.stderr
