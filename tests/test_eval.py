from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rag import eval_data
from rag.cli import app
from rag.errors import InputError
from rag.metrics import average_precision, contains_answer, mrr_at, ndcg_at, recall_at, token_f1
from tests.conftest import shared

runner = CliRunner()


def test_retrieval_metrics_exact() -> None:
    gold = {"a": 3.0, "b": 1.0}
    ranking = ["x", "a", "y", "b"]
    assert (
        recall_at(ranking, gold, 1) == 0.0
        and recall_at(ranking, gold, 2) == 0.5
        and recall_at(ranking, gold, 4) == 1.0
    )
    assert mrr_at(ranking, gold) == 0.5
    assert average_precision(ranking, gold) == pytest.approx((1 / 2 + 2 / 4) / 2)
    ideal = 3.0 + 1.0 / 1.5849625
    assert ndcg_at(ranking, gold) == pytest.approx((3.0 / 1.5849625 + 1.0 / 2.3219281) / ideal)
    assert ndcg_at(["a", "b"], gold) == pytest.approx(1.0)
    assert mrr_at(["x"] * 10 + ["a"], gold, 10) == 0.0


def test_answer_metrics() -> None:
    assert contains_answer("It was Ada Lovelace, in 1843.", ["ada lovelace"])
    assert contains_answer("La región de Murcia", ["region de murcia"])  # accents and articles normalised
    assert not contains_answer("Babbage", ["Lovelace"])
    assert token_f1("the Normans in Normandy", ["Normandy"]) == pytest.approx(2 * (1 / 3) * 1 / (1 / 3 + 1))
    assert token_f1("nothing", ["Normandy"]) == 0.0


def _squad(tmp_path: Path) -> Path:
    data = {
        "data": [
            {
                "title": "Ada_Lovelace",
                "paragraphs": [
                    {
                        "context": "Ada Lovelace wrote the first published program in 1843 for the analytical engine.",
                        "qas": [
                            {
                                "id": "q1",
                                "question": "When did Lovelace publish the first program?",
                                "is_impossible": False,
                                "answers": [{"text": "1843", "answer_start": 62}],
                            },
                            {
                                "id": "q2",
                                "question": "What did Lovelace eat for breakfast?",
                                "is_impossible": True,
                                "answers": [],
                            },
                        ],
                    }
                ],
            },
            {
                "title": "Physics",
                "paragraphs": [
                    {
                        "context": "Photovoltaic cells turn photons into electric current at a p-n junction.",
                        "qas": [
                            {
                                "id": "q3",
                                "question": "What do photovoltaic cells turn photons into?",
                                "is_impossible": False,
                                "answers": [{"text": "electric current", "answer_start": 30}],
                            }
                        ],
                    }
                ],
            },
        ]
    }
    f = tmp_path / "mini-squad.json"
    f.write_text(json.dumps(data))
    return f


def test_squad_adapter(tmp_path: Path) -> None:
    s = eval_data.load(_squad(tmp_path))
    assert len(s.docs) == 2 and [q.answerable for q in s.queries] == [True, False, True]
    assert s.queries[0].gold == {"Ada_Lovelace-0": 1.0} and s.queries[1].gold == {}


def test_beir_adapter(tmp_path: Path) -> None:
    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_text(
        '{"_id": "d1", "title": "T", "text": "alpha"}\n{"_id": "d2", "text": "beta"}\n'
    )
    (tmp_path / "queries.jsonl").write_text('{"_id": "1", "text": "alpha?"}\n{"_id": "2", "text": "none"}\n')
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n1\td1\t2\n2\td2\t0\n")
    s = eval_data.load(tmp_path)
    assert [d.id for d in s.docs] == ["d1", "d2"]
    assert [(q.id, q.gold) for q in s.queries] == [("1", {"d1": 2.0})]


