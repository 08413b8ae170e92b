"""Small batches with many lookups: the tables on one thread and on two.

A batch under 32 samples is too small for the runtime to cut into tiles;
a model split by recq-split-bags then runs its tables on the thread pool
when their lookups x D reach 2^19 (RECQ_MIN_TABLE_WORK in
lib/Runtime/recq_model_run.c). This times such a model, one call per fresh
batch of random indices (so rows come from memory, as in serving, not
from the cache of the last call), on one thread and on two, in
interleaved rounds, and prints the medians and their ratio.

The model: T tables of `rows` rows and D columns stored row-wise int8,
bags of L indices, a 13-64 bottom MLP and a 16-1 top MLP (so the tables
are most of the work). It is exported once to --out (about 1 GB of ONNX
at the defaults) and compiled with recq-compile --tables=int8.

    /usr/bin/python3 bench/small_batch_tables.py [--cases 1x40,16x40,8x400]
"""

import argparse
import os
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))

from recq import runtime as rt  # noqa: E402
from recq.config import DlrmConfig  # noqa: E402
from recq.data import Teacher  # noqa: E402
from recq.export import export_onnx  # noqa: E402
from recq.model import Dlrm  # noqa: E402

MIN_TABLE_WORK = 1 << 19  # lib/Runtime/recq_model_run.c


def make_model(out, tables, rows, dim, bin_dir):
    so = os.path.join(out, "model.so")
    if os.path.exists(so):
        return so
    os.makedirs(out, exist_ok=True)
    cfg = DlrmConfig(name="small-batch", num_dense=13, dim=dim,
                     table_rows=[rows] * tables, bottom=[dim], top=[16, 1])
    torch.manual_seed(0)
    sample = Teacher(cfg, seed=0).sample(8, seed=1)
    onnx = os.path.join(out, "model.onnx")
    export_onnx(Dlrm(cfg), sample, onnx)
    subprocess.run([os.path.join(bin_dir, "recq-compile"), onnx,
                    "--tables=int8", "-o", so], check=True)
    os.remove(onnx)  # the .so and model.weights hold everything
    return so


def batches(rng, count, batch, length, tables, rows):
    out = []
    for _ in range(count):
        d = {"dense_x": rng.standard_normal((batch, 13), dtype=np.float32),
             "offsets": np.tile(np.arange(batch, dtype=np.int64) * length,
                                (tables, 1))}
        for t in range(tables):
            d[f"indices_{t}"] = rng.integers(0, rows, batch * length,
                                             dtype=np.int64)
        out.append(d)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/bench-small-batch")
    ap.add_argument("--tables", type=int, default=8)
    ap.add_argument("--rows", type=int, default=500_000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--cases", default="1x40,16x40,4x400,8x400",
                    help="batch x bag length, comma-separated")
    ap.add_argument("--calls", type=int, default=100,
                    help="calls per round (each on a fresh batch)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    bin_dir = os.environ.get("RECQ_BIN", "build/dev/bin")
    so = make_model(args.out, args.tables, args.rows, args.dim, bin_dir)
    rng = np.random.default_rng(0)
    print(f"{args.tables} int8 tables of {args.rows} rows, D = {args.dim}; "
          f"median us per call over {args.calls} calls, {args.rounds} "
          f"interleaved rounds")
    print("| batch x bag | lookups x D | tables on threads | 1 thread | "
          "2 threads | 1 / 2 threads |")
    print("|---|---:|---|---:|---:|---:|")
    for case in args.cases.split(","):
        batch, length = (int(v) for v in case.split("x"))
        work = batch * length * args.tables * args.dim
        data = batches(rng, args.calls * args.rounds, batch, length,
                       args.tables, args.rows)
        medians = {1: [], 2: []}
        for r in range(args.rounds):
            for threads in (1, 2):
                model = rt.load(so, threads=threads)
                model.run(**data[0])  # first-call allocations
                times = []
                for d in data[r * args.calls:(r + 1) * args.calls]:
                    start = time.perf_counter()
                    model.run(**d)
                    times.append(time.perf_counter() - start)
                medians[threads].append(1e6 * float(np.median(times)))
                del model
        one, two = np.median(medians[1]), np.median(medians[2])
        parallel = "yes" if batch < 32 and work >= MIN_TABLE_WORK else "no"
        print(f"| {batch} x {length} | {work} | {parallel} | {one:.0f} | "
              f"{two:.0f} | {one / two:.2f} |")


if __name__ == "__main__":
    main()
