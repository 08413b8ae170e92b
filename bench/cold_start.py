"""Cold start: how long the first batch after a load takes against a warm
one, for a model whose embedding tables live in model.weights (10^6-row
tables), under each RECQ_MMAP_POPULATE setting and three states of the
weights file in the page cache: "written" (rewritten just before the load,
as recq-compile or a deployment's copy leaves it), "cached" (read in by the
previous load through recq's mapping) and "dropped" (posix_fadvise
DONTNEED before the load: the first touches read the disk).

Each (setting, page cache) pair runs in a fresh process: load, one batch of
fresh random indices (the first), then --warm batches of fresh random
indices (median: the warm time). Prints a markdown table and the CPU.

    /usr/bin/python3 bench/cold_start.py [--rows 1000000] [--tables 8]
        [--dim 64] [--precision int8] [--batch 2048] [--length 20]
        [--bin build/dev/bin] [--dir /tmp/recq-cold]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))
import recq  # noqa: E402
from recq.export import export_module  # noqa: E402

SETTINGS = ["0", "1", "background", ""]  # "": the default
if os.environ.get("RECQ_COLD_SETTINGS"):  # e.g. "1" (a quicker look)
    SETTINGS = os.environ["RECQ_COLD_SETTINGS"].split(",")


class Bags(nn.Module):
    def __init__(self, tables, rows, dim):
        super().__init__()
        self.e = nn.ModuleList(nn.EmbeddingBag(rows, dim, mode="sum") for _ in range(tables))

    def forward(self, *args):
        return torch.cat([e(args[2 * t], args[2 * t + 1]) for t, e in enumerate(self.e)], dim=1)


def feed(tables, rows, batch, length, seed):
    rng = np.random.default_rng(seed)
    out = {}
    for t in range(tables):
        out[f"indices_{t}"] = rng.integers(0, rows, batch * length)
        out[f"offsets_{t}"] = np.arange(0, batch * length, length)
    return out


def one(args):
    """In a fresh process: drop or keep the file's pages, load, time."""
    weights = args.so[:-3] + ".weights"
    if args.state == "written":
        shutil.copyfile(weights, weights + ".new")
        os.replace(weights + ".new", weights)
    # Written back first (dirty pages are neither dropped nor quiet).
    fd = os.open(weights, os.O_RDONLY)
    os.fsync(fd)
    if args.state == "dropped":
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
    t0 = time.perf_counter()
    model = recq.load(args.so, threads=1)
    load = time.perf_counter() - t0
    batches = [feed(args.tables, args.rows, args.batch, args.length, seed)
               for seed in range(args.warm + 1)]
    t0 = time.perf_counter()
    model.run(**batches[0])
    first = time.perf_counter() - t0
    warm = []
    for b in batches[1:]:
        t0 = time.perf_counter()
        model.run(**b)
        warm.append(time.perf_counter() - t0)
    print(json.dumps({"load": load, "first": first, "warm": float(np.median(warm))}))


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--tables", type=int, default=8)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--precision", default="int8", help="--tables= of recq-compile")
    ap.add_argument("--batch", type=int, default=2048)
    ap.add_argument("--length", type=int, default=20, help="lookups per bag")
    ap.add_argument("--warm", type=int, default=10)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "dev", "bin"))
    ap.add_argument("--dir", default="/tmp/recq-cold")
    ap.add_argument("--keep", action="store_true", help="keep --dir (the model) at the end")
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--so", help=argparse.SUPPRESS)
    ap.add_argument("--state", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        one(args)
        return
    shutil.rmtree(args.dir, ignore_errors=True)
    os.makedirs(args.dir)
    torch.manual_seed(0)
    module = Bags(args.tables, args.rows, args.dim)
    sample = feed(args.tables, args.rows, 4, args.length, 0)
    names = list(sample)
    path = os.path.join(args.dir, "model.onnx")
    export_module(module, [torch.from_numpy(sample[n]) for n in names], path, names)
    del module
    so = os.path.join(args.dir, "model.so")
    subprocess.run([os.path.join(args.bin, "recq-compile"), path, "-o", so,
                    f"--tables={args.precision}", "--external-weights"],
                   check=True, capture_output=True)
    size = os.path.getsize(so[:-3] + ".weights")
    print(f"CPU: {cpu_model()}; {args.tables} tables of {args.rows} rows x {args.dim} "
          f"({args.precision}), model.weights {size / 1e6:.0f} MB; batch {args.batch}, "
          f"{args.length} lookups per bag; one thread")
    print("| RECQ_MMAP_POPULATE | page cache | load ms | first batch ms | warm ms "
          "(median of %d) | first / warm |" % args.warm)
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for setting in SETTINGS:
        for state in ("written", "cached", "dropped"):
            env = dict(os.environ)
            env.pop("RECQ_MMAP_POPULATE", None)
            if setting:
                env["RECQ_MMAP_POPULATE"] = setting
            cmd = [sys.executable, os.path.abspath(__file__), "--one", "--so", so,
                   "--tables", str(args.tables), "--rows", str(args.rows),
                   "--batch", str(args.batch), "--length", str(args.length),
                   "--warm", str(args.warm), "--state", state]
            r = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(r.stderr)
            t = json.loads(r.stdout.strip().splitlines()[-1])
            print(f"| {setting or '(default)'} | {state} | "
                  f"{1e3 * t['load']:.1f} | {1e3 * t['first']:.1f} | {1e3 * t['warm']:.2f} | "
                  f"{t['first'] / t['warm']:.1f}x |", flush=True)
    if not args.keep:
        shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
