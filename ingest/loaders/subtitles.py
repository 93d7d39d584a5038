"""SubRip (.srt) and WebVTT (.vtt): one unit per cue with its start and end time."""

from __future__ import annotations

import re
from pathlib import Path

from core.errors import InputError
from core.text import clock_seconds
from core.types import Document, Unit
from ingest.loaders.base import LoadOptions, read_text, register

_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})"
_CUE_TIMES = re.compile(rf"{_TIME}\s*-->\s*{_TIME}")
_VOICE = re.compile(r"<v(?:\.[\w.-]+)?\s+([^>]+)>")
_TAG = re.compile(r"<[^>]+>")
_SPEAKER_PREFIX = re.compile(r"^(?:-\s*)?([A-ZÁÉÍÓÚÑ][\w.'’ -]{0,40}?):\s+")


@register(".srt", ".vtt")
def load_subtitles(path: Path, options: LoadOptions) -> Document:
    text, warnings = read_text(path)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    is_vtt = path.suffix.lower() == ".vtt"
    if is_vtt and not text.lstrip().startswith("WEBVTT"):
        warnings.append("missing WEBVTT header")
    units: list[Unit] = []
    speaker: str | None = None
    pos = 0
    for block in re.split(r"\n[ \t]*\n", text):
        start = text.find(block, pos)
        pos = start + len(block)
        lines = [ln for ln in block.split("\n") if ln.strip()]
        idx = next((i for i, ln in enumerate(lines) if _CUE_TIMES.search(ln)), None)
        if idx is None:
            continue  # header, NOTE, STYLE or a cue number alone
        m = _CUE_TIMES.search(lines[idx])
        assert m is not None
        t0 = clock_seconds(*m.groups()[:4])
        t1 = clock_seconds(*m.groups()[4:])
        body = " ".join(lines[idx + 1 :])
        voice = _VOICE.search(body)
        if voice:
            speaker = voice.group(1).strip()
        body = _TAG.sub("", body).strip()
        prefix = _SPEAKER_PREFIX.match(body)
        if prefix and not voice:
            speaker = prefix.group(1).strip()
        if body:
            shown = f"{speaker}: {body}" if voice and speaker else body
            units.append(Unit(shown, start, pos, start_s=t0, end_s=t1, speaker=speaker))
    if not units and text.strip():
        raise InputError("no subtitle cues found")
    return Document(str(path), "subtitles", units, {}, warnings)
