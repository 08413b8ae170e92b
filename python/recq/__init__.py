"""recq's Python side: the DLRM model kit (model, synthetic data, training,
ONNX export) and the ctypes wrapper of a compiled model's C API
(`recq.load("model.so").run(...)`). Run with Debian's /usr/bin/python3,
which has torch, onnx and numpy.
"""

from .runtime import Model, RecqError, load  # noqa: E402,F401
