"""recq-compile --profile: each op of the model timed at run time
(recq-run --bench --profile, Model.profile(), recq_model_profile_op;
docs/Profiling.md). The marks do not change a result; every profiled op
runs once per call (the tables' functions once per table); a model compiled
without --profile says so. Needs RECQ_BIN."""

import os
import subprocess

import numpy as np
import pytest

import recq
from recq.compare import slice_samples
from recq.make_model import main as make_model

BIN = os.environ.get("RECQ_BIN")
pytestmark = pytest.mark.skipif(not BIN, reason="RECQ_BIN (the built recq tools) is not set")


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    out = tmp_path_factory.mktemp("profile")
    make_model(["--config", "tiny", "--out", str(out), "--epochs", "0",
                "--train-samples", "64", "--calib-samples", "64",
                "--eval-samples", "200"])
    flags = ["--calibration", str(out / "calib.npz"), "--quantize=int8",
             "--tables=int8", "--target=generic"]
    for name, extra in (("profiled.so", ["--profile"]), ("plain.so", [])):
        subprocess.run([os.path.join(BIN, "recq-compile"), str(out / "model.onnx"),
                        "-o", str(out / name), *flags, *extra],
                       check=True, capture_output=True)
    model = recq.load(str(out / "plain.so"), threads=1)
    names = [name for name, _, _ in model.inputs]
    return out, slice_samples(np.load(out / "eval.npz"), names, 0, 200)


def test_every_op_once_per_call_and_the_same_outputs(kit):
    out, inputs = kit
    plain = recq.load(str(out / "plain.so"), threads=1)
    profiled = recq.load(str(out / "profiled.so"), threads=1)
    assert plain.profile() == []
    before = profiled.profile(reset=True)
    assert before, "a model compiled with --profile has a profile"
    calls = 3
    for _ in range(calls):
        got = profiled.run(**inputs)
    np.testing.assert_array_equal(got, plain.run(**inputs))
    ops = profiled.profile()
    names = [name for name, _, _ in ops]
    tables = len(plain.table_rows)
    assert any(n.startswith("interaction") for n in names), names
    assert any(n.startswith("qfc") for n in names), names
    for name, seconds, count in ops:
        if name.startswith("embedding_bags"):
            assert count == calls * tables, (name, count)
        else:
            assert count == calls, (name, count)
        assert seconds >= 0
    assert sum(s for n, s, _ in ops if n.startswith("qfc")) > 0
    assert sum(s for n, s, _ in ops if n.startswith("embedding_bags")) > 0
    profiled.profile(reset=True)
    assert all(s == 0 and c == 0 for _, s, c in profiled.profile())


def test_recq_run_prints_the_profile(kit):
    out, _ = kit
    npz = out / "eval.npz"
    run = subprocess.run([os.path.join(BIN, "recq-run"), str(out / "profiled.so"),
                          "--inputs", str(npz), "--bench", "--iters", "4",
                          "--threads", "1", "--profile"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("profile: "))
    rows = [l for l in lines[start + 1:] if " calls  " in l]
    shares = [float(l.split()[2].rstrip("%")) for l in rows]
    assert abs(sum(shares) - 100) < 0.1, shares
    assert shares == sorted(shares, reverse=True)
    assert lines[-1].strip().endswith("ms in all")


def test_recq_run_profile_needs_a_profiled_model_and_bench(kit):
    out, _ = kit
    npz = out / "eval.npz"
    run = subprocess.run([os.path.join(BIN, "recq-run"), str(out / "plain.so"),
                          "--inputs", str(npz), "--bench", "--iters", "1",
                          "--profile"], capture_output=True, text=True)
    assert run.returncode == 1
    assert "was compiled without --profile" in run.stderr
    run = subprocess.run([os.path.join(BIN, "recq-run"), str(out / "profiled.so"),
                          "--inputs", str(npz), "--profile"],
                         capture_output=True, text=True)
    assert run.returncode == 1
    assert "--profile times the --bench runs" in run.stderr
