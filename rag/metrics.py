"""Retrieval and answer metrics. Pure functions over rankings and strings."""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Sequence

from core.text import fold


def recall_at(ranking: Sequence[str], gold: dict[str, float], k: int) -> float:
    return len(set(ranking[:k]) & set(gold)) / len(gold) if gold else 0.0


def mrr_at(ranking: Sequence[str], gold: dict[str, float], k: int = 10) -> float:
    for rank, doc in enumerate(ranking[:k], start=1):
        if doc in gold:
            return 1.0 / rank
    return 0.0


def ndcg_at(ranking: Sequence[str], gold: dict[str, float], k: int = 10) -> float:
    dcg = sum(gold.get(doc, 0.0) / math.log2(i + 2) for i, doc in enumerate(ranking[:k]))
    ideal = sorted(gold.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def average_precision(ranking: Sequence[str], gold: dict[str, float]) -> float:
    if not gold:
        return 0.0
    hits, total = 0, 0.0
    for rank, doc in enumerate(ranking, start=1):
        if doc in gold:
            hits += 1
            total += hits / rank
    return total / len(gold)


def normalize(text: str) -> str:
    """SQuAD-style: lower case, no accents, punctuation or articles (en/es), single spaces."""
    text = fold(text)
    text = "".join(" " if ch in string.punctuation or ch in "¿¡«»“”‘’" else ch for ch in text)
    text = re.sub(r"\b(a|an|the|el|la|los|las|un|una|unos|unas)\b", " ", text)
    return " ".join(text.split())


def contains_answer(reply: str, answers: Sequence[str]) -> bool:
    norm = normalize(reply)
    return any(normalize(a) and normalize(a) in norm for a in answers)


def token_f1(reply: str, answers: Sequence[str]) -> float:
    best = 0.0
    pred = normalize(reply).split()
    for answer in answers:
        gold = normalize(answer).split()
        common = sum((Counter(pred) & Counter(gold)).values())
        if not common:
            continue
        p, r = common / len(pred), common / len(gold)
        best = max(best, 2 * p * r / (p + r))
    return best
