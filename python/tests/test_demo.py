"""The main job as a test: `python -m recq.demo` (what `bash scripts/demo`
runs) on the tiny model, every stage held to its criterion -- and the demo
fails, naming the stage, when a stage's result is wrong (tools that lie are
put in its --bin). Also the exit codes of recq-run --reference and
recq.compare. Needs RECQ_BIN (set by ctest)."""

import json
import os
import stat
import subprocess
import sys

import pytest

from recq.demo import STAGES

BIN = os.environ.get("RECQ_BIN")
pytestmark = pytest.mark.skipif(not BIN, reason="RECQ_BIN (the built recq tools) is not set")
PYTHON_DIR = os.path.join(os.path.dirname(__file__), "..")


def demo(bin_dir, out, *args):
    env = dict(os.environ, PYTHONPATH=os.path.abspath(PYTHON_DIR))
    return subprocess.run([sys.executable, "-m", "recq.demo", "--bin", str(bin_dir),
                           "--model", "tiny", "--out", str(out), "--iters", "2", *args],
                          capture_output=True, text=True, env=env)


@pytest.fixture(scope="module")
def tiny_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "tiny"
    return out, demo(BIN, out)


def test_every_stage_meets_its_criterion(tiny_demo):
    out, r = tiny_demo
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    for k, name in enumerate(STAGES, 1):
        assert f"-- {k}. {name}" in r.stdout
    assert r.stdout.count("\n   ok: ") == len(STAGES), r.stdout
    assert f"all {len(STAGES)} stages met their criteria" in r.stdout
    # What each stage must show.
    assert "recq.embedding_bag   x 3" in r.stdout
    assert "(tolerance 1e-05, fp32 model): ok" in r.stdout
    assert "torch static int8" in r.stdout  # side by side with recq's max |dp|
    assert "plan: metric logloss, budget 0.001" in r.stdout
    for png in ("sensitivity.png", "frontier.png"):
        assert (out / "report" / png).stat().st_size > 0
    assert "within budget" in r.stdout and "BUDGET BROKEN" in r.stdout


