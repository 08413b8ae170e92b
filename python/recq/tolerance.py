"""The tolerance a compiled model is held to against its fp32 reference --
the rule recq-run --reference applies (tools/recq-run/recq-run.cpp,
docs/Tools.md), for Python:

- an fp32 model (no plan, or a plan that keeps everything fp32), or an
  explicit `atol`: max |p - p_fp32| <= atol (default 1e-5);
- a planned model (recq-compile --accuracy-budget): the plan's metric
  within the plan's budget;
- a model quantized by hand (--quantize=int8, --tables=...: a plan without
  a budget): relative log-loss and, with labels, relative AUC change
  against fp32, each within FIXED_PRECISION_BUDGET (1%).

Changes count in either direction, as in the planner (docs/Planner.md).
"""

import math
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import numpy as np

from .data import auc, log_loss

FP32_TOLERANCE = 1e-5
FIXED_PRECISION_BUDGET = 0.01  # = recq::quant::kFixedPrecisionBudget


@dataclass
class Verdict:
    ok: bool
    rule: str  # what was checked, e.g. "max |dp| <= 1e-05 (fp32 model)"
    max_abs: float
    changes: List[Tuple[str, float, float]] = field(default_factory=list)  # metric, change, budget

    def describe(self) -> str:
        parts = [f"max |p_recq - p_torch| = {self.max_abs:.3g}"]
        parts += [f"{m} change {c:.2e} (budget {b:.2e})" for m, c, b in self.changes]
        return f"{'; '.join(parts)} -- {self.rule}: {'ok' if self.ok else 'OUTSIDE'}"


def quantizes(plan: Optional[dict]) -> bool:
    """Whether the plan stores any FC or table below fp32."""
    if not plan:
        return False
    return any(p.get("precision", "fp32") != "fp32"
               for kind in ("fcs", "tables") for p in plan.get(kind, []))


def metric_change(metric: str, reference: np.ndarray, got: np.ndarray,
                  labels: Optional[np.ndarray]) -> float:
    """The planner's metric of `got` against `reference` (docs/Planner.md):
    relative log-loss change (without labels: relative cross-entropy
    against the reference's outputs), relative AUC change, or max |dp|."""
    reference = np.asarray(reference, np.float64).ravel()
    got = np.asarray(got, np.float64).ravel()
    if metric == "max-abs":
        return float(np.abs(got - reference).max())
    if metric == "auc":
        if labels is None:
            raise ValueError("the auc metric needs labels")
        base = auc(labels, reference)
        return abs(base - auc(labels, got)) / base
    if labels is not None:
        base = log_loss(labels, reference)
        return abs(log_loss(labels, got) - base) / base
    base = log_loss(reference, reference)  # soft labels: cross-entropy
    return abs(log_loss(reference, got) - base) / base


def check(plan: Optional[dict], reference: np.ndarray, got: np.ndarray,
          labels: Optional[np.ndarray] = None, atol: Optional[float] = None) -> Verdict:
    """`got` against `reference` under the rule that fits the model whose
    compiled-in plan is `plan` (recq.load(...).plan)."""
    reference = np.asarray(reference, np.float64).ravel()
    got = np.asarray(got, np.float64).ravel()
    max_abs = float(np.abs(got - reference).max()) if len(got) else 0.0
    if atol is not None or not quantizes(plan):
        tol = FP32_TOLERANCE if atol is None else atol
        why = "--atol" if atol is not None else "fp32 model"
        return Verdict(max_abs <= tol, f"max |dp| <= {tol:g} ({why})", max_abs)
    budget = plan.get("budget")
    planned = budget is not None and not math.isnan(budget)
    if planned:
        metric = plan.get("metric", "logloss")
        if metric == "auc" and (labels is None or len(np.unique(labels)) < 2):
            metric = "logloss"  # an AUC plan checked on data without both classes
        rules = [(metric, budget)]
        rule = "the plan's budget"
    else:
        rules = [("logloss", FIXED_PRECISION_BUDGET)]
        if labels is not None:
            rules.append(("auc", FIXED_PRECISION_BUDGET))
        rule = "a quantized model's default budget"
    changes = []
    for m, b in rules:
        if m == "auc" and not planned and len(np.unique(labels)) < 2:
            continue  # the default rule's AUC half needs both classes
        changes.append((m, metric_change(m, reference, got, labels), b))
    return Verdict(all(c <= b for _, c, b in changes), rule, max_abs, changes)
