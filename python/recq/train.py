"""Training of the kit's DLRM on teacher data: Adam on the MLPs, SparseAdam
on the tables (their gradients are sparse, as in the reference DLRM)."""

import sys
import time

import numpy as np
import torch

from .data import Samples, auc, log_loss
from .model import Dlrm


def to_torch(samples: Samples):
    """Model arguments for `samples`: (dense_x, offsets, indices_0, ...)."""
    return (torch.from_numpy(samples.dense_x), torch.from_numpy(samples.offsets),
            *[torch.from_numpy(i) for i in samples.indices])


@torch.no_grad()
def predict(model: Dlrm, samples: Samples, batch: int = 4096) -> np.ndarray:
    model.eval()
    out = [model(*to_torch(samples.slice(b, min(b + batch, len(samples)))))
           for b in range(0, len(samples), batch)]
    return torch.cat(out).numpy()


def evaluate(model: Dlrm, samples: Samples) -> dict:
    p = predict(model, samples)
    return {"auc": auc(samples.labels, p), "log_loss": log_loss(samples.labels, p)}


def train(model: Dlrm, data: Samples, epochs: int = 2, batch: int = 256,
          lr: float = 1e-3, sparse_lr: float = 2e-2, seed: int = 0,
          log=sys.stderr) -> None:
    torch.manual_seed(seed)
    dense_params = [p for n, p in model.named_parameters() if not n.startswith("tables")]
    optimizers = [torch.optim.Adam(dense_params, lr=lr),
                  torch.optim.SparseAdam(list(model.tables.parameters()), lr=sparse_lr)]
    loss_fn = torch.nn.BCELoss()
    rng = np.random.default_rng(seed)
    steps = (len(data) + batch - 1) // batch
    start = time.time()
    for epoch in range(epochs):
        model.train()
        total = 0.0
        # Shuffle whole mini-batches (cheap: offsets stay contiguous).
        for i, step in enumerate(rng.permutation(steps)):
            part = data.slice(step * batch, min((step + 1) * batch, len(data)))
            args = to_torch(part)
            target = torch.from_numpy(part.labels).unsqueeze(1)
            for opt in optimizers:
                opt.zero_grad()
            loss = loss_fn(model(*args), target)
            loss.backward()
            for opt in optimizers:
                opt.step()
            total += loss.item()
            if log and (i + 1) % max(1, steps // 4) == 0:
                print(f"  epoch {epoch + 1}/{epochs} step {i + 1}/{steps} "
                      f"loss {total / (i + 1):.4f} ({time.time() - start:.0f}s)",
                      file=log, flush=True)
