"""Remote tables against a local Redis Cluster: the model kit's
MLPerf-shaped DLRM (int8 FCs, int8 tables) with every table remote, against
the same model's local artifact, on a Zipf(1.05) index stream.

    /usr/bin/python3 bench/remote_tables.py [--model out/planner/mlperf]
        [--out out/bench-remote] [--batches 1 512 2048] [--rounds 5]
        [--masters 3 6] [--recompile]

Needs the model (bench/planner.py or `python -m recq.make_model --config
mlperf` makes it: model.onnx, calib.npz, eval.npz) and the built tools
(RECQ_BIN, default build/dev/bin). For each cluster size (masters, one
replica each, on this machine), it pushes the tables, checks that the remote
artifact's outputs on eval.npz are bit-identical to the local one's, then
times, per batch size, in --rounds interleaved rounds:

  local   the local artifact;
  warm    remote, cache on (256 MiB, rows served for 60 s), warmed on
          other batches of the same stream until 8 in a row hit 95% of their
          rows (or --warmup-seconds pass);
  cold    remote, no cache: every call fetches its distinct rows.

Each system's time is the median over rounds of its median call; ratios are
medians of per-round ratios. Batches: eval.npz's dense features and bag
lengths, indices drawn from Zipf(1.05) over each table's rows (rank k with
probability ~ 1/k^1.05, ranks scattered over row ids by a fixed
permutation). Times are through Python (ctypes, ~70 us a call with 28
inputs, the same for every system). Writes <out>/remote_tables.md.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
import recq  # noqa: E402
from recq.compare import slice_samples  # noqa: E402
from recq.redis_cluster import RedisCluster  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def tool(bin_dir, name, *args):
    return subprocess.run([os.path.join(bin_dir, name), *map(str, args)], check=True,
                          capture_output=True, text=True).stdout


class Zipf:
    def __init__(self, rows, rng, a=1.05):
        weights = 1.0 / np.arange(1, rows + 1) ** a
        self.cdf = np.cumsum(weights) / weights.sum()
        self.perm = rng.permutation(rows)

    def draw(self, rng, n):
        ranks = np.minimum(np.searchsorted(self.cdf, rng.random(n)), len(self.cdf) - 1)
        return self.perm[ranks].astype(np.int64)


def batches(eval_npz, names, zipfs, rng, batch, count):
    """`count` batches of `batch` samples: eval's dense rows and bag lengths
    (a random window), Zipf indices."""
    total = eval_npz["dense_x"].shape[0]
    out = []
    for _ in range(count):
        start = int(rng.integers(0, total - batch + 1))
        b = slice_samples(eval_npz, names, start, start + batch)
        for t, z in enumerate(zipfs):
            key = f"indices_{t}"
            b[key] = z.draw(rng, len(b[key]))
        out.append(b)
    return out


def median_call(model, batch, seconds=0.15):
    times = []
    end = time.perf_counter() + seconds
    while len(times) < 3 or time.perf_counter() < end:
        t0 = time.perf_counter()
        model.run(**batch)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=os.path.join(ROOT, "out", "planner", "mlperf"))
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "bench-remote"))
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 512, 2048])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--masters", type=int, nargs="+", default=[3, 6])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup-seconds", type=float, default=30)
    ap.add_argument("--recompile", action="store_true",
                    help="compile the two artifacts even when <out> has them")
    args = ap.parse_args(argv)
    bin_dir = os.environ.get("RECQ_BIN", os.path.join(ROOT, "build", "dev", "bin"))
    os.makedirs(args.out, exist_ok=True)
    model_dir = args.model
    flags = ["--calibration", os.path.join(model_dir, "calib.npz"), "--quantize=int8",
             "--tables=int8"]
    local_so = os.path.join(args.out, "local.so")
    remote_so = os.path.join(args.out, "remote.so")
    t0 = time.time()
    if args.recompile or not all(os.path.exists(f) for f in [local_so, remote_so]):
        tool(bin_dir, "recq-compile", os.path.join(model_dir, "model.onnx"), "-o", local_so,
             *flags)
        tool(bin_dir, "recq-compile", os.path.join(model_dir, "model.onnx"), "-o", remote_so,
             "--remote-tables=all", *flags)
        print(f"compiled in {time.time() - t0:.1f} s", flush=True)
    rows_bytes = os.path.getsize(os.path.join(args.out, "remote.rows"))
    eval_npz = dict(np.load(os.path.join(model_dir, "eval.npz")))
    local = recq.load(local_so, threads=args.threads)
    names = [n for n, _, _ in local.inputs]
    tables = len([n for n in names if n.startswith("indices_")])
    table_rows = json.load(open(os.path.join(model_dir, "meta.json")))["config"]["table_rows"]
    rng = np.random.default_rng(0)
    zipfs = [Zipf(r, rng) for r in table_rows]
    check = slice_samples(eval_npz, names, 0, 2048)
    want = local.run(**check)

    lines = []
    summary = {"cpu": cpu_model(), "rows_bytes": rows_bytes, "results": []}
    for masters in args.masters:
        with RedisCluster(tempfile.mkdtemp(prefix="recq-redis-"), masters=masters) as cluster:
            t0 = time.time()
            pushed = tool(bin_dir, "recq-tables", "push", remote_so, "--store", cluster.spec)
            push_s = time.time() - t0
            print(pushed.strip(), flush=True)
            # Warm: a TTL of a minute (updates are announced; the default
            # 1 s would expire rows between the warm-up and the timing).
            warm = recq.load(remote_so, threads=args.threads, table_store=cluster.spec,
                             table_cache_ttl_ms=60000)
            cold = recq.load(remote_so, threads=args.threads, table_store=cluster.spec,
                             table_cache_bytes=-1)
            same = bool(np.array_equal(warm.run(**check), want)) and \
                bool(np.array_equal(cold.run(**check), want))
            print(f"{masters} masters: outputs bit-identical to local: {same}", flush=True)
            for batch in args.batches:
                count = 8 if batch >= 512 else 64
                timed = batches(eval_npz, names, zipfs, rng, batch, count)
                # Warm up on other batches of the stream until 8 in a row hit
                # 95% (or --warmup-seconds pass).
                end = time.monotonic() + args.warmup_seconds
                recent = []
                while time.monotonic() < end:
                    before = warm.table_store_stats()
                    warm.run(**batches(eval_npz, names, zipfs, rng, batch, 1)[0])
                    after = warm.table_store_stats()
                    recent = (recent + [(after["cache_hits"] - before["cache_hits"])
                                        / max(after["lookups"] - before["lookups"], 1)])[-8:]
                    if len(recent) == 8 and min(recent) >= 0.95:
                        break
                lookups = sum(len(b[f"indices_{t}"]) for b in timed for t in range(tables)) / count
                ms = {"local": [], "warm": [], "cold": []}
                ratio = {"warm": [], "cold": []}
                s0w, s0c = warm.table_store_stats(), cold.table_store_stats()
                for _ in range(args.rounds):
                    per = {}
                    for name, model in [("local", local), ("warm", warm), ("cold", cold)]:
                        per[name] = statistics.median(median_call(model, b, 0.02) for b in timed)
                        ms[name].append(per[name] * 1e3)
                    for name in ratio:
                        ratio[name].append(per[name] / per["local"])
                s1w, s1c = warm.table_store_stats(), cold.table_store_stats()
                calls_c = max(s1c["calls"] - s0c["calls"], 1)
                hit = (s1w["cache_hits"] - s0w["cache_hits"]) / max(s1w["lookups"] - s0w["lookups"], 1)
                fetched = (s1c["fetched_rows"] - s0c["fetched_rows"]) / calls_c
                row = {
                    "masters": masters, "batch": batch, "lookups": lookups,
                    "local_ms": statistics.median(ms["local"]),
                    "warm_ms": statistics.median(ms["warm"]),
                    "cold_ms": statistics.median(ms["cold"]),
                    "warm_ratio": statistics.median(ratio["warm"]),
                    "cold_ratio": statistics.median(ratio["cold"]),
                    "hit_rate": hit,
                    "distinct_rows": fetched,
                    "commands": (s1c["commands"] - s0c["commands"]) / calls_c,
                    "store_ms": 1e3 * (s1c["fetch_seconds"] - s0c["fetch_seconds"]) / calls_c,
                    "push_s": push_s, "identical": same,
                }
                row["bytes"] = fetched * 136  # int8 rows of D = 128: 128 codes + f32 scale, bias
                summary["results"].append(row)
                print(json.dumps(row), flush=True)
    with open(os.path.join(args.out, "remote_tables.json"), "w") as f:
        json.dump(summary, f, indent=1)
    lines.append(f"CPU: {summary['cpu']}; {args.threads} thread(s); the MLPerf-shaped kit model, "
                 f"int8 FCs + int8 tables, all 26 tables remote ({rows_bytes / 2**20:.0f} MiB "
                 f"of rows); Redis {subprocess.run(['redis-server', '--version'], capture_output=True, text=True).stdout.split()[2]} "
                 "on the same machine (one replica per master); medians of "
                 f"{args.rounds} interleaved rounds.\n")
    lines.append("| masters | batch | lookups | local ms | remote warm ms (x local) | hits | "
                 "remote cold ms (x local) | rows fetched cold | commands | ms in the store (cold) | "
                 "lookups/s warm | lookups/s cold | KiB fetched cold |")
    lines.append("| " + " | ".join(["---"] * 13) + " |")
    for r in summary["results"]:
        lines.append(
            f"| {r['masters']} | {r['batch']} | {r['lookups']:.0f} | {r['local_ms']:.3f} | "
            f"{r['warm_ms']:.3f} ({r['warm_ratio']:.2f}x) | {100 * r['hit_rate']:.1f}% | "
            f"{r['cold_ms']:.3f} ({r['cold_ratio']:.2f}x) | {r['distinct_rows']:.0f} | "
            f"{r['commands']:.1f} | {r['store_ms']:.3f} | "
            f"{r['lookups'] / r['warm_ms'] * 1e3:.3g} | {r['lookups'] / r['cold_ms'] * 1e3:.3g} | "
            f"{r['bytes'] / 1024:.0f} |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, "remote_tables.md"), "w") as f:
        f.write(text)
    print(text)
    return 0 if all(r["identical"] for r in summary["results"]) else 1


if __name__ == "__main__":
    sys.exit(main())
