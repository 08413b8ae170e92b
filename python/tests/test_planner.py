"""The precision planner (recq-compile --accuracy-budget, --plan,
--recalibrate): plans round-trip through JSON and the artifact, budget 0 is
all fp32, an infeasible budget is an error, and the search's answer meets
its budget when compiled. Needs RECQ_BIN (set by ctest)."""

import json
import os
import subprocess

import numpy as np
import pytest

from recq.make_model import main as make_model
from recq.runtime import load

BIN = os.environ.get("RECQ_BIN")
pytestmark = pytest.mark.skipif(not BIN, reason="RECQ_BIN (the built recq tools) is not set")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    make_model(["--config", "tiny", "--out", str(out), "--train-samples", "4096",
                "--calib-samples", "1024", "--eval-samples", "1024"])
    return out


def compile_model(out, so, *flags, check=True):
    result = subprocess.run([os.path.join(BIN, "recq-compile"), str(out / "model.onnx"),
                             *flags, "-o", str(so)], capture_output=True, text=True)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def run(so, npz):
    m = load(str(so), threads=1)
    z = np.load(npz)
    return m.run(**{name: z[name] for name, _, _ in m.inputs}), m


def cpu_has_bf16():
    out = subprocess.run([os.path.join(BIN, "recq-cpuinfo"), "--targets"],
                         check=True, capture_output=True, text=True).stdout
    return "avx512-bf16" in out.split()


def precisions(plan):
    return [(p["name"], p["precision"]) for p in plan["fcs"] + plan["tables"]]


def test_search_meets_its_budget_and_the_plan_compiles_again(tiny, tmp_path):
    # Static costs: the same plan whatever the machine's load.
    budget = 0.0005
    first = compile_model(tiny, tmp_path / "a.so", "--calibration", str(tiny / "calib.npz"),
                          f"--accuracy-budget={budget * 100}%", "--cost-model=static",
                          "--eval", str(tiny / "eval.npz"),
                          "--emit-plan", str(tmp_path / "plan.json"))
    assert "sensitivity" in first.stderr and "step  0" in first.stderr
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["recq_plan"] == 1 and plan["metric"] == "logloss"
    assert plan["budget"] == pytest.approx(budget)
    names = [n for n, _ in precisions(plan)]
    assert len(plan["fcs"]) == 4 and len(plan["tables"]) == 3 and len(set(names)) == 7
    # Every piece has each precision as a candidate, measured unless it is
    # excluded (the costs come first: what is not worth it here is not
    # measured); the search started from the cheapest plan and the chosen
    # plan, compiled, is within budget. bf16 FCs are measured where the CPU
    # has vdpbf16ps, else excluded.
    measured = 0
    for piece in plan["fcs"] + plan["tables"]:
        listed = [c["precision"] for c in piece["candidates"]]
        assert listed == (["fp32", "bf16", "int8"] if piece in plan["fcs"]
                          else ["fp32", "fp16", "int8", "int4"])
        for c in piece["candidates"]:
            if c["precision"] == "bf16" and not cpu_has_bf16():
                assert c["excluded"] == "this CPU has no AVX-512 BF16 (vdpbf16ps)"
            assert (c["loss"] is None) == bool(c.get("excluded")), (piece["name"], c)
            measured += c["precision"] != "fp32" and c["loss"] is not None
        assert "input" in piece or piece in plan["tables"]
    assert measured >= 4
    assert plan["visited"][0]["change"].startswith("start")
    assert plan["accuracy"]["calibration"]["loss"] <= budget
    assert plan["accuracy"]["eval"]["samples"] == 1024
    assert any(p != "fp32" for _, p in precisions(plan)), "the search quantized nothing"

    # The artifact carries the plan; --plan compiles exactly it again,
    # without calibrating, to the same outputs.
    again = compile_model(tiny, tmp_path / "b.so", "--plan", str(tmp_path / "plan.json"),
                          "--emit-plan", str(tmp_path / "plan2.json"))
    assert "calibrat" not in again.stderr.replace("calibration set", "")
    plan2 = json.loads((tmp_path / "plan2.json").read_text())
    assert precisions(plan2) == precisions(plan)
    assert [p.get("input") for p in plan2["fcs"]] == [p.get("input") for p in plan["fcs"]]
    a, ma = run(tmp_path / "a.so", tiny / "eval.npz")
    b, mb = run(tmp_path / "b.so", tiny / "eval.npz")
    np.testing.assert_array_equal(a, b)
    assert precisions(ma.plan) == precisions(plan)
    assert json.loads((tmp_path / "a.plan.json").read_text())["fcs"] == plan["fcs"]
    info = subprocess.run([os.path.join(BIN, "recq-run"), str(tmp_path / "b.so"), "--info"],
                          capture_output=True, text=True, check=True).stdout
    for name, p in precisions(plan):
        assert f"{name}: {p}" in info


