"""Weight-only int8 for CPU inference: each Linear keeps its weights as int8 with one scale per
output channel and multiplies in bfloat16 through torch's packed int8 kernel (a prompt: in bf16
where the CPU has it, else in fp32); the activations are never rounded to int8. Dynamic int8
(`torch.ao.quantization.quantize_dynamic`) also rounds the activations at run time, and LLM activations have outliers: on the same prompts it lost facts that
fp32 kept (README, "Answer quality: where the facts were lost"). Imported only by the generator
that uses it (torch is heavy)."""

from __future__ import annotations

import ctypes
import mmap
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

_ROWS = 8192


def native_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (AVX-512 BF16 or AMX). Without it (an AVX2
    host) oneDNN emulates bf16, and a prompt's bf16 product took five times as long as the same
    product in fp32 (README, "Generators")."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # a torch without these probes: fp32 is right on every CPU
        return False


def prompt_path() -> tuple[torch.dtype, int]:
    """A prompt's (many rows') product dtype: bf16 where the CPU has it, else fp32; and from how
    many rows at once the widened product beats the packed int8 kernel. Widening a weight to fp32
    costs more than to bf16, so without native bf16 the kernel keeps more rows."""
    return (torch.bfloat16, 48) if native_bf16() else (torch.float32, 160)


# Read at run time, not pickled: a cached model takes the right path on whichever host loads it.
PROMPT_DTYPE, PREFILL_ROWS = prompt_path()


class WeightOnlyLinear(torch.nn.Module):
    """A drop-in replacement for one `torch.nn.Linear` with quantized weights
    (module-level, so a quantized model pickles). A prompt (many rows) and a decoding step (a few)
    take different paths, each the faster for its shape (README, "Generators")."""

    def __init__(self, source: torch.nn.Linear) -> None:
        super().__init__()
        bias = source.bias.detach().float() if source.bias is not None else None
        self.bias = torch.nn.Parameter(bias, requires_grad=False) if bias is not None else None
        self.out_features = source.out_features

    def _prompt(self, flat: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _step(self, flat: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1])
        if flat.shape[0] >= PREFILL_ROWS:
            product = self._prompt(flat.to(PROMPT_DTYPE))
        else:
            product = self._step(flat.to(torch.bfloat16))
        out = product.to(x.dtype)
        if self.bias is not None:
            out = out + self.bias.to(x.dtype)
        return out.reshape(*x.shape[:-1], self.out_features)


class Int8WeightLinear(WeightOnlyLinear):
    """int8 weights, one scale per output channel."""

    def __init__(self, source: torch.nn.Linear) -> None:
        super().__init__(source)
        weight = source.weight.detach()
        rows = weight.shape[0]
        quantized = torch.empty(weight.shape, dtype=torch.int8)
        scale = torch.empty(rows, dtype=torch.float32)
        # A block of rows at a time: the output layer alone is ~1 GB in fp32, and its fp32 copy,
        # quotient and rounding at once were the first run's peak memory.
        for start in range(0, rows, _ROWS):
            block = weight[start : start + _ROWS].float()
            block_scale = block.abs().amax(dim=1).clamp(min=1e-8) / 127.0
            quantized[start : start + _ROWS] = torch.round(block / block_scale[:, None]).to(torch.int8)
            scale[start : start + _ROWS] = block_scale
        self.weight_int8 = torch.nn.Parameter(quantized, requires_grad=False)
        self.scale = torch.nn.Parameter(scale.to(torch.bfloat16), requires_grad=False)

    def _prompt(self, flat: torch.Tensor) -> torch.Tensor:
        # The packed kernel is built for a few rows; a matrix product over the int8 values widened
        # to the prompt's dtype (exact: |q| <= 127), scaled after, is the same arithmetic several
        # times faster on a prompt.
        wide = torch.nn.functional.linear(flat, self.weight_int8.to(flat.dtype))
        return wide.float() * self.scale.float()

    def _step(self, flat: torch.Tensor) -> torch.Tensor:
        return torch._weight_int8pack_mm(flat, self.weight_int8, self.scale)


GROUP = 32  # a Q4_K block's sub-block: one scale and one offset per 32 weights


