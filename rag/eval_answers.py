"""Answer metrics for `rag eval` and scripts/eval_answers.py: is the gold answer in the answer, are
its citations right, are its facts in what it cites, is it in the question's language, and are
refusals where they belong."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.text import guess_language, own_words, question_language
from rag.answer import Assistant
from rag.citations import QUOTE_LEAD, audit
from rag.eval_data import EvalQuery, EvalSet
from rag.metrics import contains_answer, normalize, token_f1
from rag.sentences import sentences_of
from rag.types import Answer

OnProgress = Callable[[str, int, int], None]


@dataclass
class AnswerMetrics:
    questions: int
    answerable: int
    unanswerable: int
    answer_contained: float | None  # gold answer in the answer text shown
    answer_contained_generated: float | None  # the same, not counting sentences replaced by a quote
    token_f1: float | None
    citation_precision: float | None  # a cited passage is gold or contains a gold answer
    unsupported_facts: float | None  # share of answers stating a number or name no cited passage holds
    replaced: float | None  # share of answers with a sentence replaced by the source's words
    dropped: float | None  # share of answers with a sentence dropped as not held by the sources
    language_match: float | None  # share of answers in the question's language
    refusal_precision: float | None
    refusal_recall: float | None
    wrong_refusals: float | None  # share of answerable questions declined
    latency: dict[str, dict[str, float]] = field(default_factory=dict)
    details: list[dict[str, object]] = field(default_factory=list, repr=False)


def pct(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 3),
        "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 3),
    }


def generated_text(answer: Answer) -> str:
    """The answer without the sentences that verification replaced by a quote."""
    leads = tuple(QUOTE_LEAD.values())
    return " ".join(s for s in sentences_of(answer.text, quotes=True) if not s.startswith(leads))


def _share(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def written_in(text: str) -> str:
    """The language an answer is written in: its own words (not what it quotes), or, for an
    answer that is the source's sentence quoted, the language of the lead that introduces it
    ("La fuente dice: «…English…»" answers a Spanish question in Spanish)."""
    lead = next((lang for lang, words in QUOTE_LEAD.items() if text.startswith(words)), None)
    return guess_language(own_words(text)) or lead or guess_language(text) or question_language(text)


@dataclass
class _Tally:
    contained: list[bool] = field(default_factory=list)
    contained_generated: list[bool] = field(default_factory=list)
    f1: list[float] = field(default_factory=list)
    cited_ok: list[bool] = field(default_factory=list)
    unsupported: list[bool] = field(default_factory=list)
    replaced: list[bool] = field(default_factory=list)
    dropped: list[bool] = field(default_factory=list)
    language: list[bool] = field(default_factory=list)
    declined_unanswerable: list[bool] = field(default_factory=list)  # per declined answer
    declined_answerable: list[bool] = field(default_factory=list)  # per answerable question

    def add(self, q: EvalQuery, answer: Answer, names: dict[str, str]) -> dict[str, object]:
        detail: dict[str, object] = {"question": q.question, "answer": answer.text, "gold": q.answers[:3]}
        if answer.declined:
            self.declined_unanswerable.append(not q.answerable)
        if q.answerable:
            self.declined_answerable.append(answer.declined)
        if not answer.declined:
            missing = audit(answer)
            self.unsupported.append(bool(missing))
            self.replaced.append(bool(answer.replaced_facts))
            self.dropped.append(bool(answer.dropped_sentences))
            self.language.append(written_in(answer.text) == question_language(q.question))
            detail |= {
                "unsupported": missing,
                "replaced": answer.replaced_facts,
                "dropped": answer.dropped_sentences,
            }
        if q.answerable and q.answers:
            self.contained.append(contains_answer(answer.text, q.answers))
            self.contained_generated.append(contains_answer(generated_text(answer), q.answers))
            self.f1.append(token_f1(answer.text, q.answers))
            detail["contained"] = self.contained[-1]
        if q.answerable:
            cited = []
            for c in answer.citations:
                doc = names.get(Path(c.source).stem, Path(c.source).name)
                norm = normalize(c.text)
                ok = doc in q.gold or any(normalize(a) in norm for a in q.answers if normalize(a))
                self.cited_ok.append(ok)
                cited.append({"doc": doc, "ok": ok})
            detail |= {"gold_docs": sorted(q.gold), "cited": cited}
        return detail


def answer_metrics(
    evalset: EvalSet, assistant: Assistant, names: dict[str, str], on_progress: OnProgress | None = None
) -> AnswerMetrics:
    tally = _Tally()
    timings: dict[str, list[float]] = {}
    details = []
    for i, q in enumerate(evalset.queries, start=1):
        answer = assistant.ask(q.question)
        for stage, seconds in answer.timings.items():
            timings.setdefault(stage, []).append(seconds)
        details.append(
            tally.add(q, answer, names) | {"declined": answer.declined, "answerable": q.answerable}
        )
        if on_progress:
            on_progress("answers", i, len(evalset.queries))
    unanswerable = sum(not q.answerable for q in evalset.queries)
    right_refusals = sum(tally.declined_unanswerable)
    return AnswerMetrics(
        questions=len(evalset.queries),
        answerable=len(evalset.queries) - unanswerable,
        unanswerable=unanswerable,
        answer_contained=_share(tally.contained),
        answer_contained_generated=_share(tally.contained_generated),
        token_f1=round(sum(tally.f1) / len(tally.f1), 4) if tally.f1 else None,
        citation_precision=_share(tally.cited_ok),
        unsupported_facts=_share(tally.unsupported),
        replaced=_share(tally.replaced),
        dropped=_share(tally.dropped),
        language_match=_share(tally.language),
        refusal_precision=_share(tally.declined_unanswerable),
        refusal_recall=round(right_refusals / unanswerable, 4) if unanswerable else None,
        wrong_refusals=_share(tally.declined_answerable),
        latency={stage: pct(values) for stage, values in timings.items()},
        details=details,
    )
