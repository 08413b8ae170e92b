"""The main job, stage by stage, each held to its own criterion:

    PYTHONPATH=python /usr/bin/python3 -m recq.demo --bin build/dev/bin \\
        [--model kaggle] [--target avx2] [--stages 1-9]

 1 dialect       a tiny DLRM in recq IR, canonicalized: it parses, verifies
                 and keeps its recq ops
 2 model kit     the DLRM trained on teacher data: it beats the untrained one
 3 import        model.onnx raised to recq: one bag per table, one
                 interaction, one FC per Linear
 4 fp32          compiled and run: max |p - p_torch| <= 1e-5
 5 int8 FCs      --quantize=int8: relative log-loss and AUC within 1% of
                 fp32 on the held-out set (recq-run's rule for a model
                 quantized by hand); PyTorch static int8's max |dp| beside it
 6 int8 tables   --tables=int8 on top: the same budget
 7 planner       --accuracy-budget 0.1%: a plan, its table, the report (PNGs)
 8 planned model the plan's budget holds on the held-out set; speed
 9 drift check   recq-run --check: within budget on eval.npz (exit 0), budget
                 broken on a drifted copy (exit 2)

Exit status: 0 every stage ran and met its criterion; 1 a stage failed (its
command failed or its criterion did not hold; the message names it).
"""

import argparse
import contextlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from typing import List

from . import compare as compare_mod
from .config import DlrmConfig

BUDGET = "0.1%"
STAGES = ["dialect", "model kit", "import", "fp32", "int8 FCs", "int8 tables",
          "planner", "planned model", "drift check"]
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class StageFailed(Exception):
    pass


def _short(path: str) -> str:
    """A path relative to the working directory when it lies below it."""
    if not os.path.isabs(path):
        return path
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


class _Indented:
    """A text stream that indents every line it passes on."""

    def __init__(self, stream, prefix: str):
        self.stream, self.prefix, self.fresh = stream, prefix, True

    def write(self, text: str) -> int:
        for line in text.splitlines(keepends=True):
            if self.fresh:
                self.stream.write(self.prefix)
            self.stream.write(line)
            self.fresh = line.endswith("\n")
        return len(text)

    def flush(self):
        self.stream.flush()


