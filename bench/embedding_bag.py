"""Pooled embedding lookups, one thread, in one run: recq (every table
precision) against this CPU's random-row gather ceiling and against
PyTorch's operators on the same tables and bags.

recq's numbers come from build/<preset>/bin/recq-bench-embedding-bag (see
bench/embedding_bag.cpp): the whole recq_model_run call (index checks and
the copy of the output included) and the generated code alone, for tables of
10^4 .. 10^7 rows, D in {16, 64, 128}, bags of 1, 10 and 100 indices in
batches of 1, 512 and 2048. PyTorch's peers, timed the same way here:
  fp32  torch.nn.functional.embedding_bag (mode sum)
  int8  torch.ops.quantized.embedding_bag_byte_rowwise_offsets
  int4  torch.ops.quantized.embedding_bag_4bit_rowwise_offsets
(fp16 has no CPU peer in Debian's torch 1.13.) Indices are uniform over the
table, a fresh window of a large pool for every call.

    /usr/bin/python3 bench/embedding_bag.py [--quick] [--rows 10000,1000000]
        [--huge-pages] [--table-dir DIR] [--bin build/dev/bin] [--json out.jsonl]

"% of gather" is the median over interleaved rounds of the gather loop's
time over recq's (the machine is shared: a change in load falls on both).
"% of gather+write" compares the generated code with the same gather loop
writing each bag's [D] f32 result, as every pooling kernel must: for short
bags the output, not the rows, is most of the memory traffic.
--huge-pages runs recq with RECQ_HUGEPAGES=1 (tables copied to transparent
huge pages at load) and the gather loop on a huge-page copy too.
--table-dir DIR puts each table in a file in DIR, mapped as the runtime maps
model.weights (on huge pages where that file system's page cache has 2 MiB
folios), by recq and by the gather loop alike.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

POOL = 1 << 22


def median_seconds(fn):
    """Median seconds per call over 7 samples of enough calls for ~20 ms."""
    calls, call = 1, 0
    while True:
        t0 = time.perf_counter()
        for _ in range(calls):
            fn(call)
            call += 1
        if time.perf_counter() - t0 > 0.02 or calls > (1 << 20):
            break
        calls *= 2
    samples = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn(call)
            call += 1
        samples.append((time.perf_counter() - t0) / calls)
    return statistics.median(samples)


def torch_times(rows, dim, configs):
    """{(precision, batch, length): seconds} for PyTorch's operators."""
    torch.manual_seed(rows + dim)
    weight = torch.rand(rows, dim) * 2 - 1
    packed = {"int8": torch.ops.quantized.embedding_bag_byte_prepack(weight),
              "int4": torch.ops.quantized.embedding_bag_4bit_prepack(weight)}
    pool = torch.randint(0, rows, (POOL,), dtype=torch.int64)
    out = {}
    for batch, length in configs:
        n = batch * length
        windows = max(1, POOL // n)
        offsets = torch.arange(0, n, length, dtype=torch.int64)

        def window(call):
            start = (call % windows) * min(n, POOL)
            return pool[start:start + n]

        with torch.no_grad():
            out[("fp32", batch, length)] = median_seconds(
                lambda c: torch.nn.functional.embedding_bag(window(c), weight, offsets,
                                                           mode="sum"))
            out[("int8", batch, length)] = median_seconds(
                lambda c: torch.ops.quantized.embedding_bag_byte_rowwise_offsets(
                    packed["int8"], window(c), offsets))
            out[("int4", batch, length)] = median_seconds(
                lambda c: torch.ops.quantized.embedding_bag_4bit_rowwise_offsets(
                    packed["int4"], window(c), offsets))
    del weight, packed
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default=os.path.join(
        os.path.dirname(__file__), "..", "build", "dev", "bin"))
    parser.add_argument("--quick", action="store_true",
                        help="D=64, bags of 10, batch 512 only")
    parser.add_argument("--rows", default="10000,100000,1000000,10000000")
    parser.add_argument("--huge-pages", action="store_true",
                        help="tables on transparent huge pages (RECQ_HUGEPAGES=1)")
    parser.add_argument("--table-dir",
                        help="each table in a file here, mapped as the runtime maps model.weights "
                             "(huge pages where its page cache allows) instead of a memfd")
    parser.add_argument("--json", help="also write every measurement here (JSON lines)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    tool = os.path.join(args.bin, "recq-bench-embedding-bag")
    if not os.path.exists(tool):
        sys.exit(f"{tool} is missing: cmake --build build/dev --target recq-bench-embedding-bag")
    cmd = [tool, f"--rows={args.rows}"] + (["--quick"] if args.quick else []) + \
        (["--huge-pages"] if args.huge_pages else []) + \
        ([f"--table-dir={args.table_dir}"] if args.table_dir else [])
    print("running", " ".join(cmd), "...", file=sys.stderr)
    recq = [json.loads(line) for line in
            subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()]

    peers = {}
    for rows in sorted({r["rows"] for r in recq}):
        for dim in sorted({r["dim"] for r in recq}):
            configs = sorted({(r["batch"], r["length"]) for r in recq})
            print(f"torch: {rows} rows, D={dim} ...", file=sys.stderr)
            for (p, b, l), s in torch_times(rows, dim, configs).items():
                peers[(rows, dim, p, b, l)] = s

    out = open(args.json, "w") if args.json else None
    print("| rows | D | table | B | L | recq M lookups/s | GB/s | kernel % of gather | "
          "kernel % of gather+write | run % of gather | torch M lookups/s | recq / torch |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in recq:
        lookups = r["batch"] * r["length"]
        torch_s = peers.get((r["rows"], r["dim"], r["precision"], r["batch"], r["length"]))
        r["torch_s"] = torch_s
        if out:
            out.write(json.dumps(r) + "\n")
        print(f"| {r['rows']:.0e} | {r['dim']} | {r['precision']} | {r['batch']} | {r['length']} | "
              f"{lookups / r['recq_s'] / 1e6:.1f} | {lookups * r['row_bytes'] / r['recq_s'] / 1e9:.2f} | "
              f"{100 * r['kernel_vs_gather']:.0f}% | {100 * r['kernel_vs_gather_write']:.0f}% | "
              f"{100 * r['recq_vs_gather']:.0f}% | "
              + (f"{lookups / torch_s / 1e6:.1f} | {torch_s / r['recq_s']:.2f}x |" if torch_s
                 else "- | - |"))

    # Summary per precision: the goals' figures.
    print("\n| table | kernel % of gather, 10^6-10^7 rows (min / median) | "
          "kernel % of gather+write (min / median) | "
          "run % of gather (min / median) | recq / torch (min / median) |")
    print("|---|---:|---:|---:|---:|")
    for p in ["fp32", "fp16", "int8", "int4"]:
        big = [r for r in recq if r["precision"] == p and r["rows"] >= 1000000 and r["batch"] > 1]
        ratio = [r["torch_s"] / r["recq_s"] for r in recq if r["precision"] == p and r["torch_s"]]

        def mm(xs, pct=True):
            if not xs:
                return "-"
            f = (lambda x: f"{100 * x:.0f}%") if pct else (lambda x: f"{x:.2f}x")
            return f"{f(min(xs))} / {f(statistics.median(xs))}"
        print(f"| {p} | {mm([r['kernel_vs_gather'] for r in big])} | "
              f"{mm([r['kernel_vs_gather_write'] for r in big])} | "
              f"{mm([r['recq_vs_gather'] for r in big])} | {mm(ratio, pct=False)} |")


if __name__ == "__main__":
    main()
