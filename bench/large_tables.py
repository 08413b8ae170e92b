"""Large tables: a model whose embedding tables total ~2 GB (past protobuf's
2 GB limit, so torch.onnx.export writes them as ONNX external data) is
exported, compiled (fp32 and --tables=int8) and run; for each table size
this prints the compile time and peak memory, the .so and model.weights
sizes, the load time (mmap: it should not grow with the tables) and the
first and steady run times of a batch, and checks the outputs against torch.

    /usr/bin/python3 bench/large_tables.py [--gb 0.06,0.5,2.1] [--bin build/dev/bin]
        [--dir /tmp/recq-large]

Needs ~3x the largest size in free memory and 2x in disk.
"""

import argparse
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
import recq  # noqa: E402
from recq.export import export_module  # noqa: E402

DIM, TABLES = 128, 4


class Bags(nn.Module):
    def __init__(self, rows):
        super().__init__()
        self.e = nn.ModuleList(nn.EmbeddingBag(rows, DIM, mode="sum") for _ in range(TABLES))

    def forward(self, *args):
        outs = [e(args[2 * t], args[2 * t + 1]) for t, e in enumerate(self.e)]
        return torch.cat(outs, dim=1)


def run(cmd):
    t0 = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return time.perf_counter() - t0, int(r.stderr.strip().splitlines()[-1]) / 1024 / 1024


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gb", default="0.06,0.5,2.1", help="total table sizes (GB)")
    parser.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "build",
                                                      "dev", "bin"))
    parser.add_argument("--dir", default="/tmp/recq-large")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print("| tables | precision | compile s | compile peak GB | .so MB | weights MB | "
          "load ms | first run ms | run ms (median of 20) | max abs err |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for gb in (float(g) for g in args.gb.split(",")):
        rows = int(gb * 1e9 / (TABLES * DIM * 4))
        shutil.rmtree(args.dir, ignore_errors=True)
        os.makedirs(args.dir)
        torch.manual_seed(0)
        model = Bags(rows)
        rng = np.random.default_rng(1)
        batch, length = 512, 20
        inputs, names = [], []
        for t in range(TABLES):
            inputs += [torch.from_numpy(rng.integers(0, rows, batch * length)),
                       torch.arange(0, batch * length, length)]
            names += [f"indices_{t}", f"offsets_{t}"]
        path = os.path.join(args.dir, "model.onnx")
        export_module(model, inputs, path, names)
        with torch.no_grad():
            want = model(*inputs).numpy()
        del model
        for precision in ["fp32", "int8"]:
            # A name per size: dlopen returns an already loaded library by path.
            so = os.path.join(args.dir, f"model-{gb}-{precision}.so")
            seconds, peak = run([os.path.join(args.bin, "recq-compile"), path, "-o", so,
                                 f"--tables={precision}"])
            weights = so[:-3] + ".weights"
            t0 = time.perf_counter()
            m = recq.load(so, threads=1)
            load = time.perf_counter() - t0
            feed = {n: a.numpy() for n, a in zip(names, inputs)}
            t0 = time.perf_counter()
            got = m.run(**feed)
            first = time.perf_counter() - t0
            times = []
            for _ in range(20):
                t0 = time.perf_counter()
                m.run(**feed)
                times.append(time.perf_counter() - t0)
            err = float(np.abs(got - want).max())
            print(f"| {TABLES * rows * DIM * 4 / 1e9:.2f} GB | {precision} | {seconds:.1f} | "
                  f"{peak:.2f} | {os.path.getsize(so) / 1e6:.1f} | "
                  f"{os.path.getsize(weights) / 1e6 if os.path.exists(weights) else 0:.0f} | "
                  f"{1e3 * load:.1f} | {1e3 * first:.1f} | {1e3 * np.median(times):.2f} | "
                  f"{err:.2e} |", flush=True)
            del m
    shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
