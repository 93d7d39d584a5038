from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import torch as torch_types


def test_int8_weight_linear_tracks_fp32_and_pickles() -> None:
    torch = pytest.importorskip("torch")
    from rag.quantize import Int8WeightLinear, quantize_weights_int8

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 8, bias=False))
    x = torch.randn(5, 3, 64)
    exact = model(x)
    quantize_weights_int8(model)
    assert [type(m) for m in model] == [Int8WeightLinear, torch.nn.ReLU, Int8WeightLinear]
    assert model[0].weight_int8.dtype == torch.int8
    got = model(x)
    assert got.shape == exact.shape and got.dtype == exact.dtype
    assert float((got - exact).detach().abs().max() / exact.detach().abs().max()) < 0.03
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    again = torch.load(buffer, weights_only=False)
    assert torch.equal(again(x), got)  # the cached model computes the same


def test_a_prompt_and_a_decoding_step_compute_the_same_product() -> None:
    """Many rows at once (reading a prompt) take the widened bf16 product, a few rows (decoding)
    the packed int8 kernel: the same row gets the same numbers either way, up to bf16 rounding."""
    torch = pytest.importorskip("torch")
    from rag.quantize import PREFILL_ROWS, Int8WeightLinear

    torch.manual_seed(0)
    exact = torch.nn.Linear(256, 96)
    layer = Int8WeightLinear(exact)
    x = torch.randn(PREFILL_ROWS + 3, 256)
    together = layer(x)
    one_by_one = torch.cat([layer(x[i : i + 1]) for i in range(len(x))])
    scale = float(together.abs().max())
    assert float((together - one_by_one).abs().max()) / scale < 0.01
    assert float((together - exact(x).detach()).abs().max()) / scale < 0.03


@pytest.mark.parametrize("native", [True, False])
def test_a_prompt_multiplies_in_bf16_only_where_the_cpu_has_it(
    monkeypatch: pytest.MonkeyPatch, native: bool
) -> None:
    """Without native bf16 (an AVX2 host) oneDNN emulates it, and the prompt's products took five
    times as long as in fp32: there the prompt is multiplied in fp32. Either way, the same numbers."""
    torch = pytest.importorskip("torch")
    import rag.quantize as q

    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    dtype, rows = q.prompt_path()
    assert dtype == (torch.bfloat16 if native else torch.float32) and rows >= 1
    monkeypatch.setattr(q, "PROMPT_DTYPE", dtype)
    monkeypatch.setattr(q, "PREFILL_ROWS", rows)
    seen: list[torch_types.dtype] = []
    linear = torch.nn.functional.linear

    def spy(x: Any, w: Any, b: Any = None) -> Any:
        seen.append(w.dtype)
        return linear(x, w, b)

    monkeypatch.setattr(torch.nn.functional, "linear", spy)
    torch.manual_seed(0)
    exact = torch.nn.Linear(256, 96)
    x = torch.randn(rows + 1, 256)
    got = q.Int8WeightLinear(exact)(x)
    assert seen == [dtype]
    scale = float(got.abs().max())
    assert float((got - exact(x).detach()).abs().max()) / scale < 0.03


def test_dynamic_int8_helper_quantizes_in_place() -> None:
    torch = pytest.importorskip("torch")
    from rag.quantize import quantize_dynamic_int8

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 32))
    x = torch.randn(4, 64)
    exact = model(x)
    assert quantize_dynamic_int8(model) is model and type(model[0]) is not torch.nn.Linear
    assert float((model(x) - exact).abs().max() / exact.abs().max()) < 0.05


def test_quantizing_from_half_precision_equals_quantizing_from_fp32() -> None:
    """The first run loads the checkpoint in its own half precision (no fp32 copy of the model in
    memory); the model it builds must compute exactly what the fp32-loaded one did."""
    import torch

    from rag.quantize import Fp32OutputEmbedding, float_rest, half_embeddings, quantize_weights_int8

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            # Multiples of 32: the shapes torch's packed int8 kernel takes (as real models have).
            self.embed = torch.nn.Embedding(96, 32)
            self.norm = torch.nn.LayerNorm(32)
            self.up = torch.nn.Linear(32, 64)
            self.head = torch.nn.Linear(64, 96, bias=False)
            self.register_buffer("table", torch.linspace(0, 1, 32))

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return self.head(torch.relu(self.up(self.norm(self.embed(ids) + self.table))))

    torch.manual_seed(0)
    half = Tiny().half()
    full = Tiny()
    full.load_state_dict({k: v.float() for k, v in half.state_dict().items()})
    ids = torch.randint(0, 96, (2, 7))
    with torch.no_grad():
        want = quantize_weights_int8(full)(ids)
        built = quantize_weights_int8(float_rest(half_embeddings(half)))
        got = built(ids)
    assert type(built.embed) is Fp32OutputEmbedding and built.embed.weight.dtype == torch.float16
    assert built.embed(ids).dtype == torch.float32  # what follows the lookup runs in fp32, as before
    assert built.norm.weight.dtype == torch.float32 and built.table.dtype == torch.float32
    assert got.dtype == torch.float32 and torch.equal(got, want)
    buffer = io.BytesIO()
    torch.save(built.embed, buffer)  # the int8 cache pickles the model: its classes must load back
    buffer.seek(0)
    with torch.no_grad():
        assert torch.equal(torch.load(buffer, weights_only=False)(ids), built.embed(ids))