def test_shared_adapters() -> None:
    cran = eval_data.load(shared("cranfield"))
    assert len(cran.docs) == 1400 and len(cran.queries) == 225
    assert all(set(g) <= {5 - r for r in (1, 2, 3, 4)} for g in (set(q.gold.values()) for q in cran.queries))
    assert cran.queries[2].question.startswith("what problems of heat conduction in composite slabs")
    clap = eval_data.load(shared("clapnq_dev"))
    assert len(clap.queries) == 600 and len(clap.docs) == 600
    assert sum(q.answerable for q in clap.queries) == 300
    es = eval_data.load(shared("squad_es_v2_dev"))
    assert len(es.docs) == 1024 and len(es.queries) == 6138


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        eval_data.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"nope": 1}')
    with pytest.raises(InputError, match="not valid squad"):
        eval_data.load(bad)
    empty = tmp_path / "qa.jsonl"
    empty.write_text('{"question": "q?", "answers": ["a"]}\n')
    with pytest.raises(InputError, match="--corpus"):
        eval_data.load(empty)


def test_eval_cli_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_GENERATOR_BACKEND", "scripted")
    monkeypatch.setenv("RAG_EMBEDDER", "256")
    result = runner.invoke(app, ["eval", str(_squad(tmp_path)), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [s["stage"] for s in report["stages"]] == ["dense", "lexical", "hybrid", "reranked", "fused"]
    stages = {s["stage"]: s for s in report["stages"]}
    hybrid = stages["hybrid"]
    # The identity reranker the tests use keeps the retrieval order, so both reranked stages equal hybrid.
    assert {**stages["reranked"], "stage": "hybrid"} == hybrid
    assert {**stages["fused"], "stage": "hybrid"} == hybrid
    assert hybrid["queries"] == 2 and hybrid["recall_at_10"] == 1.0  # two documents, both found
    answers = report["answers"]
    assert answers["questions"] == 3 and answers["unanswerable"] == 1
    assert answers["citation_precision"] is not None and "retrieve" in answers["latency"]
    result = runner.invoke(app, ["eval", str(_squad(tmp_path)), "--no-generate", "--limit", "1", "--json"])
    report = json.loads(result.stdout)
    assert report["answers"] is None and report["stages"][0]["queries"] == 1


def test_eval_jsonl_with_corpus(tmp_path: Path, corpus_copy: Path) -> None:
    qa = tmp_path / "qa.jsonl"
    qa.write_text(
        json.dumps(
            {
                "question": "Who translated the Menabrea article?",
                "answers": ["Ada Lovelace"],
                "gold_sources": ["historia-04-lovelace.srt"],
            }
        )
        + "\n"
    )
    result = runner.invoke(app, ["eval", str(qa), "--corpus", str(corpus_copy), "--no-generate", "--json"])
    assert result.exit_code == 0, result.output
    hybrid = json.loads(result.stdout)["stages"][1]
    assert hybrid["recall_at_1"] == 1.0


def test_eval_cli_errors(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", str(tmp_path / "nope.json")])
    assert result.exit_code == 1 and "no such file" in result.output
    result = runner.invoke(app, ["eval", str(tmp_path), "--format", "xml"])
    assert result.exit_code == 1 and "unknown format" in result.output


def _set(name: str, docs: list[tuple[str, str]], questions: list[tuple[str, str]]) -> eval_data.EvalSet:
    return eval_data.EvalSet(
        name,
        [eval_data.EvalDoc(i, "", t) for i, t in docs],
        [eval_data.EvalQuery(f"{name}{n}", q, {d: 1.0}) for n, (q, d) in enumerate(questions)],
    )


def test_translations_are_aligned_by_names_and_numbers() -> None:
    en = _set(
        "en",
        [
            ("a", "Warsaw had 1,700,000 people in 1939 and Chopin lived there."),
            ("b", "The Normans came from Normandy under Rollo in 911."),
            ("c", "Steam engines are heat engines that perform work."),  # no names: not alignable
        ],
        [("How many lived in Warsaw?", "a"), ("Who led the Normans?", "b"), ("What is a steam engine?", "c")],
    )
    es = _set(
        "es",
        [
            ("x", "Los normandos vinieron de Normandía bajo Rollo en 911."),
            ("y", "Varsovia tenía 1,700,000 habitantes en 1939 y Chopin vivió allí."),
            ("z", "Las máquinas de vapor son máquinas térmicas."),
        ],
        [("¿Quién dirigió a los normandos?", "x")],
    )
    pairs = eval_data.align(en, es)
    assert pairs == {"a": "y", "b": "x"}
    crossed = eval_data.crosslingual(en, es, pairs, "en>es")
    assert [(q.question, q.gold) for q in crossed.queries] == [
        ("How many lived in Warsaw?", {"y": 1.0}),
        ("Who led the Normans?", {"x": 1.0}),
    ]
    assert [d.id for d in crossed.docs] == ["x", "y", "z"]


def test_shared_squad_translations_align_within_their_articles() -> None:
    en = eval_data.load(shared("squad2_dev_half_en") / "dev-v2.0.json")
    es = eval_data.load(shared("squad_es_v2_dev") / "dev-v2.0-es_small.json")
    pairs = eval_data.align(en, es)
    assert len(pairs) > 250
    titles = {(a.rsplit("-", 1)[0], b.rsplit("-", 1)[0]) for a, b in pairs.items()}
    assert ("Warsaw", "Varsovia") in titles and len(titles) == 16  # one Spanish article per English one


def test_eval_runs_conversations_through_the_chat_path(tmp_path: Path, corpus_copy: Path) -> None:
    talk, exam = "deep-learning-01-gradients.srt", "exam-logistics.md"
    conv = [
        {
            "id": "resnet",
            "turns": [
                {"question": "How deep did ResNet go?", "gold_sources": [talk], "answers": ["152"], "kind": "standalone"},
                {"question": "Who said that?", "gold_sources": [talk], "answers": ["Moreno"], "kind": "speaker"},
                {"question": "¿En qué aula es el examen final?", "gold_sources": [exam], "answers": ["B-214"], "kind": "standalone"},
            ],
        }
    ]  # fmt: skip
    data = tmp_path / "chat.jsonl"
    data.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in conv) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["eval", str(data), "--corpus", str(corpus_copy), "--no-generate", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["conversations"], report["turns"]) == (1, 3)
    turns = report["details"]
    assert [t["resolved"] for t in turns] == ["standalone", "speaker", "standalone"]
    assert turns[1]["top3"][0] == talk and turns[2]["query"] == "¿En qué aula es el examen final?"
    assert report["follow_up_top3"] == 1.0 and report["standalone_kept"] == 1.0
    assert report["kind_agreement"] == 1.0 and report["contained"] is None  # retrieval only
    missing = runner.invoke(app, ["eval", str(data)])
    assert missing.exit_code == 1 and "pass --corpus" in missing.output


def test_each_answer_records_which_documents_it_cited() -> None:
    """The per-answer record says which cited documents were right: what a citation-precision
    miss is read from."""
    from rag.eval_answers import _Tally
    from rag.eval_data import EvalQuery
    from rag.types import Answer, Citation

    def cite(number: int, source: str, text: str) -> Citation:
        return Citation(number, source, source, "", None, None, None, None, [], 1.0, 1.0, text)

    q = EvalQuery("q1", "When did Lovelace publish?", {"lovelace": 1.0}, ["1843"])
    answer = Answer(
        q.question,
        q.question,
        "In 1843 [1][2].",
        citations=[
            cite(1, "docs/lovelace.md", "She published in 1843."),
            cite(2, "docs/babbage.md", "Gears."),
        ],
    )
    tally = _Tally()
    detail = tally.add(q, answer, {"lovelace": "lovelace", "babbage": "babbage"})
    assert detail["cited"] == [{"doc": "lovelace", "ok": True}, {"doc": "babbage", "ok": False}]
    assert detail["gold_docs"] == ["lovelace"] and tally.cited_ok == [True, False]


def test_an_answer_quoting_its_source_is_in_the_language_of_its_own_words() -> None:
    from rag.eval_answers import written_in

    assert written_in("La fuente dice: «The Soviet Union deployed its 40th Army.» [1].") == "es"
    assert written_in("The source says: «La Unión Soviética desplegó su ejército.» [1].") == "en"
    said = "La Unión Soviética desplegó su 40.º ejército en Afganistán en 1979 [1]. La fuente dice: «In 1979, the Soviet Union deployed its 40th Army into Afghanistan.» [1]."  # fmt: skip
    assert written_in(said) == "es"
    assert written_in("The Soviet Union deployed its army into Afghanistan in 1979 [1].") == "en"
