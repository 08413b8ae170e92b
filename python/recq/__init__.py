"""recq's Python side: the DLRM model kit (model, synthetic data, training,
ONNX export). Run with Debian's /usr/bin/python3, which has torch and onnx.

The ctypes wrapper of the compiled model's C API joins this package with the
runtime (issue #4).
"""
