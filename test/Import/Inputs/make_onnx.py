"""Writes the small ONNX files the importer's lit tests read:

    /usr/bin/python3 make_onnx.py <out-dir>

Built node by node with onnx.helper so each file holds exactly the form a
test is about; DLRM-scale files exported by torch come from python/recq.
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def const(name, array):
    return numpy_helper.from_array(np.asarray(array, dtype=np.float32), name)


def mlp_gemm(opset):
    """Gemm(transB=1)+Relu -> Gemm(transB=1)+Sigmoid, dynamic batch."""
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Gemm", ["x", "w0", "b0"], ["h0"], name="fc0", transB=1),
        helper.make_node("Relu", ["h0"], ["r0"], name="relu0"),
        helper.make_node("Gemm", ["r0", "w1", "b1"], ["h1"], name="fc1", transB=1),
        helper.make_node("Sigmoid", ["h1"], ["p"], name="sigmoid1"),
    ]
    inits = [const("w0", rng.normal(size=(5, 3))), const("b0", np.arange(5)),
             const("w1", rng.normal(size=(1, 5))), const("b1", [0.5])]
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, ["batch", 1])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def gemm_folded(opset):
    """Gemm(transB=0, alpha=2, beta=0.5): both folded into the constants."""
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["y"], name="gemm",
                              alpha=2.0, beta=0.5)]
    inits = [const("w", [[1, 2], [3, 4], [5, 6]]), const("b", [10, 20])]
    graph = helper.make_graph(
        nodes, "gemm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 2])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def matmul_add(opset):
    """MatMul + Add (bias) + Relu, as exporters write nn.Linear sometimes."""
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"], name="matmul"),
             helper.make_node("Add", ["m", "b"], ["a"], name="add"),
             helper.make_node("Relu", ["a"], ["y"], name="relu")]
    inits = [const("w", [[1, 2], [3, 4], [5, 6]]), const("b", [7, 8])]
    graph = helper.make_graph(
        nodes, "mm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 2])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def unsupported_op():
    nodes = [helper.make_node("Erf", ["x"], ["y"], name="erf_7")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def nonconst_weight():
    nodes = [helper.make_node("Gemm", ["x", "w"], ["y"], name="fc_dyn", transB=1)]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3]),
                     helper.make_tensor_value_info("w", TensorProto.FLOAT, [4, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def unsupported_attribute():
    """Gemm with transA=1: the activation would be [K, batch]."""
    nodes = [helper.make_node("Gemm", ["x", "w"], ["y"], name="fc_ta", transA=1)]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
        [const("w", np.ones((3, 4)))])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def shape_mismatch():
    nodes = [helper.make_node("Gemm", ["x", "w"], ["y"], name="fc_bad", transB=1)]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", 12])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", 4])],
        [const("w", np.zeros((4, 13)))])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def missing_initializer():
    nodes = [helper.make_node("Gemm", ["x", "w_missing"], ["y"], name="fc_lost", transB=1)]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def constant_bag(indices, offsets=None, mode="ReduceSum", name="const_bag"):
    """Fixed-length bags (Gather + Reduce over axis 1) whose indices are an
    initializer: checked against the table and pooled at compile time."""
    table = np.arange(40, dtype=np.float32).reshape(10, 4) / 8
    # At opset 13 ReduceSum takes its axes as an input, the others as an
    # attribute.
    reduce = (helper.make_node(mode, ["rows", "axes"], ["y"], name=name, keepdims=0)
              if mode == "ReduceSum" else
              helper.make_node(mode, ["rows"], ["y"], name=name, keepdims=0, axes=[1]))
    nodes = [helper.make_node("Gather", ["table", "idx"], ["rows"], name="lookup"), reduce]
    inits = [const("table", table),
             numpy_helper.from_array(np.asarray(indices, dtype=np.int64), "idx"),
             numpy_helper.from_array(np.asarray([1], dtype=np.int64), "axes")]
    rows = len(indices)
    graph = helper.make_graph(
        nodes, "const_bag", [],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [rows, 4])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def table_bag(rows=64, dim=16):
    """A [B, 2] index input into a table initializer (Gather + ReduceSum):
    an embedding bag whose table (4 KiB) stays in the library."""
    table = (np.arange(rows * dim, dtype=np.float32).reshape(rows, dim) % 7) / 4
    nodes = [helper.make_node("Gather", ["table", "idx"], ["rows"], name="lookup"),
             helper.make_node("ReduceSum", ["rows", "axes"], ["y"], name="pool",
                              keepdims=0)]
    inits = [const("table", table),
             numpy_helper.from_array(np.asarray([1], dtype=np.int64), "axes")]
    graph = helper.make_graph(
        nodes, "table_bag", [helper.make_tensor_value_info("idx", TensorProto.INT64, ["B", 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", dim])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def computed_indices():
    """Indices computed in the graph (the hashing trick, Mod by the row
    count): not imported."""
    nodes = [helper.make_node("Mod", ["raw", "rows_n"], ["idx"], name="hash"),
             helper.make_node("Gather", ["table", "idx"], ["rows"], name="lookup"),
             helper.make_node("ReduceSum", ["rows", "axes"], ["y"], name="pool",
                              keepdims=0)]
    inits = [const("table", np.zeros((10, 4))),
             numpy_helper.from_array(np.asarray(10, dtype=np.int64), "rows_n"),
             numpy_helper.from_array(np.asarray([1], dtype=np.int64), "axes")]
    graph = helper.make_graph(
        nodes, "computed", [helper.make_tensor_value_info("raw", TensorProto.INT64, ["B", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", 4])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def bad_tensor_data(kind):
    """mlp_gemm whose initializer data does not match its dims: raw_data too
    short (onnx's shape inference copied past its end: the structure-aware
    fuzzer's first finding), float_data too long, a negative dimension, an
    unknown data type."""
    model = mlp_gemm(13)
    w = next(t for t in model.graph.initializer if t.name == "w0")
    if kind == "short":
        w.raw_data = w.raw_data[:-2]
    elif kind == "long":
        values = numpy_helper.to_array(w).ravel().tolist() + [1.0]
        w.ClearField("raw_data")
        w.float_data.extend(values)
    elif kind == "negative":
        w.dims[0] = -5
    else:
        w.data_type = 99
    return model


def main(out):
    os.makedirs(out, exist_ok=True)
    models = {f"mlp_gemm_opset{v}": mlp_gemm(v) for v in (11, 13, 14)}
    models.update({f"gemm_folded_opset{v}": gemm_folded(v) for v in (11, 13, 14)})
    models.update({f"matmul_add_opset{v}": matmul_add(v) for v in (11, 13, 14)})
    models["opset18"] = mlp_gemm(18)
    models["opset10"] = mlp_gemm(10)
    models["unsupported_op"] = unsupported_op()
    models["nonconst_weight"] = nonconst_weight()
    models["shape_mismatch"] = shape_mismatch()
    models["unsupported_attribute"] = unsupported_attribute()
    models["const_bag_sum"] = constant_bag([[1, 2], [3, 9]])
    models["const_bag_max"] = constant_bag([[1, 2], [3, 9]], mode="ReduceMax")
    models["const_bag_past_end"] = constant_bag([[1, 2], [3, 15]])
    models["const_bag_negative"] = constant_bag([[1, -2], [3, 4]])
    models["computed_indices"] = computed_indices()
    models["table_bag"] = table_bag()
    for kind in ("short", "long", "negative", "type"):
        models[f"bad_tensor_{kind}"] = bad_tensor_data(kind)
    for name, model in models.items():
        onnx.save(model, os.path.join(out, name + ".onnx"))
    # Not checked: the importer's own checker run must reject it.
    onnx.save(missing_initializer(), os.path.join(out, "missing_initializer.onnx"))
    good = mlp_gemm(13).SerializeToString()
    with open(os.path.join(out, "truncated.onnx"), "wb") as f:
        f.write(good[: len(good) // 2])
    with open(os.path.join(out, "random.onnx"), "wb") as f:
        f.write(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with open(os.path.join(out, "empty.onnx"), "wb") as f:
        pass
    # Initializers in a side file (as torch writes models past 2 GB): one
    # model whose data file is there, one whose data file is cut short.
    for name in ("external", "external_short"):
        model = mlp_gemm(13)
        onnx.save(model, os.path.join(out, name + ".onnx"),
                  save_as_external_data=True, all_tensors_to_one_file=True,
                  location=name + ".data", size_threshold=0)
    data = os.path.join(out, "external_short.data")
    with open(data, "rb") as f:
        head = f.read(16)
    with open(data, "wb") as f:
        f.write(head)


if __name__ == "__main__":
    main(sys.argv[1])
