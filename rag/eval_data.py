"""Evaluation data sets → one shape: documents plus queries with graded gold documents and answers.

Adapters: SQuAD-format JSON (English or Spanish), BEIR folders (corpus.jsonl / queries.jsonl /
qrels/*.tsv), Cranfield (cran.all.1400 / cran.qry / cranqrel), CLAP NQ (the answerable and
unanswerable JSONL files, their gold passages pooled as the corpus), and a plain QA JSONL file.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import InputError

# The SQuAD articles the built-in reranker held out of training (its train_report.json): the
# held-out answer splits of scripts/eval_answers.py, kept out of every calibration.
_RERANKER_REPORT = Path(__file__).parent / "weights" / "rag-reranker-minilm-l6" / "train_report.json"


def held_out_articles() -> dict[str, set[str]]:
    """Language → the titles of the SQuAD articles no training or calibration run has used."""
    validation = json.loads(_RERANKER_REPORT.read_text(encoding="utf-8"))["validation"]
    return {lang: set(v["val_titles"]) for lang, v in validation.items()}


@dataclass(frozen=True)
class EvalDoc:
    id: str
    title: str
    text: str


@dataclass
class EvalQuery:
    id: str
    question: str
    gold: dict[str, float] = field(default_factory=dict)  # doc id → graded relevance (> 0)
    answers: list[str] = field(default_factory=list)
    answerable: bool = True


@dataclass
class EvalSet:
    name: str
    docs: list[EvalDoc]
    queries: list[EvalQuery]

    def limit(self, n: int | None) -> EvalSet:
        return self if not n else EvalSet(self.name, self.docs, self.queries[:n])


def detect(path: Path) -> str:
    if path.is_dir():
        names = {p.name for p in path.iterdir()}
        if "cran.all.1400" in names:
            return "cranfield"
        if "corpus.jsonl" in names:
            return "beir"
        if any(n.startswith("clapnq") and n.endswith(".jsonl") for n in names):
            return "clapnq"
        squad = [p for p in path.glob("*.json")]
        if len(squad) == 1:
            return "squad"
        raise InputError(f"{path}: cannot tell the data set format; pass --format")
    if path.suffix == ".json":
        return "squad"
    if path.suffix == ".jsonl":
        return "jsonl"
    raise InputError(f"{path}: unsupported evaluation file (expected .json, .jsonl or a data set folder)")


def load(path: Path, fmt: str = "auto", corpus: Path | None = None) -> EvalSet:
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    fmt = detect(path) if fmt == "auto" else fmt
    loaders = {"squad": load_squad, "beir": load_beir, "cranfield": load_cranfield, "clapnq": load_clapnq}
    try:
        if fmt == "jsonl":
            return load_jsonl(path, corpus)
        if fmt not in loaders:
            raise InputError(f"unknown format {fmt!r} (auto, squad, beir, cranfield, clapnq, jsonl)")
        return loaders[fmt](path)
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise InputError(f"{path}: not valid {fmt} data ({type(exc).__name__}: {exc})") from None


def load_squad(path: Path) -> EvalSet:
    file = path if path.is_file() else next(path.glob("*.json"))
    data = json.loads(file.read_text(encoding="utf-8"))["data"]
    docs, queries = [], []
    for article in data:
        for n, para in enumerate(article["paragraphs"]):
            doc_id = f"{article['title']}-{n}"
            docs.append(EvalDoc(doc_id, article["title"].replace("_", " "), para["context"]))
            for qa in para["qas"]:
                impossible = bool(qa.get("is_impossible"))
                answers = [a["text"] for a in qa.get("answers", [])]
                queries.append(
                    EvalQuery(
                        qa["id"], qa["question"], {} if impossible else {doc_id: 1.0}, answers, not impossible
                    )
                )
    return EvalSet(file.stem, docs, queries)


def load_beir(path: Path) -> EvalSet:
    docs = []
    with (path / "corpus.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                d = json.loads(line)
                docs.append(EvalDoc(str(d["_id"]), d.get("title", ""), d["text"]))
    texts = {}
    with (path / "queries.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                q = json.loads(line)
                texts[str(q["_id"])] = q["text"]
    qrels_dir = path / "qrels"
    qrel_file = qrels_dir / "test.tsv" if (qrels_dir / "test.tsv").exists() else next(qrels_dir.glob("*.tsv"))
    gold: dict[str, dict[str, float]] = {}
    with qrel_file.open(encoding="utf-8") as fh:
        for row in csv.reader(fh, delimiter="\t"):
            if not row or row[0] == "query-id":
                continue
            if float(row[2]) > 0:
                gold.setdefault(row[0], {})[row[1]] = float(row[2])
    queries = [EvalQuery(qid, texts[qid], g) for qid, g in gold.items() if qid in texts]
    return EvalSet(path.name, docs, queries)


def _trec_fields(text: str) -> list[dict[str, str]]:
    records: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key: str | None = None
    for line in text.splitlines():
        m = re.match(r"^\.([ITABW])(?:\s+(\S+))?\s*$", line)
        if m:
            if m.group(1) == "I":
                if current:
                    records.append(current)
                current, key = {"I": m.group(2) or ""}, None
            else:
                key = m.group(1)
                current[key] = ""
        elif key:
            current[key] += line + "\n"
    if current:
        records.append(current)
    return records


def load_cranfield(path: Path) -> EvalSet:
    docs = [
        EvalDoc(r["I"], " ".join(r.get("T", "").split()), " ".join(r.get("W", "").split()))
        for r in _trec_fields((path / "cran.all.1400").read_text(encoding="utf-8", errors="replace"))
    ]
    # qrels number the queries 1..225 in file order, not by their .I labels.
    questions = [" ".join(r.get("W", "").split()) for r in _trec_fields((path / "cran.qry").read_text())]
    gold: dict[int, dict[str, float]] = {}
    for line in (path / "cranqrel").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3 and int(parts[2]) in (1, 2, 3, 4):
            gold.setdefault(int(parts[0]), {})[parts[1]] = float(5 - int(parts[2]))  # 1 = most relevant
    queries = [EvalQuery(str(i), q, gold.get(i, {})) for i, q in enumerate(questions, start=1) if gold.get(i)]
    return EvalSet("cranfield", docs, queries)


def load_clapnq(path: Path) -> EvalSet:
    docs: dict[str, EvalDoc] = {}
    queries = []
    for file in sorted(path.glob("clapnq*.jsonl")):
        for line in file.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            rec = json.loads(line)
            p = rec["passages"][0]
            doc_id = f"{rec['id']}-p"
            docs[doc_id] = EvalDoc(doc_id, p.get("title", ""), p["text"])
            answers = [o["answer"] for o in rec.get("output", []) if o.get("answer")]
            answerable = "unanswerable" not in file.name and bool(answers)
            queries.append(
                EvalQuery(
                    str(rec["id"]), rec["input"], {doc_id: 1.0} if answerable else {}, answers, answerable
                )
            )
    return EvalSet("clapnq", list(docs.values()), queries)


def load_jsonl(path: Path, corpus: Path | None) -> EvalSet:
    """One JSON object per line: question, answers, answerable, and either gold_passages (texts,
    which become the corpus) or gold_sources (file names inside --corpus)."""
    docs: dict[str, EvalDoc] = {}
    queries = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        rec = json.loads(line)
        gold: dict[str, float] = {}
        for i, text in enumerate(rec.get("gold_passages", [])):
            doc_id = f"q{n}-p{i}"
            docs[doc_id] = EvalDoc(doc_id, "", text)
            gold[doc_id] = 1.0
        for name in rec.get("gold_sources", []):
            gold[str(name)] = 1.0
        answers = rec.get("answers", [])
        queries.append(
            EvalQuery(
                str(rec.get("id", n)),
                rec["question"],
                gold,
                answers,
                bool(rec.get("answerable", bool(gold or answers))),
            )
        )
    if corpus is not None:
        if not corpus.is_dir():
            raise InputError(f"--corpus {corpus}: not a folder")
        for file in sorted(p for p in corpus.rglob("*") if p.is_file()):
            docs[file.name] = EvalDoc(file.name, file.stem, "")  # ingested from the file itself
    if not docs:
        raise InputError(f"{path}: no gold_passages and no --corpus folder to search")
    return EvalSet(path.stem, list(docs.values()), queries)


def _signature(text: str) -> set[str]:
    """What machine translation leaves alone: numbers and capitalised names, accent-folded."""
    from core.text import fold

    words = re.findall(r"\w+", text)
    return {fold(w) for w in words if any(c.isdigit() for c in w) or (w[0].isupper() and len(w) >= 4)}


def align(first: EvalSet, second: EvalSet, *, floor: float = 0.25, margin: float = 0.1) -> dict[str, str]:
    """Documents of `first` → their translations in `second` (SQuAD-es translated SQuAD but kept
    no ids). A pair is kept only when each is the other's best match by the Jaccard overlap of
    their signatures, at least `floor`, and ahead of the runner-up by `margin`."""
    a = [(d.id, _signature(d.text)) for d in first.docs]
    b = [(d.id, _signature(d.text)) for d in second.docs]

    def jac(x: set[str], y: set[str]) -> float:
        return len(x & y) / max(1, len(x | y))

    back = {bid: max(a, key=lambda item: jac(sig, item[1]))[0] for bid, sig in b}
    pairs: dict[str, str] = {}
    for aid, sig in a:
        ranked = sorted(((jac(sig, s), bid) for bid, s in b), reverse=True)[:2]
        (best, bid), runner_up = ranked[0], (ranked[1][0] if len(ranked) > 1 else 0.0)
        if back[bid] == aid and best >= floor and best - runner_up >= margin:
            pairs[aid] = bid
    return pairs


def crosslingual(questions: EvalSet, corpus: EvalSet, pairs: dict[str, str], name: str) -> EvalSet:
    """Questions of one language over the other language's documents: each answerable question
    whose gold paragraph has an aligned translation is judged against that translation."""
    queries = [
        EvalQuery(q.id, q.question, {pairs[d]: g for d, g in q.gold.items()}, q.answers, True)
        for q in questions.queries
        if q.answerable and q.gold and all(d in pairs for d in q.gold)
    ]
    return EvalSet(name, corpus.docs, queries)


@dataclass
class ConversationTurn:
    question: str
    gold: dict[str, float]  # file names (or document ids) that answer it
    answers: list[str]
    kind: str  # what the set's author meant it to be: standalone, speaker, after, before, topic, ...


@dataclass
class Conversation:
    id: str
    turns: list[ConversationTurn]


def is_conversations(path: Path) -> bool:
    """A JSONL file whose first record has "turns": a multi-turn (chat) evaluation set."""
    if path.suffix != ".jsonl" or not path.is_file():
        return False
    with path.open(encoding="utf-8") as fh:
        first = next((line for line in fh if line.strip()), "")
    try:
        return isinstance(json.loads(first).get("turns"), list)
    except (ValueError, AttributeError):
        return False


def load_conversations(path: Path) -> list[Conversation]:
    """One conversation per line: {"id", "turns": [{"question", "gold_sources", "answers", "kind"}]}."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            turns = [
                ConversationTurn(
                    t["question"],
                    {str(s): 1.0 for s in t.get("gold_sources", [])},
                    [str(a) for a in t.get("answers", [])],
                    str(t.get("kind", "")),
                )
                for t in rec["turns"]
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{path}:{n}: not a conversation record ({type(exc).__name__}: {exc})") from None
        out.append(Conversation(str(rec.get("id", n)), turns))
    if not out:
        raise InputError(f"{path}: no conversations")
    return out
