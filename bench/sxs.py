"""Side by side: recq against PyTorch on the model kit's MLPerf-shaped
trained DLRM, accuracy, speed and this CPU's roofline, in one run.

    /usr/bin/python3 bench/sxs.py [--model out/sxs/mlperf] [--out out/sxs]
        [--batches 1 512 2048] [--threads 1 2] [--rounds 7] [--budget 0.1%]

Makes the model unless <model>/eval.npz exists (mlperf config: bottom
13-512-256-128, 26 tables of 10^3..10^5 rows x 128, top
479-1024-1024-512-256-1; 400k training samples, 1 epoch, calib.npz 4096
and eval.npz 16384 samples, as bench/planner.py makes it).

Systems, all calibrated on calib.npz and judged on all of eval.npz:
  recq fp32, recq int8 (--quantize=int8), recq int8 one range (and
  --interaction-dense-range=shared: the interaction's dense features and
  dots under one u8 range, one FC), recq int8+tables (--quantize=int8 and
  --tables=int8), recq planned (--accuracy-budget, searched on calib.npz);
  torch fp32, torch static int8 (torch.ao eager static quantization of
  both MLPs, oneDNN engine: recq.torch_int8), torch static int8+tables
  (and 8-bit row-wise EmbeddingBags, float_qparams weight-only).

Speed: for each thread count and batch, --rounds rounds; each round times
every system (median of enough calls for ~0.15 s) in turn, recq first,
and sleeps 0.5 s after torch's calls on more than one thread (its idle
workers spin for a while and would take recq's cores). A system's time is
the median over rounds; its speedup over torch static int8 is the median
of the per-round ratios.

recq's systems are also timed through the C API (`recq-run --bench`, p50)
on the same samples: through Python, each call of a model with 28 inputs
pays ~70 us of ctypes and numpy work, which is most of batch 1's time.

Roofline: recq-bench-roofline measures this CPU's peak per instruction on
that many threads, and the time of a loop reading exactly the table rows
of the timed batch (each system's row format, tables end to end in huge-
page memory). A system's roofline is its FCs' multiply-adds at the peak
of the instruction recq's kernel for that precision uses here (fp32: FMA;
int8: tdpbusd, vpdpbusd or vpmaddwd; bf16: tdpbf16ps or vdpbf16ps), plus
(serial) or overlapped with (max) the row reads. "% roofline" is the
overlapped bound over the measured time. torch systems are held to the
roofline of the same work (torch static int8: recq int8's).

Writes <out>/sxs.md (the tables), <out>/sxs.json and <out>/sxs.png.
Exit status: 0, or 1 when a step fails (compile, load, a tool).
"""

import argparse
import copy
import ctypes
import json
import os
import platform
import re
import struct
import subprocess
import sys
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))

import recq  # noqa: E402
from recq.compare import npz_samples, set_torch_threads, slice_samples  # noqa: E402
from recq.data import auc, log_loss  # noqa: E402
from recq.make_model import main as make_model  # noqa: E402
from recq.model import load_kit_model  # noqa: E402
from recq.torch_int8 import static_int8  # noqa: E402

RECQ = ["recq fp32", "recq int8", "recq int8 one range", "recq int8+tables", "recq planned"]
TORCH = ["torch fp32", "torch static int8", "torch static int8+tables"]
PEER = "torch static int8"
# Whose work (FC and table precisions) a torch system does.
SAME_WORK = {"torch fp32": "recq fp32", "torch static int8": "recq int8",
             "torch static int8+tables": "recq int8+tables"}


