"""Model shapes the kit can build: tiny, Kaggle-like and MLPerf-like DLRMs."""

from dataclasses import asdict, dataclass, field
from typing import List

import numpy as np


@dataclass
class DlrmConfig:
    """Shape of a DLRM: dense MLP, tables, dot interaction, top MLP."""

    name: str
    num_dense: int
    dim: int
    table_rows: List[int]
    bottom: List[int]  # hidden sizes after num_dense; the last must equal dim
    top: List[int]  # hidden sizes after the interaction; the last must be 1
    # Mean bag length per table (Poisson); 0-length bags occur naturally.
    mean_bag: List[float] = field(default_factory=list)
    interaction_itself: bool = False

    def __post_init__(self):
        if self.bottom[-1] != self.dim:
            raise ValueError(f"bottom MLP ends at {self.bottom[-1]}, "
                             f"but the embedding dimension is {self.dim}")
        if self.top[-1] != 1:
            raise ValueError("the top MLP must end in 1 output")
        if not self.mean_bag:
            self.mean_bag = [1.0 + (t % 4) for t in range(self.num_tables)]
        if len(self.mean_bag) != self.num_tables:
            raise ValueError("mean_bag needs one entry per table")

    @property
    def num_tables(self) -> int:
        return len(self.table_rows)

    @property
    def num_features(self) -> int:
        """Features entering the interaction: dense vector + one per table."""
        return 1 + self.num_tables

    @property
    def interaction_width(self) -> int:
        f = self.num_features
        pairs = f * (f + 1) // 2 if self.interaction_itself else f * (f - 1) // 2
        return self.dim + pairs

    def to_dict(self):
        return asdict(self)


def _log_spaced_rows(count, low, high, seed):
    rng = np.random.default_rng(seed)
    return [int(r) for r in np.round(10 ** rng.uniform(np.log10(low),
                                                        np.log10(high), count))]


def tiny() -> DlrmConfig:
    return DlrmConfig(name="tiny", num_dense=13, dim=8,
                      table_rows=[100, 37, 250], bottom=[16, 8],
                      top=[16, 1], mean_bag=[1.0, 3.0, 2.0])


def kaggle() -> DlrmConfig:
    """Criteo-Kaggle-like: 13 dense, 26 tables of dim 16 (DLRM's Kaggle
    config: bottom 13-512-256-64-16, top 512-256-1), rows 10^2..10^5."""
    return DlrmConfig(name="kaggle", num_dense=13, dim=16,
                      table_rows=_log_spaced_rows(26, 1e2, 1e5, seed=26),
                      bottom=[512, 256, 64, 16], top=[512, 256, 1])


def mlperf() -> DlrmConfig:
    """MLPerf-like: dim 128, bottom 13-512-256-128,
    top 1024-1024-512-256-1, 26 tables of 10^3..10^5 rows."""
    return DlrmConfig(name="mlperf", num_dense=13, dim=128,
                      table_rows=_log_spaced_rows(26, 1e3, 1e5, seed=128),
                      bottom=[512, 256, 128], top=[1024, 1024, 512, 256, 1])


CONFIGS = {"tiny": tiny, "kaggle": kaggle, "mlperf": mlperf}


def get(name: str) -> DlrmConfig:
    try:
        return CONFIGS[name]()
    except KeyError:
        raise ValueError(f"unknown model config '{name}', "
                         f"expected one of {', '.join(CONFIGS)}") from None
