"""PyTorch's static int8 of a model kit DLRM: the peer recq's int8 FCs are
compared with.

Both MLPs are quantized with torch.ao's eager-mode static quantization on
the oneDNN engine (the x86 engine Debian's torch 1.13 has): Linear+ReLU
fused, u8 activations observed on the calibration set (histogram observer,
per-tensor), s8 per-channel weights -- the same scheme recq's int8 FCs use.
The tables and the dot interaction stay fp32, as in PyTorch's DLRM int8
recipe.
"""

import copy

import torch
from torch import nn
from torch.ao import quantization as tq

from .data import Samples
from .model import Dlrm
from .train import to_torch


def _quantizable(mlp: nn.Sequential) -> nn.Sequential:
    """QuantStub, the MLP with each Linear+ReLU fused, DeQuantStub; a
    trailing Sigmoid runs in fp32 after the DeQuantStub."""
    layers = list(mlp)
    tail = []
    if layers and isinstance(layers[-1], nn.Sigmoid):
        tail = [layers.pop()]
    body = nn.Sequential(*layers)
    pairs = [[str(i), str(i + 1)] for i in range(len(layers) - 1)
             if isinstance(layers[i], nn.Linear) and isinstance(layers[i + 1], nn.ReLU)]
    body.eval()
    if pairs:
        body = tq.fuse_modules(body, pairs)
    return nn.Sequential(tq.QuantStub(), body, tq.DeQuantStub(), *tail)


def static_int8(model: Dlrm, calibration: Samples, batch: int = 1024) -> Dlrm:
    """A copy of `model` with both MLPs in static int8, calibrated on
    `calibration` (run in batches of `batch`)."""
    torch.backends.quantized.engine = "onednn"
    qmodel = copy.deepcopy(model).eval()
    qmodel.bottom = _quantizable(qmodel.bottom)
    qmodel.top = _quantizable(qmodel.top)
    qconfig = tq.get_default_qconfig("onednn")
    for mlp in (qmodel.bottom, qmodel.top):
        mlp.qconfig = qconfig
        tq.prepare(mlp, inplace=True)
    with torch.no_grad():
        for start in range(0, len(calibration), batch):
            qmodel(*to_torch(calibration.slice(start, min(start + batch, len(calibration)))))
    for mlp in (qmodel.bottom, qmodel.top):
        tq.convert(mlp, inplace=True)
    return qmodel
