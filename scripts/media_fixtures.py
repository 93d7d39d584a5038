"""Synthetic recorded lectures for the slow tests and the transcription benchmark: speech from
Debian's `espeak-ng`, re-encoded with PyAV (the FFmpeg that faster-whisper brings) as .mp3 or as
an .mp4 with a still image. No ffmpeg binary is needed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

VOICES = {"es": "es", "en": "en-us"}


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def speak(text: str, language: str, out: Path, words_per_minute: int = 150) -> Path:
    """A .wav of `text` read by espeak-ng."""
    subprocess.run(
        ["espeak-ng", "-v", VOICES[language], "-s", str(words_per_minute), "-w", str(out), text],
        check=True,
        capture_output=True,
    )
    return out


def speak_talk(
    sentences: list[str], language: str, out: Path, pause_s: float = 0.4
) -> list[tuple[float, float]]:
    """A .wav of the sentences read one after another; returns when each is spoken (seconds), so
    a test knows where a planted fact is."""
    import wave

    pieces, spans, t, rate = [], [], 0.0, 22050
    for i, sentence in enumerate(sentences):
        part = speak(sentence, language, out.with_name(f".{out.stem}-{i}.wav"))
        samples, rate = _audio_frames(part)
        part.unlink()
        spans.append((round(t, 2), round(t + len(samples) / rate, 2)))
        pieces += [samples, np.zeros(int(pause_s * rate), dtype=np.int16)]
        t += len(samples) / rate + pause_s
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.concatenate(pieces).astype(np.int16).tobytes())
    return spans


def _audio_frames(wav: Path) -> tuple[np.ndarray, int]:
    import av

    with av.open(str(wav)) as src:
        stream = src.streams.audio[0]
        rate = stream.rate
        chunks = [frame.to_ndarray().reshape(-1) for frame in src.decode(stream)]
    samples = np.concatenate(chunks)
    if samples.dtype != np.int16:
        samples = (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)
    return samples, rate


def _add_audio(container: Any, rate: int, codec: str) -> Any:
    stream = container.add_stream(codec, rate=rate)
    stream.layout = "mono"
    return stream


def _encode_audio(container: Any, stream: Any, samples: np.ndarray, rate: int) -> None:
    import av

    resampler = av.AudioResampler(
        format=stream.format.name if stream.format else "fltp", layout="mono", rate=rate
    )
    step = 1152
    for i in range(0, len(samples), step):
        frame = av.AudioFrame.from_ndarray(samples[i : i + step].reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = rate
        for converted in resampler.resample(frame):
            for packet in stream.encode(converted):
                container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def to_mp3(wav: Path, out: Path) -> Path:
    import av

    samples, rate = _audio_frames(wav)
    with av.open(str(out), "w") as container:
        _encode_audio(container, _add_audio(container, rate, "libmp3lame"), samples, rate)
    return out


def to_mp4_still(wav: Path, out: Path) -> Path:
    """An .mp4 whose picture is one grey slide held for the whole talk, with AAC sound."""
    import av

    samples, rate = _audio_frames(wav)
    seconds = int(len(samples) / rate) + 1
    with av.open(str(out), "w") as container:
        video = container.add_stream("mpeg4", rate=1)
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        audio = _add_audio(container, rate, "aac")  # every stream before the first packet
        picture = np.full((240, 320, 3), 200, dtype=np.uint8)
        for second in range(seconds):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = second
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        _encode_audio(container, audio, samples, rate)
    return out


def silent_mp4(out: Path, seconds: int = 2) -> Path:
    """A video with no audio track at all."""
    import av

    with av.open(str(out), "w") as container:
        video = container.add_stream("mpeg4", rate=1)
        video.width, video.height, video.pix_fmt = 160, 120, "yuv420p"
        for second in range(seconds):
            frame = av.VideoFrame.from_ndarray(np.zeros((120, 160, 3), dtype=np.uint8), format="rgb24")
            frame.pts = second
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
    return out