def test_measured_costs_come_from_the_per_op_profile(tiny, tmp_path):
    # The default cost model times this CPU: every FC's measured
    # candidates and every table's get a saving from the profiled models
    # (a saving may be negative: slower here; on this tiny model they are
    # all within the timing noise), and the fp32 run's time.
    compile_model(tiny, tmp_path / "m.so", "--calibration", str(tiny / "calib.npz"),
                  "--accuracy-budget=0.05%", "--emit-plan", str(tmp_path / "plan.json"))
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["cost_model"] == "measured"
    assert plan["fp32_seconds"] > 0
    fcs = [c for p in plan["fcs"] for c in p["candidates"] if c["precision"] == "int8"]
    tables = [c for p in plan["tables"] for c in p["candidates"] if c["precision"] != "fp32"]
    assert len(fcs) == 4 and len(tables) == 9
    for c in fcs + tables:
        assert isinstance(c["saving_seconds"], (int, float)) and np.isfinite(c["saving_seconds"])


def test_measured_costs_are_cached_per_model_and_cpu(tiny, tmp_path):
    # The first search measures and writes the cache; the second reads it
    # (no timing) and plans the same; a damaged cache file is measured
    # again and rewritten; --cost-cache=off neither reads nor writes.
    cache = tmp_path / "cache"
    flags = ["--calibration", str(tiny / "calib.npz"), "--accuracy-budget=0.05%",
             f"--cost-cache={cache}"]
    first = compile_model(tiny, tmp_path / "a.so", *flags, "--emit-plan", str(tmp_path / "a.json"))
    assert "costs (measured on this CPU, batch 512" in first.stderr
    files = list(cache.glob("costs-*.json"))
    assert len(files) == 1
    stored = json.loads(files[0].read_text())
    assert stored["recq_costs"] == 1 and len(stored["fc_saving"]["int8"]) == 4
    second = compile_model(tiny, tmp_path / "b.so", *flags, "--emit-plan", str(tmp_path / "b.json"))
    assert f"cached in {files[0]}" in second.stderr
    a = json.loads((tmp_path / "a.json").read_text())
    b = json.loads((tmp_path / "b.json").read_text())
    assert precisions(a) == precisions(b)
    assert a["fp32_seconds"] == b["fp32_seconds"]
    assert [c["saving_seconds"] for p in a["fcs"] for c in p["candidates"]] == \
        [c["saving_seconds"] for p in b["fcs"] for c in p["candidates"]]

    files[0].write_text("{ not json")
    third = compile_model(tiny, tmp_path / "c.so", *flags)
    assert "costs (measured on this CPU, batch 512" in third.stderr
    assert json.loads(files[0].read_text())["recq_costs"] == 1

    off = tmp_path / "unused"
    env = dict(os.environ, RECQ_CACHE_DIR=str(off))
    result = subprocess.run([os.path.join(BIN, "recq-compile"), str(tiny / "model.onnx"),
                             "--calibration", str(tiny / "calib.npz"),
                             "--accuracy-budget=0.05%", "--cost-cache=off",
                             "-o", str(tmp_path / "d.so")],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert "costs (measured on this CPU, batch 512" in result.stderr
    assert not off.exists()


def test_simulated_int8_sensitivity_matches_the_compiled_fc(tiny, tmp_path):
    # Each FC's int8 candidate is measured on the simulating artifact
    # (fake-quantized input, rounded weights in f32); the int8 kernel sums
    # the same products exactly: the FC compiled int8 alone, for real,
    # loses the same on the calibration set up to the f32 summation order.
    compile_model(tiny, tmp_path / "s.so", "--calibration", str(tiny / "calib.npz"),
                  "--accuracy-budget=1%", "--cost-model=static",
                  "--emit-plan", str(tmp_path / "plan.json"))
    plan = json.loads((tmp_path / "plan.json").read_text())
    checked = 0
    for i, fc in enumerate(plan["fcs"]):
        simulated = next(c for c in fc["candidates"] if c["precision"] == "int8")
        if simulated["loss"] is None:
            continue  # excluded by its cost, not measured
        one = json.loads(json.dumps(plan))
        for p in one["fcs"] + one["tables"]:
            p["precision"] = "fp32"
        one["fcs"][i]["precision"] = "int8"
        (tmp_path / f"one{i}.json").write_text(json.dumps(one))
        compile_model(tiny, tmp_path / f"one{i}.so", "--plan", str(tmp_path / f"one{i}.json"),
                      "--eval", str(tiny / "calib.npz"),
                      "--emit-plan", str(tmp_path / f"out{i}.json"))
        real = json.loads((tmp_path / f"out{i}.json").read_text())["accuracy"]["eval"]
        assert real["loss"] == pytest.approx(simulated["loss"], rel=1e-2, abs=1e-6), fc["name"]
        assert real["max_abs_delta"] == pytest.approx(simulated["max_abs_delta"], rel=1e-2, abs=1e-5)
        checked += 1
    assert checked >= 2


def test_a_model_without_fcs_is_planned(tmp_path):
    # Only a table to plan: the simulating artifact has no int8 switch to
    # set (it has no FC), and the search still runs.
    import torch
    from recq.export import export_module

    torch.manual_seed(0)
    bag = torch.nn.EmbeddingBag(300, 24, mode="sum")
    indices = torch.randint(0, 300, (64, 5))
    export_module(bag, [indices], tmp_path / "model.onnx", ["indices"])
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "calib.npz", indices=rng.integers(0, 300, (256, 5)))
    result = compile_model(tmp_path, tmp_path / "m.so", "--calibration", str(tmp_path / "calib.npz"),
                           "--metric=max-abs", "--accuracy-budget=0.05", "--cost-model=static",
                           "--emit-plan", str(tmp_path / "plan.json"))
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["fcs"] == [] and len(plan["tables"]) == 1
    assert plan["tables"][0]["precision"] != "fp32", result.stderr


