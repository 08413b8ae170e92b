"""One artifact, several targets: recq-compile puts one variant per target in
model.so (by default every one the model's precisions use, best first), and
the load runs the best this CPU runs, or the one RECQ_TARGET or
`recq.load(target=...)` names, refusing it clearly when the CPU cannot run
it. int8 variants give bit-identical outputs; fp32 ones agree within 1e-5.
RECQ_CPU_DISABLE makes the runtime treat features as missing, so the
choice on a smaller CPU is tested on this one. Needs RECQ_BIN."""

import contextlib
import os
import subprocess

import numpy as np
import pytest

import recq
from recq.compare import slice_samples
from recq.make_model import main as make_model

BIN = os.environ.get("RECQ_BIN")
pytestmark = pytest.mark.skipif(not BIN, reason="RECQ_BIN (the built recq tools) is not set")


def runnable_targets():
    out = subprocess.run([os.path.join(BIN, "recq-cpuinfo"), "--targets"],
                         check=True, capture_output=True, text=True).stdout
    return out.split()


@contextlib.contextmanager
def environment(**values):
    """Sets environment variables (the runtime reads them at load)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    out = tmp_path_factory.mktemp("variants")
    make_model(["--config", "tiny", "--out", str(out), "--epochs", "0",
                "--train-samples", "64", "--calib-samples", "64",
                "--eval-samples", "300"])
    npz = np.load(out / "eval.npz")
    model = recq.load(str(compile_model(out, "probe.so", "--target=generic")))
    names = [name for name, _, _ in model.inputs]
    return out, slice_samples(npz, names, 0, 300)


def compile_model(out, name, *flags):
    so = out / name
    subprocess.run([os.path.join(BIN, "recq-compile"), str(out / "model.onnx"),
                    "-o", str(so), *flags], check=True, capture_output=True)
    return so


def outputs_per_variant(so, inputs):
    """{target: outputs} for every variant this CPU runs."""
    variants = recq.load(str(so)).variants
    runs = runnable_targets()
    return {t: recq.load(str(so), threads=1, target=t).run(**inputs)
            for t in variants if t in runs}


def test_fp32_variants_by_default_and_the_best_runs(kit):
    out, inputs = kit
    so = compile_model(out, "fp32.so")
    model = recq.load(str(so))
    assert model.variants == ["avx512", "avx2", "generic"]
    best = next(t for t in model.variants if t in runnable_targets())
    assert model.target == best
    assert model.target_reason.startswith("the best variant this CPU runs, of 3")
    got = outputs_per_variant(so, inputs)
    assert len(got) >= 1
    reference = got["generic"]
    for target, y in got.items():
        assert np.max(np.abs(y - reference)) <= 1e-5, target


def test_int8_variants_are_bit_identical(kit):
    out, inputs = kit
    so = compile_model(out, "int8.so", "--calibration", str(out / "calib.npz"),
                       "--quantize=int8", "--tables=int8")
    model = recq.load(str(so))
    assert model.variants == ["amx", "avx512-vnni", "avx512", "avx2", "generic"]
    got = outputs_per_variant(so, inputs)
    reference = got["generic"]
    for target, y in got.items():
        assert np.array_equal(y, reference), f"{target} differs from generic"


def test_bf16_variants_are_bit_identical_and_close_to_fp32(kit):
    """--quantize=bf16: bf16 weights and inputs, f32 accumulation; the
    avx512-bf16 variant (vdpbf16ps) and the others (its exact emulation)
    give the same bits (no value here is below 2^-126, which vdpbf16ps
    flushes), and the outputs stay within bf16's precision of fp32's. The
    amx variant (tdpbf16ps) sums in another order (recq.fc's bound per FC),
    so it is held to that precision only (run where the CPU has AMX)."""
    out, inputs = kit
    so = compile_model(out, "bf16.so", "--quantize=bf16")
    model = recq.load(str(so))
    assert model.variants == ["amx", "avx512-bf16", "avx512", "avx2", "generic"]
    assert [fc["precision"] for fc in model.plan["fcs"]] == ["bf16"] * len(model.plan["fcs"])
    got = outputs_per_variant(so, inputs)
    reference = got["generic"]
    fp32 = recq.load(str(compile_model(out, "fp32.so")), threads=1).run(**inputs)
    for target, y in got.items():
        if target == "amx":
            assert np.max(np.abs(y - fp32)) <= 0.01, target
        else:
            assert np.array_equal(y, reference), f"{target} differs from generic"
    assert np.max(np.abs(reference - fp32)) <= 0.01
    assert np.max(np.abs(reference - fp32)) > 0, "bf16 rounded nothing"


def test_targets_flag_picks_the_variants(kit):
    out, _ = kit
    so = compile_model(out, "two.so", "--targets=generic,avx2")
    assert recq.load(str(so)).variants == ["avx2", "generic"]
    bad = subprocess.run([os.path.join(BIN, "recq-compile"), str(out / "model.onnx"),
                          "-o", str(out / "bad.so"), "--targets=avx2,sse9"],
                         capture_output=True, text=True)
    assert bad.returncode == 1
    assert "unknown target 'sse9' (amx, avx512-bf16, avx512-vnni, avx512, avx2, generic)" in bad.stderr


def test_a_cpu_without_a_feature_runs_the_next_variant(kit):
    out, inputs = kit
    so = compile_model(out, "fp32.so")
    if "avx2" not in runnable_targets():
        pytest.skip("this CPU has no AVX2: the fallback to generic is the only one")
    with environment(RECQ_CPU_DISABLE="avx512f"):
        model = recq.load(str(so))
    assert model.target == "avx2"
    assert "avx512 lacks avx512f" in model.target_reason
    with environment(RECQ_CPU_DISABLE="avx2,fma"):
        assert recq.load(str(so)).target == "generic"


def test_forced_variants_are_checked(kit):
    out, _ = kit
    so = compile_model(out, "fp32.so")
    with environment(RECQ_TARGET="generic"):
        model = recq.load(str(so))
    assert (model.target, model.target_reason) == ("generic", "RECQ_TARGET=generic")
    # The load option wins over the environment.
    with environment(RECQ_TARGET="generic"):
        assert recq.load(str(so), target="avx2").target == "avx2" or \
            "avx2" not in runnable_targets()
    with pytest.raises(recq.RecqError, match=r"recq error 1: .*'avx512-vnni'; this "
                       r"model has avx512, avx2, generic"):
        recq.load(str(so), target="avx512-vnni")
    with environment(RECQ_CPU_DISABLE="avx2"):
        with pytest.raises(recq.RecqError, match=r"recq error 4: .*'avx2', which needs "
                           r"avx2; this CPU lacks it"):
            recq.load(str(so), target="avx2")


def test_no_variant_this_cpu_runs_is_refused(kit):
    out, _ = kit
    so = compile_model(out, "avx2.so", "--target=avx2")
    with environment(RECQ_CPU_DISABLE="avx2"):
        with pytest.raises(recq.RecqError, match=r"recq error 4: this CPU runs none of "
                           r"the model's variants \(avx2 lacks avx2; recompile with "
                           r"--targets=generic\)"):
            recq.load(str(so))


def test_recq_run_info_lists_the_variants(kit):
    out, _ = kit
    so = compile_model(out, "fp32.so")
    info = subprocess.run([os.path.join(BIN, "recq-run"), str(so), "--info"],
                          env={**os.environ, "RECQ_CPU_DISABLE": "avx512f"},
                          check=True, capture_output=True, text=True).stdout.splitlines()
    if "avx2" not in runnable_targets():
        pytest.skip("this CPU has no AVX2")
    # What avx512 lacks: avx512f (disabled) and what this CPU never had.
    has = set(subprocess.run([os.path.join(BIN, "recq-cpuinfo")], check=True,
                             capture_output=True, text=True).stdout.split())
    lacks = ",".join(f for f in ("avx512f", "avx512bw", "avx512vl")
                     if f == "avx512f" or f not in has)
    assert info[0] == ("target: avx2 (the best variant this CPU runs, of 3; "
                       f"avx512 lacks {lacks})")
    assert info[1] == ("variant 0: avx512, needs fma,f16c,avx2,avx512f,avx512bw,"
                       f"avx512vl; this CPU lacks {lacks}")
    assert info[2] == "variant 1: avx2, needs fma,f16c,avx2; this CPU runs it (running)"
    assert info[3] == "variant 2: generic, needs nothing; this CPU runs it"
