"""FC kernel benchmark: one ONNX Gemm (+bias) compiled by recq and run
through the Python wrapper, against torch, one thread, GFLOP/s (median of
--iters after a warm-up; includes the wrapper's call).

    /usr/bin/python3 bench/fc_kernel.py [--iters 50] [--precision bf16]

fp32: against torch.nn.Linear (Debian's torch calls OpenBLAS). bf16
(`recq-compile --quantize=bf16`: the input rounded to bf16 in the kernel,
bf16 weights, f32 sums and output): against torch.nn.functional.linear on
bf16 tensors, which torch runs on oneDNN's bf16 matmul, the input's
conversion to bf16 timed too (recq's kernel does it), the output bf16.
Prints the CPU and the variant recq runs.
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))
import recq  # noqa: E402
from recq.compare import median_seconds, set_torch_threads  # noqa: E402

SHAPES = [(512, 367, 512), (512, 512, 256), (512, 13, 512), (2048, 1024, 1024),
          (2048, 479, 1024), (1, 1024, 1024), (512, 256, 1)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "dev", "bin"))
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    args = ap.parse_args()
    set_torch_threads(1)
    rng = np.random.default_rng(0)
    print(f"CPU: {cpu_model()}; precision {args.precision}; torch {torch.__version__}"
          f" (oneDNN {'on' if torch.backends.mkldnn.is_available() else 'off'})")
    flags = ["--quantize=bf16"] if args.precision == "bf16" else []
    variant_shown = False
    with tempfile.TemporaryDirectory() as tmp:
        for m, k, n in SHAPES:
            w = rng.standard_normal((n, k)).astype(np.float32)
            b = rng.standard_normal(n).astype(np.float32)
            graph = helper.make_graph(
                [helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1, name="fc")], "g",
                [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", k])],
                [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", n])],
                [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
            path = os.path.join(tmp, f"fc_{k}_{n}.onnx")
            onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
            so = path[:-5] + ".so"
            subprocess.run([os.path.join(args.bin, "recq-compile"), path, "-o", so, *flags],
                           check=True, capture_output=True)
            model = recq.load(so, threads=1)
            if not variant_shown:
                print(f"recq runs the {model.target} variant ({model.target_reason})")
                print(f"{'M':>5} {'K':>5} {'N':>5} {'recq GF/s':>10} {'torch GF/s':>10} "
                      f"{'recq/torch':>10}")
                variant_shown = True
            x = rng.standard_normal((m, k)).astype(np.float32)
            xt = torch.from_numpy(x)
            t_recq = median_seconds(lambda: model.run(x=x), args.iters)
            with torch.no_grad():
                if args.precision == "bf16":
                    wt = torch.from_numpy(w).to(torch.bfloat16)
                    bt = torch.from_numpy(b).to(torch.bfloat16)
                    peer = lambda: torch.nn.functional.linear(xt.to(torch.bfloat16), wt, bt)  # noqa: E731
                else:
                    linear = torch.nn.Linear(k, n)
                    peer = lambda: linear(xt)  # noqa: E731
                t_torch = median_seconds(peer, args.iters)
            flops = 2.0 * m * k * n
            print(f"{m:5d} {k:5d} {n:5d} {flops / t_recq / 1e9:10.1f} "
                  f"{flops / t_torch / 1e9:10.1f} {t_torch / t_recq:10.2f}", flush=True)


def cpu_model() -> str:
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


if __name__ == "__main__":
    main()
