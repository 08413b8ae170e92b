"""Tests of the DLRM model kit: shapes, data, training, export."""

import json
from collections import Counter

import numpy as np
import onnx
import pytest
import torch

from recq import config as configs
from recq.data import Teacher, auc, log_loss
from recq.export import export_onnx, save_npz
from recq.make_model import main as make_model
from recq.model import Dlrm, input_names
from recq.train import predict, to_torch


def test_interaction_widths_match_dlrm():
    # Criteo Kaggle DLRM's top MLP starts at 367, MLPerf's at 479.
    assert configs.kaggle().interaction_width == 16 + 26 * 27 // 2 == 367
    assert configs.mlperf().interaction_width == 128 + 351 == 479
    assert configs.mlperf().num_tables == 26
    rows = configs.mlperf().table_rows
    assert 1e3 <= min(rows) and max(rows) <= 1e5


def test_config_rejects_inconsistent_shapes():
    with pytest.raises(ValueError, match="embedding dimension is 8"):
        configs.DlrmConfig("bad", 13, 8, [10], bottom=[16], top=[1])
    with pytest.raises(ValueError, match="unknown model config 'huge'"):
        configs.get("huge")


def test_samples_are_well_formed_and_reproducible():
    cfg = configs.tiny()
    teacher = Teacher(cfg, seed=3)
    s = teacher.sample(500, seed=7)
    assert s.dense_x.shape == (500, cfg.num_dense)
    assert s.offsets.shape == (cfg.num_tables, 500)
    for t, idx in enumerate(s.indices):
        off = s.offsets[t]
        assert off[0] == 0 and np.all(np.diff(off) >= 0) and off[-1] <= len(idx)
        assert idx.dtype == np.int64 and idx.min() >= 0
        assert idx.max() < cfg.table_rows[t]
    # Table 0 has mean bag length 1: Poisson(1) leaves about 37% bags empty.
    lengths0 = np.diff(np.append(s.offsets[0], len(s.indices[0])))
    assert (lengths0 == 0).mean() > 0.2
    again = Teacher(cfg, seed=3).sample(500, seed=7)
    assert np.array_equal(again.labels, s.labels)
    assert all(np.array_equal(a, b) for a, b in zip(again.indices, s.indices))


def test_indices_are_zipf_skewed():
    cfg = configs.tiny()
    s = Teacher(cfg, seed=0).sample(4000, seed=1)
    counts = np.bincount(s.indices[2], minlength=cfg.table_rows[2])
    top_share = np.sort(counts)[::-1][:5].sum() / counts.sum()
    assert top_share > 5 * 5 / cfg.table_rows[2], "5 hottest rows must dominate"


def test_slice_rebases_offsets():
    s = Teacher(configs.tiny(), seed=0).sample(100, seed=1)
    part = s.slice(10, 20)
    for t in range(len(s.indices)):
        start, stop = s.offsets[t, 10], s.offsets[t, 20]
        assert part.offsets[t, 0] == 0
        assert np.array_equal(part.indices[t], s.indices[t][start:stop])


def test_auc_and_log_loss_on_known_values():
    assert auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    assert log_loss([1, 0], [0.5, 0.5]) == pytest.approx(np.log(2))


def test_interaction_is_the_strict_lower_triangle():
    torch.manual_seed(0)
    model = Dlrm(configs.tiny())
    x = torch.randn(2, 8)
    ly = [torch.randn(2, 8) for _ in range(3)]
    r = model.interact(x, ly)
    feats = [x] + ly
    expected = [x]
    pairs = [(feats[i] * feats[j]).sum(1, keepdim=True)
             for i in range(4) for j in range(i)]
    expected = torch.cat([x] + pairs, dim=1)
    assert r.shape == (2, 8 + 6)
    assert torch.allclose(r, expected, atol=1e-6)


def test_training_beats_chance_quickly(tmp_path):
    assert make_model(["--config", "tiny", "--out", str(tmp_path),
                       "--eval-samples", "4000"]) == 0
    meta = json.loads((tmp_path / "meta.json").read_text())
    m = meta["metrics"]
    assert m["eval_auc"] > 0.70, m
    assert m["eval_log_loss"] < m["constant_ctr_log_loss"], m
    assert m["eval_auc"] <= m["teacher_auc"] + 0.02, m


@pytest.mark.parametrize("opset", [11, 13, 14, 17])
def test_export_is_the_real_torch_form(tmp_path, opset):
    cfg = configs.tiny()
    torch.manual_seed(0)
    model = Dlrm(cfg)
    s = Teacher(cfg, seed=0).sample(16, seed=1)
    path = str(tmp_path / "model.onnx")
    export_onnx(model, s, path, opset=opset)
    m = onnx.load(path)
    assert m.opset_import[0].version == opset
    assert [i.name for i in m.graph.input] == input_names(cfg)
    ops = Counter(n.op_type for n in m.graph.node)
    assert ops["Loop"] == cfg.num_tables, "EmbeddingBag must export as a Loop"
    assert ops["Gemm"] == len(cfg.bottom) + len(cfg.top)
    dense = m.graph.input[0].type.tensor_type.shape.dim[0]
    assert dense.dim_param == "batch", "the batch dimension stays dynamic"


def test_export_rejects_unsupported_opset(tmp_path):
    cfg = configs.tiny()
    with pytest.raises(ValueError, match="opset 18 is outside"):
        export_onnx(Dlrm(cfg), Teacher(cfg).sample(4, seed=0),
                    str(tmp_path / "m.onnx"), opset=18)


def test_npz_holds_inputs_labels_and_reference(tmp_path):
    cfg = configs.tiny()
    torch.manual_seed(0)
    model = Dlrm(cfg)
    s = Teacher(cfg, seed=0).sample(64, seed=1)
    save_npz(str(tmp_path / "eval.npz"), model, s)
    z = np.load(tmp_path / "eval.npz")
    assert set(z.files) == set(input_names(cfg)) | {"labels", "reference"}
    assert z["reference"].shape == (64, 1)
    with torch.no_grad():
        direct = model(*to_torch(s)).numpy()
    np.testing.assert_allclose(z["reference"], direct, rtol=0, atol=0)
    np.testing.assert_array_equal(z["offsets"], s.offsets)
