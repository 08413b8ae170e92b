"""Synthetic click data with learnable structure.

A hidden teacher draws labels: each table row has a small latent vector,
each sample's bags pool those latents, and the click logit combines a
linear term of the dense features, a linear term of every pooled latent and
pairwise products of neighbouring tables' pooled latents -- the kind of
signal DLRM's dot interaction can pick up. Indices are Zipf-distributed
(a few rows are hot, as in real logs); bag lengths are Poisson, so empty
bags occur. Everything is reproducible from a seed.
"""

from dataclasses import dataclass
from typing import Dict, List

import numpy as np

from .config import DlrmConfig

LATENT = 4


@dataclass
class Samples:
    """A batch in the model's input layout, plus labels."""

    dense_x: np.ndarray  # [N, num_dense] float32
    offsets: np.ndarray  # [T, N] int64, per-table bag starts
    indices: List[np.ndarray]  # T arrays of int64
    labels: np.ndarray  # [N] float32 in {0, 1}

    def __len__(self):
        return self.dense_x.shape[0]

    def slice(self, begin: int, end: int) -> "Samples":
        """Samples [begin, end), with offsets rebased to their own indices."""
        offsets, indices = [], []
        for t, idx in enumerate(self.indices):
            start = self.offsets[t, begin]
            stop = self.offsets[t, end] if end < len(self) else len(idx)
            offsets.append(self.offsets[t, begin:end] - start)
            indices.append(idx[start:stop])
        return Samples(self.dense_x[begin:end], np.stack(offsets), indices,
                       self.labels[begin:end])

    def inputs(self) -> Dict[str, np.ndarray]:
        """The model inputs under their ONNX names."""
        named = {"dense_x": self.dense_x, "offsets": self.offsets}
        named.update({f"indices_{k}": v for k, v in enumerate(self.indices)})
        return named


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class Teacher:
    """The hidden labelling function of one synthetic dataset."""

    def __init__(self, config: DlrmConfig, seed: int = 0, zipf: float = 1.1):
        self.config = config
        rng = np.random.default_rng(seed)
        t = config.num_tables
        self.dense_w = rng.normal(size=config.num_dense) / np.sqrt(config.num_dense)
        self.latent = [rng.normal(size=(rows, LATENT)) for rows in config.table_rows]
        self.table_w = rng.normal(size=(t, LATENT)) / np.sqrt(LATENT)
        # Zipf over a random permutation of the rows: which rows are hot is
        # arbitrary, how hot they are follows 1/rank^zipf.
        self.row_of_rank = [rng.permutation(rows) for rows in config.table_rows]
        self.rank_cdf = []
        for rows in config.table_rows:
            p = 1.0 / np.arange(1, rows + 1) ** zipf
            self.rank_cdf.append(np.cumsum(p) / p.sum())
        # Fix the logit's scale on a pilot draw so the labels are neither
        # deterministic nor coin flips (std of the logit about 2).
        self.scale, self.bias = 1.0, 0.0
        pilot = self._logits(*self._draw_inputs(4096, np.random.default_rng(seed + 1)))
        self.scale = 2.0 / max(pilot.std(), 1e-6)
        self.bias = -self.scale * pilot.mean() - 1.0  # CTR below one half

    def _draw_inputs(self, n, rng):
        cfg = self.config
        dense = rng.normal(size=(n, cfg.num_dense)).astype(np.float32)
        offsets, indices = [], []
        for t in range(cfg.num_tables):
            lengths = rng.poisson(cfg.mean_bag[t], size=n)
            ranks = np.searchsorted(self.rank_cdf[t], rng.random(lengths.sum()))
            ranks = np.minimum(ranks, cfg.table_rows[t] - 1)
            indices.append(self.row_of_rank[t][ranks].astype(np.int64))
            offsets.append(np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64))
        return dense, np.stack(offsets), indices

    def _pooled(self, t, offsets, idx, n):
        lengths = np.diff(np.append(offsets, len(idx)))
        sample = np.repeat(np.arange(n), lengths)
        pooled = np.zeros((n, LATENT))
        np.add.at(pooled, sample, self.latent[t][idx])
        return pooled

    def _logits(self, dense, offsets, indices):
        n = dense.shape[0]
        pooled = [self._pooled(t, offsets[t], idx, n) for t, idx in enumerate(indices)]
        logit = dense @ self.dense_w
        for t, p in enumerate(pooled):
            logit += p @ self.table_w[t]
            if t + 1 < len(pooled):
                logit += 0.5 * (p * pooled[t + 1]).sum(axis=1)
        return self.scale * logit + self.bias

    def probability(self, samples: Samples) -> np.ndarray:
        """The teacher's own click probability (the best any model can do)."""
        return _sigmoid(self._logits(samples.dense_x, samples.offsets, samples.indices))

    def sample(self, n: int, seed: int) -> Samples:
        rng = np.random.default_rng(seed)
        dense, offsets, indices = self._draw_inputs(n, rng)
        p = _sigmoid(self._logits(dense, offsets, indices))
        labels = (rng.random(n) < p).astype(np.float32)
        return Samples(dense, offsets, indices, labels)


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties get average ranks)."""
    labels = np.asarray(labels).ravel() > 0.5
    scores = np.asarray(scores, dtype=np.float64).ravel()
    pos, neg = labels.sum(), (~labels).sum()
    if pos == 0 or neg == 0:
        raise ValueError("AUC needs both positive and negative labels")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # Average ranks over runs of equal scores.
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(scores)]])
    for s, e in zip(starts, ends):
        ranks[order[s:e]] = (s + e + 1) / 2.0
    return float((ranks[labels].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def log_loss(labels: np.ndarray, p: np.ndarray, eps: float = 1e-7) -> float:
    labels = np.asarray(labels, dtype=np.float64).ravel()
    p = np.clip(np.asarray(p, dtype=np.float64).ravel(), eps, 1 - eps)
    return float(-(labels * np.log(p) + (1 - labels) * np.log(1 - p)).mean())
