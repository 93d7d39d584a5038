"""SubRip (.srt) and WebVTT (.vtt): one unit per cue with its start and end time."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from core.errors import InputError
from core.text import clock_seconds
from core.types import Document, Unit
from ingest.loaders.base import LoadOptions, read_text, register

_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})"
_CUE_TIMES = re.compile(rf"{_TIME}\s*-->\s*{_TIME}")
_VOICE = re.compile(r"<v(?:\.[\w.-]+)?\s+([^>]+)>")
_TAG = re.compile(r"<[^>]+>")
_SPEAKER_PREFIX = re.compile(r"^(?:-\s*)?([^:\n]{1,40}?):\s+")
# A label read as a speaker: a name (one to three capitalised words, an optional title), not a
# sentence that happens to end in a colon ("Un dato importante para el examen: …").
_NAME = re.compile(
    r"^(?:(?:Dr|Dra|Prof|Profa|Sr|Sra|Mr|Mrs|Ms)\.\s)?[A-ZÁÉÍÓÚÑ][\wáéíóúñü'’-]*"
    r"(?:\s[A-ZÁÉÍÓÚÑ][\wáéíóúñü'’-]*){0,2}$"
)
_MIN_LABEL_USES = 2  # a guessed speaker must open at least this many cues


@register(".srt", ".vtt")
def load_subtitles(path: Path, options: LoadOptions) -> Document:
    text, warnings = read_text(path)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    is_vtt = path.suffix.lower() == ".vtt"
    if is_vtt and not text.lstrip().startswith("WEBVTT"):
        warnings.append("missing WEBVTT header")
    cues, skipped = _cues(text)
    labels = Counter(m.group(1).strip() for _, _, _, _, body in cues if (m := _SPEAKER_PREFIX.match(body)))
    names = {label for label, n in labels.items() if n >= _MIN_LABEL_USES and _NAME.match(label)}
    units: list[Unit] = []
    speaker: str | None = None
    guessed = False
    for start, end, t0, t1, body in cues:
        voice = _VOICE.search(body)
        if voice:
            speaker, guessed = voice.group(1).strip(), False
        body = _TAG.sub("", body).strip()
        prefix = _SPEAKER_PREFIX.match(body)
        if prefix and not voice and prefix.group(1).strip() in names:
            speaker, guessed = prefix.group(1).strip(), True
        if body:
            shown = f"{speaker}: {body}" if voice and speaker else body
            units.append(
                Unit(shown, start, end, start_s=t0, end_s=t1, speaker=speaker, speaker_guessed=guessed)
            )
    if skipped:
        shown_skips = "; ".join(skipped[:5]) + (f"; and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        warnings.append(f"{len(skipped)} cue(s) skipped: {shown_skips}")
    if not units and text.strip():
        raise InputError("no subtitle cues found")
    return Document(str(path), "subtitles", units, {}, warnings)


_HEADERS = ("WEBVTT", "NOTE", "STYLE", "REGION")


def _cues(text: str) -> tuple[list[tuple[int, int, float, float, str]], list[str]]:
    """(start char, end char, start s, end s, body) per readable cue, and why each other cue was
    skipped: no readable time line, an impossible time (minutes or seconds over 59), or an end
    before its start. Header blocks and cue numbers alone are not cues."""
    cues: list[tuple[int, int, float, float, str]] = []
    skipped: list[str] = []
    pos = 0
    for block in re.split(r"\n[ \t]*\n", text):
        start = text.find(block, pos)
        pos = start + len(block)
        lines = [ln for ln in block.split("\n") if ln.strip()]
        line_no = text.count("\n", 0, start) + 1 + (len(block) - len(block.lstrip("\n")))
        if (
            not lines
            or lines[0].strip().startswith(_HEADERS)
            or (len(lines) == 1 and lines[0].strip().isdigit())
        ):
            continue
        idx = next((i for i, ln in enumerate(lines) if _CUE_TIMES.search(ln)), None)
        if idx is None:
            skipped.append(f"line {line_no}: no readable time line")
            continue
        m = _CUE_TIMES.search(lines[idx])
        assert m is not None
        fields = m.groups()
        if any(int(v) > 59 for v in (fields[1], fields[2], fields[5], fields[6])):
            skipped.append(f"line {line_no}: impossible time {m.group(0)!r}")
            continue
        t0, t1 = clock_seconds(*fields[:4]), clock_seconds(*fields[4:])
        if t1 < t0:
            skipped.append(f"line {line_no}: ends before it starts ({m.group(0)!r})")
            continue
        cues.append((start, pos, t0, t1, " ".join(lines[idx + 1 :])))
    return cues, skipped
