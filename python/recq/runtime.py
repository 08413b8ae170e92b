"""ctypes wrapper of a compiled model's C API (include/recq/Runtime/recq.h).

    import recq
    m = recq.load("model.so")
    p = m.run(dense_x=..., offsets=..., indices_0=..., ...)   # numpy in/out

Inputs are converted to the model's dtypes and made contiguous; the
runtime checks shapes and every offsets vector, the compiled code every
index, and a bad input raises recq.RecqError with the runtime's message.
"""

import ctypes
import json
import os
from typing import Dict, List, Optional, Tuple

import numpy as np

_DTYPES = {1: np.float32, 2: np.int64, 3: np.int32}
_MAX_RANK = 8


class RecqError(RuntimeError):
    """A status the runtime returned, with its code and message."""

    def __init__(self, code: int, message: str):
        super().__init__(f"recq error {code}: {message}")
        self.code = code


class _Status(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("message", ctypes.c_char * 256)]


class _TableStoreStats(ctypes.Structure):
    _fields_ = [("calls", ctypes.c_uint64), ("lookups", ctypes.c_uint64),
                ("cache_hits", ctypes.c_uint64), ("fetched_rows", ctypes.c_uint64),
                ("commands", ctypes.c_uint64), ("redirects", ctypes.c_uint64),
                ("retries", ctypes.c_uint64), ("dropped_rows", ctypes.c_uint64),
                ("subscriptions", ctypes.c_uint64),
                ("fetch_seconds", ctypes.c_double), ("cache_rows", ctypes.c_int64)]


class _LoadOptions(ctypes.Structure):
    _fields_ = [("weights_path", ctypes.c_char_p), ("target", ctypes.c_char_p),
                ("table_store", ctypes.c_char_p),
                ("table_store_timeout_ms", ctypes.c_int),
                ("table_cache_bytes", ctypes.c_int64),
                ("table_cache_ttl_ms", ctypes.c_int)]


def _declare(lib: ctypes.CDLL) -> None:
    p, i, i64 = ctypes.c_void_p, ctypes.c_int, ctypes.c_int64
    lib.recq_model_load.restype = p
    lib.recq_model_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(_Status)]
    lib.recq_model_load_with.restype = p
    lib.recq_model_load_with.argtypes = [ctypes.POINTER(_LoadOptions),
                                         ctypes.POINTER(_Status)]
    lib.recq_model_free.argtypes = [p]
    for name in ("num_inputs", "num_outputs", "num_tables"):
        fn = getattr(lib, f"recq_model_{name}")
        fn.restype, fn.argtypes = i, [p]
    for kind in ("input", "output"):
        fn = getattr(lib, f"recq_model_{kind}_name")
        fn.restype, fn.argtypes = ctypes.c_char_p, [p, i]
        fn = getattr(lib, f"recq_model_{kind}_info")
        fn.restype = i
        fn.argtypes = [p, i, ctypes.POINTER(i), ctypes.POINTER(i),
                       ctypes.POINTER(i64)]
    lib.recq_model_table_rows.restype = i64
    lib.recq_model_table_rows.argtypes = [p, i]
    for name in ("target", "target_reason"):
        fn = getattr(lib, f"recq_model_{name}")
        fn.restype, fn.argtypes = ctypes.c_char_p, [p]
    lib.recq_model_num_variants.restype = i
    lib.recq_model_num_variants.argtypes = [p]
    lib.recq_model_variant.restype = ctypes.c_char_p
    lib.recq_model_variant.argtypes = [p, i, ctypes.POINTER(ctypes.c_uint32)]
    lib.recq_model_plan.restype = ctypes.c_char_p
    lib.recq_model_plan.argtypes = [p]
    lib.recq_model_set_threads.restype = i
    lib.recq_model_set_threads.argtypes = [p, i]
    lib.recq_model_threads.restype = i
    lib.recq_model_threads.argtypes = [p]
    lib.recq_model_output_size.restype = i64
    # The arrays of input pointers and of shape pointers are built per call
    # as ctypes arrays of void pointers (void **, int64_t **).
    lib.recq_model_output_size.argtypes = [p, p]
    lib.recq_model_run.restype = i
    lib.recq_model_run.argtypes = [p, p, p, p, ctypes.c_size_t, p,
                                   ctypes.POINTER(_Status)]
    u64 = ctypes.c_uint64
    lib.recq_model_profile_size.restype = i
    lib.recq_model_profile_size.argtypes = [p]
    lib.recq_model_profile_op.restype = ctypes.c_char_p
    lib.recq_model_profile_op.argtypes = [p, i, ctypes.POINTER(u64),
                                          ctypes.POINTER(u64)]
    lib.recq_model_profile_reset.restype = None
    lib.recq_model_profile_reset.argtypes = [p]
    lib.recq_model_table_store_stats.restype = ctypes.c_int
    lib.recq_model_table_store_stats.argtypes = [p, ctypes.POINTER(_TableStoreStats)]


