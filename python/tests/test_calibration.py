"""Calibration (recq-compile --calibration): the activation ranges recq
records by running its own compiled fp32 model are the ranges torch sees at
the inputs of its Linear layers, and the chosen u8 parameters follow the
method. Needs RECQ_BIN (set by ctest)."""

import json
import os
import subprocess

import numpy as np
import pytest
import torch

from recq.config import DlrmConfig
from recq.make_model import main as make_model
from recq.model import Dlrm

BIN = os.environ.get("RECQ_BIN")
pytestmark = pytest.mark.skipif(not BIN, reason="RECQ_BIN (the built recq tools) is not set")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    make_model(["--config", "tiny", "--out", str(out), "--train-samples", "2048",
                "--calib-samples", "300", "--eval-samples", "64"])
    return out


def calibrate(out, method, tmp_path, *extra):
    report = tmp_path / f"{method}.json"
    subprocess.run([os.path.join(BIN, "recq-compile"), str(out / "model.onnx"),
                    "--calibration", str(out / "calib.npz"),
                    f"--calibration-method={method}", *extra,
                    "--emit-calibration", str(report), "-o", str(tmp_path / "m.mlir")],
                   check=True, capture_output=True)
    return json.loads(report.read_text())


def test_chunks_give_what_one_run_gives(tiny, tmp_path):
    # 300 samples in chunks of 37 (bags cut and offsets rebased per chunk)
    # against one run over all of them.
    whole = calibrate(tiny, "l2", tmp_path, "--calibration-chunk=0")
    chunked = calibrate(tiny, "l2", tmp_path, "--calibration-chunk=37")
    for a, b in zip(whole["tensors"], chunked["tensors"]):
        assert (a["samples"], a["min"], a["max"]) == (b["samples"], b["min"], b["max"])
        assert a["mean_abs"] == pytest.approx(b["mean_abs"], rel=1e-6)
        assert (a["scale"], a["zero_point"]) == pytest.approx((b["scale"], b["zero_point"]), rel=1e-5)


def torch_fc_inputs(out):
    meta = json.load(open(out / "meta.json"))
    net = Dlrm(DlrmConfig(**meta["config"]))
    net.load_state_dict(torch.load(out / "model.pt"))
    net.eval()
    seen = {}

    def record(name):
        def hook(module, inputs, output):  # returns None: output unchanged
            seen[name] = inputs[0].numpy().copy()
        return hook

    for name, module in net.named_modules():
        if isinstance(module, torch.nn.Linear):
            module.register_forward_hook(record(name))
    npz = np.load(out / "calib.npz")
    args = [torch.from_numpy(npz["dense_x"]), torch.from_numpy(npz["offsets"])]
    args += [torch.from_numpy(npz[f"indices_{t}"]) for t in range(net.config.num_tables)]
    with torch.no_grad():
        net(*args)
    return seen


def test_ranges_match_torch(tiny, tmp_path):
    report = calibrate(tiny, "minmax", tmp_path)
    torch_inputs = torch_fc_inputs(tiny)
    assert report["method"] == "minmax"
    assert len(report["tensors"]) == len(torch_inputs) == 4
    for tensor in report["tensors"]:
        # "/bottom/bottom.0/Gemm:input" -> "bottom.0"
        layer = tensor["name"].split("/")[2]
        x = torch_inputs[layer]
        assert tensor["samples"] == 300
        assert tensor["width"] == x.shape[1]
        parts = [(tensor, x)]
        if layer == "top.0":
            # The interaction's output: its dense features (the bottom MLP's
            # output, dim 8 in tiny) get their own range, the dots theirs.
            assert tensor["dense"]["width"] == 8
            parts = [(tensor, x[:, 8:]), (tensor["dense"], x[:, :8])]
        else:
            assert "dense" not in tensor
        for t, part in parts:
            assert t["min"] == pytest.approx(float(part.min()), abs=1e-5)
            assert t["max"] == pytest.approx(float(part.max()), abs=1e-5)
            # minmax: the range widened to include 0, 255 steps, 0 exact.
            lo, hi = min(float(part.min()), 0.0), max(float(part.max()), 0.0)
            assert t["scale"] == pytest.approx((hi - lo) / 255, rel=1e-5)
            assert 0 <= t["zero_point"] <= 255
            assert t["zero_point"] == round(-lo / t["scale"])


def test_methods_clip_no_more_than_the_range(tiny, tmp_path):
    minmax = {t["name"]: t for t in calibrate(tiny, "minmax", tmp_path)["tensors"]}
    for method in ("l2", "percentile"):
        for t in calibrate(tiny, method, tmp_path)["tensors"]:
            full = minmax[t["name"]]
            pairs = [(t, full)] + ([(t["dense"], full["dense"])] if "dense" in t else [])
            for part, whole in pairs:
                assert part["scale"] <= whole["scale"] * (1 + 1e-6)
                if whole["min"] >= 0:  # ReLU outputs keep 0 at code 0
                    assert part["zero_point"] == 0


def test_bad_calibration_input_is_an_error(tiny, tmp_path):
    np.savez(tmp_path / "partial.npz", dense_x=np.zeros((4, 13), np.float32))
    compile_ = [os.path.join(BIN, "recq-compile"), str(tiny / "model.onnx"), "-o", str(tmp_path / "m.mlir")]
    got = subprocess.run(compile_ + ["--calibration", str(tmp_path / "partial.npz")],
                         capture_output=True, text=True)
    assert got.returncode == 1
    assert "partial.npz has no array 'offsets'" in got.stderr
    got = subprocess.run(compile_ + ["--calibration", str(tiny / "calib.npz"),
                                     "--calibration-method=kl"], capture_output=True, text=True)
    assert got.returncode == 1 and "unknown --calibration-method 'kl'" in got.stderr
    got = subprocess.run(compile_ + ["--emit-calibration", str(tmp_path / "x.json")],
                         capture_output=True, text=True)
    assert got.returncode == 1 and "--emit-calibration needs --calibration" in got.stderr
