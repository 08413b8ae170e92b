"""Make a trained DLRM and its data:

    /usr/bin/python3 -m recq.make_model --config tiny --out models/tiny

writes model.onnx, calib.npz, eval.npz, model.pt (state dict) and
meta.json (config, metrics) to --out. Run with PYTHONPATH=python.
"""

import argparse
import json
import os
import sys
import time

import torch

from . import config as configs
from .data import Teacher, auc, log_loss
from .export import export_onnx, save_npz
from .model import Dlrm
from .train import evaluate, train

DEFAULTS = {  # train samples, epochs: a few CPU minutes at most
    "tiny": (20000, 3),
    "kaggle": (100000, 1),
    "mlperf": (50000, 1),
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="tiny", choices=sorted(configs.CONFIGS))
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--train-samples", type=int)
    ap.add_argument("--epochs", type=int, help="0 exports the untrained model")
    ap.add_argument("--calib-samples", type=int, default=2048)
    ap.add_argument("--eval-samples", type=int, default=8192)
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    cfg = configs.get(args.config)
    n_train, epochs = DEFAULTS[cfg.name]
    n_train = args.train_samples or n_train
    epochs = epochs if args.epochs is None else args.epochs  # 0: untrained
    os.makedirs(args.out, exist_ok=True)
    start = time.time()

    teacher = Teacher(cfg, seed=args.seed)
    train_set = teacher.sample(n_train, seed=args.seed + 10)
    calib_set = teacher.sample(args.calib_samples, seed=args.seed + 20)
    eval_set = teacher.sample(args.eval_samples, seed=args.seed + 30)

    torch.manual_seed(args.seed)
    model = Dlrm(cfg)
    before = evaluate(model, eval_set)
    print(f"[{cfg.name}] training on {n_train} samples, {epochs} epoch(s)",
          file=sys.stderr, flush=True)
    train(model, train_set, epochs=epochs, seed=args.seed)
    after = evaluate(model, eval_set)
    best = teacher.probability(eval_set)
    ctr = float(eval_set.labels.mean())
    metrics = {
        "eval_auc": after["auc"], "eval_log_loss": after["log_loss"],
        "untrained_auc": before["auc"],
        "teacher_auc": auc(eval_set.labels, best),
        "teacher_log_loss": log_loss(eval_set.labels, best),
        "constant_ctr_log_loss": log_loss(eval_set.labels,
                                          [ctr] * len(eval_set)),
        "ctr": ctr,
    }

    onnx_path = os.path.join(args.out, "model.onnx")
    export_onnx(model, eval_set.slice(0, 8), onnx_path, opset=args.opset)
    save_npz(os.path.join(args.out, "calib.npz"), model, calib_set)
    save_npz(os.path.join(args.out, "eval.npz"), model, eval_set)
    torch.save(model.state_dict(), os.path.join(args.out, "model.pt"))
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump({"config": cfg.to_dict(), "opset": args.opset,
                   "train_samples": n_train, "epochs": epochs, "seed": args.seed,
                   "metrics": metrics}, f, indent=2)

    print(f"[{cfg.name}] eval AUC {after['auc']:.4f} (untrained "
          f"{before['auc']:.4f}, teacher {metrics['teacher_auc']:.4f}); "
          f"log-loss {after['log_loss']:.4f} (constant CTR "
          f"{metrics['constant_ctr_log_loss']:.4f}); wrote {onnx_path} "
          f"in {time.time() - start:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
