"""Writes the ONNX files the raising tests read, exported by torch exactly as
users get them:

    /usr/bin/python3 make_torch_onnx.py <out-dir>

Every EmbeddingBag and interaction shape the importer raises, at opsets 11,
13 and 14, plus shapes it must refuse (a Loop that is not an EmbeddingBag,
pairs that are not the lower triangle, a table that is an input).
"""

import os
import sys
import warnings

import onnx
import torch
from torch import nn
import torch.nn.functional as F

OPSETS = (11, 13, 14)
ROWS, DIM = 10, 4


class Bag(nn.Module):
    """nn.EmbeddingBag with 1-D indices and offsets."""

    def __init__(self, mode, last=False, weighted=False):
        super().__init__()
        self.e = nn.EmbeddingBag(ROWS, DIM, mode=mode, include_last_offset=last)
        self.weighted = weighted

    def forward(self, indices, offsets, weights=None):
        if self.weighted:
            return self.e(indices, offsets, per_sample_weights=weights)
        return self.e(indices, offsets)


class Bag2d(nn.Module):
    """nn.EmbeddingBag with 2-D [B, L] input (exported with a Range)."""

    def __init__(self, mode):
        super().__init__()
        self.e = nn.EmbeddingBag(ROWS, DIM, mode=mode)

    def forward(self, indices):
        return self.e(indices)


class FixedLength(nn.Module):
    """nn.Embedding + sum/mean/max over the bag axis: Gather + Reduce."""

    def __init__(self, reduce):
        super().__init__()
        self.e = nn.Embedding(ROWS, DIM)
        self.reduce = reduce

    def forward(self, indices):
        rows = self.e(indices)
        if self.reduce == "max":
            return rows.max(dim=1).values
        return getattr(rows, self.reduce)(dim=1)


class PerTableOffsets(nn.Module):
    """Offsets as one [T, B] tensor, as the reference DLRM feeds them."""

    def __init__(self):
        super().__init__()
        self.tables = nn.ModuleList([nn.EmbeddingBag(ROWS + t, DIM, mode="sum")
                                     for t in range(2)])

    def forward(self, offsets, indices_0, indices_1):
        return [t(i, offsets[k]) for k, (t, i) in
                enumerate(zip(self.tables, [indices_0, indices_1]))]


class StackedIndices(nn.Module):
    """Fixed-length bags of one stacked [T, B, L] indices input, sliced per
    table in the graph (Gather(indices, t) -> Gather(table) -> ReduceSum)."""

    def __init__(self):
        super().__init__()
        self.tables = nn.ModuleList([nn.Embedding(ROWS + t, DIM) for t in range(3)])

    def forward(self, indices):
        return torch.cat([t(indices[k]).sum(dim=1) for k, t in enumerate(self.tables)], dim=1)


class Interaction(nn.Module):
    """Bottom Linear + 2 bags + DLRM dot interaction + top Linear/Sigmoid.

    `form`: "torch" gathers z[:, li, lj] (the reference DLRM), "self" adds
    the diagonal, "flat" gathers from z reshaped to [B, F*F], "upper"
    gathers the upper triangle (refused), "cat" concatenates features."""

    def __init__(self, form):
        super().__init__()
        self.form = form
        self.bottom = nn.Linear(5, DIM)
        self.tables = nn.ModuleList([nn.EmbeddingBag(ROWS, DIM, mode="sum")
                                     for _ in range(2)])
        f = 3
        lower = [(i, j) for i in range(f) for j in range(i + (form == "self"))]
        if form == "upper":
            lower = [(j, i) for i, j in lower]
        self.li = torch.tensor([i for i, _ in lower])
        self.lj = torch.tensor([j for _, j in lower])
        self.flat = torch.tensor([i * f + j for i, j in lower])
        width = f * DIM if form == "cat" else DIM + len(lower)
        self.top = nn.Linear(width, 1)

    def forward(self, dense_x, offsets, indices_0, indices_1):
        x = torch.relu(self.bottom(dense_x))
        ly = [t(i, offsets[k]) for k, (t, i) in
              enumerate(zip(self.tables, [indices_0, indices_1]))]
        if self.form == "cat":
            r = torch.cat([x] + ly, dim=1)
        else:
            batch, dim = x.shape
            t = torch.cat([x] + ly, dim=1).view((batch, -1, dim))
            z = torch.bmm(t, torch.transpose(t, 1, 2))
            if self.form == "flat":
                zflat = z.reshape(batch, -1)[:, self.flat]
            else:
                zflat = z[:, self.li, self.lj]
            r = torch.cat([x, zflat], dim=1)
        return torch.sigmoid(self.top(r))


