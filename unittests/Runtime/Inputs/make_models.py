"""Writes the ONNX models the C API tests and the runtime's fuzz targets
compile, one per way a model takes its embedding inputs:

    /usr/bin/python3 make_models.py <out-dir>

interaction: dense [B, 5], offsets [2, B], indices_0 and indices_1 (two
tables, DLRM interaction, top FC); bag_last: offsets with the last one
included; bag_weighted: per-sample weights; stacked: fixed-length bags of
one [T, B, L] input; fixed: fixed-length bags of a [B, L] input. Tables
have 10 to 12 rows, so most random indices are out of range.
"""

import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "test", "Import",
                                "Inputs"))
import make_torch_onnx as m  # noqa: E402


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    opset = 13

    def path(name):
        return os.path.join(out, name + ".onnx")

    m.export(m.Interaction("torch"),
             (torch.rand(2, 5), torch.tensor([[0, 1], [0, 2]]),
              torch.tensor([1, 2, 3]), torch.tensor([4, 5, 6])),
             ["dense_x", "offsets", "indices_0", "indices_1"],
             ["probability"], path("interaction"), opset)
    args, names = m.bag_inputs(last=True)
    m.export(m.Bag("sum", last=True), args, names, ["y"], path("bag_last"),
             opset)
    args, names = m.bag_inputs(weighted=True)
    m.export(m.Bag("sum", weighted=True), args, names, ["y"],
             path("bag_weighted"), opset)
    m.export(m.StackedIndices(), (torch.randint(0, m.ROWS, (3, 2, 4)),),
             ["indices"], ["y"], path("stacked"), opset,
             {"indices": {1: "batch"}})
    m.export(m.FixedLength("sum"), (torch.tensor([[1, 2, 3], [4, 5, 6]]),),
             ["indices"], ["y"], path("fixed"), opset)


if __name__ == "__main__":
    main()