def test_bf16_ceiling_keeps_fcs_at_bf16_or_below(tiny, tmp_path):
    # --quantize=bf16 with a budget, as --tables=int8 for tables: no FC more
    # precise than bf16 (bf16 or int8, never fp32), each bf16 measured.
    if not cpu_has_bf16():
        pytest.skip("this CPU has no AVX-512 BF16: the planner does not measure bf16")
    compile_model(tiny, tmp_path / "a.so", "--calibration", str(tiny / "calib.npz"),
                  "--quantize=bf16", "--accuracy-budget=1%", "--cost-model=static",
                  "--emit-plan", str(tmp_path / "plan.json"))
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert all(fc["precision"] in ("bf16", "int8") for fc in plan["fcs"])
    for fc in plan["fcs"]:
        bf16 = [c for c in fc["candidates"] if c["precision"] == "bf16"]
        assert len(bf16) == 1 and bf16[0]["loss"] is not None
    run(tmp_path / "a.so", tiny / "eval.npz")


def test_budget_zero_is_all_fp32(tiny, tmp_path):
    compile_model(tiny, tmp_path / "z.so", "--calibration", str(tiny / "calib.npz"),
                  "--accuracy-budget=0", "--emit-plan", str(tmp_path / "z.json"))
    compile_model(tiny, tmp_path / "f.so")
    plan = json.loads((tmp_path / "z.json").read_text())
    assert all(p == "fp32" for _, p in precisions(plan))
    z, mz = run(tmp_path / "z.so", tiny / "eval.npz")
    f, mf = run(tmp_path / "f.so", tiny / "eval.npz")
    np.testing.assert_array_equal(z, f)
    assert mf.plan is None and mz.plan is not None


def test_an_infeasible_budget_is_an_error(tiny, tmp_path):
    # int4 tables at most, and not even 1e-6 of max |dp|.
    result = compile_model(tiny, tmp_path / "x.so", "--calibration", str(tiny / "calib.npz"),
                           "--tables=int4", "--metric=max-abs", "--accuracy-budget=0.000001",
                           "--cost-model=static", check=False)
    assert result.returncode == 1
    assert "no plan meets the budget" in result.stderr
    assert "tables int4" in result.stderr
    assert not (tmp_path / "x.so").exists()


