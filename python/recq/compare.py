"""Compares a compiled model.so with the torch model it came from, on the
model kit's eval.npz: agreement, accuracy (AUC, log-loss) and throughput.

    /usr/bin/python3 -m recq.compare --model-dir out/models/kaggle \\
        --so out/models/kaggle/model.so [--batch 512] [--iters 20] \\
        [--atol X] [--torch-int8]

Both run in one process on the same batches, on one thread and on all
CPUs (torch.set_num_threads / the runtime's pool); throughput is the median
over --iters timed batches, and the ratio is recq's over torch's.

The outputs are held to the tolerance that fits the model, the rule of
recq-run --reference (recq/tolerance.py): fp32 max |dp| <= 1e-5; a planned
model its plan's budget; a model quantized by hand relative log-loss and
AUC within 1%; --atol X: max |dp| <= X. --torch-int8 also runs PyTorch's
static int8 of the same model (recq/torch_int8.py, calibrated on
calib.npz) and prints its max |dp| and accuracy next to recq's.

Exit status: 0 within the tolerance; 1 an error (arguments, files, a model
that fails to load or run); 2 the outputs are outside the tolerance.
"""

import argparse
import ctypes
import os
import sys
import time
from typing import Dict, List

import numpy as np
import torch

from .data import Samples, auc, log_loss
from .model import load_kit_model
from .runtime import RecqError, load
from .torch_int8 import static_int8
from .train import predict
from .tolerance import check


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


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 1 (an error), not argparse's 2, which here means
    "outside the tolerance"."""

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def parse_args(argv=None):
    ap = _Parser(prog="python -m recq.compare",
                 description=__doc__.split("\n\n")[0],
                 epilog="Exit status: 0 within the tolerance; 1 an error; "
                        "2 outside the tolerance.")
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--so", required=True)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--atol", type=float,
                    help="hold any model to max |dp| <= ATOL instead")
    ap.add_argument("--torch-int8", action="store_true",
                    help="also PyTorch's static int8 of the model (oneDNN)")
    ap.add_argument("--no-speed", action="store_true",
                    help="accuracy only, no timing")
    return ap.parse_args(argv)


def run_npz(model, arrays: Dict[str, np.ndarray], batch: int) -> np.ndarray:
    """recq's outputs on every sample of an eval/calib npz, in batches."""
    names = [name for name, _, _ in model.inputs]
    n = len(arrays["dense_x"])
    return np.concatenate([
        model.run(**slice_samples(arrays, names, s, min(s + batch, n))).reshape(-1)
        for s in range(0, n, batch)])


def npz_samples(arrays: Dict[str, np.ndarray], num_tables: int) -> Samples:
    labels = arrays.get("labels")
    if labels is None:
        labels = np.zeros(len(arrays["dense_x"]), np.float32)
    return Samples(arrays["dense_x"], arrays["offsets"],
                   [arrays[f"indices_{t}"] for t in range(num_tables)], labels)


def compare(args) -> dict:
    """Runs the comparison `args` (parse_args) asks for, prints it, and
    returns what it found: verdict (recq.tolerance.Verdict), max_abs, auc,
    log_loss, torch_int8 (its max_abs, auc, log_loss, or None), speed
    ({threads: (recq s, torch s)})."""
    torch_model = load_kit_model(args.model_dir)
    config = torch_model.config
    model = load(args.so)
    names = [name for name, _, _ in model.inputs]
    npz = np.load(os.path.join(args.model_dir, "eval.npz"))
    arrays = {k: npz[k] for k in npz.files}
    reference = arrays["reference"].reshape(-1)
    labels = arrays.get("labels")
    n = len(reference)

    got = run_npz(model, arrays, args.batch)
    verdict = check(model.plan, reference, got, labels, args.atol)
    result = {"verdict": verdict, "max_abs": verdict.max_abs, "torch_int8": None,
              "speed": {}}
    print(f"accuracy on {n} eval samples ({model.target}):")
    print(f"  {verdict.describe()}")
    scored = labels is not None and len(np.unique(labels)) == 2
    if scored:
        result.update(auc=auc(labels, got), log_loss=log_loss(labels, got),
                      torch_auc=auc(labels, reference),
                      torch_log_loss=log_loss(labels, reference))
        print(f"  AUC      recq {result['auc']:.6f}  torch {result['torch_auc']:.6f}")
        print(f"  log-loss recq {result['log_loss']:.6f}  torch {result['torch_log_loss']:.6f}")
    else:
        print("  (no AUC or log-loss: the labels are missing or of one class)")
    if args.torch_int8:
        calib = np.load(os.path.join(args.model_dir, "calib.npz"))
        calib = {k: calib[k] for k in calib.files}
        qmodel = static_int8(torch_model, npz_samples(calib, config.num_tables))
        p8 = predict(qmodel, npz_samples(arrays, config.num_tables)).reshape(-1)
        d8 = np.abs(p8 - reference)
        dr = np.abs(got - reference)
        result["torch_int8"] = {"max_abs": float(d8.max())}
        if scored:
            result["torch_int8"].update(auc=auc(labels, p8), log_loss=log_loss(labels, p8))
        print("  against torch fp32, on the same samples:")
        print(f"    {'':18}{'max |dp|':>10}{'p99.9 |dp|':>12}{'mean |dp|':>11}"
              + (f"{'AUC':>10}{'log-loss':>10}" if scored else ""))
        for name, p, d in (("recq", got, dr), ("torch static int8", p8, d8)):
            print(f"    {name:18}{d.max():10.4f}{np.quantile(d, 0.999):12.4f}{d.mean():11.2e}"
                  + (f"{auc(labels, p):10.6f}{log_loss(labels, p):10.6f}" if scored else ""))
        worst = int(np.argmax(dr))
        print(f"    recq's worst sample: #{worst} (|dp| {dr[worst]:.3f}; torch static "
              f"int8 there: {d8[worst]:.3f})")
    if args.no_speed:
        return result

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
        result["speed"][threads] = (t_recq, t_torch)
        print(f"  {threads} thread(s): recq {size / t_recq:9.0f} samples/s "
              f"({t_recq * 1e3:.2f} ms), torch {size / t_torch:9.0f} samples/s "
              f"({t_torch * 1e3:.2f} ms): recq / torch = {t_torch / t_recq:.2f}x")
    return result


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        result = compare(args)
    except (OSError, KeyError, ValueError, RecqError) as e:
        print(f"python -m recq.compare: error: {e}", file=sys.stderr)
        return 1
    return 0 if result["verdict"].ok else 2


if __name__ == "__main__":
    sys.exit(main())
