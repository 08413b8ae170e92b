"""The precision planner's report: a Markdown page and two plots from a plan.

    python -m recq.report plan.json --out report/

(`recq-compile --report report/` runs it.) Writes report/report.md with the
plan's summary, the per-piece sensitivity table and the plans the search
visited, and two PNGs (Debian's python3-matplotlib): sensitivity.png, each
piece's loss alone in each precision, and frontier.png, the visited plans'
estimated speed against their loss, the budget and the chosen plan marked.
"""

import argparse
import json
import math
import os
import sys

PRECISIONS = ["fp32", "fp16", "int8", "int4"]
COLORS = {"fp16": "#4c72b0", "int8": "#dd8452", "int4": "#c44e52"}


def _num(v, fmt="{:.2e}"):
    return "–" if v is None else fmt.format(v)


def _pct(v):
    return "–" if v is None else f"{100 * v:.4f}%"


def _pyplot():
    """matplotlib's pyplot on the file-only Agg backend."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def sensitivity_plot(plan, path):
    plt = _pyplot()
    pieces = plan["fcs"] + plan["tables"]
    names = [p["name"] for p in pieces]
    fig, ax = plt.subplots(figsize=(max(6, 0.35 * len(pieces) + 2), 4.5))
    width = 0.27
    for k, precision in enumerate(["fp16", "int8", "int4"]):
        xs, ys = [], []
        for i, p in enumerate(pieces):
            for c in p["candidates"]:
                if c["precision"] == precision and c["loss"] is not None:
                    xs.append(i + (k - 1) * width)
                    ys.append(max(abs(c["loss"]), 1e-9))
        if xs:
            ax.bar(xs, ys, width, label=precision, color=COLORS[precision])
    if plan.get("budget") is not None and plan["budget"] > 0:
        ax.axhline(plan["budget"], color="black", linestyle="--", linewidth=1,
                   label="budget")
    ax.set_yscale("log")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=70, ha="right", fontsize=7)
    ax.set_ylabel(f"{plan['metric']} change, piece alone")
    ax.set_title("Sensitivity: each piece alone in each precision (calibration set)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def frontier_plot(plan, path):
    plt = _pyplot()
    fp32 = plan.get("fp32_seconds")
    visited = [v for v in plan["visited"] if v["loss"] is not None and v["seconds"]]
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    if visited and fp32:
        xs = [fp32 / v["seconds"] for v in visited]
        ys = [max(abs(v["loss"]), 1e-9) for v in visited]
        ax.plot(xs, ys, "-o", color="#4c72b0", markersize=4, label="visited plans")
        for v, x, y in zip(visited, xs, ys):
            ax.annotate(str(v["step"]), (x, y), fontsize=6, xytext=(3, 3),
                        textcoords="offset points")
    ax.plot([1.0], [1e-9], "s", color="gray", label="all fp32 (loss 0)")
    chosen = plan["accuracy"]["calibration"].get("loss")
    if fp32 and plan.get("estimated_seconds") and chosen is not None:
        ax.plot([fp32 / plan["estimated_seconds"]], [max(abs(chosen), 1e-9)], "*",
                color="#c44e52", markersize=14, label="chosen (compiled)")
    if plan.get("budget"):
        ax.axhline(plan["budget"], color="black", linestyle="--", linewidth=1,
                   label="budget")
    ax.set_yscale("log")
    ax.set_xlabel(f"estimated speed vs fp32 (batch {plan.get('batch')}, "
                  f"{plan.get('cost_model')} costs)")
    ax.set_ylabel(f"{plan['metric']} change (calibration set)")
    ax.set_title("Plans the search visited")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(plan):
    out = []
    fp32 = plan.get("fp32_seconds")
    est = plan.get("estimated_seconds")
    out.append("# Precision plan\n")
    out.append(f"- metric: **{plan['metric']}**, budget **{_pct(plan.get('budget'))}**"
               if plan["metric"] != "max-abs" else
               f"- metric: **max-abs**, budget **{_num(plan.get('budget'))}**")
    out.append(f"- target `{plan.get('target')}`, costs at batch {plan.get('batch')} "
               f"({plan.get('cost_model')}), activation scales: "
               f"{plan.get('calibration_method') or '–'}")
    if fp32 and est:
        out.append(f"- estimated run time: {1e3 * est:.3f} ms per batch against "
                   f"fp32's {1e3 * fp32:.3f} ms (**{fp32 / est:.2f}x**)")
    for name in ("calibration", "eval"):
        a = plan["accuracy"][name]
        if not a.get("samples"):
            continue
        line = f"- {name} set ({a['samples']} samples, compiled plan): loss {_num(a['loss'])}"
        if a.get("log_loss") is not None:
            line += (f", log-loss {a['log_loss']:.5f} (fp32 {a['fp32_log_loss']:.5f}), "
                     f"AUC {a['auc']:.5f} (fp32 {a['fp32_auc']:.5f})")
        line += f", max \\|Δp\\| {_num(a.get('max_abs_delta'))}"
        out.append(line)
    out.append("\n![sensitivity](sensitivity.png)\n")
    out.append("![frontier](frontier.png)\n")
    out.append("## Pieces\n")
    out.append("Loss of the model with the piece alone in each precision "
               "(calibration set), and what that precision saves per batch "
               "(µs). *Excluded*: not used by the search.\n")
    out.append("| piece | shape | chosen | " +
               " | ".join(f"{p} loss | {p} saves" for p in PRECISIONS[1:]) + " | notes |")
    out.append("|---|---|---|" + "---:|---:|" * 3 + "---|")
    for p in plan["fcs"] + plan["tables"]:
        cells, notes = [], []
        for precision in PRECISIONS[1:]:
            c = next((c for c in p["candidates"] if c["precision"] == precision), None)
            if c is None:
                cells += ["", ""]
                continue
            cells += [_num(c["loss"]),
                      "–" if c["saving_seconds"] is None else f"{1e6 * c['saving_seconds']:.1f}"]
            if c.get("excluded"):
                notes.append(f"{precision}: {c['excluded']}")
        shape = "×".join(str(d) for d in p.get("shape", []))
        out.append(f"| `{p['name']}` | {shape} | **{p['precision']}** | " +
                   " | ".join(cells) + " | " + "; ".join(notes) + " |")
    out.append("\n## Plans the search visited\n")
    out.append("One letter per piece (FCs, then tables): f fp32, h fp16, 8 int8, 4 int4.\n")
    out.append("| step | change | loss | est. ms | vs fp32 | plan |")
    out.append("|---:|---|---:|---:|---:|---|")
    for v in plan["visited"]:
        speed = f"{fp32 / v['seconds']:.2f}x" if fp32 and v.get("seconds") else "–"
        ms = f"{1e3 * v['seconds']:.3f}" if v.get("seconds") else "–"
        out.append(f"| {v['step']} | {v['change']} | {_num(v['loss'])} | {ms} | {speed} | "
                   f"`{v['plan']}` |")
    return "\n".join(out) + "\n"


def write_report(plan, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    sensitivity_plot(plan, os.path.join(out_dir, "sensitivity.png"))
    frontier_plot(plan, os.path.join(out_dir, "frontier.png"))
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write(markdown(plan))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("plan", help="plan.json (recq-compile --emit-plan)")
    ap.add_argument("--out", required=True, help="directory for report.md and the plots")
    args = ap.parse_args(argv)
    with open(args.plan) as f:
        plan = json.load(f)
    if plan.get("recq_plan") != 1:
        print(f"error: {args.plan} is not a recq plan (version 1)", file=sys.stderr)
        return 1
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("error: the report's plots need matplotlib (Debian: apt-get install "
              "python3-matplotlib)", file=sys.stderr)
        return 1
    write_report(plan, args.out)
    print(f"wrote {os.path.join(args.out, 'report.md')}, sensitivity.png, frontier.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
