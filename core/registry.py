"""Name → backend factory: the one mechanism behind the embedder, reranker, generator and loader
registries. Real backends and test fakes register the same way.

Each entry says how its spec resolves: `model_role` set means the spec is a model spec (a bundled
name, a local path or a hub id) that `rag.models.resolve` turns into a folder for that role before
the factory sees it; `None` means the factory takes the spec as given (fakes, a server URL).
Factories are called as `factory(spec, **options)` with the registry's shared keyword options and
take what they use (`**_` for the rest), so the wiring never branches on backend names."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from core.errors import ModelError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    factory: Callable[..., T]
    model_role: str | None = None


class Registry(Generic[T]):
    """Backends of one kind (`embedder`, `reranker`, `generator`, `loader`), by name."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(
        self, *names: str, model_role: str | None = None
    ) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def deco(factory: Callable[..., T]) -> Callable[..., T]:
            for name in names:
                self._entries[name] = Entry(name, factory, model_role)
            return factory

        return deco

    def entry(self, backend: str) -> Entry[T]:
        try:
            return self._entries[backend]
        except KeyError:
            known = ", ".join(sorted(self._entries))
            raise ModelError(f"unknown {self.kind} backend {backend!r} (known: {known})") from None

    def get(self, backend: str) -> Entry[T] | None:
        return self._entries.get(backend)

    def make(self, backend: str, /, *args: Any, **kwargs: Any) -> T:
        return self.entry(backend).factory(*args, **kwargs)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def names(self) -> list[str]:
        return sorted(self._entries)
