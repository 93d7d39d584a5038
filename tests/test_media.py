"""Audio and video inputs, with the scripted fake transcriber of the real registry: transcript
cache, corrected transcripts beside the recording, dry runs, failures, export, interruption."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ingest.loaders import LoadOptions, loader_for
from ingest.media import MediaTranscripts, export_transcript
from ingest.transcribe import FAKE_MAGIC, OnAudio, ScriptedTranscriber, Transcript, make_transcriber
from rag.cli import app
from rag.context import play_link
from tests.helpers import Env, interruptible, wait_for_first_file

runner = CliRunner()

TALK_ES = [
    (0.0, 6.5, "Bienvenidos a la clase de biología."),
    (6.5, 14.0, "Para fijar una molécula de dióxido de carbono hacen falta ocho fotones."),
    (14.0, 21.0, "El examen final será el catorce de junio."),
]


def recording(
    path: Path, segments: list[tuple[float, float, str]], language: str = "es", **head: str
) -> Path:
    fields = " ".join(f"{k}={v}" for k, v in {"language": language, "duration": "30", **head}.items())
    lines = [f"{FAKE_MAGIC.decode()} {fields}"] + [f"{a} {b} {t}" for a, b, t in segments]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Counting:
    """The scripted transcriber, counting the recordings it really transcribes."""

    def __init__(self, delay: str = "0") -> None:
        self.inner = ScriptedTranscriber(delay, name="scripted:counting")
        self.name = self.inner.name
        self.calls: list[str] = []
        self.languages: list[str | None] = []

    def probe(self, path: Path) -> float:
        return self.inner.probe(path)

    def transcribe(self, path: Path, language: str | None, on_audio: OnAudio) -> Transcript:
        self.calls.append(path.name)
        self.languages.append(language)
        return self.inner.transcribe(path, language, on_audio)


@pytest.fixture()
def counting() -> Counting:
    return Counting()


def media_env(tmp_path: Path, counting: Counting) -> Env:
    env = Env(tmp_path / "state")
    transcripts = MediaTranscripts(tmp_path / "state" / "transcripts", "scripted:0", lambda: counting)
    env.options = env.options.__class__(collection="test", chunk=env.options.chunk, transcripts=transcripts)
    return env


def test_a_recording_is_indexed_with_times_language_and_a_link(tmp_path: Path, counting: Counting) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    talk = recording(docs / "clase.mp3", TALK_ES)
    env = media_env(tmp_path, counting)
    report = env.ingest(docs)
    assert report.count("added") == 1, report.results
    chunks = env.store.open("test").get_where({"source_name": "clase.mp3"})
    assert chunks and all(c.language == "es" and c.kind == "transcript" for c in chunks)
    assert chunks[0].url == talk.resolve().as_uri()
    photons = next(c for c in chunks if "ocho fotones" in c.text)
    assert photons.start_s is not None and photons.start_s <= 6.5 and (photons.end_s or 0) >= 14.0


def test_unchanged_recording_is_never_transcribed_again(tmp_path: Path, counting: Counting) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    recording(docs / "clase.mp3", TALK_ES)
    env = media_env(tmp_path, counting)
    env.ingest(docs)
    assert counting.calls == ["clase.mp3"]
    first = env.snapshot()
    # Rebuilt from scratch (new chunking, a copy under another name): the cache is keyed by content.
    env.ingest(docs, reembed=True)
    (docs / "clase.mp3").rename(docs / "renamed.mp3")
    env.ingest(docs)
    assert counting.calls == ["clase.mp3"]
    assert [t for t, _ in env.snapshot().values()] and sorted(t for t, _ in first.values()) == sorted(
        t for t, _ in env.snapshot().values()
    )


def test_sidecar_language_is_passed_to_the_transcriber(tmp_path: Path, counting: Counting) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    recording(docs / "talk.wav", [(0.0, 3.0, "Hello everyone.")], language="en")
    (docs / "talk.meta.yaml").write_text("language: es\nspeaker: Ana Ruiz\nurl: https://youtu.be/abc\n")
    env = media_env(tmp_path, counting)
    env.ingest(docs)
    (chunk,) = env.store.open("test").get_where({"source_name": "talk.wav"})
    assert chunk.language == "es" and chunk.speakers == ("Ana Ruiz",)
    assert chunk.url == "https://youtu.be/abc"  # explicit metadata wins over the file link
    assert counting.languages == ["es"]  # Whisper is told, not left to detect it


def test_a_corrected_transcript_beside_the_recording_wins(tmp_path: Path, counting: Counting) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    talk = recording(docs / "clase.mp4", TALK_ES)
    env = media_env(tmp_path, counting)
    env.ingest(docs)
    transcripts = env.options.transcripts
    assert transcripts is not None
    cached = transcripts.cached(_sha(talk), None)
    assert cached is not None
    srt = export_transcript(cached, talk, docs, "srt")
    srt.write_text(srt.read_text(encoding="utf-8").replace("ocho fotones", "ocho fotones (corregido)"))
    report = env.ingest(docs)
    by_name = {Path(r.path).name: r for r in report.results}
    # Indexed before: its machine transcript is removed, saying why; from then on it is skipped.
    assert by_name["clase.mp4"].status == "removed" and "clase.srt" in by_name["clase.mp4"].reason
    assert by_name["clase.srt"].status == "added"
    again = {Path(r.path).name: r.status for r in env.ingest(docs, prune=False).results}
    assert again == {"clase.mp4": "skipped", "clase.srt": "unchanged"}
    col = env.store.open("test")
    assert not col.get_where({"source_name": "clase.mp4"})  # the machine transcript is gone
    fixed = col.get_where({"source_name": "clase.srt"})
    assert any("corregido" in c.text for c in fixed)
    assert all(c.url == talk.resolve().as_uri() for c in fixed)  # still plays the recording
    photons = next(c for c in fixed if "corregido" in c.text)
    assert photons.start_s is not None and photons.start_s <= 6.5


def test_export_round_trips_through_the_subtitle_loaders(tmp_path: Path) -> None:
    transcript = Transcript("es", 30.0, "x", [])
    transcript.segments.extend(
        __import__("ingest.transcribe", fromlist=["Segment"]).Segment(a, b, t) for a, b, t in TALK_ES
    )
    for fmt in ("srt", "vtt"):
        out = export_transcript(transcript, tmp_path / "talk.mp3", tmp_path / "out", fmt)
        loader = loader_for(out)
        assert loader is not None
        doc = loader(out, LoadOptions())
        assert [(u.start_s, u.end_s, u.text) for u in doc.units] == TALK_ES


def test_undecodable_and_silent_files_fail_with_a_reason(tmp_path: Path, counting: Counting) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "broken.mp3").write_bytes(b"ID3 not really audio")
    recording(docs / "slides.mp4", [], audio="none")
    recording(docs / "quiet.wav", [])
    env = media_env(tmp_path, counting)
    report = env.ingest(docs)
    reasons = {Path(r.path).name: (r.status, r.reason) for r in report.results}
    assert reasons["broken.mp3"] == ("failed", "cannot decode audio: not a scripted recording")
    assert reasons["slides.mp4"] == ("failed", "no audio track")
    assert reasons["quiet.wav"] == ("failed", "no speech found in 0:30 of audio")


def test_dry_run_does_not_transcribe(tmp_path: Path, counting: Counting) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    recording(docs / "clase.mp3", TALK_ES)
    (docs / "broken.mp3").write_bytes(b"not audio")
    env = media_env(tmp_path, counting)
    plan = env.ingest(docs, dry_run=True)
    assert counting.calls == []
    by_name = {Path(r.path).name: r for r in plan.results}
    assert by_name["clase.mp3"].status == "added"
    assert by_name["clase.mp3"].warnings == ["0:30 of audio to transcribe"]
    assert by_name["broken.mp3"].status == "failed"  # the plan says what the run will say


def test_cli_ingests_media_and_names_the_transcriber_in_models(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    recording(docs / "clase.ogg", TALK_ES)
    result = runner.invoke(app, ["ingest", str(docs), "--json"])
    assert result.exit_code == 0, result.output
    assert '"added": 1' in result.output
    models = runner.invoke(app, ["models", "--json"])
    assert "transcriber" in models.output and "scripted" in models.output


def test_export_transcripts_from_the_cli(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    recording(docs / "clase.mp3", TALK_ES)
    out = tmp_path / "corrections"
    result = runner.invoke(app, ["ingest", str(docs), "--export-transcripts", str(out)])
    assert result.exit_code == 0, result.output
    text = (out / "clase.srt").read_text(encoding="utf-8")
    assert "00:00:06,500 --> 00:00:14,000" in text and "ocho fotones" in text


def test_play_link() -> None:
    assert play_link(None, 12.0) == ""
    assert play_link("file:///talks/a%20b.mp4", 75.6) == "file:///talks/a%20b.mp4#t=75"
    assert (
        play_link("https://www.youtube.com/watch?v=abc", 75.0) == "https://www.youtube.com/watch?v=abc&t=75s"
    )
    assert play_link("https://youtu.be/abc", 5.0) == "https://youtu.be/abc?t=5s"
    assert (
        play_link("https://media.example.org/talk.mp4#t=3", 9.0) == "https://media.example.org/talk.mp4#t=9"
    )
    assert play_link("https://example.org/talk", None) == "https://example.org/talk"


def test_unknown_transcriber_backend_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_TRANSCRIBER_BACKEND", "nope")
    docs = tmp_path / "docs"
    docs.mkdir()
    result = runner.invoke(app, ["ingest", str(docs)])
    assert result.exit_code == 1 and "unknown transcriber backend 'nope'" in result.output


def test_faster_whisper_refuses_a_folder_it_would_fetch_from_the_hub(tmp_path: Path) -> None:
    from core.errors import ModelError

    (tmp_path / "model.bin").write_bytes(b"x")  # no tokenizer.json: faster-whisper would download one
    with pytest.raises(ModelError, match=r"needs model.bin and tokenizer.json"):
        make_transcriber("faster-whisper", str(tmp_path))
    with pytest.raises(ModelError, match="not a faster-whisper model folder"):
        make_transcriber("faster-whisper", str(tmp_path / "model.bin"))


def _sha(path: Path) -> str:
    from ingest.manifest import sha256_file

    return sha256_file(path)


MEDIA_SCRIPT = """
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
from ingest.media import MediaTranscripts
from ingest.transcribe import make_transcriber
from tests.helpers import Env, wait_for_first_file
env = Env(Path({state!r}))
tr = MediaTranscripts(Path({state!r}) / "transcripts", "scripted", lambda: make_transcriber("scripted", "{delay}"))
env.options = env.options.__class__(collection="test", chunk=env.options.chunk, transcripts=tr, embed_group=1)
try:
    env.ingest(Path({docs!r}))
