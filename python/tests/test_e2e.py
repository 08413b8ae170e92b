"""fp32 end to end: generated DLRMs compiled by recq-compile to model.so and
run through the Python wrapper match torch's fp32 outputs (eval.npz
`reference`) within 1e-5 at batch 1, 7 and 512, on every target this CPU
runs. Needs RECQ_BIN (the directory of recq-compile and recq-cpuinfo), which
ctest sets; skipped, saying so, without it."""

import os
import subprocess
import threading

import numpy as np
import pytest

import recq
from recq.compare import slice_samples

from recq.make_model import main as make_model

BIN = os.environ.get("RECQ_BIN")
pytestmark = pytest.mark.skipif(not BIN, reason="RECQ_BIN (the built recq tools) is not set")
TOLERANCE = 1e-5


def runnable_targets():
    out = subprocess.run([os.path.join(BIN, "recq-cpuinfo"), "--targets"],
                         check=True, capture_output=True, text=True).stdout
    return [t for t in out.split() if t in ("generic", "avx2", "avx512")]


def first_samples(npz, names, n):
    """The first n samples of an eval.npz (recq.compare.slice_samples) and
    their torch reference outputs."""
    return slice_samples(npz, names, 0, n), npz["reference"][:n]


@pytest.fixture(scope="module", params=["tiny", "kaggle", "mlperf"])
def model_dir(request, tmp_path_factory):
    config = request.param
    out = tmp_path_factory.mktemp(config)
    # Untrained weights are as good a test of the arithmetic as trained ones
    # and keep the test fast; 600 eval samples cover batch 512.
    make_model(["--config", config, "--out", str(out), "--epochs", "0",
                "--train-samples", "64", "--calib-samples", "16",
                "--eval-samples", "600"])
    return config, out


@pytest.mark.parametrize("target", ["generic", "avx2", "avx512"])
def test_matches_torch(model_dir, target):
    if target not in runnable_targets():
        pytest.skip(f"this CPU cannot run target {target}")
    config, out = model_dir
    so = out / f"model-{target}.so"
    subprocess.run([os.path.join(BIN, "recq-compile"), str(out / "model.onnx"),
                    f"--target={target}", "-o", str(so)], check=True)
    model = recq.load(str(so), threads=1)
    model2 = recq.load(str(so), threads=2)
    assert model.target == target
    assert (model.threads, model2.threads) == (1, 2)
    npz = np.load(out / "eval.npz")
    names = [name for name, _, _ in model.inputs]
    for batch in (1, 7, 512):
        inputs, reference = first_samples(npz, names, batch)
        got = model.run(**inputs)
        assert got.shape == reference.shape
        err = float(np.abs(got - reference).max())
        assert err <= TOLERANCE, f"{config} {target} batch {batch}: max |diff| {err}"
        # Batch tiles on two threads compute every sample as one thread does.
        assert np.array_equal(model2.run(**inputs), got)


def test_concurrent_runs(model_dir):
    """run() from several threads at once on one model (ctypes releases the
    GIL): each call gets its own, correct result."""
    config, out = model_dir
    if config != "tiny":
        pytest.skip("checked on the tiny model")
    so = out / "model-concurrent.so"
    subprocess.run([os.path.join(BIN, "recq-compile"), str(out / "model.onnx"),
                    "-o", str(so)], check=True)
    model = recq.load(str(so), threads=2)
    npz = np.load(out / "eval.npz")
    names = [name for name, _, _ in model.inputs]
    batches = [first_samples(npz, names, n) for n in (33, 100, 512, 7)]
    results = {}

    def work(k):
        for _ in range(20):
            inputs, reference = batches[k]
            got = model.run(**inputs)
            results.setdefault(k, []).append(float(np.abs(got - reference).max()))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(max(errs) <= TOLERANCE for errs in results.values()), results
    assert sorted(results) == list(range(len(batches)))


def test_bad_index_is_an_error(model_dir):
    config, out = model_dir
    if config != "tiny":
        pytest.skip("checked on the tiny model")
    so = out / "model-check.so"
    subprocess.run([os.path.join(BIN, "recq-compile"), str(out / "model.onnx"),
                    "--target=generic", "-o", str(so)], check=True)
    model = recq.load(str(so))
    npz = np.load(out / "eval.npz")
    names = [name for name, _, _ in model.inputs]
    inputs, _ = first_samples(npz, names, 7)
    rows = model.table_rows[1]
    bad = dict(inputs)
    bad["indices_1"] = inputs["indices_1"].copy()
    bad["indices_1"][-1] = rows
    with pytest.raises(recq.RecqError, match=rf"table 1: index {rows} of sample 6 is outside \[0, {rows}\)"):
        model.run(**bad)
    bad = dict(inputs)
    bad["offsets"] = inputs["offsets"].copy()
    bad["offsets"][0, 3] = bad["offsets"][0, 2] - 1
    with pytest.raises(recq.RecqError, match="table 0: offset .* of sample 3 is below the previous one"):
        model.run(**bad)
    bad["offsets"] = inputs["offsets"].copy()
    bad["offsets"][1, 0] = 1
    with pytest.raises(recq.RecqError, match="table 1: the first offset is 1; offsets start at 0"):
        model.run(**bad)
    bad["offsets"] = inputs["offsets"].copy()
    bad["offsets"][2, 6] = len(inputs["indices_2"]) + 1
    with pytest.raises(recq.RecqError, match=rf"table 2: offset {len(inputs['indices_2']) + 1} of sample 6 is past the table's {len(inputs['indices_2'])} indices"):
        model.run(**bad)
    bad = dict(inputs)
    bad["dense_x"] = np.zeros((7, 12), dtype=np.float32)
    with pytest.raises(recq.RecqError, match="input 'dense_x': dimension 1 is 12, the model takes 13"):
        model.run(**bad)
    # The wrapper checks each array's rank (the runtime reads as many
    # dimensions as the model's input has) and the input names.
    bad["dense_x"] = inputs["dense_x"].reshape(-1)
    with pytest.raises(ValueError, match="input 'dense_x' has rank 1, the model's has rank 2"):
        model.run(**bad)
    bad["offsets"] = inputs["offsets"][None]
    bad["dense_x"] = inputs["dense_x"]
    with pytest.raises(ValueError, match="input 'offsets' has rank 3, the model's has rank 2"):
        model.run(**bad)
    with pytest.raises(ValueError, match=r"missing \['offsets'\], unknown \['offset'\]"):
        model.run(**{("offset" if k == "offsets" else k): v for k, v in inputs.items()})
    # The good inputs still run after the errors.
    assert model.run(**inputs).shape == (7, 1)


