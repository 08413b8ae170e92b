"""Batch tiles for the caches: the runtime cuts a batch larger than its
tile (by default the samples whose pooled rows take 2 MiB, at least 128,
when the FC weights take at most 4 MiB; RECQ_TILE_SAMPLES at load, 0 for
whole batches) and runs the tiles one after another, or on its threads.
Every tile is computed as it would be alone, so the outputs are
bit-identical to whole batches, int8 and fp32, on 1 and 2 threads. Needs
RECQ_BIN."""

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
    out = tmp_path_factory.mktemp("tiles")
    make_model(["--config", "tiny", "--out", str(out), "--epochs", "0",
                "--train-samples", "64", "--calib-samples", "64",
                "--eval-samples", "300"])
    builds = {"fp32": [], "int8": ["--calibration", str(out / "calib.npz"),
                                   "--quantize=int8", "--tables=int8"]}
    for name, flags in builds.items():
        subprocess.run([os.path.join(BIN, "recq-compile"), str(out / "model.onnx"),
                        "-o", str(out / f"{name}.so"), "--target=generic", *flags],
                       check=True, capture_output=True)
    model = recq.load(str(out / "fp32.so"), threads=1)
    names = [name for name, _, _ in model.inputs]
    return out, slice_samples(np.load(out / "eval.npz"), names, 0, 300)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_tiles_give_the_whole_batchs_outputs(kit, precision, monkeypatch):
    out, inputs = kit
    so = str(out / f"{precision}.so")
    monkeypatch.setenv("RECQ_TILE_SAMPLES", "0")
    whole = recq.load(so, threads=1).run(**inputs)
    for tile in ["1", "7", "64", "299", "300", "1000", ""]:
        monkeypatch.setenv("RECQ_TILE_SAMPLES", tile)
        for threads in [1, 2]:
            got = recq.load(so, threads=threads).run(**inputs)
            np.testing.assert_array_equal(got, whole, err_msg=f"tile {tile!r}, {threads} threads")


@pytest.mark.parametrize("value", ["-1", "12x", "many"])
def test_a_bad_tile_setting_is_refused_at_load(kit, value, monkeypatch):
    out, _ = kit
    monkeypatch.setenv("RECQ_TILE_SAMPLES", value)
    with pytest.raises(recq.RecqError, match=f"RECQ_TILE_SAMPLES is '{value}'"):
        recq.load(str(out / "int8.so"))