def test_recalibrate_keeps_precisions_and_moves_scales(tiny, tmp_path):
    compile_model(tiny, tmp_path / "a.so", "--calibration", str(tiny / "calib.npz"),
                  "--accuracy-budget=10%", "--cost-model=static", "--quantize=int8",
                  "--emit-plan", str(tmp_path / "plan.json"))
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert all(p["precision"] == "int8" for p in plan["fcs"])
    # New data: dense features drifted up (x3).
    z = dict(np.load(tiny / "calib.npz"))
    z["dense_x"] = z["dense_x"] * 3.0
    np.savez(tmp_path / "new.npz", **z)
    compile_model(tiny, tmp_path / "b.so", "--plan", str(tmp_path / "plan.json"),
                  "--recalibrate", str(tmp_path / "new.npz"),
                  "--emit-plan", str(tmp_path / "new.json"))
    new = json.loads((tmp_path / "new.json").read_text())
    assert precisions(new) == precisions(plan)
    first = plan["fcs"][0]["input"]["scale"], new["fcs"][0]["input"]["scale"]
    assert first[1] > 2 * first[0], first


@pytest.mark.parametrize("edit, message", [
    (lambda p: p.update(recq_plan=7), "plan version 7"),
    (lambda p: p["tables"][0].update(precision="int2"), "tables[0].precision 'int2'"),
    (lambda p: p["fcs"][0].update(name="/nope/Gemm"), "names FC '/nope/Gemm', which the model lacks"),
    (lambda p: p["tables"].pop(), "is not in the plan"),
    (lambda p: p["fcs"][0].update(precision="int8", input={"scale": -1, "zero_point": 0, "qmax": 255}),
     "fcs[0].input needs a positive scale"),
])
def test_bad_plans_are_refused(tiny, tmp_path, edit, message):
    compile_model(tiny, tmp_path / "z.so", "--calibration", str(tiny / "calib.npz"),
                  "--accuracy-budget=0", "--emit-plan", str(tmp_path / "plan.json"))
    plan = json.loads((tmp_path / "plan.json").read_text())
    edit(plan)
    (tmp_path / "bad.json").write_text(json.dumps(plan))
    result = compile_model(tiny, tmp_path / "bad.so", "--plan", str(tmp_path / "bad.json"),
                           check=False)
    assert result.returncode == 1 and message in result.stderr, result.stderr


def test_flag_conflicts(tiny, tmp_path):
    plan = tmp_path / "p.json"
    compile_model(tiny, tmp_path / "z.so", "--calibration", str(tiny / "calib.npz"),
                  "--accuracy-budget=0", "--emit-plan", str(plan))
    for flags, message in [
        (["--plan", str(plan), "--tables=int8"], "--plan fixes every precision"),
        (["--accuracy-budget=1%"], "needs --calibration"),
        (["--calibration", str(tiny / "calib.npz"), "--accuracy-budget=lots"], "not a non-negative number"),
        (["--calibration", str(tiny / "calib.npz"), "--accuracy-budget=1%", "--metric=f1"], "unknown metric 'f1'"),
        (["--recalibrate", str(tiny / "calib.npz")], "--recalibrate applies to"),
        (["--eval", str(tiny / "eval.npz")], "--eval applies to"),
    ]:
        result = compile_model(tiny, tmp_path / "c.so", *flags, check=False)
        assert result.returncode == 1 and message in result.stderr, (flags, result.stderr)


