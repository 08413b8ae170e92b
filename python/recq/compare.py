"""Compares a compiled model.so with the torch model it came from, on the
model kit's eval.npz: agreement, accuracy (AUC, log-loss) and throughput.

    /usr/bin/python3 -m recq.compare --model-dir out/models/kaggle \\
        --so out/models/kaggle/model.so [--batch 512] [--iters 20]

Both run in one process on the same batches, on one thread and on all
CPUs (torch.set_num_threads / the runtime's pool); throughput is the median
over --iters timed batches, and the ratio is recq's over torch's.
"""

import argparse
import ctypes
import json
import os
import sys
import time
from typing import Dict, List

import numpy as np
import torch

from .config import DlrmConfig
from .data import auc, log_loss
from .model import Dlrm
from .runtime import load


def slice_samples(arrays: Dict[str, np.ndarray], names: List[str], start: int,
                  stop: int) -> Dict[str, np.ndarray]:
    """Samples [start, stop) of an eval/calib npz with [T, B] offsets: dense
    rows, offsets columns rebased to 0, each table's indices of those bags."""
    offsets = arrays["offsets"]
    batch = offsets.shape[1]
    out = {"dense_x": arrays["dense_x"][start:stop]}
    cut = np.empty((offsets.shape[0], stop - start), dtype=offsets.dtype)
    for name in names:
        if not name.startswith("indices_"):
            continue
        t = int(name.split("_")[1])
        begin = offsets[t, start]
        end = offsets[t, stop] if stop < batch else len(arrays[name])
        out[name] = arrays[name][begin:end]
        cut[t] = offsets[t, start:stop] - begin
    out["offsets"] = cut
    return out


def set_torch_threads(threads: int) -> None:
    """Threads for torch's CPU ops: its intra-op pool and, since Debian's
    torch calls the system BLAS, OpenBLAS's own pool, which
    torch.set_num_threads does not reach (left alone, torch's "1 thread"
    GEMMs ran on every core)."""
    torch.set_num_threads(threads)
    try:
        blas = ctypes.CDLL("libblas.so.3")
        blas.openblas_set_num_threads(threads)
    except (OSError, AttributeError):
        pass  # not OpenBLAS: torch.set_num_threads is all there is


def median_seconds(fn, iters: int) -> float:
    """Median wall time of `iters` calls of `fn`, after one warm-up call."""
    fn()  # warm up
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--so", required=True)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--iters", type=int, default=20)
    args = ap.parse_args(argv)

    meta = json.load(open(os.path.join(args.model_dir, "meta.json")))
    config = DlrmConfig(**meta["config"])
    torch_model = Dlrm(config)
    torch_model.load_state_dict(torch.load(os.path.join(args.model_dir, "model.pt")))
    torch_model.eval()
    model = load(args.so)
    names = [name for name, _, _ in model.inputs]
    npz = np.load(os.path.join(args.model_dir, "eval.npz"))
    arrays = {k: npz[k] for k in npz.files}
    labels, reference = arrays["labels"], arrays["reference"].reshape(-1)
    n = len(labels)

    got = np.concatenate([
        model.run(**slice_samples(arrays, names, s, min(s + args.batch, n))).reshape(-1)
        for s in range(0, n, args.batch)])
    diff = float(np.abs(got - reference).max())
    print(f"accuracy on {n} eval samples ({model.target}):")
    print(f"  max |p_recq - p_torch| = {diff:.3g}")
    print(f"  AUC      recq {auc(labels, got):.6f}  torch {auc(labels, reference):.6f}")
    print(f"  log-loss recq {log_loss(labels, got):.6f}  torch {log_loss(labels, reference):.6f}")

    batch = slice_samples(arrays, names, 0, min(args.batch, n))
    tensors = [torch.from_numpy(batch["dense_x"]), torch.from_numpy(batch["offsets"])]
    tensors += [torch.from_numpy(batch[f"indices_{t}"]) for t in range(config.num_tables)]
    size = len(batch["dense_x"])
    print(f"throughput at batch {size}, median of {args.iters} runs:")
    counts = sorted({1, os.cpu_count() or 1})
    # All of recq's timings first: once torch has run (or even had its
    # OpenBLAS pool resized), its idle workers spin for a while and take
    # the cores recq's pool would use.
    recq_s = {}
    for threads in counts:
        timed = load(args.so, threads=threads)
        recq_s[threads] = median_seconds(lambda: timed.run(**batch), args.iters)
    for threads in counts:
        set_torch_threads(threads)
        with torch.no_grad():
            t_torch = median_seconds(lambda: torch_model(*tensors), args.iters)
        t_recq = recq_s[threads]
        print(f"  {threads} thread(s): recq {size / t_recq:9.0f} samples/s "
              f"({t_recq * 1e3:.2f} ms), torch {size / t_torch:9.0f} samples/s "
              f"({t_torch * 1e3:.2f} ms): recq / torch = {t_torch / t_recq:.2f}x")
    return 0 if diff <= 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
