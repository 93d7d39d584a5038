"""Weight-only int8 for CPU inference: each Linear keeps its weights as int8 with one scale per
output channel, and multiplies in bfloat16 through torch's packed int8 kernel; the activations are
never quantized. Dynamic int8 (`torch.ao.quantization.quantize_dynamic`) also rounds activations
to int8 at run time, and LLM activations have outliers: on the same prompts it lost facts that
fp32 kept (README, "Answer quality by generator precision")."""

from __future__ import annotations

from typing import Any


def int8_weight_linear(linear: Any) -> Any:
    """A drop-in replacement for one `torch.nn.Linear`."""
    import torch

    class Int8WeightLinear(torch.nn.Module):
        def __init__(self, source: torch.nn.Linear) -> None:
            super().__init__()
            weight = source.weight.detach().float()
            scale = weight.abs().amax(dim=1).clamp(min=1e-8) / 127.0
            self.weight_int8: torch.Tensor = torch.round(weight / scale[:, None]).to(torch.int8)
            self.scale: torch.Tensor = scale.to(torch.bfloat16)
            self.bias: torch.Tensor | None = source.bias.detach().float() if source.bias is not None else None
            self.out_features = source.out_features

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            flat = x.reshape(-1, x.shape[-1]).to(torch.bfloat16)
            out = torch._weight_int8pack_mm(flat, self.weight_int8, self.scale).to(x.dtype)
            if self.bias is not None:
                out = out + self.bias.to(x.dtype)
            return out.reshape(*x.shape[:-1], self.out_features)

    return Int8WeightLinear(linear)


def quantize_weights_int8(model: Any) -> Any:
    """Replace every Linear in `model` (in place, one at a time, so peak memory stays near the
    model's own size) and return it."""
    import torch

    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, torch.nn.Linear):
                setattr(parent, name, int8_weight_linear(child))
                del child
    return model
