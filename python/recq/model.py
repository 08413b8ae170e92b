"""The DLRM module, written as the reference DLRM (facebookresearch/dlrm)
writes it, so torch.onnx.export produces the graphs users bring: each table
an nn.EmbeddingBag(mode="sum") fed with indices and offsets (exported as a
Loop over bags), offsets as one [T, B] tensor indexed per table, and the dot
interaction with its lower-triangle gather by constant index lists."""

import json
import os
from typing import List

import torch
from torch import nn

from .config import DlrmConfig


def _mlp(sizes: List[int], last_sigmoid: bool) -> nn.Sequential:
    layers = []
    for i in range(len(sizes) - 1):
        linear = nn.Linear(sizes[i], sizes[i + 1])
        # DLRM's initialisation: normal with fan-in/fan-out scaling.
        std = (2.0 / (sizes[i] + sizes[i + 1])) ** 0.5
        nn.init.normal_(linear.weight, 0.0, std)
        nn.init.normal_(linear.bias, 0.0, (1.0 / sizes[i + 1]) ** 0.5)
        layers.append(linear)
        last = i == len(sizes) - 2
        layers.append(nn.Sigmoid() if last and last_sigmoid else nn.ReLU())
    return nn.Sequential(*layers)


class Dlrm(nn.Module):
    """forward(dense_x [B, num_dense], offsets [T, B], indices_0..T-1)
    -> click probability [B, 1]."""

    def __init__(self, config: DlrmConfig):
        super().__init__()
        self.config = config
        self.bottom = _mlp([config.num_dense] + config.bottom, last_sigmoid=False)
        self.top = _mlp([config.interaction_width] + config.top, last_sigmoid=True)
        self.tables = nn.ModuleList()
        for rows in config.table_rows:
            table = nn.EmbeddingBag(rows, config.dim, mode="sum", sparse=True)
            bound = (1.0 / rows) ** 0.5
            nn.init.uniform_(table.weight, -bound, bound)
            self.tables.append(table)
        f = config.num_features
        offset = 1 if config.interaction_itself else 0
        li = [i for i in range(f) for j in range(i + offset)]
        lj = [j for i in range(f) for j in range(i + offset)]
        self.register_buffer("li", torch.tensor(li, dtype=torch.long),
                             persistent=False)
        self.register_buffer("lj", torch.tensor(lj, dtype=torch.long),
                             persistent=False)

    def interact(self, x: torch.Tensor, ly: List[torch.Tensor]) -> torch.Tensor:
        batch, dim = x.shape
        t = torch.cat([x] + ly, dim=1).view((batch, -1, dim))
        z = torch.bmm(t, torch.transpose(t, 1, 2))
        zflat = z[:, self.li, self.lj]
        return torch.cat([x, zflat], dim=1)

    def forward(self, dense_x, offsets, *indices):
        x = self.bottom(dense_x)
        ly = [table(indices[k], offsets[k]) for k, table in enumerate(self.tables)]
        return self.top(self.interact(x, ly))


def load_kit_model(model_dir: str) -> Dlrm:
    """The trained model the kit saved in `model_dir` (meta.json's config,
    model.pt's weights), in eval mode."""
    with open(os.path.join(model_dir, "meta.json")) as f:
        config = DlrmConfig(**json.load(f)["config"])
    model = Dlrm(config)
    model.load_state_dict(torch.load(os.path.join(model_dir, "model.pt")))
    model.eval()
    return model


def input_names(config: DlrmConfig) -> List[str]:
    return ["dense_x", "offsets"] + [f"indices_{k}" for k in range(config.num_tables)]
