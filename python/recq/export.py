"""ONNX export with torch.onnx.export (nn.EmbeddingBag becomes the real Loop
form) and the .npz files recq reads: inputs under the ONNX input names,
labels, and the torch fp32 reference output."""

import warnings

import numpy as np
import onnx
import torch

from .data import Samples
from .model import Dlrm, input_names
from .train import predict, to_torch


def export_module(module: torch.nn.Module, args, path, names, opset: int = 13) -> None:
    """Any module (the tests' and benches' small bag models) with input
    `names` whose first dimension is dynamic and one output `y`, torch's
    export warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, tuple(args), str(path), input_names=list(names),
                          output_names=["y"], opset_version=opset,
                          dynamic_axes={n: {0: "n"} for n in names})


def export_onnx(model: Dlrm, sample: Samples, path: str, opset: int = 13) -> None:
    if not 11 <= opset <= 17:
        raise ValueError(f"opset {opset} is outside the supported 11..17")
    names = input_names(model.config)
    axes = {"dense_x": {0: "batch"}, "offsets": {1: "batch"},
            "probability": {0: "batch"}}
    axes.update({f"indices_{k}": {0: f"lookups_{k}"}
                 for k in range(model.config.num_tables)})
    model.eval()
    with torch.no_grad(), warnings.catch_warnings():
        # The interaction's triangle indices are non-negative constants, the
        # case torch's warning about advanced indexing does not concern.
        warnings.filterwarnings("ignore", message="Exporting aten::index")
        torch.onnx.export(model, to_torch(sample), path, input_names=names,
                          output_names=["probability"], dynamic_axes=axes,
                          opset_version=opset, do_constant_folding=True)
    onnx.checker.check_model(path)


def save_npz(path: str, model: Dlrm, samples: Samples) -> None:
    """Inputs under their ONNX names, `labels` [N] and `reference` [N, 1]."""
    arrays = dict(samples.inputs())
    arrays["labels"] = samples.labels
    arrays["reference"] = predict(model, samples).astype(np.float32)
    np.savez(path, **arrays)
