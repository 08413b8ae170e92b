"""A drifted copy of a model kit's eval set, for the drift check's demo and
tests:

    /usr/bin/python3 -m recq.drift --model-dir out/models/kaggle \\
        --out out/models/kaggle/eval-drifted.npz [--dense-scale 4] [--bag-scale 3]

The same teacher (same tables, same hot rows) draws new samples whose
traffic has moved the way production data drifts: the dense features
arrive `--dense-scale` times larger (an upstream unit change, far outside
the ranges int8 calibration saw) and every bag is `--bag-scale` times
longer on average (users with more history). Labels come from the teacher,
`reference` from the fp32 torch model, as in eval.npz, so
`recq-run model.so --check eval-drifted.npz` works as on eval.npz.
"""

import argparse
import dataclasses
import json
import os
import sys

import numpy as np

from .config import DlrmConfig
from .data import Samples, Teacher, _sigmoid
from .export import save_npz
from .model import load_kit_model


def drifted_samples(config: DlrmConfig, seed: int, n: int, dense_scale: float,
                    bag_scale: float) -> Samples:
    """`n` samples of the teacher of (config, seed) under the drift."""
    teacher = Teacher(config, seed=seed)
    shifted = dataclasses.replace(config, mean_bag=[m * bag_scale for m in config.mean_bag])
    rng = np.random.default_rng(seed + 40)
    # The teacher's rows, hot ranks and logit scale stay those of the
    # original data; only the traffic changes.
    teacher.config = shifted
    dense, offsets, indices = teacher._draw_inputs(n, rng)
    teacher.config = config
    dense = (dense * dense_scale).astype(np.float32)
    p = _sigmoid(teacher._logits(dense, offsets, indices))
    labels = (rng.random(n) < p).astype(np.float32)
    return Samples(dense, offsets, indices, labels)


def make_drifted(model_dir: str, out: str, dense_scale: float = 4.0,
                 bag_scale: float = 3.0, n: int = 0) -> str:
    with open(os.path.join(model_dir, "meta.json")) as f:
        seed = json.load(f).get("seed", 0)
    model = load_kit_model(model_dir)
    if not n:
        n = len(np.load(os.path.join(model_dir, "eval.npz"))["labels"])
    samples = drifted_samples(model.config, seed, n, dense_scale, bag_scale)
    save_npz(out, model, samples)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--dense-scale", type=float, default=4.0)
    ap.add_argument("--bag-scale", type=float, default=3.0)
    ap.add_argument("--samples", type=int, default=0, help="default: as many as eval.npz")
    args = ap.parse_args(argv)
    make_drifted(args.model_dir, args.out, args.dense_scale, args.bag_scale, args.samples)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
