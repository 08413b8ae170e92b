"""int8 end-to-end benchmark: recq int8 (exact u8 activations, and 7-bit
with --reduce-range) against recq fp32, torch fp32 and torch's dynamic int8
(quantize_dynamic of the Linear layers, FBGEMM), on the model kit's trained
DLRMs, in one process.

    /usr/bin/python3 bench/int8_e2e.py [--configs kaggle mlperf]
        [--batches 1 64 512 2048] [--iters 30] [--out out/bench-trained]

For each config: makes the model with the kit's default training unless
<out>/<config> exists, compiles it with recq for the best target of this
CPU in fp32 and in int8 (--calibration calib.npz --quantize=int8, default
l2 scales), prints accuracy on eval.npz (log-loss, AUC) for the four, then
times them on the same batches on one thread and on all CPUs: medians of
--iters runs after a warm-up, all recq timings before any torch run (see
bench/README.md). Ratios are time / recq int8 time (above 1: recq int8 is
faster).
"""

import argparse
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
from recq.data import auc, log_loss  # noqa: E402
from recq.make_model import main as make_model  # noqa: E402
from recq.model import Dlrm  # noqa: E402

import json  # noqa: E402


def torch_inputs(inputs, num_tables):
    tensors = [torch.from_numpy(inputs["dense_x"]), torch.from_numpy(inputs["offsets"])]
    return tensors + [torch.from_numpy(inputs[f"indices_{t}"]) for t in range(num_tables)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", nargs="+", default=["kaggle", "mlperf"])
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 64, 512, 2048])
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "bench-trained"))
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "dev", "bin"))
    args = ap.parse_args()
    cpus = os.cpu_count() or 1
    compile_ = os.path.join(args.bin, "recq-compile")

    for config in args.configs:
        out = os.path.join(args.out, config)
        if not os.path.exists(os.path.join(out, "eval.npz")):
            make_model(["--config", config, "--out", out])
        onnx = os.path.join(out, "model.onnx")
        fp32_so, int8_so = os.path.join(out, "fp32.so"), os.path.join(out, "int8.so")
        u7_so = os.path.join(out, "int8-u7.so")
        subprocess.run([compile_, onnx, "-o", fp32_so], check=True)
        for so, extra in ((int8_so, []), (u7_so, ["--reduce-range"])):
            subprocess.run([compile_, onnx, "-o", so, "--calibration",
                            os.path.join(out, "calib.npz"), "--quantize=int8", *extra],
                           check=True, stderr=subprocess.DEVNULL)
        cfg = DlrmConfig(**json.load(open(os.path.join(out, "meta.json")))["config"])
        net = Dlrm(cfg)
        net.load_state_dict(torch.load(os.path.join(out, "model.pt")))
        net.eval()
        qnet = torch.ao.quantization.quantize_dynamic(net, {torch.nn.Linear},
                                                      dtype=torch.qint8)
        npz = np.load(os.path.join(out, "eval.npz"))
        arrays = {k: npz[k] for k in npz.files}
        labels = arrays["labels"]
        n = len(labels)

        # Accuracy on the whole eval set.
        models = {"recq fp32": recq.load(fp32_so, threads=1),
                  "recq int8": recq.load(int8_so, threads=1),
                  "recq int8 u7": recq.load(u7_so, threads=1)}
        names = [name for name, _, _ in models["recq fp32"].inputs]
        preds = {}
        for label, model in models.items():
            preds[label] = np.concatenate([
                model.run(**slice_samples(arrays, names, s, min(s + 512, n))).reshape(-1)
                for s in range(0, n, 512)])
        with torch.no_grad():
            all_inputs = torch_inputs(slice_samples(arrays, names, 0, n), cfg.num_tables)
            preds["torch fp32"] = net(*all_inputs).numpy().reshape(-1)
            preds["torch int8 (dynamic)"] = qnet(*all_inputs).numpy().reshape(-1)
        base = log_loss(labels, preds["torch fp32"])
        print(f"\n{config}: accuracy on {n} eval samples ({models['recq int8'].target})")
        print(f"  {'':22} {'log-loss':>9} {'vs fp32':>8} {'AUC':>8}")
        for label, p in preds.items():
            ll = log_loss(labels, p)
            print(f"  {label:22} {ll:9.6f} {100 * (ll - base) / base:+7.3f}% {auc(labels, p):8.5f}")

        # Speed.
        counts = sorted({1, cpus})
        batches = [b for b in args.batches if b <= n]
        inputs_of = {b: slice_samples(arrays, names, 0, b) for b in batches}
        times = {}
        for threads in counts:
            for label, so in (("recq fp32", fp32_so), ("recq int8", int8_so),
                              ("recq int8 u7", u7_so)):
                model = recq.load(so, threads=threads)
                for b in batches:
                    times[label, threads, b] = median_seconds(
                        lambda: model.run(**inputs_of[b]), args.iters)
        for threads in counts:
            set_torch_threads(threads)
            for b in batches:
                tensors = torch_inputs(inputs_of[b], cfg.num_tables)
                with torch.no_grad():
                    times["torch fp32", threads, b] = median_seconds(
                        lambda: net(*tensors), args.iters)
                    times["torch int8", threads, b] = median_seconds(
                        lambda: qnet(*tensors), args.iters)
        print(f"\n{config}: ms per batch (median of {args.iters}); x = time / recq int8 time")
        print(f"  {'batch':>5} {'thr':>3} | {'recq int8':>9} | {'recq int8 u7':>15} | "
              f"{'recq fp32':>15} | {'torch fp32':>15} | {'torch int8':>15}")
        for threads in counts:
            for b in batches:
                t8 = times["recq int8", threads, b]
                cells = [f"{1e3 * times[k, threads, b]:8.3f} {times[k, threads, b] / t8:5.2f}x"
                         for k in ("recq int8 u7", "recq fp32", "torch fp32", "torch int8")]
                print(f"  {b:5d} {threads:3d} | {1e3 * t8:9.3f} | " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