def row_bytes(precision, dim):
    """Bytes of one stored table row (docs/Quantization.md)."""
    return {"fp32": 4 * dim, "fp16": 2 * dim, "int8": dim + 8,
            "int4": (dim + 1) // 2 + 4}[precision]


def compile_all(args, out):
    """Compiles the four recq systems; returns {system: (so, seconds)}."""
    onnx = os.path.join(args.model, "model.onnx")
    calib = os.path.join(args.model, "calib.npz")
    compile_ = os.path.join(args.bin, "recq-compile")
    int8 = ["--calibration", calib, "--quantize=int8"]
    flags = {"recq fp32": [],
             "recq int8": int8,
             "recq int8 one range": int8 + ["--interaction-dense-range=shared"],
             "recq int8+tables": int8 + ["--tables=int8"],
             "recq planned": ["--calibration", calib,
                              f"--accuracy-budget={args.budget}",
                              "--emit-plan", os.path.join(out, "plan.json")]}
    built = {}
    for system, extra in flags.items():
        so = os.path.join(out, system.replace("recq ", "").replace("+", "-")
                          .replace(" ", "-") + ".so")
        start = time.perf_counter()
        subprocess.run([compile_, onnx, "-o", so, *extra], check=True,
                       stdout=subprocess.DEVNULL)
        built[system] = (so, time.perf_counter() - start)
        print(f"  compiled {system}: {built[system][1]:.1f} s", flush=True)
    return built


def torch_systems(net, calib):
    """torch fp32, static int8, static int8 with 8-bit row-wise tables."""
    from torch.ao.quantization import float_qparams_weight_only_qconfig
    with_tables = copy.deepcopy(net)
    for table in with_tables.tables:
        table.qconfig = float_qparams_weight_only_qconfig
    torch.ao.quantization.prepare(with_tables.tables, inplace=True)
    torch.ao.quantization.convert(with_tables.tables, inplace=True)
    return {"torch fp32": net,
            "torch static int8": static_int8(net, calib),
            "torch static int8+tables": static_int8(with_tables, calib)}


def work_of(cfg, plan=None, fcs="fp32", tables="fp32"):
    """(FC list [(K, N, precision)], table precisions) of one system."""
    sizes_b = [cfg.num_dense] + cfg.bottom
    sizes_t = [cfg.interaction_width] + cfg.top
    fc_shapes = [(sizes_b[i], sizes_b[i + 1]) for i in range(len(sizes_b) - 1)]
    fc_shapes += [(sizes_t[i], sizes_t[i + 1]) for i in range(len(sizes_t) - 1)]
    if plan is None:
        return ([(k, n, fcs) for k, n in fc_shapes], [tables] * cfg.num_tables)
    fc_list = [(p["shape"][1], p["shape"][0], p["precision"]) for p in plan["fcs"]]
    table_prec = ["fp32"] * cfg.num_tables
    for order, p in enumerate(plan["tables"]):
        m = re.search(r"tables\.(\d+)", p["name"])
        table_prec[int(m.group(1)) if m else order] = p["precision"]
    if sorted((k, n) for k, n, _ in fc_list) != sorted(fc_shapes):
        raise RuntimeError("the plan's FCs are not the config's")
    return fc_list, table_prec


def write_spans(path, cfg, inputs, table_prec):
    """The byte spans a batch's lookups read, tables laid end to end
    (each 64-byte aligned), in the format recq-bench-roofline reads."""
    spans, base = [], 0
    for t, rows in enumerate(cfg.table_rows):
        rb = row_bytes(table_prec[t], cfg.dim)
        idx = inputs[f"indices_{t}"].astype(np.int64)
        spans.append(np.stack([base + idx * rb, np.full_like(idx, rb)], axis=1))
        base += (rows * rb + 63) // 64 * 64
    pairs = np.concatenate(spans).astype(np.int64)
    if len(pairs) == 0:  # the tool needs a span; one row of table 0
        pairs = np.array([[0, row_bytes(table_prec[0], cfg.dim)]], np.int64)
    with open(path, "wb") as f:
        f.write(struct.pack("<q", len(pairs)))
        f.write(pairs.tobytes())


def fc_peak(peaks, precision, target):
    """GOPS of the instruction recq's kernel uses for `precision` on `target`."""
    if precision == "int8":
        name = ("tdpbusd" if target == "amx" else
                "vpdpbusd" if target in ("avx512-vnni", "avx512-bf16") else "vpmaddwd")
    elif precision == "bf16":
        name = "tdpbf16ps" if target == "amx" else "vdpbf16ps"
    else:
        name = "fma_zmm" if "fma_zmm" in peaks else "fma_ymm"
    return name, peaks[name]


def rooflines(args, out, cfg, works, inputs_of, target):
    """{(system, threads, batch): {fc_s, rows_s, overlapped_s, serial_s}}
    and the tool's peaks per thread count."""
    tool = os.path.join(args.bin, "recq-bench-roofline")
    if not os.path.exists(tool):
        subprocess.run(["cmake", "--build", os.path.dirname(args.bin),
                        "--target", "recq-bench-roofline"], check=True,
                       stdout=subprocess.DEVNULL)
    formats = sorted({tuple(tp) for _, tp in works.values()})
    result, peaks_of = {}, {}
    for threads in args.threads:
        files = {}
        for b in inputs_of:
            for f, tp in enumerate(formats):
                path = os.path.join(out, f"spans-b{b}-f{f}.bin")
                write_spans(path, cfg, inputs_of[b], list(tp))
                files[b, tp] = path
        paths = sorted(set(files.values()))
        run = subprocess.run([tool, f"--threads={threads}"] +
                             [f"--gather={p}" for p in paths],
                             check=True, capture_output=True, text=True)
        report = json.loads(run.stdout)
        peaks_of[threads] = report
        gather_s = {g["file"]: g["seconds"] for g in report["gathers"]}
        for system, (fcs, tp) in works.items():
            for b in inputs_of:
                fc_s = sum(2.0 * b * k * n / (fc_peak(report["peaks_gops"], p, target)[1] * 1e9)
                           for k, n, p in fcs)
                rows_s = gather_s[files[b, tuple(tp)]]
                result[system, threads, b] = {
                    "fc_s": fc_s, "rows_s": rows_s,
                    "overlapped_s": max(fc_s, rows_s), "serial_s": fc_s + rows_s}
    return result, peaks_of


def torch_inputs(inputs, num_tables):
    tensors = [torch.from_numpy(inputs["dense_x"]), torch.from_numpy(inputs["offsets"])]
    return tensors + [torch.from_numpy(inputs[f"indices_{t}"]) for t in range(num_tables)]


def block_seconds(fn, budget=0.15):
    """Median of enough calls of `fn` for about `budget` seconds (3..200)."""
    fn()
    start = time.perf_counter()
    fn()
    once = time.perf_counter() - start
    times = []
    for _ in range(int(min(200, max(3, budget / max(once, 1e-6))))):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def time_all(args, sos, tmodels, cfg, inputs_of):
    """{(system, threads, batch): (median s, median speedup over PEER)}."""
    result = {}
    for threads in args.threads:
        models = {s: recq.load(so, threads=threads) for s, (so, _) in sos.items()}
        set_torch_threads(threads)
        for b, inputs in inputs_of.items():
            tensors = torch_inputs(inputs, cfg.num_tables)
            rounds = {s: [] for s in RECQ + TORCH}
            for _ in range(args.rounds):
                for s in RECQ:
                    rounds[s].append(block_seconds(lambda: models[s].run(**inputs)))
                with torch.no_grad():
                    for s in TORCH:
                        rounds[s].append(block_seconds(lambda: tmodels[s](*tensors)))
                if threads > 1:
                    time.sleep(0.5)
            for s, times in rounds.items():
                ratios = [p / t for p, t in zip(rounds[PEER], times)]
                result[s, threads, b] = (float(np.median(times)), float(np.median(ratios)))
            line = ", ".join(f"{s} {1e3 * result[s, threads, b][0]:.3f}" for s in RECQ + TORCH)
            print(f"  {threads} thread(s), batch {b}: {line} ms", flush=True)
        del models
    return result


def time_c_api(args, sos, inputs_of):
    """{(system, threads, batch): p50 seconds} of `recq-run --bench` on the
    same first samples of eval.npz: the C API without Python's cost."""
    run = os.path.join(args.bin, "recq-run")
    evalset = os.path.join(args.model, "eval.npz")
    result = {}
    for threads in args.threads:
        for b in inputs_of:
            for s in RECQ:
                iters = max(20, min(2000, 40000 // b))
                out = subprocess.run([run, sos[s][0], "--inputs", evalset, "--batch", str(b),
                                      "--bench", f"--iters={iters}"],
                                     capture_output=True, text=True,
                                     env=dict(os.environ, RECQ_NUM_THREADS=str(threads)))
                m = re.search(r"p50 ([0-9.]+) ms", out.stdout + out.stderr)
                if not m:  # exit 2 (outside a tolerance) still times; no line is an error
                    raise RuntimeError(f"recq-run --bench gave no timing: {out.stderr}")
                result[s, threads, b] = float(m.group(1)) / 1e3
    return result


def openblas_core():
    try:
        blas = ctypes.CDLL("libblas.so.3")
        blas.openblas_get_corename.restype = ctypes.c_char_p
        return blas.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return "not OpenBLAS"


def write_png(path, args, times, roofs, cpu):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    systems = RECQ + TORCH
    fig, axes = plt.subplots(len(args.threads), len(args.batches),
                             figsize=(5 * len(args.batches), 4 * len(args.threads)),
                             squeeze=False)
    colors = ["#1f77b4"] * len(RECQ) + ["#d62728"] * len(TORCH)
    for r, threads in enumerate(args.threads):
        for c, b in enumerate(args.batches):
            ax = axes[r][c]
            ms = [1e3 * times[s, threads, b][0] for s in systems]
            bars = ax.bar(range(len(systems)), ms, color=colors)
            for bar, s in zip(bars, systems):
                roof = roofs[SAME_WORK.get(s, s), threads, b]["overlapped_s"]
                pct = 100 * roof / times[s, threads, b][0]
                ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(),
                        f"{pct:.0f}%", ha="center", va="bottom", fontsize=8)
            ax.set_xticks(range(len(systems)))
            ax.set_xticklabels([s.replace("static ", "st. ") for s in systems],
                               rotation=40, ha="right", fontsize=8)
            ax.set_title(f"batch {b}, {threads} thread(s)", fontsize=10)
            ax.set_ylabel("ms per batch (label: % of roofline)", fontsize=8)
    fig.suptitle(f"recq vs PyTorch, MLPerf-shaped DLRM, {cpu}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=os.path.join(ROOT, "out", "sxs", "mlperf"))
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "sxs"))
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 512, 2048])
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--budget", default="0.1%")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "dev", "bin"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if not os.path.exists(os.path.join(args.model, "eval.npz")):
        make_model(["--config", "mlperf", "--out", args.model, "--train-samples", "400000",
                    "--epochs", "1", "--calib-samples", "4096", "--eval-samples", "16384"])

    print("compiling", flush=True)
    sos = compile_all(args, args.out)
    net = load_kit_model(args.model)
    cfg = net.config
    calib_npz = np.load(os.path.join(args.model, "calib.npz"))
    calib = npz_samples({k: calib_npz[k] for k in calib_npz.files}, cfg.num_tables)
    tmodels = torch_systems(net, calib)

    npz = np.load(os.path.join(args.model, "eval.npz"))
    arrays = {k: npz[k] for k in npz.files}
    labels, n = arrays["labels"], len(arrays["labels"])
    probe = recq.load(sos["recq int8"][0], threads=1)
    target = probe.target
    names = [name for name, _, _ in probe.inputs]
    del probe

    # Accuracy on every eval sample, against torch fp32.
    preds = {}
    for s, (so, _) in sos.items():
        m = recq.load(so)
        preds[s] = np.concatenate([
            m.run(**slice_samples(arrays, names, i, min(i + 2048, n))).reshape(-1)
            for i in range(0, n, 2048)])
    set_torch_threads(os.cpu_count() or 1)
    with torch.no_grad():
        everything = torch_inputs(slice_samples(arrays, names, 0, n), cfg.num_tables)
        for s, m in tmodels.items():
            preds[s] = m(*everything).numpy().reshape(-1)
    ref = preds["torch fp32"]
    base_ll = log_loss(labels, ref)
    accuracy = {s: {"log_loss": log_loss(labels, p),
                    "rel_log_loss_pct": 100 * (log_loss(labels, p) - base_ll) / base_ll,
                    "auc": auc(labels, p), "max_abs_dp": float(np.abs(p - ref).max())}
                for s, p in preds.items()}

    plan = json.load(open(os.path.join(args.out, "plan.json")))
    works = {"recq fp32": work_of(cfg), "recq int8": work_of(cfg, fcs="int8"),
             "recq int8 one range": work_of(cfg, fcs="int8"),
             "recq int8+tables": work_of(cfg, fcs="int8", tables="int8"),
             "recq planned": work_of(cfg, plan)}
    batches = [b for b in args.batches if b <= n]
    args.batches = batches
    inputs_of = {b: slice_samples(arrays, names, 0, b) for b in batches}
    print("measuring this CPU's roofline", flush=True)
    roofs, peaks_of = rooflines(args, args.out, cfg, works, inputs_of, target)
    print("timing", flush=True)
    times = time_all(args, sos, tmodels, cfg, inputs_of)
    c_times = time_c_api(args, sos, inputs_of)

    cpu = peaks_of[args.threads[0]]["cpu"]
    features = ", ".join(peaks_of[args.threads[0]]["features"])
    lines = [f"CPU: {cpu} ({os.cpu_count()} CPUs; {features}); recq target "
             f"`{target}`; torch {torch.__version__} (quantized engine "
             f"{torch.backends.quantized.engine}, OpenBLAS core {openblas_core()}); "
             f"{platform.node()}, {time.strftime('%Y-%m-%d')}.", "",
             f"Accuracy on {n} held-out samples (all systems calibrated on the "
             f"same {len(calib)} calibration samples), against torch fp32:", "",
             "| system | log-loss | rel. log-loss | AUC | max abs dp |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for s in RECQ + TORCH:
        a = accuracy[s]
        lines.append(f"| {s} | {a['log_loss']:.6f} | {a['rel_log_loss_pct']:+.4f}% | "
                     f"{a['auc']:.5f} | {a['max_abs_dp']:.2e} |")
    lines += ["", "Compile time (recq-compile, seconds): " +
              ", ".join(f"{s} {sec:.1f}" for s, (_, sec) in sos.items()), ""]
    for threads in args.threads:
        pk = peaks_of[threads]["peaks_gops"]
        lines += [f"Measured peaks on {threads} thread(s), GOPS: " +
                  ", ".join(f"{k} {v:.0f}" for k, v in pk.items()), ""]
    lines += [f"ms per batch through Python (median of {args.rounds} rounds); "
              "% roofline = overlapped bound / time; x = torch static int8 time / "
              "time (median of per-round ratios); C API ms = `recq-run --bench` p50 "
              "on the same samples (no Python)", "",
              "| threads | batch | system | ms | % roofline | x torch static int8 | "
              "C API ms | roofline FC ms | roofline rows ms |",
              "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for threads in args.threads:
        for b in batches:
            for s in RECQ + TORCH:
                t, x = times[s, threads, b]
                r = roofs[SAME_WORK.get(s, s), threads, b]
                c = f"{1e3 * c_times[s, threads, b]:.3f}" if s in RECQ else ""
                lines.append(f"| {threads} | {b} | {s} | {1e3 * t:.3f} | "
                             f"{100 * r['overlapped_s'] / t:.0f}% | {x:.2f} | {c} | "
                             f"{1e3 * r['fc_s']:.3f} | {1e3 * r['rows_s']:.3f} |")
    for b in batches:
        if len(args.threads) > 1:
            t1 = times["recq int8+tables", args.threads[0], b][0]
            tn = times["recq int8+tables", args.threads[-1], b][0]
            lines.append(f"\nrecq int8+tables, batch {b}: {args.threads[-1]} threads "
                         f"{t1 / tn:.2f}x of {args.threads[0]}.")
    md = "\n".join(lines) + "\n"
    print("\n" + md)
    with open(os.path.join(args.out, "sxs.md"), "w") as f:
        f.write(md)
    with open(os.path.join(args.out, "sxs.json"), "w") as f:
        json.dump({"cpu": cpu, "target": target, "accuracy": accuracy,
                   "compile_s": {s: sec for s, (_, sec) in sos.items()},
                   "peaks": {str(k): v for k, v in peaks_of.items()},
                   "times": {f"{s}|{t}|{b}": v for (s, t, b), v in times.items()},
                   "c_api_s": {f"{s}|{t}|{b}": v for (s, t, b), v in c_times.items()},
                   "rooflines": {f"{s}|{t}|{b}": v for (s, t, b), v in roofs.items()}},
                  f, indent=1)
    write_png(os.path.join(args.out, "sxs.png"), args, times, roofs, cpu)
    print(f"wrote {args.out}/sxs.md, sxs.json, sxs.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
