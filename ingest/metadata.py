"""Talk/document metadata from outside the file: a sidecar next to it (`talk.srt` + `talk.meta.yaml`)
or a folder-level `metadata.yaml` (defaults for the folder, plus a `files:` mapping per file name).

Precedence, weakest first: folder defaults < folder `files:` entry < what the file says itself
(front-matter, PDF info) < sidecar.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from core.errors import InputError
from core.types import MetaValue

FOLDER_FILES = ("metadata.yaml", "metadata.yml", "metadata.json")
SIDECAR_SUFFIXES = (".meta.yaml", ".meta.yml", ".meta.json")


def is_metadata_file(path: Path) -> bool:
    name = path.name.lower()
    return name in FOLDER_FILES or name.endswith(SIDECAR_SUFFIXES)


def sidecar_for(path: Path) -> Path | None:
    for suffix in SIDECAR_SUFFIXES:
        candidate = path.with_name(path.stem + suffix)
        if candidate.is_file():
            return candidate
        candidate = path.with_name(path.name + suffix)
        if candidate.is_file():
            return candidate
    return None


# One `key: value` a line, nothing nested: what people type into a sidecar or front-matter.
_FLAT_LINE = re.compile(r"^(?P<key>[A-Za-z_][\w-]*)[ \t]*:[ \t]+(?P<value>\S.*?)[ \t]*$")


def load_yaml(raw: str) -> object:
    """YAML text → its value. Text that is not YAML only because a value holds ": " ("title: Clase 7:
    historia de Internet", which YAML reads as a nested mapping and refuses) but is otherwise one
    `key: value` a line is read that way, each value a string. Otherwise ValueError, naming the
    line."""
    import yaml

    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        lines = [ln for ln in raw.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        flat = [_FLAT_LINE.match(ln) for ln in lines]
        if lines and all(flat):
            return {m.group("key"): re.sub(r"\s+#.*", "", m.group("value")) for m in flat if m}
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ValueError(f"{where}{problem}") from None


def _read_mapping(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_text(encoding="utf-8")
        data = json.loads(raw) if path.suffix == ".json" else load_yaml(raw)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"metadata file {path.name}: {str(exc).splitlines()[0]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"metadata file {path.name} is not a mapping")
    return data


def _scalars(data: dict[str, Any]) -> dict[str, MetaValue]:
    out: dict[str, MetaValue] = {}
    for key, value in data.items():
        if isinstance(value, (str, int, float, bool)):
            out[str(key)] = value
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            out[str(key)] = ", ".join(value)
        elif value is not None and not isinstance(value, (dict, list)):
            out[str(key)] = str(value)  # dates
    return out


def external_metadata(path: Path) -> tuple[dict[str, MetaValue], dict[str, MetaValue], list[Path]]:
    """Metadata for `path` from outside it: (folder-level, sidecar, files read)."""
    folder: dict[str, MetaValue] = {}
    used: list[Path] = []
    for name in FOLDER_FILES:
        candidate = path.parent / name
        if candidate.is_file():
            data = _read_mapping(candidate)
            folder.update(_scalars({k: v for k, v in data.items() if k != "files"}))
            per_file = data.get("files")
            if isinstance(per_file, dict) and isinstance(per_file.get(path.name), dict):
                folder.update(_scalars(per_file[path.name]))
            used.append(candidate)
            break
    sidecar: dict[str, MetaValue] = {}
    side = sidecar_for(path)
    if side is not None:
        sidecar = _scalars(_read_mapping(side))
        used.append(side)
    return folder, sidecar, used
