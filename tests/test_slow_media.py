"""Recorded lectures end to end with the real models: speech synthesised by espeak-ng (Spanish and
English), ingested as .wav, .mp3 and an .mp4 with a still picture, transcribed by the bundled
Whisper base; `rag ask` must find the planted number and cite the recording at its time."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rag.cli import app
from scripts.media_fixtures import espeak_available, speak_talk, to_mp3, to_mp4_still
from tests.test_slow import real  # noqa: F401  (fixture)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not espeak_available(), reason="espeak-ng is not installed (make install: apt-get install espeak-ng)"
    ),
]
runner = CliRunner()

# (file, language, sentences, index of the planted sentence, question, the number the answer must give)
TALKS = [
    (
        "energia.wav",
        "es",
        [
            "Bienvenidos a la clase de energías renovables.",
            "Hoy repasamos la energía solar y la energía eólica.",
            "La planta piloto produjo cuatrocientos treinta kilos de hidrógeno en marzo.",
            "La semana próxima visitaremos un parque eólico.",
        ],
        2,
        "¿Cuántos kilos produjo la planta piloto en marzo?",
        "430",
    ),
    (
        "laboratory.mp3",
        "en",
        [
            "Welcome to the laboratory safety seminar.",
            "Always wear gloves and goggles near the benches.",
            "The centrifuge spins at fourteen thousand five hundred revolutions per minute.",
            "Next week we will discuss chemical waste.",
        ],
        2,
        "How fast does the centrifuge spin?",
        "14500",
    ),
    (
        "reunion.mp4",
        "es",
        [
            "Buenos días a todos los profesores.",
            "Hablaremos del calendario de exámenes del segundo semestre.",
            "La reunión del departamento durará noventa minutos.",
            "Después habrá café en la sala de profesores.",
        ],
        2,
        "¿Cuánto durará la reunión del departamento?",
        "90",
    ),
]


def _digits(text: str) -> str:
    return re.sub(r"(?<=\d)[,.\s](?=\d{3}\b)", "", text)


def test_recorded_lectures_are_transcribed_and_cited_at_the_planted_fact(
    real: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    docs = tmp_path / "lectures"
    docs.mkdir()
    planted: dict[str, tuple[float, float]] = {}
    for name, language, sentences, index, _, _ in TALKS:
        wav = docs / (Path(name).stem + ".wav")
        spans = speak_talk(sentences, language, wav if name.endswith(".wav") else tmp_path / f"{name}.wav")
        planted[name] = spans[index]
        if name.endswith(".mp3"):
            to_mp3(tmp_path / f"{name}.wav", docs / name)
        elif name.endswith(".mp4"):
            to_mp4_still(tmp_path / f"{name}.wav", docs / name)
    result = runner.invoke(app, ["ingest", str(docs), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["summary"]["added"] == 3, report

    for name, _, _, _, question, number in TALKS:
        result = runner.invoke(app, ["ask", question, "--json"])
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        assert not data["abstained"] and number in _digits(data["answer"]), (question, data["answer"])
        cited = [c for c in data["citations"] if c["source"].endswith(name)]
        assert cited, (question, data["citations"])
        start, end = planted[name]
        # Whisper's segment boundaries are approximate: a second of slack on each side.
        assert cited[0]["start_s"] <= start + 1.0 and cited[0]["end_s"] >= end - 1.0, (
            cited[0],
            planted[name],
        )
        assert cited[0]["link"].startswith("file://") and "#t=" in cited[0]["link"]

    again = json.loads(runner.invoke(app, ["ingest", str(docs), "--json"]).stdout)
    assert again["summary"]["unchanged"] == 3
