"""Transcripts written as text: `**Speaker:** words` or `Speaker: words` turns and inline
timestamps such as `[00:04:01]` or the Markdown-escaped `\\[04:01.06\\]`."""

from __future__ import annotations

import re

from core.text import clock_seconds
from core.types import Unit
from ingest.loaders.base import paragraphs, unescape_markdown

TIMESTAMP = re.compile(r"\\?\[(?:(\d{1,2}):)?(\d{1,2}):(\d{2})(?:[.,](\d{1,3}))?\\?\]")
_BOLD_TURN = re.compile(r"^\*\*([^*\n]{1,60}?):?\*\*:?\s*")
_PLAIN_TURN = re.compile(r"^([A-ZÁÉÍÓÚÑ][\w.'’ -]{0,40}?):\s+(?=\S)")


def to_seconds(match: re.Match[str]) -> float:
    return clock_seconds(*match.groups())


def looks_like_transcript(text: str) -> bool:
    head = text[:20000]
    stamps = len(TIMESTAMP.findall(head))
    turns = sum(1 for line in head.splitlines() if _BOLD_TURN.match(line))
    return stamps >= 2 or turns >= 3


def _opens_turn(line: str) -> bool:
    """A line that starts a speaker turn, after an optional leading timestamp."""
    stamp = TIMESTAMP.match(line)
    rest = line[stamp.end() :].lstrip() if stamp else line
    return bool(_BOLD_TURN.match(rest) or (stamp and _PLAIN_TURN.match(rest)))


def _turns(paras: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """Paragraphs split where a line inside them opens another turn: transcripts written one turn
    per line, with no blank line between turns, are as many turns as lines."""
    out: list[tuple[str, int, int]] = []
    for para, start, end in paras:
        lines = para.split("\n")
        if sum(_opens_turn(ln) for ln in lines) < 2:
            out.append((para, start, end))
            continue
        piece: list[str] = []
        offset = piece_start = start
        for line in lines:
            if _opens_turn(line) and piece:
                out.append(("\n".join(piece), piece_start, offset - 1))
                piece, piece_start = [], offset
            piece.append(line)
            offset += len(line) + 1
        out.append(("\n".join(piece), piece_start, end))
    return out


def parse(text: str, base: int = 0) -> list[Unit]:
    """One unit per paragraph, each with the speaker of its turn and the time span between the
    timestamp in force when it starts and the next one after it."""
    raw: list[tuple[str, int, int, str | None, float | None]] = []
    speaker: str | None = None
    now: float | None = None
    has_times = TIMESTAMP.search(text) is not None
    if has_times:
        now = 0.0
    for para, start, end in _turns(paragraphs(text, base)):
        body = para
        first = TIMESTAMP.match(body)
        if first:
            now = to_seconds(first)
            body = body[first.end() :].lstrip()
        turn = _BOLD_TURN.match(body) or _PLAIN_TURN.match(body)
        if turn:
            speaker, body = _speaker_and_words(turn, body)
            lead = TIMESTAMP.match(body)
            if lead:
                now = to_seconds(lead)
        clean = unescape_markdown(re.sub(r"\s+", " ", TIMESTAMP.sub("", body)).strip())
        if clean:
            # The speaker's name stays in the text so retrieval and the model can see who speaks.
            shown = f"{speaker}: {clean}" if turn and speaker else clean
            raw.append((shown, start, end, speaker, now))
        stamps = list(TIMESTAMP.finditer(body))
        if stamps:
            now = to_seconds(stamps[-1])
    units = []
    for i, (shown, start, end, who, t) in enumerate(raw):
        nxt = next((r[4] for r in raw[i + 1 :] if r[4] is not None and t is not None and r[4] > t), None)
        units.append(Unit(shown, start, end, start_s=t, end_s=nxt if nxt is not None else t, speaker=who))
    return units


def _speaker_and_words(turn: re.Match[str], body: str) -> tuple[str, str]:
    """The turn's speaker and what follows. Bold that runs past the colon ("**Chris Benson:
    I**ndeed, I do.", a typo in a published transcript) holds the first words, not the name."""
    name, colon, spoken = turn.group(1).partition(":")
    rest = body[turn.end() :]
    if colon and spoken.strip():
        glued = rest[:1].isalnum() and body[turn.end() - 1 : turn.end()] == "*"  # "I**ndeed"
        rest = spoken.strip() + ("" if glued else " ") + rest
    return name.strip(), rest