class Model:
    """A loaded model.so."""

    def __init__(self, path: str, threads: Optional[int] = None,
                 target: Optional[str] = None,
                 table_store: Optional[str] = None,
                 table_store_timeout_ms: int = 0, table_cache_bytes: int = 0,
                 table_cache_ttl_ms: int = 0):
        # A bare name would be searched on the library path.
        self._lib = ctypes.CDLL(os.path.abspath(path), mode=ctypes.RTLD_LOCAL)
        _declare(self._lib)
        status = _Status()
        options = _LoadOptions(None, target.encode() if target else None,
                               table_store.encode() if table_store else None,
                               table_store_timeout_ms, table_cache_bytes,
                               table_cache_ttl_ms)
        handle = self._lib.recq_model_load_with(ctypes.byref(options),
                                                ctypes.byref(status))
        if not handle:
            raise RecqError(status.code, status.message.decode())
        self._handle = ctypes.c_void_p(handle)
        self.inputs = [self._info("input", k)
                       for k in range(self._lib.recq_model_num_inputs(self._handle))]
        self.outputs = [self._info("output", k)
                        for k in range(self._lib.recq_model_num_outputs(self._handle))]
        # What run() needs on every call, computed once.
        self._named = [(name, dtype) for name, dtype, _ in self.inputs]
        self._ranks = [len(shape) for _, _, shape in self.inputs]
        self._names = {name for name, _ in self._named}
        self._out_rank = len(self.outputs[0][2])
        # The variant that runs, why the load picked it, and every variant
        # the library holds (best first).
        self.target = self._lib.recq_model_target(self._handle).decode()
        self.target_reason = self._lib.recq_model_target_reason(self._handle).decode()
        self.variants = [self._lib.recq_model_variant(self._handle, v, None).decode()
                         for v in range(self._lib.recq_model_num_variants(self._handle))]
        plan = self._lib.recq_model_plan(self._handle)
        # The precision plan compiled in (recq-compile --accuracy-budget or
        # --plan), as --emit-plan writes it; None without one.
        self.plan = json.loads(plan.decode()) if plan else None
        if threads is not None:
            self._lib.recq_model_set_threads(self._handle, threads)
        self.threads = self._lib.recq_model_threads(self._handle)
        self.table_rows = [self._lib.recq_model_table_rows(self._handle, t)
                           for t in range(self._lib.recq_model_num_tables(self._handle))]

    def _info(self, kind: str, k: int) -> Tuple[str, type, List[int]]:
        name = getattr(self._lib, f"recq_model_{kind}_name")(self._handle, k)
        dtype, rank = ctypes.c_int(), ctypes.c_int()
        shape = (ctypes.c_int64 * _MAX_RANK)()
        getattr(self._lib, f"recq_model_{kind}_info")(
            self._handle, k, ctypes.byref(dtype), ctypes.byref(rank), shape)
        return name.decode(), _DTYPES[dtype.value], list(shape[: rank.value])

    def run(self, **inputs: np.ndarray) -> np.ndarray:
        """Runs the model on numpy arrays named as the ONNX inputs; returns
        output 0."""
        if inputs.keys() != self._names:
            missing = [n for n, _ in self._named if n not in inputs]
            extra = [n for n in inputs if n not in self._names]
            raise ValueError(f"inputs: missing {missing}, unknown {extra}")
        arrays = [np.ascontiguousarray(inputs[name], dtype=dtype)
                  for name, dtype in self._named]
        n = len(arrays)
        # Every shape in one [n, _MAX_RANK] block; pointers into its rows
        # (the runtime reads as many entries as the input's rank).
        shapes = np.zeros((n, _MAX_RANK), dtype=np.int64)
        for k, (a, rank) in enumerate(zip(arrays, self._ranks)):
            if a.ndim != rank:
                raise ValueError(f"input '{self._named[k][0]}' has rank {a.ndim}, "
                                 f"the model's has rank {rank}")
            shapes[k, :rank] = a.shape
        row = shapes.strides[0]
        base = shapes.ctypes.data
        shape_ptrs = (ctypes.c_void_p * n)(*range(base, base + n * row, row))
        data = (ctypes.c_void_p * n)(*[a.ctypes.data for a in arrays])
        count = self._lib.recq_model_output_size(self._handle, shape_ptrs)
        out = np.empty(max(count, 1), dtype=np.float32)
        got_shape = np.zeros(_MAX_RANK, dtype=np.int64)
        status = _Status()
        code = self._lib.recq_model_run(
            self._handle, data, shape_ptrs, out.ctypes.data, out.size,
            got_shape.ctypes.data, ctypes.byref(status))
        if code != 0:
            raise RecqError(code, status.message.decode())
        shape = [int(d) for d in got_shape[: self._out_rank]]
        return out[: int(np.prod(shape))].reshape(shape)

    def profile(self, reset: bool = False) -> List[Tuple[str, float, int]]:
        """The per-op profile of a model compiled with `recq-compile
        --profile` (docs/Profiling.md): (op name, seconds, calls) per op
        since the load or the last reset, in program order; [] without
        --profile. `reset` sets the counters to 0 after reading them."""
        ops = []
        ns, calls = ctypes.c_uint64(), ctypes.c_uint64()
        for k in range(self._lib.recq_model_profile_size(self._handle)):
            name = self._lib.recq_model_profile_op(
                self._handle, k, ctypes.byref(ns), ctypes.byref(calls))
            ops.append((name.decode(), ns.value * 1e-9, calls.value))
        if reset:
            self._lib.recq_model_profile_reset(self._handle)
        return ops

    def table_store_stats(self) -> Optional[dict]:
        """What the remote tables' fetches did since the load (runs,
        distinct rows looked up, cache hits, rows fetched, the store's
        commands, redirects and retries, rows dropped by update
        announcements, seconds in the store, the cache's rows); None for a
        model without remote tables (docs/RemoteTables.md)."""
        stats = _TableStoreStats()
        if self._lib.recq_model_table_store_stats(self._handle, ctypes.byref(stats)) != 0:
            return None
        return {name: getattr(stats, name) for name, _ in _TableStoreStats._fields_}

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle:
            self._lib.recq_model_free(handle)
            self._handle = None


def load(path: str, threads: Optional[int] = None,
         target: Optional[str] = None, table_store: Optional[str] = None,
         table_store_timeout_ms: int = 0, table_cache_bytes: int = 0,
         table_cache_ttl_ms: int = 0) -> Model:
    """Loads a model compiled by `recq-compile model.onnx -o model.so`;
    `threads` per run (default: RECQ_NUM_THREADS, else all CPUs); `target`
    the variant to run (default: RECQ_TARGET's, else the best this CPU
    runs; RecqError when the library has no such variant or the CPU cannot
    run it); `table_store` the row store of its remote tables
    ("redis://host:port[,host:port...]"; default: RECQ_TABLE_STORE) and
    the deadline of each call's fetch in ms (0: RECQ_TABLE_STORE_TIMEOUT_MS,
    else 1000), the bytes of hot rows kept (0: RECQ_TABLE_CACHE_BYTES, else
    256 MiB; -1: none) and how long a kept row is served (0:
    RECQ_TABLE_CACHE_TTL_MS, else 1000 ms); docs/RemoteTables.md."""
    return Model(path, threads, target, table_store, table_store_timeout_ms,
                 table_cache_bytes, table_cache_ttl_ms)