def liar(tmp_path, tool, script):
    """A --bin holding the real tools, but `tool` wrapped by `script` (bash,
    $REAL is the real tool)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in os.listdir(BIN):
        if name != tool:
            os.symlink(os.path.join(BIN, name), bin_dir / name)
    wrapper = bin_dir / tool
    wrapper.write_text(f"#!/bin/bash\nREAL={os.path.join(BIN, tool)}\n{script}\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    return bin_dir


@pytest.mark.parametrize("tool,script,stage", [
    # A drift check that never reports a broken budget.
    ("recq-run", '"$REAL" "$@"; rc=$?; [[ " $* " == *" --check "* ]] && exit 0; exit $rc',
     "9 (drift check)"),
    # A drift check that reports every budget broken.
    ("recq-run", '"$REAL" "$@"; rc=$?; [[ " $* " == *" --check "* ]] && exit 2; exit $rc',
     "9 (drift check)"),
    # An fp32 run that misses its reference.
    ("recq-run", '"$REAL" "$@"; rc=$?; [[ " $* " == *" --inputs "* ]] && exit 2; exit $rc',
     "4 (fp32)"),
    # A planner that writes no report.
    ("recq-compile", 'args=(); skip=0; for a in "$@"; do if [ $skip = 1 ]; then skip=0; '
     'continue; fi; [ "$a" = --report ] && { skip=1; continue; }; args+=("$a"); done; '
     'exec "$REAL" "${args[@]}"', "7 (planner)"),
    # An importer that loses a table.
    ("recq-compile", '"$REAL" "$@"; rc=$?; for a in "$@"; do case "$a" in *.mlir) '
     'sed -i "0,/recq.embedding_bag /s//recq.lost_bag /" "$a";; esac; done; exit $rc',
     "3 (import)"),
])
def test_a_wrong_stage_result_fails_the_demo(tiny_demo, tmp_path, tool, script, stage):
    out, first = tiny_demo
    assert first.returncode == 0
    r = demo(liar(tmp_path, tool, script), out, "--stages", stage.split()[0])
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"recq demo: stage {stage} FAILED" in r.stderr, r.stderr


def test_reference_exit_codes(tiny_demo, tmp_path):
    """recq-run --reference: 0 within the tolerance that fits the model, 2
    outside it, 1 on an error; recq.compare the same."""
    out, first = tiny_demo
    assert first.returncode == 0
    run = os.path.join(BIN, "recq-run")
    eval_npz = str(out / "eval.npz")

    def code(*args):
        return subprocess.run([run, *args], capture_output=True, text=True)

    fp32 = code(str(out / "model.so"), "--inputs", eval_npz)
    assert fp32.returncode == 0 and "fp32 model): ok" in fp32.stdout
    int8 = code(str(out / "model-int8.so"), "--inputs", eval_npz)
    assert int8.returncode == 0, int8.stdout
    assert "a quantized model's default budget" in int8.stdout
    planned = code(str(out / "model-planned.so"), "--inputs", eval_npz)
    # A plan that quantizes nothing (on a CPU where nothing cheaper is
    # faster, e.g. AVX2 on this tiny model) is an fp32 model.
    plan = json.loads((out / "model-planned.plan.json").read_text())
    quantized = any(p["precision"] != "fp32" for p in plan["fcs"] + plan["tables"])
    assert planned.returncode == 0, planned.stdout
    assert ("the plan's budget" if quantized else "fp32 model): ok") in planned.stdout
    strict = code(str(out / "model-int8.so"), "--inputs", eval_npz, "--atol", "1e-9")
    assert strict.returncode == 2 and "MISMATCH" in strict.stdout
    missing = code(str(out / "model-int8.so"), "--inputs", str(tmp_path / "none.npz"))
    assert missing.returncode == 1
    info = code(str(out / "model-int8.so"), "--info")
    assert "plan: by hand (recq-compile --quantize/--tables), no budget" in info.stdout

    env = dict(os.environ, PYTHONPATH=os.path.abspath(PYTHON_DIR))
    compare = [sys.executable, "-m", "recq.compare", "--model-dir", str(out), "--no-speed"]
    ok = subprocess.run(compare + ["--so", str(out / "model-int8.so")], env=env,
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    outside = subprocess.run(compare + ["--so", str(out / "model-int8.so"), "--atol", "1e-9"],
                             env=env, capture_output=True, text=True)
    assert outside.returncode == 2 and "OUTSIDE" in outside.stdout
    usage = subprocess.run(compare + ["--so"], env=env, capture_output=True, text=True)
    assert usage.returncode == 1

    # A NaN output is outside any tolerance (it used to vanish in a max).
    import numpy as np
    z = dict(np.load(eval_npz))
    z["dense_x"] = z["dense_x"].copy()
    z["dense_x"][5] = np.nan
    np.savez(tmp_path / "nan.npz", **z)
    nan = code(str(out / "model.so"), "--inputs", str(tmp_path / "nan.npz"))
    assert nan.returncode == 2 and "max |diff| nan" in nan.stdout, nan.stdout

    # Without labels: the tolerance still applies, AUC and log-loss are left out.
    bare = tmp_path / "nolabels"
    bare.mkdir()
    for f in ("meta.json", "model.pt", "calib.npz"):
        os.symlink(out / f, bare / f)
    del z["labels"]
    z["dense_x"] = np.load(eval_npz)["dense_x"]
    np.savez(bare / "eval.npz", **z)
    unlabelled = subprocess.run(
        [sys.executable, "-m", "recq.compare", "--model-dir", str(bare), "--no-speed",
         "--torch-int8", "--so", str(out / "model-int8.so")],
        env=env, capture_output=True, text=True)
    assert unlabelled.returncode == 0, unlabelled.stdout + unlabelled.stderr
    assert "no AUC or log-loss" in unlabelled.stdout


def test_demo_usage_errors_exit_1(tmp_path):
    r = demo(BIN, tmp_path / "m", "--stages", "12")
    assert r.returncode == 1 and "stages are 1..9" in r.stderr


@pytest.mark.parametrize("tool", ["recq-compile", "recq-run", "recq-cpuinfo", "recq-opt"])
def test_help_prints_help_and_runs_nothing(tool):
    r = subprocess.run([os.path.join(BIN, tool), "--help"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert "USAGE" in r.stdout or "usage" in r.stdout
    if tool != "recq-opt":
        assert "xit status" in r.stdout