class Demo:
    def __init__(self, args):
        self.args = args
        self.bin = os.path.abspath(args.bin)
        self.dir = args.out or os.path.join("out", "models", args.model)
        # A forced target's artifacts go beside the best target's.
        self.art = self.dir if not args.target else os.path.join(self.dir, args.target)
        os.makedirs(self.art, exist_ok=True)
        self.target = args.target or self.tool_output("recq-compile", "--print-target").strip()
        self.env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"))

    # -- helpers -----------------------------------------------------------
    def tool_output(self, tool: str, *argv: str) -> str:
        return subprocess.run([os.path.join(self.bin, tool), *argv], check=True,
                              capture_output=True, text=True).stdout

    def run(self, tool: str, *argv: str, expect=(0,), show=None):
        """Runs a recq tool (or `python -m` module when tool starts with
        "recq."), prints its output indented (lines matching `show` when
        given), fails the stage on an exit status outside `expect`."""
        if tool.startswith("recq."):
            cmd = [sys.executable, "-m", tool, *argv]
        else:
            cmd = [os.path.join(self.bin, tool), *argv]
        shown = " ".join(shlex.quote(_short(c)) for c in cmd)
        print(f"   $ {shown}")
        r = subprocess.run(cmd, capture_output=True, text=True, env=self.env)
        for line in (r.stdout + r.stderr).splitlines():
            if show is None or re.search(show, line) or r.returncode not in expect:
                print(f"     {line}")
        if r.returncode not in expect:
            raise StageFailed(f"{tool} exited {r.returncode}, "
                              f"expected {' or '.join(map(str, expect))}")
        return r

    def compile(self, so: str, *flags: str):
        argv = [os.path.join(self.dir, "model.onnx"), *flags, "-o", so]
        if self.args.target:
            argv.append(f"--target={self.args.target}")
        self.run("recq-compile", *argv, show=r"^(plan:|  (calibration|eval) set|stored|quantized|calibrated)")

    def compare(self, so: str, torch_int8: bool = False) -> dict:
        argv = ["--model-dir", self.dir, "--so", so, "--iters", str(self.args.iters)]
        if torch_int8:
            argv.append("--torch-int8")
        print(f"   $ python -m recq.compare {' '.join(argv)}")
        with contextlib.redirect_stdout(_Indented(sys.stdout, "     ")):
            result = compare_mod.compare(compare_mod.parse_args(argv))
        if not result["verdict"].ok:
            raise StageFailed(f"outside the tolerance: {result['verdict'].describe()}")
        return result

    def ok(self, criterion: str):
        print(f"   ok: {criterion}")

    # -- stages ------------------------------------------------------------
    def stage_dialect(self):
        r = self.run("recq-opt", os.path.join(REPO, "examples", "dlrm-tiny.mlir"),
                     "-recq-canonicalize", show=r"recq\.")
        ops = set(re.findall(r"recq\.[a-z_]+", r.stdout))
        want = {"recq.embedding_bag", "recq.interaction", "recq.fc"}
        if not want <= ops:
            raise StageFailed(f"the canonicalized module lost {sorted(want - ops)}")
        self.ok(f"parsed, verified, canonicalized; keeps {', '.join(sorted(want))}")

    def stage_model_kit(self):
        meta_path = os.path.join(self.dir, "meta.json")
        if not os.path.exists(meta_path):
            self.run("recq.make_model", "--config", self.args.model, "--out", self.dir,
                     show=r"^\[")
        else:
            print(f"   (already made; delete {self.dir} to make it again)")
        meta = json.load(open(meta_path))
        m = meta["metrics"]
        print(f"   eval AUC {m['eval_auc']:.4f} (untrained {m['untrained_auc']:.4f}, teacher "
              f"{m['teacher_auc']:.4f}); log-loss {m['eval_log_loss']:.4f} (constant CTR "
              f"{m['constant_ctr_log_loss']:.4f}); opset {meta['opset']}")
        if not m["eval_auc"] > m["untrained_auc"] + 0.05:
            raise StageFailed(f"training did not learn: eval AUC {m['eval_auc']:.4f}, "
                              f"untrained {m['untrained_auc']:.4f}")
        self.ok("the trained model beats the untrained one by more than 0.05 AUC")

    def stage_import(self):
        config = DlrmConfig(**json.load(open(os.path.join(self.dir, "meta.json")))["config"])
        mlir = os.path.join(self.art, "model.mlir")
        self.run("recq-compile", os.path.join(self.dir, "model.onnx"),
                 "--mlir-elide-elementsattrs-if-larger=16", "-o", mlir)
        text = open(mlir).read()
        want = {"recq.embedding_bag": config.num_tables, "recq.interaction": 1,
                "recq.fc": len(config.bottom) + len(config.top)}
        got = {op: len(re.findall(re.escape(op) + " ", text)) for op in want}
        for op, n in got.items():
            print(f"   {op:20} x {n}")
        print(f"   (the module: {_short(mlir)})")
        if got != want:
            raise StageFailed(f"raised {got}, the model has {want}")
        self.ok(f"{config.num_tables} bags, 1 interaction, {want['recq.fc']} FCs, "
                "as the torch model has")

    def stage_fp32(self):
        so = os.path.join(self.art, "model.so")
        self.compile(so)
        # One variant per target in the library; the load runs the best
        # this CPU runs.
        self.run("recq-run", so, "--info", show=r"^(target|variant)")
        self.run("recq-run", so, "--inputs", os.path.join(self.dir, "eval.npz"))
        self.compare(so)
        self.ok("max |p_recq - p_torch| <= 1e-5 (recq-run exit 0, recq.compare within)")

    def stage_int8_fcs(self):
        so = os.path.join(self.art, "model-int8.so")
        self.compile(so, "--calibration", os.path.join(self.dir, "calib.npz"), "--quantize=int8")
        r = self.compare(so, torch_int8=True)
        self.ok(f"{r['verdict'].describe()}")

    def stage_int8_tables(self):
        so = os.path.join(self.art, "model-int8-tables.so")
        self.compile(so, "--calibration", os.path.join(self.dir, "calib.npz"),
                     "--quantize=int8", "--tables=int8")
        r = self.compare(so)
        self.ok(f"{r['verdict'].describe()}")

    def stage_planner(self):
        so = os.path.join(self.art, "model-planned.so")
        report = os.path.join(self.art, "report")
        shutil.rmtree(report, ignore_errors=True)  # judge this run's report only
        self.compile(so, "--calibration", os.path.join(self.dir, "calib.npz"),
                     f"--accuracy-budget={BUDGET}", "--eval", os.path.join(self.dir, "eval.npz"),
                     "--report", report)
        self.run("recq-run", so, "--info", show=r"^(plan|  (fc|table) )")
        files = ["report.md", "sensitivity.png", "frontier.png"]
        missing = [f for f in files if not os.path.exists(os.path.join(report, f))]
        print(f"   report: {_short(report)}/{{{','.join(files)}}}")
        if missing:
            raise StageFailed(f"the report lacks {missing}")
        plan = json.load(open(os.path.join(report, "plan.json")))
        loss = plan.get("accuracy", {}).get("calibration", {}).get("loss")
        if loss is None or not loss <= plan["budget"]:
            raise StageFailed(f"the plan's loss on calib.npz, {loss}, is not within "
                              f"its budget {plan['budget']}")
        self.ok(f"a plan within {BUDGET} on calib.npz ({plan['metric']} change {loss:.2e}), "
                "its report written")

    def stage_planned_model(self):
        so = os.path.join(self.art, "model-planned.so")
        r = self.compare(so)
        self.ok(f"on the held-out eval.npz: {r['verdict'].describe()}")

    def stage_drift_check(self):
        so = os.path.join(self.art, "model-planned.so")
        check = []
        # A plan that keeps every FC and table fp32 (on some CPUs nothing
        # cheaper is faster for the tiny model) cannot drift from fp32: the
        # check is then shown on the int8 FCs + int8 tables model instead,
        # held to the same budget against the fp32 one.
        plan = json.load(open(os.path.join(self.art, "report", "plan.json")))
        if all(p.get("precision") == "fp32" for p in plan.get("fcs", []) + plan.get("tables", [])):
            print("   the plan keeps every FC and table fp32 on this CPU: nothing to drift; "
                  "checking the int8 FCs + int8 tables model instead")
            so = os.path.join(self.art, "model-int8-tables.so")
            if not os.path.exists(so):
                self.compile(so, "--calibration", os.path.join(self.dir, "calib.npz"),
                             "--quantize=int8", "--tables=int8")
            check = [f"--accuracy-budget={BUDGET}", "--fp32", os.path.join(self.art, "model.so")]
        self.run("recq-run", so, "--check", os.path.join(self.dir, "eval.npz"), *check,
                 expect=(0,))
        drifted = os.path.join(self.dir, "eval-drifted.npz")
        if not os.path.exists(drifted):
            self.run("recq.drift", "--model-dir", self.dir, "--out", drifted)
        print("   a drifted copy: dense features 4x larger, bags 3x longer (python -m recq.drift)")
        self.run("recq-run", so, "--check", drifted, *check, expect=(2,))
        self.ok("within budget on eval.npz (exit 0); BUDGET BROKEN on the drifted copy (exit 2)")


