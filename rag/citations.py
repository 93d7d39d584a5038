"""Citations you can trust. Small models mis-number sources, so each answer sentence is attributed
to the passage that best supports it (embedding similarity blended with word overlap): a wrong [n]
is corrected, an unsupported one dropped, a well-supported uncited sentence gets one; then the
citations are renumbered in order of first use."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.text import tokenize
from rag.context import label
from rag.types import Citation, Passage

MARKER = re.compile(r"\s*\[(?:(?:source|fuente)\s*)?(\d+(?:\s*[,;]\s*\d+)*)\]", re.I)
# Sentence ends, but not after titles and abbreviations ("Dr. Alice Moreno", "e.g. Adam").
_SENTENCE = re.compile(
    r"(?<!\bDr\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\bSr\.)(?<!\bSra\.)(?<!\bProf\.)(?<!\bvs\.)(?<!e\.g\.)(?<!i\.e\.)"
    r"(?<=[.!?])\s+|\n+"
)
# Small models often append their own list of sources (or echo the instructions); the sources
# panel already shows them, so such a tail is cut.
_TRAILER = re.compile(
    r"(?:^|\n|(?<=[.!?])\s)\s*(?:\*\*)?(?:Sources|Fuentes|References|Referencias)(?:\*\*)?\s*:", re.I
)


def strip_trailer(answer: str) -> str:
    match = _TRAILER.search(answer)
    return answer[: match.start()].rstrip() if match and match.start() > 0 else answer


Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class AttributionConfig:
    keep_margin: float = 0.12  # a cited passage this close to the best one is kept
    min_support: float = 0.2  # below this a citation is dropped
    add_support: float = 0.45  # an uncited sentence this well supported gets a citation
    min_words: int = 5


def _overlap(sentence: str, passage: str) -> float:
    words = set(tokenize(sentence))
    return len(words & set(tokenize(passage))) / len(words) if words else 0.0


def support_matrix(sentences: Sequence[str], passages: Sequence[Passage], embed: Embed) -> np.ndarray:
    vecs = embed([*sentences, *(p.text for p in passages)])
    s, p = vecs[: len(sentences)], vecs[len(sentences) :]
    cos = s @ p.T
    lex = np.array([[_overlap(x, q.text) for q in passages] for x in sentences], dtype=np.float32)
    return 0.5 * cos + 0.5 * lex


def _choose(
    sentences: Sequence[str],
    plain: Sequence[str],
    support: np.ndarray,
    n_passages: int,
    config: AttributionConfig,
) -> list[list[int]]:
    """For each sentence, the passage indices it cites after correction."""
    chosen: list[list[int]] = []
    for row, (sentence, text) in enumerate(zip(sentences, plain, strict=True)):
        cited = [int(n) - 1 for m in MARKER.finditer(sentence) for n in re.split(r"[,;]\s*", m.group(1))]
        best = int(np.argmax(support[row]))
        best_score = float(support[row, best])
        keep: list[int] = []
        for idx in dict.fromkeys(cited):
            valid = 0 <= idx < n_passages
            if valid and support[row, idx] >= max(best_score - config.keep_margin, config.min_support):
                keep.append(idx)
            elif best_score >= config.min_support and best not in keep:
                keep.append(best)  # the model pointed at the wrong source
        if not cited and len(text.split()) >= config.min_words and best_score >= config.add_support:
            keep.append(best)
        chosen.append(keep)
    return chosen


def attribute(
    answer: str,
    passages: Sequence[Passage],
    embed: Embed,
    config: AttributionConfig | None = None,
    fallback: AttributionConfig | None = None,
) -> tuple[str, list[Citation]]:
    """Return the answer with corrected, renumbered [n] markers and the citations they point to.
    When `config` leaves the answer with no citation at all, `fallback` (if given) is tried on the
    same support scores."""
    config = config or AttributionConfig()
    answer = strip_trailer(answer)
    if not passages or not answer.strip():
        return MARKER.sub("", answer).strip(), []
    sentences = [s for s in _SENTENCE.split(answer.strip()) if s.strip()]
    plain = [MARKER.sub("", s).strip() for s in sentences]
    support = support_matrix([p or s for p, s in zip(plain, sentences, strict=True)], passages, embed)
    chosen = _choose(sentences, plain, support, len(passages), config)
    if fallback is not None and not any(chosen):
        chosen = _choose(sentences, plain, support, len(passages), fallback)
    order: dict[int, int] = {}
    for keep in chosen:
        for idx in keep:
            order.setdefault(idx, len(order) + 1)
    rebuilt = []
    for text, keep in zip(plain, chosen, strict=True):
        marks = "".join(f"[{order[i]}]" for i in keep)
        if marks:
            # Put the marker before the sentence's final punctuation.
            stripped = text.rstrip()
            end = stripped[-1] if stripped and stripped[-1] in ".!?" else ""
            rebuilt.append(f"{stripped[: len(stripped) - len(end)]} {marks}{end}")
        else:
            rebuilt.append(text)
    citations: list[Citation] = []
    for idx, number in sorted(order.items(), key=lambda kv: kv[1]):
        p = passages[idx]
        rows = [r for r, keep in enumerate(chosen) if idx in keep]
        citations.append(
            Citation(
                number=number,
                label=label(p.chunks),
                source=p.first.source,
                title=p.first.title,
                page_start=min((c.page_start for c in p.chunks if c.page_start is not None), default=None),
                page_end=max((c.page_end for c in p.chunks if c.page_end is not None), default=None),
                start_s=min((c.start_s for c in p.chunks if c.start_s is not None), default=None),
                end_s=max((c.end_s for c in p.chunks if c.end_s is not None), default=None),
                speakers=list(dict.fromkeys(s for c in p.chunks for s in c.speakers)),
                score=p.hit.score,
                support=float(max(support[r, idx] for r in rows)),
                text=p.text,
            )
        )
    return " ".join(rebuilt), citations
