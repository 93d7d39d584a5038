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
    assert float((got - exact).abs().max() / exact.abs().max()) < 0.03
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    again = torch.load(buffer, weights_only=False)
    assert torch.equal(again(x), got)  # the cached model computes the same


def test_dynamic_int8_helper_quantizes_in_place() -> None:
    torch = pytest.importorskip("torch")
    from rag.quantize import quantize_dynamic_int8

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 32))
    x = torch.randn(4, 64)
    exact = model(x)
    assert quantize_dynamic_int8(model) is model and type(model[0]) is not torch.nn.Linear
    assert float((model(x) - exact).abs().max() / exact.abs().max()) < 0.05
