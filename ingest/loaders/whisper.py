"""Whisper-style JSON transcripts: {"language": ..., "segments": [{"start", "end", "text", "speaker"?}]}."""

from __future__ import annotations

import json
from pathlib import Path

from core.errors import InputError
from core.types import Document, MetaValue, Unit
from ingest.loaders.base import LoadOptions, read_text, register


@register(".json")
def load_whisper(path: Path, options: LoadOptions) -> Document:
    text, warnings = read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg} at line {exc.lineno}") from None
    segments = data.get("segments") if isinstance(data, dict) else None
    if not isinstance(segments, list):
        raise InputError("JSON without a 'segments' list (only Whisper-style transcripts are read)")
    units = []
    offset = 0
    for seg in segments:
        if not isinstance(seg, dict) or not str(seg.get("text", "")).strip():
            continue
        body = str(seg["text"]).strip()
        speaker = seg.get("speaker")
        units.append(
            Unit(
                f"{speaker}: {body}" if speaker else body,
                offset,
                offset + len(body),
                start_s=float(seg.get("start") or 0.0),
                end_s=float(seg.get("end") or seg.get("start") or 0.0),
                speaker=str(speaker) if speaker else None,
            )
        )
        offset += len(body) + 1
    meta: dict[str, MetaValue] = {}
    if isinstance(data.get("language"), str):
        meta["language"] = data["language"]
    return Document(str(path), "transcript", units, meta, warnings)