def test_drift_check_passes_on_the_original_data_and_fails_on_shifted(tiny, tmp_path):
    budget = "0.05%"
    compile_model(tiny, tmp_path / "q.so", "--calibration", str(tiny / "calib.npz"),
                  f"--accuracy-budget={budget}", "--cost-model=static")
    compile_model(tiny, tmp_path / "f.so")
    plan = load(str(tmp_path / "q.so")).plan
    assert any(p != "fp32" for _, p in precisions(plan))
    run_tool = os.path.join(BIN, "recq-run")
    # The data the plan was made on: within budget (calib.npz carries
    # torch's fp32 outputs as 'reference'; the budget is the plan's).
    ok = subprocess.run([run_tool, str(tmp_path / "q.so"), "--check", str(tiny / "calib.npz")],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "within budget" in ok.stdout
    # Dense features drifted (x4 + 1): the int8 activation ranges no longer
    # fit, the outputs leave fp32's; the check fails and names the pieces.
    z = dict(np.load(tiny / "eval.npz"))
    z["dense_x"] = z["dense_x"] * 4 + 1
    del z["reference"]
    np.savez(tmp_path / "shift.npz", **z)
    bad = subprocess.run([run_tool, str(tmp_path / "q.so"), "--check", str(tmp_path / "shift.npz"),
                          "--fp32", str(tmp_path / "f.so")], capture_output=True, text=True)
    assert bad.returncode == 2, bad.stdout + bad.stderr
    assert "BUDGET BROKEN" in bad.stdout
    for name, p in precisions(plan):
        if p != "fp32":
            assert name in bad.stdout
    assert "--recalibrate" in bad.stdout
    # No fp32 reference at all: a clear error.
    missing = subprocess.run([run_tool, str(tmp_path / "q.so"), "--check", str(tmp_path / "shift.npz")],
                             capture_output=True, text=True)
    assert missing.returncode == 1 and "no 'reference' array" in missing.stderr


def test_report_has_the_table_and_both_plots(tiny, tmp_path):
    pytest.importorskip("matplotlib", reason="the report's plots need python3-matplotlib")
    report = tmp_path / "report"
    compile_model(tiny, tmp_path / "r.so", "--calibration", str(tiny / "calib.npz"),
                  "--accuracy-budget=0.05%", "--cost-model=static", "--report", str(report))
    text = (report / "report.md").read_text()
    plan = json.loads((report / "plan.json").read_text())
    for name, precision in precisions(plan):
        assert f"| `{name}` |" in text and f"**{precision}**" in text
    assert "## Plans the search visited" in text and "start: the cheapest plan" in text
    for png in ("sensitivity.png", "frontier.png"):
        assert (report / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_fp32_shows_where_error_appears(tiny, tmp_path):
    plan = tmp_path / "plan.json"
    compile_model(tiny, tmp_path / "q.so", "--calibration", str(tiny / "calib.npz"),
                  "--accuracy-budget=0.05%", "--cost-model=static", "--emit-plan", str(plan))
    p = json.loads(plan.read_text())
    result = compile_model(tiny, tmp_path / "d.so", "--plan", str(plan),
                           "--compare-fp32", str(tiny / "eval.npz"))
    lines = [l.split() for l in result.stderr.splitlines() if l.startswith("  fc ")
             or l.startswith("  table ") or l.startswith("  output ")]
    # Every FC and every bag (one per table here), then the output.
    assert [l[1] for l in lines[:-1] if l[0] == "fc"] == [x["name"] for x in p["fcs"]]
    assert sorted(l[1] for l in lines if l[0] == "table") == sorted(x["name"] for x in p["tables"])
    assert lines[-1][0] == "output"
    by_name = {l[1]: l for l in lines}
    for piece in p["fcs"] + p["tables"]:
        row = by_name[piece["name"]]
        assert row[2] == piece["precision"]
        sqnr = float(row[4])
        # An fp32 bag reads its table exactly; a quantized piece is finite.
        if piece in p["tables"] and piece["precision"] == "fp32":
            assert sqnr == float("inf")
        if piece["precision"] != "fp32":
            assert 5 < sqnr < 200, row
    assert "error first appears" in result.stderr
    # The fp32 plan: every layer exact.
    zero = tmp_path / "zero.json"
    compile_model(tiny, tmp_path / "z.so", "--calibration", str(tiny / "calib.npz"),
                  "--accuracy-budget=0", "--emit-plan", str(zero))
    exact = compile_model(tiny, tmp_path / "z2.so", "--plan", str(zero),
                          "--compare-fp32", str(tiny / "eval.npz"))
    assert "every layer matches fp32 exactly" in exact.stderr


def test_flags_record_their_plan_which_compiles_again(tiny, tmp_path):
    """--quantize=int8 --tables=int4 compile in the plan they amount to (no
    budget: chosen by hand), written as model.plan.json; --plan of it gives
    the same model bit for bit."""
    compile_model(tiny, tmp_path / "a.so", "--calibration", str(tiny / "calib.npz"),
                  "--quantize=int8", "--tables=int4")
    plan = json.loads((tmp_path / "a.plan.json").read_text())
    assert plan["budget"] is None
    assert {p for _, p in precisions(plan)[:4]} == {"int8"}
    assert {p for _, p in precisions(plan)[4:]} == {"int4"}
    assert all(fc["input"]["scale"] > 0 for fc in plan["fcs"])
    compile_model(tiny, tmp_path / "b.so", "--plan", str(tmp_path / "a.plan.json"))
    a, model = run(tmp_path / "a.so", tiny / "eval.npz")
    b, _ = run(tmp_path / "b.so", tiny / "eval.npz")
    np.testing.assert_array_equal(a, b)
    assert model.plan["fcs"] == plan["fcs"]
    # An fp32 compile carries none.
    compile_model(tiny, tmp_path / "c.so")
    assert not (tmp_path / "c.plan.json").exists()
    assert run(tmp_path / "c.so", tiny / "eval.npz")[1].plan is None
