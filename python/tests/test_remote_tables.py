"""Remote tables (recq-compile --remote-tables, docs/RemoteTables.md)
against a real Redis Cluster (3 masters + 3 replicas of Debian's
redis-server, started on free ports by this module and stopped after it):
outputs bit-identical to the local artifact for every table precision, and
faults that are errors, never wrong outputs. Needs RECQ_BIN."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest

import recq
from recq.compare import slice_samples
from recq.make_model import main as make_model

from recq.redis_cluster import RedisCluster, free_ports

BIN = os.environ.get("RECQ_BIN")
pytestmark = pytest.mark.skipif(not BIN, reason="RECQ_BIN (the built recq tools) is not set")

PRECISIONS = ["fp32", "fp16", "int8", "int4"]
RECQ_ERR_INDEX, RECQ_ERR_STORE = 3, 6


def tool(name, *args, check=True):
    return subprocess.run([os.path.join(BIN, name), *map(str, args)],
                          check=check, capture_output=True, text=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with RedisCluster(tmp_path_factory.mktemp("redis")) as c:
        yield c


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """The tiny kit model compiled local and with every table remote, for
    each table precision."""
    out = tmp_path_factory.mktemp("remote")
    make_model(["--config", "tiny", "--out", str(out), "--epochs", "0",
                "--train-samples", "64", "--calib-samples", "64",
                "--eval-samples", "256"])
    for precision in PRECISIONS + ["int8fc"]:
        flags = ["--target=generic", f"--tables={precision}"]
        if precision == "int8fc":  # int8 FCs too: tables batched before they are written
            flags = ["--target=generic", "--tables=int8", "--quantize=int8",
                     "--calibration", str(out / "calib.npz")]
        tool("recq-compile", out / "model.onnx", "-o", out / f"local-{precision}.so", *flags)
        tool("recq-compile", out / "model.onnx", "-o", out / f"remote-{precision}.so",
             "--remote-tables=all", *flags)
    model = recq.load(str(out / "local-fp32.so"), threads=1)
    names = [name for name, _, _ in model.inputs]
    return out, slice_samples(np.load(out / "eval.npz"), names, 0, 256)


@pytest.fixture(scope="module")
def pushed(kit, cluster):
    out, _ = kit
    for precision in PRECISIONS + ["int8fc"]:
        got = tool("recq-tables", "push", out / f"remote-{precision}.so", "--store", cluster.spec)
        assert got.stdout.startswith("pushed "), got.stdout
    return kit


# Every shape of bag the importer raises: 1-D offsets, include_last_offset,
# per-sample weights, [B, L] bags, fixed-length bags, a stacked [T, B, L]
# indices input, per-table offsets [T, B], a DLRM's interaction.
IDX = np.array([1, 2, 3, 4, 5, 6, 1, 9], dtype=np.int64)
BAGS = {
    "bag_sum": {"indices": IDX, "offsets": np.array([0, 2, 2, 7])},
    "bag_max": {"indices": IDX, "offsets": np.array([0, 2, 2])},
    "bag_last": {"indices": IDX, "offsets": np.array([0, 2, 2, 8])},
    "bag_weighted": {"indices": IDX, "offsets": np.array([0, 3]),
                     "weights": np.linspace(-1, 2, 8, dtype=np.float32)},
    "bag2d_mean": {"indices": IDX[:6].reshape(2, 3)},
    "fixed_sum": {"indices": np.concatenate([IDX, IDX[:1]]).reshape(3, 3)},
    "stacked_indices": {"indices": (np.arange(3 * 5 * 4) * 7 % 10).reshape(3, 5, 4)},
    "per_table_offsets": {"offsets": np.array([[0, 1, 1], [0, 2, 3]]),
                          "indices_0": IDX[:3], "indices_1": IDX[3:]},
    "interaction_torch": {"dense_x": np.linspace(0, 1, 15, dtype=np.float32).reshape(3, 5),
                          "offsets": np.array([[0, 1, 1], [0, 2, 3]]),
                          "indices_0": IDX[:3], "indices_1": IDX[3:]},
}


@pytest.fixture(scope="module")
def bag_models(tmp_path_factory, cluster):
    out = tmp_path_factory.mktemp("bags")
    script = os.path.join(os.path.dirname(__file__), "..", "..", "test", "Import",
                          "Inputs", "make_torch_onnx.py")
    subprocess.run([sys.executable, script, str(out)], check=True, capture_output=True)
    for name in BAGS:
        onnx = out / f"{name}_opset13.onnx"
        tool("recq-compile", onnx, "-o", out / f"{name}-local.so", "--target=generic")
        tool("recq-compile", onnx, "-o", out / f"{name}-remote.so", "--target=generic",
             "--remote-tables=all")
        tool("recq-tables", "push", out / f"{name}-remote.so", "--store", cluster.spec)
    return out


@pytest.mark.parametrize("name", list(BAGS))
def test_every_kind_of_bag_reads_remote_rows_bit_identically(bag_models, cluster, name):
    want = recq.load(str(bag_models / f"{name}-local.so"), threads=1).run(**BAGS[name])
    got = recq.load(str(bag_models / f"{name}-remote.so"), threads=1,
                    table_store=cluster.spec).run(**BAGS[name])
    np.testing.assert_array_equal(got, want)


def test_the_artifact_keeps_no_rows(kit):
    out, _ = kit
    assert (out / "remote-int8.rows").exists()
    assert not (out / "remote-int8.weights").exists()
    listed = tool("recq-tables", "list", out / "remote-int8.so").stdout
    assert "rows of" in listed


@pytest.mark.parametrize("precision", PRECISIONS + ["int8fc"])
def test_remote_outputs_are_bit_identical_to_local(pushed, cluster, precision):
    out, inputs = pushed
    want = recq.load(str(out / f"local-{precision}.so"), threads=1).run(**inputs)
    for threads in [1, 2]:
        model = recq.load(str(out / f"remote-{precision}.so"), threads=threads,
                          table_store=cluster.spec)
        np.testing.assert_array_equal(model.run(**inputs), want)
        # Batch 1 and a batch that repeats rows.
        one = {k: v for k, v in slice_samples(inputs, list(inputs), 0, 1).items()}
        np.testing.assert_array_equal(model.run(**one), want[:1])


def test_a_model_with_remote_tables_needs_a_store(kit, monkeypatch):
    out, _ = kit
    monkeypatch.delenv("RECQ_TABLE_STORE", raising=False)
    with pytest.raises(recq.RecqError, match="RECQ_TABLE_STORE=redis://"):
        recq.load(str(out / "remote-fp32.so"))


def test_a_store_that_is_down_fails_the_load_within_the_deadline(kit):
    out, _ = kit
    port = free_ports(1)[0]
    start = time.monotonic()
    with pytest.raises(recq.RecqError) as e:
        recq.load(str(out / "remote-fp32.so"), table_store=f"redis://127.0.0.1:{port}",
                  table_store_timeout_ms=300)
    assert e.value.code == RECQ_ERR_STORE and f"127.0.0.1:{port}" in str(e.value)
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("spec", ["127.0.0.1:6379", "redis://", "redis://host",
                                  "redis://h:0", "redis://h:99999", "redis://:80"])
def test_a_malformed_store_is_refused(kit, spec):
    out, _ = kit
    with pytest.raises(recq.RecqError, match="redis://|host:port|names no node"):
        recq.load(str(out / "remote-fp32.so"), table_store=spec)


def test_rows_missing_from_the_store_are_an_error(kit, cluster, tmp_path):
    out, inputs = kit
    # One table remote: another rows file (another id), never pushed.
    listed = tool("recq-tables", "list", out / "remote-int8.so").stdout
    first = listed.split("'")[1]
    tool("recq-compile", out / "model.onnx", "-o", tmp_path / "one.so",
         f"--remote-tables={first}", "--target=generic", "--tables=int8")
    assert tool("recq-tables", "list", tmp_path / "one.so").stdout.count(" rows of ") == 1
    model = recq.load(str(tmp_path / "one.so"), table_store=cluster.spec)
    with pytest.raises(recq.RecqError) as e:
        model.run(**inputs)
    assert e.value.code == RECQ_ERR_STORE, str(e.value)
    assert f"table '{first}' row" in str(e.value)
    assert "is not in the store" in str(e.value) and "recq-tables push" in str(e.value)


def test_an_unknown_table_name_is_refused(kit):
    out, _ = kit
    got = tool("recq-compile", out / "model.onnx", "-o", out / "x.so",
               "--remote-tables=no-such-table", check=False)
    assert got.returncode == 1
    assert "'no-such-table', which the model lacks (its tables: " in got.stderr


def test_an_index_outside_a_remote_table_is_an_index_error(pushed, cluster):
    out, inputs = pushed
    local = recq.load(str(out / "local-int8.so"))
    remote = recq.load(str(out / "remote-int8.so"), table_store=cluster.spec)
    name = next(n for n, _, _ in local.inputs if n.startswith("indices"))
    bad = dict(inputs)
    bad[name] = inputs[name].copy()
    bad[name].flat[3] = 1 << 40
    with pytest.raises(recq.RecqError) as want:
        local.run(**bad)
    with pytest.raises(recq.RecqError) as got:
        remote.run(**bad)
    assert got.value.code == want.value.code == RECQ_ERR_INDEX
    assert str(got.value) == str(want.value)


def test_push_to_a_store_that_is_down_exits_2(kit):
    out, _ = kit
    port = free_ports(1)[0]
    got = tool("recq-tables", "push", out / "remote-fp32.so", "--store",
               f"redis://127.0.0.1:{port}", "--timeout-ms", "300", check=False)
    assert got.returncode == 2 and f"127.0.0.1:{port}" in got.stderr


def test_repeated_rows_come_from_the_cache(pushed, cluster):
    out, inputs = pushed
    model = recq.load(str(out / "remote-int8.so"), threads=1, table_store=cluster.spec)
    first = model.run(**inputs)
    cold = model.table_store_stats()
    assert cold["cache_hits"] == 0 and cold["fetched_rows"] == cold["lookups"] > 0
    np.testing.assert_array_equal(model.run(**inputs), first)
    warm = model.table_store_stats()
    assert warm["lookups"] == 2 * cold["lookups"]
    assert warm["cache_hits"] == cold["lookups"] and warm["fetched_rows"] == cold["fetched_rows"]
    # Without a cache every run fetches.
    uncached = recq.load(str(out / "remote-int8.so"), threads=1, table_store=cluster.spec,
                         table_cache_bytes=-1)
    uncached.run(**inputs)
    uncached.run(**inputs)
    stats = uncached.table_store_stats()
    assert stats["cache_hits"] == 0 and stats["fetched_rows"] == stats["lookups"]
    assert stats["cache_rows"] == 0


def test_recq_run_bench_reports_the_store_and_the_cache(pushed, cluster):
    out, _ = pushed
    got = subprocess.run([os.path.join(BIN, "recq-run"), str(out / "remote-int8.so"),
                          "--inputs", str(out / "eval.npz"), "--batch", "64", "--bench",
                          "--iters", "5"],
                         capture_output=True, text=True,
                         env={**os.environ, "RECQ_TABLE_STORE": cluster.spec,
                              "RECQ_TABLE_CACHE_TTL_MS": "60000"})
    assert got.returncode == 0, got.stderr
    line = next(l for l in got.stdout.splitlines() if l.startswith("remote tables:"))
    # The timed runs repeat the first run's rows: all from the cache (kept
    # for a minute, however slow a loaded machine is).
    assert "cache hits 100.0%" in line and "0.0 rows fetched a run" in line, line


def test_a_bad_cache_setting_is_refused_at_load(kit, cluster, monkeypatch):
    out, _ = kit
    monkeypatch.setenv("RECQ_TABLE_CACHE_BYTES", "lots")
    with pytest.raises(recq.RecqError, match="RECQ_TABLE_CACHE_BYTES is 'lots'"):
        recq.load(str(out / "remote-fp32.so"), table_store=cluster.spec)


def fp32_table(onnx_path, index):
    import onnx
    from onnx import numpy_helper
    for init in onnx.load(str(onnx_path)).graph.initializer:
        if init.name == f"tables.{index}.weight":
            return numpy_helper.to_array(init)
    raise KeyError(index)


def wait_for_subscription(model):
    """The load returns once the model's listener has subscribed to update
    announcements (on a store that answers)."""
    assert model.table_store_stats()["subscriptions"] == 1


def one_remote_table(out, cluster, precision, tmp_path):
    """A compile with table 0 alone remote (rows of its own id), pushed; its
    weight number."""
    so = tmp_path / f"one-{precision}.so"
    tool("recq-compile", out / "model.onnx", "-o", so, "--remote-tables=/tables.0/Loop",
         "--target=generic", f"--tables={precision}")
    tool("recq-tables", "push", so, "--store", cluster.spec)
    listed = tool("recq-tables", "list", so).stdout.splitlines()[1]
    return so, int(listed.split()[0])


@pytest.mark.parametrize("precision", PRECISIONS)
def test_an_update_is_announced_and_served_at_once(kit, cluster, precision, tmp_path):
    """Row r of table 0 takes the fp32 values of row s: once the update's
    announcement arrives, outputs are the local artifact's with r read as s,
    bit for bit (the update quantizes as the compiler does), although the
    cache would serve the old row for a minute."""
    out, inputs = kit
    so, w = one_remote_table(out, cluster, precision, tmp_path)
    model = recq.load(str(so), threads=1, table_store=cluster.spec, table_cache_ttl_ms=60000)
    wait_for_subscription(model)
    local = recq.load(str(out / f"local-{precision}.so"), threads=1)
    np.testing.assert_array_equal(model.run(**inputs), local.run(**inputs))
    r = int(inputs["indices_0"][0])
    s = (r + 1) % 100
    moved = dict(inputs)
    moved["indices_0"] = np.where(inputs["indices_0"] == r, s, inputs["indices_0"])
    want = local.run(**moved)
    table = fp32_table(out / "model.onnx", 0)
    np.savez(tmp_path / "update.npz", **{f"rows_{w}": np.array([r]),
                                        f"values_{w}": table[s:s + 1]})
    start = time.monotonic()
    got = tool("recq-tables", "update", so, "--rows", tmp_path / "update.npz",
               "--store", cluster.spec)
    assert got.stdout.startswith("updated 1 rows of 1 tables"), got.stdout
    while True:
        if np.array_equal(model.run(**inputs), want):
            break
        assert time.monotonic() - start < 5, "the update was not served within 5 s"
        time.sleep(0.01)
    assert model.table_store_stats()["dropped_rows"] >= 1


def test_a_row_being_updated_is_never_read_half_written(kit, cluster, tmp_path):
    """Row r flips between two values while calls run: every output is the
    one for the old row or the one for the new row."""
    out, inputs = kit
    so, w = one_remote_table(out, cluster, "fp32", tmp_path)
    local = recq.load(str(out / "local-fp32.so"), threads=1)
    table = fp32_table(out / "model.onnx", 0)
    r = int(inputs["indices_0"][0])
    wants = []
    for s in [r, (r + 1) % 100]:
        moved = dict(inputs)
        moved["indices_0"] = np.where(inputs["indices_0"] == r, s, inputs["indices_0"])
        wants.append(local.run(**moved))
        np.savez(tmp_path / f"flip{len(wants)}.npz", **{f"rows_{w}": np.array([r]),
                                                       f"values_{w}": table[s:s + 1]})
    flipper = subprocess.Popen(
        ["bash", "-c", f"for k in $(seq 40); do for f in 2 1; do "
                       f"{BIN}/recq-tables update {so} --rows {tmp_path}/flip$f.npz "
                       f"--store {cluster.spec} >/dev/null || exit 1; done; done"])
    model = recq.load(str(so), threads=1, table_store=cluster.spec, table_cache_ttl_ms=5)
    seen = [0, 0]
    try:
        while flipper.poll() is None:
            got = model.run(**inputs)
            matches = [np.array_equal(got, want) for want in wants]
            assert any(matches), "an output that is neither the old row's nor the new row's"
            seen[matches.index(True)] += 1
    finally:
        flipper.wait(timeout=60)
    assert flipper.returncode == 0
    assert sum(seen) > 20, seen


def key_of(model_id, w, row):
    return f"recq:{{{model_id}:{w}:{row % 64}}}:{row}"


def test_a_row_of_another_size_is_an_error(kit, cluster, tmp_path):
    out, inputs = kit
    so, w = one_remote_table(out, cluster, "int8", tmp_path)
    model_id = tool("recq-tables", "list", so).stdout.split("rows id ")[1][:16]
    r = int(inputs["indices_0"][0])
    got = subprocess.run(["redis-cli", "-c", "-p", str(cluster.ports[0]), "set",
                          key_of(model_id, w, r), "short"], capture_output=True, text=True)
    assert got.stdout.strip() == "OK", got
    model = recq.load(str(so), table_store=cluster.spec, table_cache_bytes=-1)
    with pytest.raises(recq.RecqError) as e:
        model.run(**inputs)
    assert e.value.code == RECQ_ERR_STORE
    assert f"table '/tables.0/Loop' row {r}: node 127.0.0.1:" in str(e.value)
    assert "holds 5 bytes, the model's rows have" in str(e.value)


def test_a_node_that_hangs_is_an_error_within_the_deadline(pushed, cluster):
    """A master stopped (SIGSTOP) answers nothing: calls fail within about
    their deadline, naming a node, and succeed once it runs again."""
    import signal
    out, inputs = pushed
    want = recq.load(str(out / "local-fp32.so"), threads=1).run(**inputs)
    model = recq.load(str(out / "remote-fp32.so"), threads=1, table_store=cluster.spec,
                      table_store_timeout_ms=300, table_cache_bytes=-1)
    np.testing.assert_array_equal(model.run(**inputs), want)
    port = cluster.master_ports()[0]
    cluster.procs[port].send_signal(signal.SIGSTOP)
    try:
        start = time.monotonic()
        with pytest.raises(recq.RecqError) as e:
            model.run(**inputs)
        took = time.monotonic() - start
        assert e.value.code == RECQ_ERR_STORE and "node 127.0.0.1:" in str(e.value)
        assert took < 1.5, f"{took:.2f} s for a 300 ms deadline"
    finally:
        cluster.procs[port].send_signal(signal.SIGCONT)
    end = time.monotonic() + 10
    while True:
        try:
            np.testing.assert_array_equal(model.run(**inputs), want)
            break
        except recq.RecqError:
            assert time.monotonic() < end, "calls did not succeed again"
            time.sleep(0.05)


def test_a_master_killed_mid_stream_gives_errors_or_right_outputs(pushed, cluster):
    """Kill a master while calls run: every call either fails with
    RECQ_ERR_STORE or returns the local artifact's outputs; after the
    replica takes over, calls succeed again. Last in this module: the
    cluster runs on with one node fewer."""
    out, inputs = pushed
    want = recq.load(str(out / "local-int4.so"), threads=1).run(**inputs)
    model = recq.load(str(out / "remote-int4.so"), threads=1, table_store=cluster.spec,
                      table_store_timeout_ms=500)
    np.testing.assert_array_equal(model.run(**inputs), want)
    cluster.kill(cluster.master_ports()[0])
    errors = successes = 0
    deadline = time.monotonic() + 30
    recovered_at = None
    while time.monotonic() < deadline:
        try:
            got = model.run(**inputs)
        except recq.RecqError as e:
            assert e.code == RECQ_ERR_STORE and "row" in str(e) and "node 127.0.0.1:" in str(e), str(e)
            errors += 1
            recovered_at = None
            continue
        np.testing.assert_array_equal(got, want)
        successes += 1
        recovered_at = recovered_at or time.monotonic()
        if time.monotonic() - recovered_at > 1.0:
            break
    assert recovered_at is not None, f"no call succeeded after the failover ({errors} errors)"


def test_a_node_whose_port_is_taken_starts_on_another(tmp_path, monkeypatch):
    # CI saw a node abort because its cluster bus port (port + 10000) was
    # taken between free_ports' check and the server's bind; the cluster
    # then starts that node on another port instead of failing.
    import socket
    import recq.redis_cluster as rc
    real = rc.free_ports
    blocked = real(1)[0]
    calls = []

    def first_one_blocked(count, exclude=()):
        calls.append(count)
        if len(calls) == 1:
            return [blocked] + real(count - 1, exclude=[blocked])
        return real(count, exclude)

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", blocked + 10000))
        taken.listen()
        monkeypatch.setattr(rc, "free_ports", first_one_blocked)
        with rc.RedisCluster(tmp_path, masters=3, replicas=0) as c:
            assert blocked not in c.ports and len(c.alive()) == 3
            assert calls == [3, 1]
            c.wait_ok()
