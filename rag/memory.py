"""Conversation memory: the last N turns verbatim (with what each answer cited, for follow-ups:
rag/followup.py), a running summary of older turns written by the model, sessions saved as JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.files import write_text
from rag.errors import InputError
from rag.generate import Generator
from rag.prompts import load

_NAME = re.compile(r"^[\w.-]{1,80}$")


@dataclass
class Turn:
    question: str
    answer: str
    query: str = ""
    # What the answer cited: enough to keep "that talk, that time" in view for a follow-up.
    cited: list[dict[str, object]] = field(default_factory=list)
    answered: bool = True  # False: abstained or refused; never shown to the model as an answer
    kind: str = "standalone"  # how the question related to the conversation (rag/followup.py)


@dataclass
class Session:
    name: str = "default"
    turns: list[Turn] = field(default_factory=list)  # the verbatim window
    summary: str = ""
    summarized_turns: int = 0

    def save(self, folder: Path) -> Path:
        target = folder / f"{self.name}.json"
        text = json.dumps(asdict(self), ensure_ascii=False, indent=1)
        write_text(target, text, prefix=".session-", suffix=".json")
        return target

    @classmethod
    def load(cls, folder: Path, name: str) -> Session:
        check_session_name(name)
        path = folder / f"{name}.json"
        if not path.exists():
            return cls(name=name)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            turns = [Turn(**t) for t in data.get("turns", [])]
            return cls(name, turns, data.get("summary", ""), int(data.get("summarized_turns", 0)))
        except (ValueError, TypeError) as exc:
            raise InputError(
                f"session file {path} is damaged ({exc}); delete it or use another --session"
            ) from None


def check_session_name(name: str) -> str:
    if not _NAME.match(name):
        raise InputError(f"invalid session name {name!r}: use letters, digits, '.', '_' or '-'")
    return name


def _history_text(session: Session, limit: int = 600) -> str:
    lines = []
    if session.summary:
        lines.append(f"(Earlier: {session.summary})")
    for turn in session.turns:
        lines.append(f"User: {turn.question}")
        if not turn.answered:  # a refusal is not evidence: the model would repeat it
            lines.append("Assistant: (no answer was found in the documents)")
            continue
        answer = turn.answer if len(turn.answer) <= limit else turn.answer[:limit] + "…"
        lines.append(f"Assistant: {answer}")
        if turn.cited:
            lines.append("  (sources: " + "; ".join(str(c.get("label", "")) for c in turn.cited[:3]) + ")")
    return "\n".join(lines)


class Memory:
    """A chat's memory over one Session. `generator` is the provider the wiring also gives the
    Assistant (the model loads once, on first use); None keeps follow-ups as typed and summarises
    old turns by their questions (tests, and a chat that never needs the model)."""

    def __init__(self, session: Session, generator: Callable[[], Generator] | None, window: int) -> None:
        self.session = session
        self._generator = generator
        self.window = window

    @property
    def empty(self) -> bool:
        return not self.session.turns and not self.session.summary

    def history_for_prompt(self) -> str:
        return "" if self.empty else "Conversation so far:\n" + _history_text(self.session) + "\n\n"

    def last_cited(self) -> list[dict[str, object]]:
        return self.session.turns[-1].cited if self.session.turns else []

    def add(self, turn: Turn) -> None:
        self.session.turns.append(turn)
        if len(self.session.turns) > self.window:
            old = self.session.turns[: -self.window]
            self.session.turns = self.session.turns[-self.window :]
            self._summarize(old)

    def _summarize(self, old: list[Turn]) -> None:
        text = "\n".join(f"User: {t.question}\nAssistant: {t.answer}" for t in old)
        if self._generator is None:
            self.session.summary = (self.session.summary + " " + " / ".join(t.question for t in old)).strip()
        else:
            prompt = load("summarize").format(summary=self.session.summary or "(none)", turns=text)
            out = (
                self._generator()
                .generate([{"role": "user", "content": prompt}], max_new_tokens=160)
                .text.strip()
            )
            self.session.summary = out or self.session.summary
        self.session.summarized_turns += len(old)

    def reset(self) -> None:
        self.session.turns.clear()
        self.session.summary = ""
        self.session.summarized_turns = 0
