"""Audio and video: transcribed (or read from the transcript cache), then loaded like subtitles,
one unit per segment with its times. (A recording with a corrected transcript beside it never gets
here: the ingest plan indexes the transcript instead.)"""

from __future__ import annotations

from pathlib import Path

from core.errors import InputError
from core.types import Document, MetaValue, Unit
from ingest.loaders.base import LoadOptions, register
from ingest.manifest import sha256_file
from ingest.media import MEDIA_SUFFIXES, clock


@register(*MEDIA_SUFFIXES)
def load_media(path: Path, options: LoadOptions) -> Document:
    if options.transcripts is None:
        raise InputError("audio and video need a transcriber (setting transcriber)")
    language = options.language
    digest = options.sha256 or sha256_file(path)
    meta: dict[str, MetaValue] = {"url": path.resolve().as_uri()}
    found = options.transcripts.cached(digest, language)
    if found is None and options.plan_only:
        seconds = options.transcripts.probe(path)
        note = f"{clock(seconds)} of audio to transcribe"
        return Document(str(path), "transcript", [Unit(f"({note})", 0, len(note) + 2)], meta, [note])
    report = options.on_progress or (lambda _: None)
    transcript = found or options.transcripts.transcribe(path, digest, language, report)
    if not transcript.segments:
        raise InputError(f"no speech found in {clock(transcript.duration)} of audio")
    units = []
    offset = 0
    for seg in transcript.segments:
        units.append(Unit(seg.text, offset, offset + len(seg.text), start_s=seg.start, end_s=seg.end))
        offset += len(seg.text) + 1
    meta["language"] = transcript.language
    meta["transcribed_by"] = transcript.model
    return Document(str(path), "transcript", units, meta)
