"""Fault injection for `rag ingest`: interrupt it (SIGINT) and kill it (SIGKILL) at random moments,
and damage each file of the store in turn; after each fault, the next `rag ingest` (after
`rag doctor --repair` where the error asks for it) must end with the same chunk ids, texts and
BM25 index as a clean ingest, a vector index that finds its own chunks, and every error must be one line, never a traceback.

Runs the real CLI in subprocesses on the podcast transcripts of ../shared/data (or corpus/), with
the hash embedder so a trial takes seconds. Prints and saves JSON; exits 1 if any trial failed.

    python scripts/fault_injection.py [--trials 8] [--seed 1] [--out bench-results/faults.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.integrity import vector_problem
from core.lexical import LexicalIndex
from core.store import VectorCollection
from rag import wiring
from rag.config import load_settings

ROOT = Path(__file__).resolve().parents[1]
RAG = [str(Path(sys.executable).parent / "rag")]  # the installed console script, as users run it


def env_for(home: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    return keep | {
        "RAG_HOME": str(home),
        "RAG_EMBEDDER_BACKEND": "hash",
        "RAG_EMBEDDER": "64",
        "RAG_RERANKER": "",
        "RAG_GENERATOR_BACKEND": "scripted",  # an answer without a model: the query path is exercised
        # Small chunks: enough of them that Chroma writes its HNSW index to disk, whose files are damaged too.
        "RAG_CHUNK_TOKENS": "96",
        "RAG_CHUNK_OVERLAP": "32",
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(ROOT),
    }


def rag(home: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RAG, *args], env=env_for(home), capture_output=True, text=True, timeout=timeout)


def open_collection(home: Path) -> VectorCollection:
    s = load_settings(home=home, embedder_backend="hash", embedder="64")
    return wiring.open_store(s).open("default")


Snapshot = tuple[dict[str, str], list[str]]


def snapshot(home: Path) -> Snapshot:
    """(chunk id → text, sorted BM25 ids) of the default collection."""
    s = load_settings(home=home, embedder_backend="hash", embedder="64")
    collection = open_collection(home)
    index = LexicalIndex.load(wiring.lexical_dir(s, "default"))
    return {i: t for i, t, _ in collection.iter_records()}, sorted(index.ids) if index else []


def one_line_error(done: subprocess.CompletedProcess[str]) -> bool:
    return "Traceback" not in done.stderr and "internal error" not in done.stderr


def finish(home: Path, docs: Path) -> tuple[bool, str]:
    """The next ingest, with the repair its error asks for; True when it completed."""
    done = rag(home, "ingest", str(docs))
    if done.returncode != 0 and "rag doctor --repair" in done.stderr:
        repaired = rag(home, "doctor", "--repair")
        if repaired.returncode != 0:
            return False, f"doctor --repair failed: {repaired.stdout[-300:]}{repaired.stderr[-300:]}"
        done = rag(home, "ingest", str(docs))
    if not one_line_error(done):
        return False, f"not a one-line error: {done.stderr[-400:]}"
    if done.returncode != 0:
        return False, done.stderr.strip()[-300:]
    problem = vector_problem(open_collection(home))
    if problem:
        return False, f"ingest completed, but the vector index {problem}"
    asked = rag(home, "ask", "What did the guests say about vector databases?", "--json")
    if asked.returncode != 0 or not one_line_error(asked):
        return False, f"ingest completed, then a question failed: {asked.stderr.strip()[-300:]}"
    return True, ""


def interrupted(home: Path, docs: Path, sig: int, after: float) -> str:
    proc = subprocess.Popen(
        [*RAG, "ingest", str(docs)],
        env=env_for(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # started from a background job, a child would inherit SIGINT ignored and never see the fault
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(after)
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return "did not stop within 30 s of the signal"
    if sig == signal.SIGINT and proc.returncode not in (0, 130):
        return f"SIGINT gave exit {proc.returncode}: {err[-300:]}"
    if sig == signal.SIGINT and "Traceback" in err:
        return f"SIGINT printed a traceback: {err[-300:]}"
    return ""


def signalled(home: Path, docs: Path, sig: int, after: float, want: Snapshot) -> tuple[bool, str]:
    problem = interrupted(home, docs, sig, after)
    ok, why = finish(home, docs)
    return ok and not problem and snapshot(home) == want, problem or why


def damaged(base: Path, home: Path, relative: Path, docs: Path, want: Snapshot) -> tuple[bool, str]:
    shutil.copytree(base, home)
    target = home / relative
    target.write_bytes(b"\xff\xfe damaged \x00" * 64)
    ok, why = finish(home, docs)
    if "chroma.sqlite3" in target.name:  # Chroma's own database: not derivable; a clear error is right
        return not ok and why != "" and "Traceback" not in why, why
    return ok and snapshot(home) == want, why


def guarded(trial: Callable[..., tuple[bool, str]], *args: Any) -> dict[str, object]:
    """One trial's outcome; a trial that raises fails with its traceback instead of ending the run."""
    try:
        ok, why = trial(*args)
    except Exception:
        return {"ok": False, "why": f"the trial raised: {traceback.format_exc()[-1500:]}"}
    return {"ok": ok, "why": why}


def damage(home: Path, rng: random.Random) -> list[Path]:
    """Every file of the store that could be damaged (the Chroma database, the manifest, BM25)."""
    files = [
        p
        for p in (home / "store").rglob("*")
        if p.is_file() and not p.name.endswith(("-wal", "-shm", ".lock"))
    ]
    rng.shuffle(files)
    return files


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--trials", type=int, default=8, help="SIGINT and SIGKILL trials each")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ROOT / "bench-results" / "faults.json")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="rag-faults-"))
    results: list[dict[str, object]] = []
    try:
        source = args.data / "changelog_practical_ai"
        docs = work / "docs"
        shutil.copytree(source if source.exists() else ROOT / "corpus", docs)
        t = time.perf_counter()
        assert rag(work / "clean", "ingest", str(docs)).returncode == 0
        clean_s = time.perf_counter() - t
        want = snapshot(work / "clean")
        trials: list[tuple[str, float | None]] = [
            ("SIGINT", rng.uniform(0.5, clean_s)) for _ in range(args.trials)
        ]
        trials += [("SIGKILL", rng.uniform(0.5, clean_s)) for _ in range(args.trials)]
        for n, (kind, after) in enumerate(trials):
            home = work / f"t{n}"
            fault = signal.SIGINT if kind == "SIGINT" else signal.SIGKILL
            results.append(
                {"fault": kind, "after_s": round(after or 0, 2)}
                | guarded(signalled, home, docs, fault, after or 0, want)
            )
            shutil.rmtree(home, ignore_errors=True)
        base = work / "damaged-base"
        assert rag(base, "ingest", str(docs)).returncode == 0
        for n, file in enumerate(damage(base, rng)):
            # A new path per trial: Chroma caches an open database per path inside this process, and
            # would read a rebuilt collection's id from the trial before.
            home = work / f"damaged-{n}"
            relative = file.relative_to(base)
            results.append(
                {"fault": f"damaged {relative}"} | guarded(damaged, base, home, relative, docs, want)
            )
            shutil.rmtree(home, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = {
        "trials": len(results),
        "passed": sum(bool(r["ok"]) for r in results),
        "clean_ingest_s": round(clean_s, 1),
        "results": results,
    }
    print(json.dumps(summary, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    sys.exit(0 if summary["passed"] == summary["trials"] else 1)


if __name__ == "__main__":
    main()
