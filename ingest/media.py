"""Recorded lectures: which files are media, their transcripts (cached by content and model), and
the subtitle files a lecturer can correct.

A transcript is cached under the store, keyed by the media file's sha256 and the transcriber, and
written atomically once complete: re-ingesting an unchanged recording (or the same recording under
another name, or with other chunk settings) never transcribes it again, and a killed
transcription leaves no cache entry. A `.srt`/`.vtt` with the recording's name beside it wins: it
is indexed instead, so a corrected transcript replaces the machine one.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

from core.errors import InputError
from core.files import write_text
from core.types import MetaValue
from ingest.manifest import sha256_file
from ingest.metadata import external_metadata
from ingest.transcribe import OnAudio, Transcriber, Transcript

MEDIA_SUFFIXES = (".mp3", ".wav", ".m4a", ".ogg", ".oga", ".opus", ".flac", ".mp4", ".mkv", ".webm", ".mov")
TRANSCRIPT_SUFFIXES = (".srt", ".vtt")


def is_media(path: Path) -> bool:
    return path.suffix.lower() in MEDIA_SUFFIXES


def _sibling(path: Path, suffixes: tuple[str, ...]) -> Path | None:
    for suffix in suffixes:
        for candidate in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
            if candidate.is_file():
                return candidate
    return None


def transcript_beside(media: Path) -> Path | None:
    """A subtitle file with the recording's name: indexed in its place."""
    return _sibling(media, TRANSCRIPT_SUFFIXES)


def media_beside(transcript: Path) -> Path | None:
    """The recording a subtitle file belongs to, for citations that play at the cited time."""
    return _sibling(transcript, MEDIA_SUFFIXES)


def language_hint(media: Path) -> str | None:
    """The language a sidecar or folder metadata gives the recording (else Whisper detects it)."""
    folder_meta, sidecar_meta, _ = external_metadata(media)
    return language_of(folder_meta, sidecar_meta)


def language_of(folder_meta: dict[str, MetaValue], sidecar_meta: dict[str, MetaValue]) -> str | None:
    return str(sidecar_meta.get("language") or folder_meta.get("language") or "") or None


def clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class MediaTranscripts:
    """Transcripts of recordings: from the cache when there, else from the transcriber, which is
    built on first need (a folder with no new recordings never loads the model)."""

    def __init__(self, cache_dir: Path, key: str, make: Callable[[], Transcriber]) -> None:
        self.cache_dir = cache_dir
        self.key = key  # the transcriber and its model: another model is another cache entry
        self._make = make
        self._transcriber: Transcriber | None = None

    @property
    def transcriber(self) -> Transcriber:
        if self._transcriber is None:
            self._transcriber = self._make()
        return self._transcriber

    def _path(self, sha256: str, language: str | None) -> Path:
        tag = hashlib.sha256(f"{self.key}|{language or 'auto'}".encode()).hexdigest()[:12]
        return self.cache_dir / sha256[:2] / f"{sha256}-{tag}.json"

    def cached(self, sha256: str, language: str | None) -> Transcript | None:
        path = self._path(sha256, language)
        try:
            return Transcript.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)  # a damaged entry is transcribed again, not trusted
            return None

    def probe(self, path: Path) -> float:
        return self.transcriber.probe(path)

    def transcribe(
        self, path: Path, sha256: str, language: str | None, on_progress: Callable[[str], None]
    ) -> Transcript:
        """Transcribe (whatever the cache holds) and keep the result in the cache."""
        transcript = self.transcriber.transcribe(path, language, _eta_reporter(on_progress))
        self._store(self._path(sha256, language), transcript)
        return transcript

    @staticmethod
    def _store(path: Path, transcript: Transcript) -> None:
        write_text(path, json.dumps(transcript.to_dict(), ensure_ascii=False))


def _eta_reporter(on_progress: Callable[[str], None]) -> OnAudio:
    """Audio position → "12:30 / 58:00 audio, ~3 min left" (the rate so far predicts the rest)."""
    t0 = time.perf_counter()

    def report(done: float, total: float) -> None:
        text = f"{clock(done)} / {clock(total)} audio"
        elapsed = time.perf_counter() - t0
        if done > 0 and total > done:
            left = elapsed * (total - done) / done
            text += f", ~{left / 60:.0f} min left" if left >= 90 else f", ~{left:.0f} s left"
        on_progress(text)

    return report


def _srt_time(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def to_srt(transcript: Transcript) -> str:
    blocks = [
        f"{i}\n{_srt_time(s.start)} --> {_srt_time(s.end)}\n{s.text}\n"
        for i, s in enumerate(transcript.segments, start=1)
    ]
    return "\n".join(blocks)


def to_vtt(transcript: Transcript) -> str:
    cues = [
        f"{_srt_time(s.start).replace(',', '.')} --> {_srt_time(s.end).replace(',', '.')}\n{s.text}\n"
        for s in transcript.segments
    ]
    return "WEBVTT\n\n" + "\n".join(cues)


def export_transcript(transcript: Transcript, media: Path, out_dir: Path, fmt: str) -> Path:
    """Write `<recording name>.srt` (or `.vtt`) into out_dir; put it beside the recording to have
    it indexed instead of the machine transcript."""
    if fmt not in ("srt", "vtt"):
        raise InputError(f"transcript format {fmt!r}: use srt or vtt")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{media.stem}.{fmt}"
    target.write_text(to_srt(transcript) if fmt == "srt" else to_vtt(transcript), encoding="utf-8")
    return target


def export_transcripts(
    media: list[Path], transcripts: MediaTranscripts, out_dir: Path, fmt: str = "srt"
) -> list[Path]:
    """The cached transcript of each recording (those the last ingest transcribed) as subtitles."""
    written = []
    for path in media:
        found = transcripts.cached(sha256_file(path), language_hint(path))
        if found is not None and found.segments:
            written.append(export_transcript(found, path, out_dir, fmt))
    return written
