"""fp32 end-to-end benchmark: recq against torch (fp32, OpenBLAS) on the
model kit's DLRMs, in one process, as ratios.

    /usr/bin/python3 bench/fp32_e2e.py [--configs tiny kaggle mlperf]
        [--batches 1 64 512 2048] [--iters 30] [--out out/bench]

For each config: makes the model untrained (the weights do not change the
speed) unless out/bench/<config> exists, compiles it for the best target of
this CPU, and times recq and torch on the same batches, on one thread and
on all CPUs. Medians of --iters runs after a warm-up; the ratio is
torch time / recq time (above 1: recq is faster). The machine may be
shared: read the ratios, not the absolute times, and rerun to see the
spread. On all CPUs torch's times are erratic on a 2-core machine: its
OpenMP pool and OpenBLAS's own threads oversubscribe the cores.
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))

import recq  # noqa: E402
from recq.compare import median_seconds, set_torch_threads, slice_samples  # noqa: E402
from recq.config import DlrmConfig  # noqa: E402
from recq.make_model import main as make_model  # noqa: E402
from recq.model import Dlrm  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", nargs="+", default=["tiny", "kaggle", "mlperf"])
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 64, 512, 2048])
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "bench"))
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "dev", "bin"))
    args = ap.parse_args()

    cpus = os.cpu_count() or 1
    print(f"{'model':8} {'batch':>6} {'thr':>3} {'recq ms':>9} {'torch ms':>9} {'torch/recq':>10}")
    for config in args.configs:
        out = os.path.join(args.out, config)
        if not os.path.exists(os.path.join(out, "eval.npz")):
            make_model(["--config", config, "--out", out, "--epochs", "0",
                        "--train-samples", "64", "--calib-samples", "16",
                        "--eval-samples", str(max(args.batches))])
        so = os.path.join(out, "model.so")
        subprocess.run([os.path.join(args.bin, "recq-compile"),
                        os.path.join(out, "model.onnx"), "-o", so], check=True)
        meta = json.load(open(os.path.join(out, "meta.json")))
        cfg = DlrmConfig(**meta["config"])
        net = Dlrm(cfg)
        net.load_state_dict(torch.load(os.path.join(out, "model.pt")))
        net.eval()
        npz = np.load(os.path.join(out, "eval.npz"))
        arrays = {k: npz[k] for k in npz.files}
        counts = sorted({1, cpus})
        batches = [b for b in args.batches if b <= len(arrays["labels"])]
        # All of recq's timings first: once torch has run (or had its
        # OpenBLAS pool resized), its idle workers spin for a while and take
        # the cores recq's pool would use.
        recq_ms = {}
        inputs_of = {}
        for threads in counts:
            model = recq.load(so, threads=threads)
            names = [n for n, _, _ in model.inputs]
            for batch in batches:
                inputs = inputs_of.setdefault(batch, slice_samples(arrays, names, 0, batch))
                recq_ms[threads, batch] = 1e3 * median_seconds(lambda: model.run(**inputs), args.iters)
        for threads in counts:
            set_torch_threads(threads)
            for batch in batches:
                inputs = inputs_of[batch]
                tensors = [torch.from_numpy(inputs["dense_x"]),
                           torch.from_numpy(inputs["offsets"])]
                tensors += [torch.from_numpy(inputs[f"indices_{t}"])
                            for t in range(cfg.num_tables)]
                with torch.no_grad():
                    t_torch = 1e3 * median_seconds(lambda: net(*tensors), args.iters)
                t_recq = recq_ms[threads, batch]
                print(f"{config:8} {batch:6d} {threads:3d} {t_recq:9.3f} "
                      f"{t_torch:9.3f} {t_torch / t_recq:10.2f}", flush=True)

if __name__ == "__main__":
    main()
