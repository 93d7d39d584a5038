"""Name → backend factory, the one mechanism behind the embedder, reranker and generator registries.
Real backends and test fakes register the same way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from core.errors import ModelError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def deco(factory: Callable[..., T]) -> Callable[..., T]:
            self._factories[name] = factory
            return factory

        return deco

    def make(self, backend: str, /, *args: Any, **kwargs: Any) -> T:
        try:
            factory = self._factories[backend]
        except KeyError:
            known = ", ".join(sorted(self._factories))
            raise ModelError(f"unknown {self.kind} backend {backend!r} (known: {known})") from None
        return factory(*args, **kwargs)

    def __contains__(self, name: str) -> bool:
        return name in self._factories

    def names(self) -> list[str]:
        return sorted(self._factories)
