"""One writer per collection: a second ingest on the same collection is refused, not interleaved."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from core.errors import StoreError


class CollectionLock:
    def __init__(self, folder: Path, collection: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{collection}.lock"
        self._fd: int | None = None

    def __enter__(self) -> CollectionLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise StoreError(
                f"another ingest is writing collection {self.path.stem!r} (pid {holder}); wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
