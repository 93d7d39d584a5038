"""Questions that name a speaker ("¿Cuántas páginas de apuntes escribió Don Beyer?"), through the
real answer path with `filters_from_question` off and on: where the passage holding the answer
ranks among the answer's candidates, and whether the answer holds it. Six Practical AI episodes;
the questions' "dev" split is the three that showed the problem, "heldout" the twelve written
(answer passage and gold answer read in the transcripts first) before anything was measured.
Prints and saves JSON with every answer.

    python scripts/eval_speakers.py --home /tmp/rag-eval-speakers [--no-generate]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

from ingest.pipeline import IngestOptions, Ingestor
from rag import wiring
from rag.cli_common import quiet_libraries
from rag.config import load_settings
from rag.generate import ScriptedGenerator

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "scripts" / "data" / "named_questions.jsonl"
EPISODES = (250, 252, 255, 258, 266, 271)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "data" / "changelog_practical_ai")
    ap.add_argument("--home", type=Path, default=Path("/tmp/rag-eval-named"), help="reused between runs")
    ap.add_argument("--no-generate", action="store_true", help="ranks only (a scripted answer)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench-results" / "named.json")
    args = ap.parse_args()
    quiet_libraries()
    questions = [
        json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    docs = args.home / "docs"
    if not docs.exists():
        docs.mkdir(parents=True)
        for n in EPISODES:
            shutil.copy(args.corpus / f"practical-ai-{n}.md", docs)
    s = load_settings(home=args.home, collection="named")
    with wiring.ingest_session(s) as (store, manifest):
        embedder = wiring.embedder_for_ingest(s)
        options = IngestOptions(collection=s.collection, chunk=wiring.chunk_config(s, embedder))
        Ingestor(store, manifest, embedder, wiring.lexical_dir(s, s.collection), options).run(docs)
    result: dict[str, Any] = {}
    for on in (False, True):
        settings = s.model_copy(update={"filters_from_question": on})
        scripted = ScriptedGenerator()
        generator = (lambda bound=scripted: bound) if args.no_generate else None
        assistant = wiring.assistant(settings, s.collection, generator=generator)
        rows = [_asked(assistant, q, scripted if args.no_generate else None) for q in questions]
        result["on" if on else "off"] = {"summary": _summary(rows), "answers": rows}
        print(json.dumps({"filters_from_question": on, **_summary(rows)}, ensure_ascii=False), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")


def _asked(assistant: Any, q: dict[str, Any], scripted: ScriptedGenerator | None) -> dict[str, Any]:
    if scripted is not None:
        scripted.enqueue("—")
    t = time.perf_counter()
    answer = assistant.ask(q["question"])
    needle = q["evidence"].lower()
    rank = next((i for i, h in enumerate(answer.hits) if needle in h.chunk.text.lower()), None)
    return {
        "question": q["question"],
        "split": f"{q['names']}-{q['split']}",
        "rank": rank,  # among the answer's candidates (top_k), None: not there
        "contained": None if scripted else any(g.lower() in answer.text.lower() for g in q["answers"]),
        "answer": answer.text,
        "abstained": answer.abstained,
        "filters": answer.filters,
        "seconds": round(time.perf_counter() - t, 2),
    }


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for split in sorted({r["split"] for r in rows}):
        part = [r for r in rows if r["split"] == split]
        ranks = [r["rank"] for r in part]
        out[split] = {
            "questions": len(part),
            "first": sum(r == 0 for r in ranks),
            "in_top_k": sum(r is not None for r in ranks),
            "contained": sum(bool(r["contained"]) for r in part),
            "abstained": sum(r["abstained"] for r in part),
        }
    return out


if __name__ == "__main__":
    main()