def four_bit_grid(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """The weight as 4-bit levels, when every group of 32 consecutive weights in a row takes at
    most 16 evenly spaced values (a Q4_K GGUF tensor, dequantized): (levels 0-15 as uint8, step
    and lowest value per group, fp32), so that weight = low + level * step up to the checkpoint's
    half-precision rounding. None when any group is off such a grid (Q6_K, Q8_0, a trained fp32
    weight): nothing is ever rounded to 4 bits that was not 4-bit already."""
    rows, cols = weight.shape
    if cols % GROUP:
        return None
    levels = torch.empty((rows, cols), dtype=torch.uint8)
    steps = torch.empty((rows, cols // GROUP), dtype=torch.float32)
    lows = torch.empty((rows, cols // GROUP), dtype=torch.float32)
    for start in range(0, rows, _ROWS):
        groups = weight[start : start + _ROWS].float().reshape(-1, cols // GROUP, GROUP)
        low = groups.amin(-1, keepdim=True)
        span = groups.amax(-1, keepdim=True) - low
        gaps = groups.sort(-1).values.diff(dim=-1)
        # Usually the smallest gap between distinct values (half-precision noise aside) is one step
        # (or a whole number of them, still an exact grid); the few groups where it is not are
        # tried against every step count.
        distinct = gaps > span * 0.01
        if int(distinct.sum(-1).max()) > 15:
            return None  # a group with more than 16 values: not 4-bit
        gap = torch.where(distinct, gaps, torch.inf).amin(-1, keepdim=True)
        count = torch.where(torch.isfinite(gap), torch.round(span / gap), 1.0).clamp(1, 15)
        step, level, fits = _on_grid(groups, low, span, count)
        if not bool(fits.all()):
            misfit = ~fits
            found = _search_grid(groups[misfit], low[misfit], span[misfit])
            if found is None:
                return None
            step[misfit], level[misfit] = found
        levels[start : start + _ROWS] = level.reshape(-1, cols).to(torch.uint8)
        steps[start : start + _ROWS] = step.squeeze(-1)
        lows[start : start + _ROWS] = low.squeeze(-1)
    return levels, steps, lows


def _on_grid(
    groups: torch.Tensor, low: torch.Tensor, span: torch.Tensor, count: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Step and levels for `count` steps across each group's span, and which groups they fit."""
    step = span / count
    level = torch.round((groups - low) / step.clamp(min=1e-30))
    close = (low + level * step - groups).abs() <= 0.02 * step + 1e-7
    return step, level, close.all(-1) & (level.amax(-1) <= 15)


def _search_grid(
    groups: torch.Tensor, low: torch.Tensor, span: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The fewest steps (1-15) that put every value of each group on a grid, or None."""
    step = torch.zeros_like(low)
    level = torch.zeros_like(groups)
    done = torch.zeros(groups.shape[0], dtype=torch.bool)
    for count in range(1, 16):
        trial_step, trial_level, fits = _on_grid(groups, low, span, torch.full_like(low, count))
        new = fits & ~done
        step[new], level[new] = trial_step[new], trial_level[new]
        done |= new
    return (step, level) if bool(done.all()) else None


class Int4GridLinear(WeightOnlyLinear):
    """A Linear whose weights were 4-bit in the checkpoint, kept at exactly those levels (no extra
    rounding): half the bytes of int8 to read per generated token, which is what decoding waits
    for. Decoding uses torch's packed int4 kernel; a prompt widens the levels (PROMPT_DTYPE) and runs
    one matrix product, which is twice as fast as the kernel on hundreds of rows."""

    def __init__(
        self, source: torch.nn.Linear, grid: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    ) -> None:
        super().__init__(source)
        levels, step, low = grid
        self.in_features = levels.shape[1]
        packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(levels.to(torch.int32), 1)
        self.packed = torch.nn.Parameter(packed, requires_grad=False)
        # The kernel's layout is its own; a plain two-levels-per-byte copy serves the prompt path.
        self.nibbles = torch.nn.Parameter(levels[:, 0::2] | (levels[:, 1::2] << 4), requires_grad=False)
        # The kernel computes (level - 8) * step + zero per group.
        zero = low + 8 * step
        scales_zeros = torch.stack([step, zero], dim=-1).transpose(0, 1).contiguous()
        self.scales_zeros = torch.nn.Parameter(scales_zeros.to(torch.bfloat16), requires_grad=False)

    def widened(self, dtype: torch.dtype = torch.bfloat16) -> torch.Tensor:
        """The weight, computed as the decoding kernel does ((level - 8) * step + zero, in bf16 by
        default): the same weights on both paths. In fp32 this took half as long as the product."""
        levels = torch.stack([self.nibbles & 15, self.nibbles >> 4], dim=-1)
        levels = levels.reshape(self.out_features, -1, GROUP).to(dtype) - 8
        step, zero = self.scales_zeros.to(dtype).transpose(0, 1).unsqueeze(-2).unbind(-1)
        return (levels * step + zero).reshape(self.out_features, self.in_features)

    def _prompt(self, flat: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.linear(flat, self.widened(flat.dtype))

    def _step(self, flat: torch.Tensor) -> torch.Tensor:
        return torch.ops.aten._weight_int4pack_mm_for_cpu(flat, self.packed, GROUP, self.scales_zeros)


def quantize_weights_int4(model: Any) -> Any:
    """Like `quantize_weights_int8`, but a Linear whose weights lie on a 4-bit grid (a Q4_K GGUF
    tensor) keeps those 4-bit levels; every other Linear gets int8 weights."""

    def replace(layer: torch.nn.Linear) -> torch.nn.Module:
        grid = four_bit_grid(layer.weight.detach())
        return Int4GridLinear(layer, grid) if grid is not None else Int8WeightLinear(layer)

    return _replace_linears(model, replace)


def quantize_weights_int8(model: Any) -> Any:
    """Replace every Linear in `model` in place with int8 weights, and return it."""
    return _replace_linears(model, Int8WeightLinear)


def _replace_linears(model: Any, replace: Callable[[torch.nn.Linear], torch.nn.Module]) -> Any:
    """Every Linear replaced in place, one at a time. A checkpoint loaded memory-mapped keeps each
    half-precision weight's pages resident once read, so each is released after its layer is
    quantized: peak memory stays near the quantized model's size."""
    mapped = _checkpoint_maps()
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, torch.nn.Linear):
                setattr(parent, name, replace(child))
                _release(child.weight, mapped)
    return model


def _checkpoint_maps() -> list[tuple[int, int]]:
    """Address ranges where this process maps a .safetensors file (Linux; elsewhere none)."""
    try:
        lines = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return []
    ranges = []
    for line in lines:
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5].endswith(".safetensors"):
            start, end = (int(x, 16) for x in fields[0].split("-"))
            ranges.append((start, end))
    return ranges


def _release(tensor: torch.Tensor, mapped: list[tuple[int, int]]) -> None:
    """Drop the pages of a weight that lies in a mapped checkpoint file from this process
    (madvise DONTNEED). Only file-backed, never-written pages qualify: a later read, even of a
    neighbouring tensor that shares a page, fetches them from the file again. Anonymous memory is
    never touched (there DONTNEED would zero it)."""
    start = tensor.data_ptr()
    end = start + tensor.numel() * tensor.element_size()
    span = next(((lo, hi) for lo, hi in mapped if lo <= start and end <= hi), None)
    if span is None or not sys.platform.startswith("linux"):
        return
    first = start - start % mmap.PAGESIZE
    length = min(end - first, span[1] - first)
    ctypes.CDLL(None).madvise(ctypes.c_void_p(first), ctypes.c_size_t(length), mmap.MADV_DONTNEED)


class Fp32OutputEmbedding(torch.nn.Embedding):
    """An embedding table kept in half precision whose rows come out in fp32: a lookup only copies
    values, so this equals the fp32 table, in half the memory."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return super().forward(input).float()


def half_embeddings(model: Any) -> Any:
    """Half-precision embedding tables become `Fp32OutputEmbedding`, copied out of the checkpoint's
    memory map (so the map is released once the layers are quantized), in place."""
    mapped = _checkpoint_maps()
    for module in model.modules():
        if type(module) is torch.nn.Embedding and module.weight.dtype in (torch.float16, torch.bfloat16):
            source = module.weight
            module.weight = torch.nn.Parameter(source.detach().clone(), requires_grad=False)
            module.__class__ = Fp32OutputEmbedding
            _release(source, mapped)
    return model


def float_rest(model: Any, dtype: torch.dtype = torch.float32) -> Any:
    """Every floating parameter and buffer outside the Linear layers (embeddings, norms, rotary
    tables) in `dtype`, in place. A model loaded in its checkpoint's half precision, passed through
    this and then quantized equals one loaded in fp32 and quantized, without ever holding the fp32
    copy of the whole model (the first run's peak memory). Called first, so that the half-precision
    pages the layers are quantized from are not resident at the same time as the fp32 copies."""
    for module in model.modules():
        if isinstance(module, (WeightOnlyLinear, torch.nn.Linear, Fp32OutputEmbedding)):
            continue  # quantized (or to be: called first, no Linear is copied), or kept in half
        for tensors in (module._parameters, module._buffers):
            for name, tensor in tensors.items():
                if tensor is not None and tensor.is_floating_point() and tensor.dtype != dtype:
                    converted = tensor.detach().to(dtype)
                    if isinstance(tensor, torch.nn.Parameter):
                        converted = torch.nn.Parameter(converted, requires_grad=tensor.requires_grad)
                    tensors[name] = converted
    if hasattr(model, "config"):
        model.config.dtype = dtype
    return model


def quantize_dynamic_int8(model: Any) -> Any:
    """int8 weights and int8 activations at run time (torch's dynamic quantization), in place: a
    copy of the fp32 model would double peak memory. Per-channel weight scales: per-tensor ones
    derailed Spanish answers. The reranker runs this way; for the generator it lost facts."""
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    return quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, inplace=True)
