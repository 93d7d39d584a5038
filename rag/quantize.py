"""Weight-only int8 for CPU inference: each Linear keeps its weights as int8 with one scale per
output channel and multiplies in bfloat16 through torch's packed int8 kernel; the activations are
never rounded to int8. Dynamic int8 (`torch.ao.quantization.quantize_dynamic`) also rounds the
activations at run time, and LLM activations have outliers: on the same prompts it lost facts that
fp32 kept (README, "Answer quality: where the facts were lost"). Imported only by the generator
that uses it (torch is heavy)."""

from __future__ import annotations

from typing import Any

import torch


class Int8WeightLinear(torch.nn.Module):
    """A drop-in replacement for one `torch.nn.Linear` (module-level, so a quantized model pickles)."""

    def __init__(self, source: torch.nn.Linear) -> None:
        super().__init__()
        weight = source.weight.detach().float()
        scale = weight.abs().amax(dim=1).clamp(min=1e-8) / 127.0
        self.weight_int8 = torch.nn.Parameter(
            torch.round(weight / scale[:, None]).to(torch.int8), requires_grad=False
        )
        self.scale = torch.nn.Parameter(scale.to(torch.bfloat16), requires_grad=False)
        bias = source.bias.detach().float() if source.bias is not None else None
        self.bias = torch.nn.Parameter(bias, requires_grad=False) if bias is not None else None
        self.out_features = source.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1]).to(torch.bfloat16)
        out = torch._weight_int8pack_mm(flat, self.weight_int8, self.scale).to(x.dtype)
        if self.bias is not None:
            out = out + self.bias.to(x.dtype)
        return out.reshape(*x.shape[:-1], self.out_features)


def quantize_weights_int8(model: Any) -> Any:
    """Replace every Linear in `model` in place, one at a time (peak memory stays near the
    model's own size), and return it."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, torch.nn.Linear):
                setattr(parent, name, Int8WeightLinear(child))
    return model


def quantize_dynamic_int8(model: Any) -> Any:
    """int8 weights and int8 activations at run time (torch's dynamic quantization), in place: a
    copy of the fp32 model would double peak memory. Per-channel weight scales: per-tensor ones
    derailed Spanish answers. The reranker runs this way; for the generator it lost facts."""
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    return quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, inplace=True)