except KeyboardInterrupt:
    sys.exit(130)
"""


def _long_talk(docs: Path, name: str, n: int) -> None:
    recording(
        docs / name, [(i * 5.0, i * 5.0 + 5, f"{name} frase número {i} de la clase.") for i in range(n)]
    )


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_transcription_leaves_nothing_half_done(tmp_path: Path, sig: signal.Signals) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    _long_talk(docs, "a_short.mp3", 2)
    _long_talk(docs, "b_long.mp3", 60)  # 0.1 s a segment: six seconds to transcribe
    state = tmp_path / "state"
    root = str(Path(__file__).resolve().parents[1])
    script = MEDIA_SCRIPT.format(root=root, state=str(state), docs=str(docs), delay=0.1)
    proc = interruptible(script)
    wait_for_first_file(proc, state / "manifest.sqlite")
    time.sleep(0.5)  # well inside the long transcription
    proc.send_signal(sig)
    t = time.monotonic()
    rc = proc.wait(timeout=30)
    if sig == signal.SIGINT:
        # Stopped at the next segment, not after the whole recording.
        assert rc == 130 and time.monotonic() - t < 3.0, (rc, time.monotonic() - t)
    env = Env(state)
    assert [Path(k).name for k in env.manifest.entries("test")] == ["a_short.mp3"]
    assert len(list((state / "transcripts").rglob("*.json"))) == 1  # no half transcript cached
    transcripts = MediaTranscripts(
        state / "transcripts", "scripted", lambda: make_transcriber("scripted", "0")
    )
    env.options = env.options.__class__(collection="test", chunk=env.options.chunk, transcripts=transcripts)
    env.ingest(docs)
    clean = Env(tmp_path / "clean")
    clean.options = env.options.__class__(
        collection="test",
        chunk=env.options.chunk,
        transcripts=MediaTranscripts(
            tmp_path / "clean-tr", "scripted", lambda: make_transcriber("scripted", "0")
        ),
    )
    clean.ingest(docs)
    assert env.snapshot() == clean.snapshot()


def test_answers_link_to_the_recording_at_the_cited_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_GENERATOR_BACKEND", "scripted")
    monkeypatch.setenv("COLUMNS", "200")
    docs = tmp_path / "docs"
    docs.mkdir()
    talk = recording(
        docs / "clase.mp4", [*TALK_ES, *((30.0 + i, 31.0 + i, f"Relleno {i}.") for i in range(40))]
    )
    assert runner.invoke(app, ["ingest", str(docs)]).exit_code == 0
    question = "¿Cuántos fotones hacen falta para fijar una molécula de dióxido de carbono?"
    data = __import__("json").loads(runner.invoke(app, ["ask", question, "--json"]).stdout)
    cit = data["citations"][0]
    assert cit["link"] == f"{talk.resolve().as_uri()}#t={int(cit['start_s'])}", cit
    shown = runner.invoke(app, ["ask", question]).output
    assert "▶ play" in shown
    chat = runner.invoke(app, ["chat", "--session", "m"], input=f"{question}\n/show 1\n/exit\n").output
    assert f"▶ {talk.resolve().as_uri()}#t=" in chat


def test_progress_shows_the_audio_position(tmp_path: Path, counting: Counting) -> None:
    from tests.helpers import RecordingProgress

    docs = tmp_path / "docs"
    docs.mkdir()
    recording(docs / "clase.mp3", TALK_ES)
    env = media_env(tmp_path, counting)
    progress = RecordingProgress()
    env.ingest(docs, progress)
    details = [str(e[2]) for e in progress.of("reading") if e[2]]
    assert details[0].startswith("0:06 / 0:30 audio") and details[-1].startswith("0:21 / 0:30 audio")
    assert "left" in details[0]


def test_a_transcriber_that_cannot_load_fails_each_recording_with_its_reason(tmp_path: Path) -> None:
    from core.errors import ModelError

    def broken() -> Counting:
        raise ModelError(
            "/models/nope: not a faster-whisper model folder (needs model.bin and tokenizer.json)"
        )

    docs = tmp_path / "docs"
    docs.mkdir()
    recording(docs / "clase.mp3", TALK_ES)
    (docs / "notas.txt").write_text("Notas de clase.\n")
    env = Env(tmp_path / "state")
    transcripts = MediaTranscripts(tmp_path / "state" / "transcripts", "faster-whisper:nope", broken)
    env.options = env.options.__class__(collection="test", chunk=env.options.chunk, transcripts=transcripts)
    report = env.ingest(docs)
    by_name = {Path(r.path).name: r for r in report.results}
    assert by_name["clase.mp3"].status == "failed"
    assert (
        by_name["clase.mp3"].reason
        == "/models/nope: not a faster-whisper model folder (needs model.bin and tokenizer.json)"
    )
    assert by_name["notas.txt"].status == "added"  # the rest of the folder is indexed