C_PROGRAM = r"""
#include "model.h"
#include <stdio.h>
#include <stdlib.h>
/* Runs the tiny model on one sample whose bags are empty except table 0's
   index 1; prints the probability, or the runtime's error. */
int main(int argc, char **argv) {
  recq_status st;
  recq_model *m = recq_model_load(NULL, &st);
  if (!m) { printf("load: %s\n", st.message); return 2; }
  float dense[13] = {0};
  int64_t offsets[3] = {0, 0, 0}, idx0[1] = {argc > 1 ? atoi(argv[1]) : 1};
  int64_t idx1[1] = {0}, idx2[1] = {0};
  int64_t s_dense[2] = {1, 13}, s_off[2] = {3, 1}, s_i0[1] = {1}, s_e[1] = {0};
  const void *in[RECQ_MODEL_NUM_INPUTS] = {dense, offsets, idx0, idx1, idx2};
  const int64_t *shapes[RECQ_MODEL_NUM_INPUTS] = {s_dense, s_off, s_i0, s_e, s_e};
  float out[1];
  int64_t out_shape[2];
  if (recq_model_run(m, in, shapes, out, 1, out_shape, &st) != RECQ_OK) {
    printf("run: %s\n", st.message);
    recq_model_free(m);
    return 3;
  }
  printf("%.6f\n", out[0]);
  recq_model_free(m);
  return 0;
}
"""


def test_deployable_with_external_weights(model_dir, tmp_path):
    """A C program built against model.h and linked with model.so runs the
    model, whose tables live in model.weights; a missing or truncated
    weights file is a load error, not a crash."""
    config, out = model_dir
    if config != "tiny":
        pytest.skip("checked on the tiny model")
    so = tmp_path / "model.so"
    subprocess.run([os.path.join(BIN, "recq-compile"), str(out / "model.onnx"),
                    "--external-weights", "-o", str(so)], check=True)
    weights = tmp_path / "model.weights"
    assert weights.exists() and (tmp_path / "model.h").exists()
    (tmp_path / "main.c").write_text(C_PROGRAM)
    exe = tmp_path / "main"
    subprocess.run(["cc", "-O1", "-o", str(exe), str(tmp_path / "main.c"),
                    "-I", str(tmp_path), str(so), f"-Wl,-rpath,{tmp_path}"],
                   check=True)
    got = subprocess.run([str(exe)], capture_output=True, text=True)
    assert got.returncode == 0, got.stdout
    p = float(got.stdout)

    # The same sample through the Python wrapper.
    model = recq.load(str(so))
    ref = model.run(dense_x=np.zeros((1, 13), np.float32),
                    offsets=np.zeros((3, 1), np.int64),
                    indices_0=np.array([1]), indices_1=np.zeros(0, np.int64),
                    indices_2=np.zeros(0, np.int64))
    assert abs(p - float(ref[0, 0])) < 1e-6
    bad = subprocess.run([str(exe), "100"], capture_output=True, text=True)
    assert bad.returncode == 3
    assert "table 0: index 100 of sample 0 is outside [0, 100)" in bad.stdout

    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    got = subprocess.run([str(exe)], capture_output=True, text=True)
    assert got.returncode == 2
    assert (f"has {len(data) // 2} bytes (its header says {len(data)}), the "
            f"model was compiled with {len(data)}: truncated") in got.stdout
    weights.unlink()
    got = subprocess.run([str(exe)], capture_output=True, text=True)
    assert got.returncode == 2 and "cannot open the weights file" in got.stdout


def test_recq_run_cuts_a_batch(model_dir, tmp_path):
    # recq-run --batch keeps the first samples (dense rows, bags, the indices
    # they cover) and checks them against the first reference outputs.
    config, out = model_dir
    so = tmp_path / "model.so"
    subprocess.run([os.path.join(BIN, "recq-compile"), str(out / "model.onnx"),
                    "-o", str(so)], check=True)
    run = subprocess.run([os.path.join(BIN, "recq-run"), str(so), "--inputs",
                          str(out / "eval.npz"), "--batch", "7"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "[7, 1]" in run.stdout
    assert run.stdout.rstrip().endswith(": ok"), run.stdout
