"""Transcription benchmark: real-time factor and peak RSS of transcribing a recorded lecture, and
the re-ingest of unchanged recordings next to the first ingest, measured in one run. The lecture
is the text of the corpus' transcripts read by espeak-ng (Spanish and English), so no audio data
set is needed. Prints and saves JSON.

    python -m scripts.bench_transcribe [--minutes 5] [--out bench-results/transcribe.json]

Targets (issue 19): re-ingest of unchanged media >= 100x faster than the first ingest; the
real-time factor and peak RSS are reported (issue's reference: RTF about 0.11, about 430 MB).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ingest.pipeline import STATUSES, IngestOptions, Ingestor
from rag import wiring
from rag.cli_common import quiet_libraries
from rag.config import load_settings
from scripts.media_fixtures import espeak_available, speak_talk, to_mp3

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {
    "en": ROOT / "corpus" / "lectures" / "deep-learning-01-gradients.srt",
    "es": ROOT / "corpus" / "lectures" / "aprendizaje-02-atencion.vtt",
}


def sentences(language: str) -> list[str]:
    """The spoken text of a corpus lecture, cue timing and markup dropped."""
    text = SOURCES[language].read_text(encoding="utf-8")
    lines = [
        re.sub(r"<[^>]+>", "", line).strip()
        for line in text.splitlines()
        if line.strip() and "-->" not in line and not line.strip().isdigit() and line.strip() != "WEBVTT"
    ]
    return [line for line in lines if len(line.split()) > 2]


def make_lecture(language: str, minutes: float, out: Path) -> float:
    """An .mp3 of about `minutes` of speech; returns its length in seconds."""
    pool = sentences(language)
    wav = out.with_suffix(".wav")
    # espeak-ng reads about 2.5 words a second at 150 wpm; repeat the lecture to the length asked.
    words = sum(len(s.split()) for s in pool)
    repeats = max(1, round(minutes * 60 * 2.5 / max(words, 1)))
    spans = speak_talk(pool * repeats, language, wav)
    to_mp3(wav, out)
    wav.unlink()
    return spans[-1][1]


def _transcribe_child(home: str, media: str, queue: Any) -> None:
    """In a fresh process, so peak RSS is the transcriber's alone."""
    s = load_settings(home=Path(home))
    transcripts = wiring.transcripts(s)
    t0 = time.perf_counter()
    transcripts.transcriber.probe(Path(media))
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    transcript = transcripts.transcriber.transcribe(Path(media), None, lambda done, total: None)
    queue.put(
        {
            "load_s": round(load_s, 2),
            "transcribe_s": round(time.perf_counter() - t0, 2),
            "language": transcript.language,
            "segments": len(transcript.segments),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }
    )


def transcribe_alone(home: Path, media: Path) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_transcribe_child, args=(str(home), str(media), queue))
    proc.start()
    result: dict[str, Any] = queue.get()
    proc.join()
    return result


def ingest_once(home: Path, docs: Path, collection: str = "bench") -> tuple[float, dict[str, Any]]:
    s = load_settings(home=home, collection=collection)
    embedder = wiring.embedder_for_ingest(s)
    options = IngestOptions(
        collection=collection, chunk=wiring.chunk_config(s, embedder), transcripts=wiring.transcripts(s)
    )
    t0 = time.perf_counter()
    with wiring.ingest_session(s) as (store, manifest):
        report = Ingestor(store, manifest, embedder, wiring.lexical_dir(s, collection), options).run(docs)
    seconds = time.perf_counter() - t0
    summary = {status: report.count(status) for status in STATUSES if report.count(status)}
    return seconds, {**summary, "chunks_embedded": report.chunks_embedded}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=5.0, help="length of each synthetic lecture")
    ap.add_argument("--out", type=Path, default=ROOT / "bench-results" / "transcribe.json")
    args = ap.parse_args()
    quiet_libraries()
    if not espeak_available():
        sys.exit("espeak-ng is not installed (make install installs it): it reads the synthetic lectures")
    work = Path(tempfile.mkdtemp(prefix="rag-bench-media-"))
    try:
        docs = work / "docs"
        docs.mkdir()
        audio_s = {lang: make_lecture(lang, args.minutes, docs / f"lecture-{lang}.mp3") for lang in SOURCES}
        alone = {lang: transcribe_alone(work, docs / f"lecture-{lang}.mp3") for lang in SOURCES}
        for lang, row in alone.items():
            row["audio_s"] = round(audio_s[lang], 1)
            row["real_time_factor"] = round(row["transcribe_s"] / audio_s[lang], 3)
        first_s, first = ingest_once(work, docs)
        unchanged_s, unchanged = ingest_once(work, docs)
        # A new collection: every chunk embedded again, but the transcripts come from their cache.
        rebuilt_s, rebuilt = ingest_once(work, docs, collection="bench-new")
        result = {
            "machine": {"platform": platform.platform(), "python": platform.python_version()},
            "minutes_per_lecture": args.minutes,
            "transcription": alone,
            "ingest": {
                "first_s": round(first_s, 2),
                "first": first,
                "unchanged_s": round(unchanged_s, 3),
                "unchanged": unchanged,
                "unchanged_speedup": round(first_s / unchanged_s, 1),
                "new_collection_cached_transcripts_s": round(rebuilt_s, 2),
                "new_collection": rebuilt,
                "new_collection_speedup": round(first_s / rebuilt_s, 1),
            },
            "targets": {"unchanged_speedup_at_least": 100},
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
