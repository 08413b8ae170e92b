"""Precision planner benchmark: the plan recq's search picks under an
accuracy budget, against recq fp32, a naive all-int8 recq (min/max scales,
every FC and table int8), torch fp32 and torch's int8 configurations, on a
trained model kit DLRM, accuracy on a held-out eval set the search never saw
and speed in one process.

    /usr/bin/python3 bench/planner.py [--model out/planner/mlperf]
        [--budget 0.1%] [--batches 1 512 2048] [--iters 30]

Makes the model unless <model>/eval.npz exists (mlperf config, 400k
training samples, 1 epoch). Compiles: fp32; naive int8 (--calibration
calib.npz --calibration-method=minmax --quantize=int8 --tables=int8); the
planned model (--accuracy-budget, measured costs, --eval eval.npz, --report
<model>/report). torch: fp32, dynamic int8 Linear layers (FBGEMM), and
dynamic int8 Linear with 8-bit row-wise EmbeddingBags; the faster of the
two int8 ones is "torch best int8". All timings on one thread, recq before
torch, medians of --iters runs after a warm-up.
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
from recq.data import auc, log_loss  # noqa: E402
from recq.make_model import main as make_model  # noqa: E402
from recq.model import Dlrm  # noqa: E402


def torch_inputs(inputs, num_tables):
    tensors = [torch.from_numpy(inputs["dense_x"]), torch.from_numpy(inputs["offsets"])]
    return tensors + [torch.from_numpy(inputs[f"indices_{t}"]) for t in range(num_tables)]


def torch_int8_tables(net):
    """Dynamic int8 Linear plus 8-bit row-wise EmbeddingBags (torch.ao's
    weight-only float_qparams config), or None if this torch cannot."""
    import copy
    from torch.ao.quantization import float_qparams_weight_only_qconfig
    q = copy.deepcopy(net)
    try:
        for table in q.tables:
            table.qconfig = float_qparams_weight_only_qconfig
        torch.ao.quantization.prepare(q, inplace=True)
        torch.ao.quantization.convert(q, inplace=True)
        return torch.ao.quantization.quantize_dynamic(q, {torch.nn.Linear}, dtype=torch.qint8)
    except Exception as e:  # noqa: BLE001 - report and go on
        print(f"  (torch int8 tables unavailable: {e})")
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=os.path.join(ROOT, "out", "planner", "mlperf"))
    ap.add_argument("--budget", default="0.1%")
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 512, 2048])
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "dev", "bin"))
    args = ap.parse_args()
    out = args.model
    if not os.path.exists(os.path.join(out, "eval.npz")):
        make_model(["--config", "mlperf", "--out", out, "--train-samples", "400000",
                    "--epochs", "1", "--calib-samples", "4096", "--eval-samples", "16384"])
    onnx = os.path.join(out, "model.onnx")
    calib, evalset = os.path.join(out, "calib.npz"), os.path.join(out, "eval.npz")
    compile_ = os.path.join(args.bin, "recq-compile")
    sos = {"recq fp32": os.path.join(out, "fp32.so"),
           "recq naive int8": os.path.join(out, "naive-int8.so"),
           "recq planned": os.path.join(out, "planned.so")}
    subprocess.run([compile_, onnx, "-o", sos["recq fp32"]], check=True)
    subprocess.run([compile_, onnx, "-o", sos["recq naive int8"], "--calibration", calib,
                    "--calibration-method=minmax", "--quantize=int8", "--tables=int8"],
                   check=True, stderr=subprocess.DEVNULL)
    subprocess.run([compile_, onnx, "-o", sos["recq planned"], "--calibration", calib,
                    f"--accuracy-budget={args.budget}", "--eval", evalset,
                    "--emit-plan", os.path.join(out, "plan.json"),
                    "--report", os.path.join(out, "report")], check=True)
    plan = json.load(open(os.path.join(out, "plan.json")))

    cfg = DlrmConfig(**json.load(open(os.path.join(out, "meta.json")))["config"])
    net = Dlrm(cfg)
    net.load_state_dict(torch.load(os.path.join(out, "model.pt")))
    net.eval()
    torch_models = {"torch fp32": net,
                    "torch int8 Linear": torch.ao.quantization.quantize_dynamic(
                        net, {torch.nn.Linear}, dtype=torch.qint8)}
    with_tables = torch_int8_tables(net)
    if with_tables is not None:
        torch_models["torch int8 Linear+tables"] = with_tables

    npz = np.load(evalset)
    arrays = {k: npz[k] for k in npz.files}
    labels = arrays["labels"]
    n = len(labels)
    models = {label: recq.load(so, threads=1) for label, so in sos.items()}
    names = [name for name, _, _ in models["recq fp32"].inputs]
    preds = {}
    for label, model in models.items():
        preds[label] = np.concatenate([
            model.run(**slice_samples(arrays, names, s, min(s + 2048, n))).reshape(-1)
            for s in range(0, n, 2048)])
    with torch.no_grad():
        all_inputs = torch_inputs(slice_samples(arrays, names, 0, n), cfg.num_tables)
        for label, m in torch_models.items():
            preds[label] = m(*all_inputs).numpy().reshape(-1)
    base_ll = log_loss(labels, preds["recq fp32"])
    base_auc = auc(labels, preds["recq fp32"])
    counts = {}
    for p in plan["fcs"] + plan["tables"]:
        counts[p["precision"]] = counts.get(p["precision"], 0) + 1
    print(f"\nplan ({args.budget} {plan['metric']} budget, searched on calib.npz): "
          + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    print(f"accuracy on {n} held-out eval samples ({models['recq fp32'].target}); "
          f"relative to recq fp32")
    print(f"  {'':26} {'log-loss':>9} {'vs fp32':>9} {'AUC':>8} {'vs fp32':>9}")
    for label, p in preds.items():
        ll, a = log_loss(labels, p), auc(labels, p)
        print(f"  {label:26} {ll:9.6f} {100 * (ll - base_ll) / base_ll:+8.4f}% "
              f"{a:8.5f} {100 * (a - base_auc) / base_auc:+8.4f}%")

    batches = [b for b in args.batches if b <= n]
    inputs_of = {b: slice_samples(arrays, names, 0, b) for b in batches}
    times = {}
    for label, model in models.items():
        for b in batches:
            times[label, b] = median_seconds(lambda: model.run(**inputs_of[b]), args.iters)
    set_torch_threads(1)
    for b in batches:
        tensors = torch_inputs(inputs_of[b], cfg.num_tables)
        with torch.no_grad():
            for label, m in torch_models.items():
                times[label, b] = median_seconds(lambda: m(*tensors), args.iters)
    int8s = [k for k in torch_models if k != "torch fp32"]
    print(f"\nms per batch, one thread (median of {args.iters}); x = time / recq planned time")
    cols = list(models) + list(torch_models)
    print(f"  {'batch':>5} | " + " | ".join(f"{c:>24}" for c in cols) + f" | {'torch best int8':>16}")
    for b in batches:
        tp = times["recq planned", b]
        cells = [f"{1e3 * times[c, b]:15.3f} {times[c, b] / tp:7.2f}x" for c in cols]
        best = min(times[k, b] for k in int8s)
        print(f"  {b:5d} | " + " | ".join(cells) + f" | {best / tp:15.2f}x", flush=True)


if __name__ == "__main__":
    main()
