from __future__ import annotations

import io

import pytest


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
