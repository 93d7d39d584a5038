"""The chat path on a multi-turn set, split into the conversations its word lists and answer
rules were written against ("dev") and the ones nobody looked at ("heldout"). Same scoring as
`rag eval SET --corpus DIR`; the corpus is ingested once into `--home` (later runs reuse it), so a
rerun costs the answers only. Prints and saves JSON with every turn.

    python scripts/eval_conversations.py --split heldout
    python scripts/eval_conversations.py --split dev --no-generate
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ingest.pipeline import IngestOptions, Ingestor
from rag import eval_data, wiring
from rag.cli_common import quiet_libraries
from rag.config import load_settings
from rag.eval_chat import ask_conversations, summarize
from rag.generate import ScriptedGenerator

ROOT = Path(__file__).resolve().parents[1]
SET = ROOT / "scripts" / "data" / "practical_ai_conversations.jsonl"
# Conversations c01-c07 were read while writing rag/followup.py and rag/chat_answers.py.
DEV = {f"c{n:02d}" for n in range(1, 8)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", type=Path, default=SET)
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "data" / "changelog_practical_ai")
    ap.add_argument("--split", choices=("dev", "heldout", "all"), default="heldout")
    ap.add_argument("--ids", default="", help="only these conversations, e.g. c01,c05")
    ap.add_argument("--no-generate", action="store_true", help="retrieval only (a scripted answer)")
    ap.add_argument("--home", type=Path, default=Path("/tmp/rag-eval-chat"), help="reused between runs")
    ap.add_argument("-o", "--option", action="append", default=[], help="a setting, e.g. top_k=3")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if not args.corpus.is_dir():
        raise SystemExit(f"{args.corpus}: no such folder (the shared data sets are needed)")
    quiet_libraries()
    overrides = dict(o.split("=", 1) for o in args.option)
    args.home.mkdir(parents=True, exist_ok=True)
    s = load_settings(home=args.home, collection="conversations", **overrides)
    conversations = [
        c
        for c in eval_data.load_conversations(args.set)
        if args.split == "all" or (c.id in DEV) == (args.split == "dev")
        if not args.ids or c.id in args.ids.split(",")
    ]
    embedder = wiring.embedder_for_ingest(s)
    with wiring.ingest_session(s) as (store, manifest):
        options = IngestOptions(collection=s.collection, chunk=wiring.chunk_config(s, embedder))
        Ingestor(store, manifest, embedder, wiring.lexical_dir(s, s.collection), options).run(args.corpus)
    scripted = ScriptedGenerator()
    provider = (lambda: scripted) if args.no_generate else None
    assistant = wiring.assistant(s, s.collection, generator=provider)
    t = time.perf_counter()
    results = ask_conversations(assistant, conversations, not args.no_generate)
    report = summarize(f"{args.set.stem}-{args.split}", len(conversations), results)
    seconds = round(time.perf_counter() - t, 1)
    summary = {k: v for k, v in report.to_dict().items() if k != "details"}
    print(json.dumps(summary | {"options": overrides, "seconds": seconds}, indent=1))
    out = args.out or ROOT / "bench-results" / f"conversations-{args.split}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report.to_dict() | {"options": overrides}, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