def bag_inputs(weighted=False, last=False):
    indices = torch.tensor([1, 2, 3, 4, 5, 6])
    offsets = torch.tensor([0, 2, 2, 6] if last else [0, 2, 2])
    args, names = (indices, offsets), ["indices", "offsets"]
    if weighted:
        args, names = args + (torch.rand(6),), names + ["weights"]
    return args, names


def export(module, args, names, outputs, path, opset, dynamic=None):
    if dynamic is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, args, path, input_names=names,
                              output_names=outputs, opset_version=opset,
                              dynamic_axes=dynamic)
        return
    dynamic = {name: {0: "n"} for name in names}
    if "offsets" in dynamic and args[names.index("offsets")].dim() == 2:
        dynamic["offsets"] = {1: "batch"}
    if "dense_x" in dynamic:
        dynamic["dense_x"] = {0: "batch"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, path, input_names=names,
                          output_names=outputs, opset_version=opset,
                          dynamic_axes=dynamic)


def bad_loop_body(src, dst):
    """An EmbeddingBag Loop whose body slices the indices with step 2."""
    model = onnx.load(src)
    loop = next(n for n in model.graph.node if n.op_type == "Loop")
    body = next(a for a in loop.attribute if a.name == "body").g
    bag_slice = next(n for n in body.node if n.op_type == "Slice")
    step = onnx.helper.make_tensor("two", onnx.TensorProto.INT64, [1], [2])
    body.node.insert(0, onnx.helper.make_node("Constant", [], ["step_two"],
                                              name="step_two", value=step))
    while len(bag_slice.input) < 4:
        bag_slice.input.append(bag_slice.input[-1] if len(bag_slice.input) == 3
                               else "")
    bag_slice.input.append("step_two")
    onnx.save(model, dst)


def rank_zero_input(src, dst, name):
    """The model of `src` with input `name` declared a scalar (the mutation
    libFuzzer found: the raising read dimension 0 of it)."""
    model = onnx.load(src)
    inp = next(i for i in model.graph.input if i.name == name)
    del inp.type.tensor_type.shape.dim[:]
    onnx.save(model, dst)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    for opset in OPSETS:
        def path(name):
            return os.path.join(out, f"{name}_opset{opset}.onnx")

        for mode in ("sum", "mean", "max"):
            args, names = bag_inputs()
            export(Bag(mode), args, names, ["y"], path(f"bag_{mode}"), opset)
            export(Bag2d(mode), (torch.tensor([[1, 2, 3], [4, 5, 6]]),),
                   ["indices"], ["y"], path(f"bag2d_{mode}"), opset)
            export(FixedLength(mode), (torch.tensor([[1, 2, 3], [4, 5, 6]]),),
                   ["indices"], ["y"], path(f"fixed_{mode}"), opset)
        args, names = bag_inputs(weighted=True)
        export(Bag("sum", weighted=True), args, names, ["y"],
               path("bag_weighted"), opset)
        args, names = bag_inputs(last=True)
        export(Bag("sum", last=True), args, names, ["y"], path("bag_last"),
               opset)
        export(PerTableOffsets(),
               (torch.tensor([[0, 1], [0, 2]]), torch.tensor([1, 2, 3]),
                torch.tensor([4, 5, 6])),
               ["offsets", "indices_0", "indices_1"], ["y0", "y1"],
               path("per_table_offsets"), opset)
        export(StackedIndices(), (torch.randint(0, ROWS, (3, 2, 4)),), ["indices"], ["y"],
               path("stacked_indices"), opset, {"indices": {1: "batch"}})
        for form in ("torch", "self", "flat", "cat", "upper"):
            export(Interaction(form),
                   (torch.rand(2, 5), torch.tensor([[0, 1], [0, 2]]),
                    torch.tensor([1, 2, 3]), torch.tensor([4, 5, 6])),
                   ["dense_x", "offsets", "indices_0", "indices_1"],
                   ["probability"], path(f"interaction_{form}"), opset)
        bad_loop_body(path("bag_sum"), path("bad_loop_body"))
        rank_zero_input(path("bag_sum"), path("scalar_offsets"), "offsets")
        rank_zero_input(path("bag_sum"), path("scalar_indices"), "indices")
        rank_zero_input(path("fixed_sum"), path("scalar_fixed_indices"), "indices")

    # A table passed as an input is not a constant.
    class InputTable(nn.Module):
        def forward(self, indices, offsets, table):
            return F.embedding_bag(indices, table, offsets, mode="sum")

    args, names = bag_inputs()
    export(InputTable(), args + (torch.rand(ROWS, DIM),), names + ["table"],
           ["y"], os.path.join(out, "input_table.onnx"), 13)


if __name__ == "__main__":
    main()
