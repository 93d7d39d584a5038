"""Walk a folder (or take one file) and sort what is found into candidates and problems.
Follows symlinks but never loops; hidden entries and metadata files are not documents."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ingest.loaders import loader_for
from ingest.metadata import is_metadata_file


@dataclass
class Found:
    files: list[Path] = field(default_factory=list)
    unsupported: list[Path] = field(default_factory=list)
    problems: list[tuple[Path, str]] = field(default_factory=list)


def discover(root: Path) -> Found:
    found = Found()
    if root.is_file():
        (found.files if loader_for(root) else found.unsupported).append(root)
        return found
    seen: set[tuple[int, int]] = set()

    def on_error(err: OSError) -> None:
        reason = "permission denied" if isinstance(err, PermissionError) else (err.strerror or str(err))
        found.problems.append((Path(err.filename or root), reason))

    for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=on_error):
        here = Path(dirpath)
        try:
            st = here.stat()
        except OSError as exc:
            found.problems.append((here, exc.strerror or str(exc)))
            dirnames[:] = []
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            found.problems.append((here, "symlink loop (folder already visited)"))
            dirnames[:] = []
            continue
        seen.add(key)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = here / name
            if is_metadata_file(path):
                continue
            if not path.exists():
                found.problems.append((path, "broken symlink"))
            elif loader_for(path) is None:
                found.unsupported.append(path)
            else:
                found.files.append(path)
    return found