def parse_stages(text: str) -> List[int]:
    out = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    if not out or min(out) < 1 or max(out) > len(STAGES):
        raise ValueError(f"stages are 1..{len(STAGES)}")
    return out


def main(argv=None) -> int:
    ap = compare_mod._Parser(prog="python -m recq.demo",
                             description=__doc__.split("\n\n")[0],
                             formatter_class=argparse.RawDescriptionHelpFormatter,
                             epilog=__doc__.split("\n\n", 2)[2])
    ap.add_argument("--bin", required=True, help="the built tools (build/dev/bin)")
    ap.add_argument("--model", default="kaggle", help="tiny, kaggle or mlperf")
    ap.add_argument("--out", help="the model's directory (default out/models/MODEL)")
    ap.add_argument("--target", help="force a code-generation target (e.g. avx2)")
    ap.add_argument("--stages", default=f"1-{len(STAGES)}", help="e.g. 1-9, or 4,9")
    ap.add_argument("--iters", type=int, default=20, help="timed runs per speed figure")
    args = ap.parse_args(argv)
    try:
        stages = parse_stages(args.stages)
    except ValueError as e:
        ap.error(str(e))
    demo = Demo(args)
    print(f"== recq demo: {args.model}, target {demo.target} ==")
    start = time.time()
    for k in stages:
        name = STAGES[k - 1]
        print(f"\n-- {k}. {name}", flush=True)
        try:
            getattr(demo, "stage_" + name.replace(" ", "_").lower())()
        except (Exception, SystemExit) as e:  # any failure ends the demo, naming the stage
            sys.stdout.flush()
            why = str(e) if isinstance(e, StageFailed) else f"{type(e).__name__}: {e}"
            print(f"\nrecq demo: stage {k} ({name}) FAILED: {why}", file=sys.stderr)
            return 1
        sys.stdout.flush()
    print(f"\nrecq demo: all {len(stages)} stages met their criteria "
          f"({time.time() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
