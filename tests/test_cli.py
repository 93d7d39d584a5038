from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rag.cli import app
from rag.config import load_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_GENERATOR_BACKEND", "scripted")
    monkeypatch.setenv("COLUMNS", "120")


def test_help_and_version_do_not_import_torch() -> None:
    code = "import sys; from rag.cli import app; assert 'torch' not in sys.modules and 'chromadb' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and "rag 0.1.0" in result.output
    result = runner.invoke(app, [])
    assert result.exit_code in (0, 2) and "ingest" in result.output and "chat" in result.output
    for command in ("ingest", "ask", "chat", "status", "models"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0, command


def test_ingest_status_and_json(corpus_copy: Path) -> None:
    result = runner.invoke(app, ["ingest", str(corpus_copy), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["summary"]["added"] == 9 and data["collection_chunks"] > 9
    result = runner.invoke(app, ["ingest", str(corpus_copy)])
    assert result.exit_code == 0 and "unchanged" in result.output
    result = runner.invoke(app, ["status", "--json"])
    status = json.loads(result.stdout)
    assert status["collections"][0]["collection"] == "default"
    assert status["collections"][0]["documents"] == 9
    assert status["collections"][0]["embedder"] == "hash:64"
    assert status["collections"][0]["chunk_tokens"] == load_settings().chunk_tokens
    table = runner.invoke(app, ["status"], env={"COLUMNS": "200"}).output
    assert "chunk tokens" in table and "abstention was not calibrated for hash:64" in table
    result = runner.invoke(app, ["status", "-c", "default"])
    assert result.exit_code == 0 and "optimizers.pdf" in result.output


def test_dry_run_lists_plan(corpus_copy: Path) -> None:
    result = runner.invoke(app, ["ingest", str(corpus_copy), "--dry-run"])
    assert result.exit_code == 0 and "Plan (dry run)" in result.output
    result = runner.invoke(app, ["status", "--json"])
    assert json.loads(result.stdout)["collections"] == []


def test_errors_are_one_line_exit_1(tmp_path: Path, corpus_copy: Path) -> None:
    result = runner.invoke(app, ["ingest", str(tmp_path / "missing")])
    assert result.exit_code == 1
    assert "no such file or folder" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["ingest", str(corpus_copy), "--collection", "x"])
    assert result.exit_code == 1 and "invalid collection name" in result.output
    result = runner.invoke(app, ["ask", "hello?"])
    assert result.exit_code == 1 and "rag ingest" in result.output
    result = runner.invoke(app, ["ingest", str(corpus_copy), "--chunk-tokens", "abc"])
    assert result.exit_code == 2  # usage error


def test_embedder_change_is_refused_with_both_names(
    corpus_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(app, ["ingest", str(corpus_copy)]).exit_code == 0
    monkeypatch.setenv("RAG_EMBEDDER", "32")
    result = runner.invoke(app, ["ingest", str(corpus_copy)])
    assert result.exit_code == 1 and "hash:64" in result.output and "hash:32" in result.output
    assert "--reembed" in result.output
    # The collection keeps working: a question is embedded by the embedder that filled it.
    asked = runner.invoke(app, ["ask", "Menabrea", "--json"])
    assert asked.exit_code == 0, asked.output
    assert json.loads(asked.stdout)["hits"][0]["source"].endswith("historia-04-lovelace.srt")
    status = json.loads(runner.invoke(app, ["status", "--json"]).stdout)
    assert status["collections"][0]["embedder"] == "hash:64"


def test_ask_json_schema(corpus_copy: Path) -> None:
    assert runner.invoke(app, ["ingest", str(corpus_copy)]).exit_code == 0
    result = runner.invoke(app, ["ask", "What did ResNet train with residual connections?", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) >= {
        "question",
        "query",
        "answer",
        "abstained",
        "refused",
        "replaced_facts",
        "citations",
        "tokens",
        "timings",
        "hits",
    }
    assert data["tokens"]["input"] > 0 and data["tokens"]["output"] > 0
    assert {"retrieve", "generate", "total"} <= set(data["timings"])
    cit = data["citations"][0]
    assert {"number", "label", "source", "start_s", "end_s", "speakers", "score", "page_start"} <= set(cit)


def test_ask_filters(corpus_copy: Path) -> None:
    assert runner.invoke(app, ["ingest", str(corpus_copy)]).exit_code == 0
    result = runner.invoke(app, ["ask", "attention heads", "--json", "--lang", "es", "--source", "*.vtt"])
    hits = json.loads(result.stdout)["hits"]
    assert hits and all(h["source"].endswith(".vtt") for h in hits)
    result = runner.invoke(app, ["ask", "exam", "--json", "--speaker", "Priya Natarajan"])
    hits = json.loads(result.stdout)["hits"]
    assert hits and all("statistics-05" in h["source"] for h in hits)
    result = runner.invoke(app, ["ask", "lecture", "--json", "--since", "2025-03", "--until", "2025-03-12"])
    hits = json.loads(result.stdout)["hits"]
    assert hits and {Path(h["source"]).name for h in hits} <= {
        "historia-04-lovelace.srt",
        "statistics-05-bayes.vtt",
    }


def test_chat_commands_via_scripted_input(corpus_copy: Path, rag_home: Path) -> None:
    assert runner.invoke(app, ["ingest", str(corpus_copy)]).exit_code == 0
    script = (
        "\n".join(
            [
                "/help",
                "",
                "What is BM25 k1?",
                "/sources",
                "/show 1",
                "/show 99",
                "and what about b?",
                "/save course",
                "/bogus",
                "/history",
                "/exit",
            ]
        )
        + "\n"
    )
    result = runner.invoke(app, ["chat", "--session", "t1"], input=script)
    assert result.exit_code == 0, result.output
    out = result.output
    # What each input printed: the text between one "you>" prompt and the next.
    after = dict(zip(script.splitlines(), out.split("you> ")[1:], strict=False))
    assert "/sources" in after["/help"] and "/show N" in after["/help"]
    answered = after["What is BM25 k1?"]
    assert "[1]" in answered and "sources" in answered
    saved = json.loads((rag_home / "sessions" / "course.json").read_text())
    first_cited = saved["turns"][0]["cited"]
    assert first_cited and first_cited[0]["chunk_ids"] and first_cited[0]["label"]
    label = str(first_cited[0]["label"])
    assert "sources" in after["/sources"] and label[:20] in after["/sources"]
    assert label[:20] in after["/show 1"] and "k1" in after["/show 1"].lower()
    assert "no source 99" in after["/show 99"] and "unknown command /bogus" in after["/bogus"]
    history = out.split("unknown command /bogus")[1]  # its own "you> " lines end the mapping there
    assert "What is BM25 k1?" in history and "and what about b?" in history
    assert [t["question"] for t in saved["turns"]] == ["What is BM25 k1?", "and what about b?"]
    result = runner.invoke(app, ["chat", "--session", "course"], input="/reset\n/history\n/exit\n")
    assert "conversation forgotten" in result.output and "no history yet" in result.output
    assert json.loads((rag_home / "sessions" / "course.json").read_text())["turns"] == []


def test_chat_resumes_a_session(corpus_copy: Path, rag_home: Path) -> None:
    assert runner.invoke(app, ["ingest", str(corpus_copy)]).exit_code == 0
    runner.invoke(app, ["chat", "-s", "resume"], input="Who was Ada Lovelace?\n/exit\n")
    result = runner.invoke(app, ["chat", "-s", "resume"], input="/history\n/exit\n")
    assert "Who was Ada Lovelace?" in result.output


def test_chat_on_missing_collection() -> None:
    result = runner.invoke(app, ["chat"], input="/exit\n")
    assert result.exit_code == 1 and "rag ingest" in result.output


def test_models_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_GENERATOR_BACKEND", "transformers")
    result = runner.invoke(app, ["models", "--json"])
    assert result.exit_code == 0
    roles = {r["role"]: r for r in json.loads(result.stdout)}
    # The tests run the hash embedder, which takes its spec as given: no model to resolve.
    assert roles["embedder"]["kind"] == "backend" and roles["embedder"]["location"] == "hash"
    assert roles["generator"]["kind"] == "bundled" and roles["generator"]["status"] in ("convert", "ready")
    table = runner.invoke(app, ["models"])
    assert table.exit_code == 0 and "generator" in table.stdout and "hash backend" in table.stdout
    assert "draft generator" not in roles
    monkeypatch.setenv("RAG_DRAFT_GENERATOR", "qwen2.5-coder-0.5b-instruct")
    roles = {r["role"]: r for r in json.loads(runner.invoke(app, ["models", "--json"]).stdout)}
    draft = roles["draft generator"]
    assert draft["spec"] == "qwen2.5-coder-0.5b-instruct" and draft["kind"] == "bundled"


def test_query_rebuilds_a_missing_bm25_index_but_never_under_a_writer(corpus_copy: Path) -> None:
    import shutil

    from ingest.lock import CollectionLock
    from rag import wiring
    from rag.config import Settings

    assert runner.invoke(app, ["ingest", str(corpus_copy)]).exit_code == 0
    s = Settings()
    folder = wiring.lexical_dir(s, "default")
    shutil.rmtree(folder)
    with CollectionLock(wiring.state_dir(s) / "locks", "default"):  # an ingest is writing
        hits = wiring.assistant(s, "default").search("Menabrea")
        assert hits and hits[0].lexical_rank == 1  # rebuilt in memory for this query
        assert not folder.exists()
    assert wiring.assistant(s, "default").search("Menabrea")[0].lexical_rank == 1
    assert folder.exists()  # no writer: the rebuilt index is kept for the next query


def test_document_text_is_shown_as_text_never_as_markup_or_escapes(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "trap.md").write_text(
        '---\ntitle: "[bold red]Loud[/] \\u001b[31mred"\n---\n\n'
        "Zanzibar cloves are harvested twice a year by hand on the island.\n",
        encoding="utf-8",
    )
    assert runner.invoke(app, ["ingest", str(docs)]).exit_code == 0
    result = runner.invoke(app, ["ask", "When are Zanzibar cloves harvested?"])
    assert result.exit_code == 0, result.output
    assert "[bold red]Loud[/]" in result.output  # the title as written, not styled
    assert "\x1b" not in result.output


def test_the_supporting_quote_is_shown_under_the_answer(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "cloves.md").write_text(
        "# Spices\n\nZanzibar cloves are harvested twice a year by hand. Nutmeg comes from Grenada.\n",
        encoding="utf-8",
    )
    assert runner.invoke(app, ["ingest", str(docs)]).exit_code == 0
    result = runner.invoke(app, ["ask", "When are Zanzibar cloves harvested?"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "evidence" in result.output
    assert "«Zanzibar cloves are harvested twice a year by hand.»" in result.output
    data = json.loads(runner.invoke(app, ["ask", "When are Zanzibar cloves harvested?", "--json"]).stdout)
    assert data["citations"][0]["quote"] == "Zanzibar cloves are harvested twice a year by hand."


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2024-13-45"], "--since '2024-13-45' is not a date"),
        (["--until", "banana"], "--until 'banana' is not a date"),
    ],
)
def test_bad_filter_dates_are_refused(corpus_copy: Path, args: list[str], message: str) -> None:
    assert runner.invoke(app, ["ingest", str(corpus_copy)]).exit_code == 0
    result = runner.invoke(app, ["ask", "When is the exam?", *args])
    assert result.exit_code == 1 and message in result.output


def test_overlap_not_smaller_than_the_chunk_is_refused(corpus_copy: Path) -> None:
    result = runner.invoke(app, ["ingest", str(corpus_copy), "--chunk-tokens", "64", "--chunk-overlap", "64"])
    assert (
        result.exit_code == 1 and "chunk overlap 64 must be smaller than the chunk size 64" in result.output
    )


def test_file_names_with_markup_and_control_codes_are_shown_as_text(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "Lecture [draft] notes.txt").write_text("Gradient clipping caps the norm.\n")
    (docs / "[bold red]alarm.pdf").write_bytes(b"not a pdf at all")  # fails to load: its name is printed
    (docs / "osc.txt").write_text("Click \x1b]8;;http://evil.example\x1b\\here\x1b]8;;\x1b\\ for notes.\n")
    result = runner.invoke(app, ["ingest", str(docs), "--dry-run"], color=True)
    assert "Lecture [draft] notes.txt" in result.output, result.output
    result = runner.invoke(app, ["ingest", str(docs)], color=True)
    assert "[bold red]alarm.pdf" in result.output and "\x1b[1;31malarm" not in result.output
    status = runner.invoke(app, ["status", "-c", "default"], color=True, env={"COLUMNS": "200"})
    assert "Lecture [draft] notes.txt" in status.output, status.output
    shown = runner.invoke(app, ["ask", "Where do I click for notes?"], color=True, env={"COLUMNS": "200"})
    assert "«Click here for notes.»" in shown.output and "evil.example" not in shown.output, shown.output


def test_an_abstention_names_the_active_filters(corpus_copy: Path) -> None:
    assert runner.invoke(app, ["ingest", str(corpus_copy)]).exit_code == 0
    result = runner.invoke(
        app, ["ask", "Who won the 1998 football world cup?", "--speaker", "Nobody", "--since", "2024-01"],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (
        "searched: 'Who won the 1998 football world cup?' within speaker Nobody, since 2024-01"
        in result.output
    )


def test_ingest_with_unreadable_files_exits_3_and_a_clean_run_0(corpus_copy: Path) -> None:
    assert runner.invoke(app, ["ingest", str(corpus_copy)]).exit_code == 0
    (corpus_copy / "broken.pdf").write_bytes(b"%PDF-1.4 nope")
    (corpus_copy / "empty.md").write_text("")  # skipped by policy: not a failure
    result = runner.invoke(app, ["ingest", str(corpus_copy)])
    assert result.exit_code == 3 and "broken.pdf" in result.output
    assert runner.invoke(app, ["ingest", str(corpus_copy), "--dry-run"]).exit_code == 0
    (corpus_copy / "broken.pdf").unlink()
    assert runner.invoke(app, ["ingest", str(corpus_copy)]).exit_code == 0


def _clean_snapshot(tmp_path: Path, docs: Path) -> dict[str, str]:
    from rag.config import load_settings
    from rag.wiring import open_store

    clean = tmp_path / "clean-home"
    assert runner.invoke(app, ["ingest", str(docs), "--store", str(clean / "store")]).exit_code == 0
    store = open_store(load_settings(store=clean / "store"))
    return {i: t for i, t, _ in store.open("default").iter_records()}


def test_damaged_manifest_is_named_and_doctor_repairs_it(
    tmp_path: Path, corpus_copy: Path, rag_home: Path
) -> None:
    from rag.config import load_settings
    from rag.wiring import open_store

    assert runner.invoke(app, ["ingest", str(corpus_copy)]).exit_code == 0
    manifest = rag_home / "store" / "manifest.sqlite"
    for extra in ("-wal", "-shm"):
        Path(f"{manifest}{extra}").unlink(missing_ok=True)
    manifest.write_bytes(b"this is not sqlite " * 100)
    result = runner.invoke(app, ["ingest", str(corpus_copy)])
    assert result.exit_code == 1 and str(manifest) in result.output and "rag doctor --repair" in result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    checked = runner.invoke(app, ["doctor"], env={"COLUMNS": "200"})
    assert checked.exit_code == 1 and "damaged" in checked.output
    repaired = runner.invoke(app, ["doctor", "--repair"], env={"COLUMNS": "200"})
    assert repaired.exit_code == 0 and "repaired" in repaired.output, repaired.output
    assert runner.invoke(app, ["ingest", str(corpus_copy)]).exit_code == 0
    store = open_store(load_settings())
    got = {i: t for i, t, _ in store.open("default").iter_records()}
    assert got == _clean_snapshot(tmp_path, corpus_copy)  # same ids and texts as a clean ingest
    assert runner.invoke(app, ["doctor"]).exit_code == 0


def test_damaged_bm25_index_is_rebuilt_from_the_store(corpus_copy: Path, rag_home: Path) -> None:
    assert runner.invoke(app, ["ingest", str(corpus_copy)]).exit_code == 0
    lexical = next((rag_home / "store").rglob("ids.json")).parent
    for f in lexical.iterdir():
        if f.is_file():
            f.write_bytes(b"\xff\xfe garbage \x00" * 50)
    checked = runner.invoke(app, ["doctor"], env={"COLUMNS": "200"})
    assert "damaged" in checked.output
    result = runner.invoke(app, ["ask", "Menabrea", "--json"])  # heals itself on use
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["hits"][0]["source"].endswith("historia-04-lovelace.srt")
    assert runner.invoke(app, ["doctor", "--repair"]).exit_code == 0
    assert runner.invoke(app, ["ingest", str(corpus_copy), "--reembed"]).exit_code == 0


def test_models_prepare_builds_the_configured_generator_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make install` runs `rag models prepare` so that the first question does not convert and
    quantize: it must build the configured generator (here a counting fake), and say so."""
    from rag.generate import GENERATORS, ScriptedGenerator

    built: list[str] = []

    class Counting(ScriptedGenerator):
        def __init__(self, model: str = "", **kwargs: object) -> None:
            built.append(model)
            super().__init__(model)

    from core.registry import Entry

    monkeypatch.setitem(GENERATORS._entries, "counting", Entry("counting", Counting))
    monkeypatch.setenv("RAG_GENERATOR_BACKEND", "counting")
    monkeypatch.setenv("RAG_GENERATOR", "fake-model")
    result = runner.invoke(app, ["models", "prepare"])
    assert result.exit_code == 0, result.output
    assert built == ["fake-model"] and "fake-model: ready" in result.output


def test_a_collection_keeps_its_chunk_size_for_abstention(
    corpus_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chunk size a collection was built with reaches the abstention thresholds at query time."""
    from rag import abstain, wiring
    from rag.config import Settings

    assert runner.invoke(app, ["ingest", str(corpus_copy), "--chunk-tokens", "96"]).exit_code == 0
    s = Settings()
    assert wiring.open_collection(s, "default").metadata["chunk_tokens"] == 96
    again = runner.invoke(app, ["ingest", str(corpus_copy), "--json"])  # the default size is not asked for
    assert json.loads(again.stdout)["chunks_embedded"] == 0
    assert wiring.open_collection(s, "default").metadata["chunk_tokens"] == 96
    seen: list[int | None] = []
    real = abstain.calibrated_abstention

    def spy(*args: Any, **kwargs: Any) -> abstain.Abstention:
        seen.append(kwargs.get("chunk_tokens"))
        return real(*args, **kwargs)

    monkeypatch.setattr(abstain, "calibrated_abstention", spy)
    wiring.assistant(s, "default")
    assert seen == [96]


def test_ctrl_c_after_a_command_has_finished_does_not_kill_it() -> None:
    """Python puts SIGINT back to its default late in shutdown; a Ctrl-C landing there (the last
    exit handler here stands in for it) must leave a finished command's exit status and stderr alone."""
    script = (
        "import atexit, os, signal, sys\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "atexit.register(os.kill, os.getpid(), signal.SIGINT)\n"
        "sys.argv = ['rag', '--version']\n"
        "from rag.cli import main\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