def _q4_weight(torch: object, rows: int, cols: int, *, sparse_levels: bool = False) -> tuple:
    """A weight as a Q4_K GGUF tensor dequantizes to, stored in half precision: per group of 32,
    levels 0-15 times a step plus an offset. `sparse_levels`: groups with only three levels in use
    (0, 3 and 14), so the smallest gap between values is not one step."""
    import torch as t

    t.manual_seed(1)
    groups = cols // 32
    levels = t.randint(0, 16, (rows, groups, 32))
    if sparse_levels:
        levels = t.tensor([0, 3, 14])[t.randint(0, 3, (rows, groups, 32))]
        levels[..., 0], levels[..., 1], levels[..., 2] = 0, 3, 14
    step = t.rand(rows, groups, 1) * 0.01 + 0.001
    low = -step * t.randint(4, 12, (rows, groups, 1))
    weight = (low + levels * step).reshape(rows, cols).half()
    return weight, levels.reshape(rows, cols)


@pytest.mark.parametrize("sparse_levels", [False, True])
def test_a_4_bit_checkpoint_keeps_its_exact_levels(sparse_levels: bool) -> None:
    torch = pytest.importorskip("torch")
    from rag.quantize import four_bit_grid

    weight, _ = _q4_weight(torch, 48, 128, sparse_levels=sparse_levels)
    grid = four_bit_grid(weight)
    assert grid is not None
    levels, step, low = grid
    assert levels.dtype == torch.uint8 and int(levels.max()) <= 15
    rebuilt = (low[..., None] + levels.reshape(48, 4, 32).float() * step[..., None]).reshape(48, 128)
    # Exact up to the checkpoint's own half-precision rounding.
    assert float((rebuilt - weight.float()).abs().max()) <= float(weight.float().abs().max()) * 2e-3


def test_weights_not_on_a_4_bit_grid_are_never_rounded_to_4_bits() -> None:
    torch = pytest.importorskip("torch")
    from rag.quantize import four_bit_grid

    torch.manual_seed(0)
    assert four_bit_grid(torch.randn(16, 64)) is None  # a trained fp32 weight
    six_bit = (torch.randint(0, 64, (16, 64)).float() * 0.01 - 0.3).half()  # a Q6_K tensor
    assert four_bit_grid(six_bit) is None
    assert four_bit_grid(torch.randn(16, 48)) is None  # rows not in groups of 32


def test_int4_layers_compute_the_checkpoint_weights_on_prompts_and_decoding_steps() -> None:
    """A decoding step (the packed int4 kernel) and a prompt (levels widened to bf16) both compute
    with the checkpoint's weights; other Linears get int8; the model pickles (the cache)."""
    torch = pytest.importorskip("torch")
    from rag.quantize import (
        PREFILL_ROWS,
        Int4GridLinear,
        Int8WeightLinear,
        four_bit_grid,
        quantize_weights_int4,
    )

    weight, _ = _q4_weight(torch, 64, 128)
    on_grid = torch.nn.Linear(128, 64)
    with torch.no_grad():
        on_grid.weight.copy_(weight.float())
    model = torch.nn.Sequential(on_grid, torch.nn.ReLU(), torch.nn.Linear(64, 32))
    torch.manual_seed(2)
    x = torch.randn(PREFILL_ROWS + 2, 128)
    with torch.no_grad():
        exact = model(x)
        quantize_weights_int4(model)
        together = model(x)
        one_by_one = torch.cat([model(x[i : i + 1]) for i in range(len(x))])
    assert [type(m) for m in model] == [Int4GridLinear, torch.nn.ReLU, Int8WeightLinear]
    scale = float(exact.abs().max())
    assert float((together - exact).abs().max()) / scale < 0.02
    assert float((one_by_one - exact).abs().max()) / scale < 0.02
    first = model[0]
    # The prompt path's weight is the checkpoint's up to bf16 rounding of the step, the offset and
    # the result (the decoding kernel's arithmetic).
    step = four_bit_grid(weight)[1].repeat_interleave(32, dim=1)  # type: ignore[index]
    error = (first.widened().float() - weight.float()).abs()
    assert bool((error <= (weight.float().abs() + 8 * step) * 2**-7).all())
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    with torch.no_grad():
        assert torch.equal(torch.load(buffer, weights_only=False)(x[:1]), one_by_one[:1])


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps (Linux only)")
def test_released_checkpoint_pages_leave_the_process_and_read_back_intact(tmp_path: Path) -> None:
    """The first run quantizes from a memory-mapped checkpoint; each weight's pages are dropped
    once its layer is quantized. They must leave this process's memory, and a later read (a tied
    weight, a neighbour sharing a page) must still see the file's values."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    from rag.quantize import _checkpoint_maps, _release

    torch.manual_seed(0)
    big = torch.randn(4096, 2048).half()  # 16 MB
    neighbour = torch.arange(1000, dtype=torch.float32)
    save_file({"big": big, "neighbour": neighbour}, str(tmp_path / "model.safetensors"))
    with safe_open(str(tmp_path / "model.safetensors"), framework="pt") as f:
        mapped_big, mapped_neighbour = f.get_slice("big")[:], f.get_slice("neighbour")[:]
        maps = _checkpoint_maps()
        assert any(lo <= mapped_big.data_ptr() < hi for lo, hi in maps)
        assert torch.equal(mapped_big, big) and torch.equal(mapped_neighbour, neighbour)  # read: resident
        before = _rss_mb()
        _release(mapped_big, maps)
        assert before - _rss_mb() > 12  # most of the 16 MB left the process
        assert torch.equal(mapped_big, big) and torch.equal(mapped_neighbour, neighbour)


def test_anonymous_memory_is_never_released() -> None:
    """A weight that is not in a mapped checkpoint (loaded into memory, or built in code) keeps
    its values: madvise DONTNEED would zero anonymous pages."""
    import torch

    from rag.quantize import _checkpoint_maps, _release

    weight = torch.randn(1024, 1024)
    copy = weight.clone()
    _release(weight, _checkpoint_maps())
    assert torch.equal(weight, copy)
