"""Speech to text: the Transcriber protocol, the faster-whisper backend and a scripted fake.

Backends are chosen by name from `TRANSCRIBERS`, like embedders; the model argument is a local
folder or a hub id (bundled names are resolved to folders before the factory sees them).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from core.errors import InputError, ModelError
from core.registry import Registry

# (seconds of audio transcribed so far, seconds in the file)
OnAudio = Callable[[float, float], None]


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str


@dataclass
class Transcript:
    language: str
    duration: float
    model: str
    segments: list[Segment] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transcript:
        segments = [Segment(float(s["start"]), float(s["end"]), str(s["text"])) for s in data["segments"]]
        return cls(str(data["language"]), float(data["duration"]), str(data["model"]), segments)


class Transcriber(Protocol):
    name: str

    def probe(self, path: Path) -> float:
        """Seconds of audio in the file; InputError naming why it cannot be transcribed."""
        ...

    def transcribe(self, path: Path, language: str | None, on_audio: OnAudio) -> Transcript: ...


TRANSCRIBERS: Registry[Transcriber] = Registry("transcriber")


def make_transcriber(backend: str, model: str, *, name: str | None = None, **kwargs: Any) -> Transcriber:
    return TRANSCRIBERS.make(backend, model, name=name or f"{backend}:{model}", **kwargs)


@TRANSCRIBERS.register("faster-whisper", model_role="transcriber")
class FasterWhisperTranscriber:
    """Whisper through CTranslate2, int8 on CPU; PyAV (bundled FFmpeg) decodes audio and video."""

    def __init__(
        self, model: str, *, name: str, device: str = "cpu", threads: int | None = None, **_: Any
    ) -> None:
        self.name = name
        folder = Path(model).expanduser()
        # faster-whisper reads anything that is not a folder as a hub id, and fetches a missing
        # tokenizer.json from the hub: offline, both end as a network error far from the cause.
        if folder.exists() or model.startswith((".", "/", "~")):
            missing = [f for f in ("model.bin", "tokenizer.json") if not (folder / f).is_file()]
            if not folder.is_dir() or missing:
                raise ModelError(
                    f"{model}: not a faster-whisper model folder (needs model.bin and tokenizer.json)"
                )
            model = str(folder)
        from faster_whisper import WhisperModel

        on_cpu = device == "cpu"
        self._model = WhisperModel(
            model,
            device="cpu" if on_cpu else "cuda",
            compute_type="int8" if on_cpu else "default",
            cpu_threads=threads or os.cpu_count() or 2,
        )

    def probe(self, path: Path) -> float:
        import av

        try:
            with av.open(str(path)) as container:
                if not container.streams.audio:
                    raise InputError("no audio track")
                stream = container.streams.audio[0]
                if stream.duration is not None and stream.time_base is not None:
                    return float(stream.duration * stream.time_base)
                return container.duration / 1e6 if container.duration else 0.0
        except av.error.FFmpegError as exc:
            raise InputError(f"cannot decode audio: {_av_reason(exc)}") from None

    def transcribe(self, path: Path, language: str | None, on_audio: OnAudio) -> Transcript:
        import av

        duration = self.probe(path)
        try:
            # Silence is skipped by the VAD filter: Whisper invents text over long pauses.
            segments, info = self._model.transcribe(str(path), language=language, vad_filter=True)
            out: list[Segment] = []
            for seg in segments:
                if seg.text.strip():
                    out.append(Segment(round(seg.start, 2), round(seg.end, 2), seg.text.strip()))
                on_audio(seg.end, info.duration or duration)
        except av.error.FFmpegError as exc:
            raise InputError(f"cannot decode audio: {_av_reason(exc)}") from None
        return Transcript(info.language, round(info.duration or duration, 2), self.name, out)


def _av_reason(exc: BaseException) -> str:
    """FFmpeg's reason without its errno and the path (the report names the file already)."""
    reason = getattr(exc, "strerror", None)
    return str(reason) if reason else (str(exc).strip().splitlines() or [type(exc).__name__])[0]


FAKE_MAGIC = b"RAG-FAKE-AUDIO"


@TRANSCRIBERS.register("scripted")
class ScriptedTranscriber:
    """A deterministic fake for tests: a "recording" is a text file whose first line is
    `RAG-FAKE-AUDIO language=es duration=30` and whose other lines are `start end text`. The model
    spec is the seconds it pretends each segment takes (so a test can interrupt it)."""

    def __init__(self, model: str = "0", *, name: str, **_: Any) -> None:
        self.name = name
        self.delay = float(model) if model.replace(".", "", 1).isdigit() else 0.0

    def _read(self, path: Path) -> tuple[dict[str, str], list[Segment]]:
        data = path.read_bytes()
        if not data.startswith(FAKE_MAGIC):
            raise InputError("cannot decode audio: not a scripted recording")
        head, *lines = data.decode("utf-8").splitlines()
        fields = dict(part.split("=", 1) for part in head.split()[1:] if "=" in part)
        if fields.get("audio") == "none":
            raise InputError("no audio track")
        segments = []
        for line in lines:
            start, end, text = line.split(" ", 2)
            segments.append(Segment(float(start), float(end), text.strip()))
        return fields, segments

    def probe(self, path: Path) -> float:
        fields, _ = self._read(path)
        return float(fields.get("duration", "0"))

    def transcribe(self, path: Path, language: str | None, on_audio: OnAudio) -> Transcript:
        fields, segments = self._read(path)
        duration = float(fields.get("duration", "0"))
        for seg in segments:
            time.sleep(self.delay)
            on_audio(seg.end, duration)
        return Transcript(language or fields.get("language", "en"), duration, self.name, segments)
