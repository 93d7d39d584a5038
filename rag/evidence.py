"""Evidence for an answer: how well each sentence is supported by each passage, the passage
sentence that supports a claim, and a citation narrowed to the cue or page that holds it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from core.text import guess_language, tokenize
from core.types import Chunk
from rag.context import label, play_link
from rag.facts import shared_numbers
from rag.sentences import sentences_of, unwrapped
from rag.types import Citation, Passage


class Embed(Protocol):
    """Unit vectors for texts; `query`: the texts are questions, embedded as the model's queries
    (an asymmetric embedder's query prompt)."""

    def __call__(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray: ...


def _overlap(sentence: str, passage: str) -> float:
    words = set(tokenize(sentence))
    return len(words & set(tokenize(passage))) / len(words) if words else 0.0


def support_matrix(
    sentences: Sequence[str],
    texts: Sequence[str],
    embed: Embed,
    lang: str | None = None,
    *,
    asked: bool = False,
) -> np.ndarray:
    """Support of each sentence by each text: half cosine similarity, half word overlap. A text in
    another language than `lang` (the sentences') shares no words with them however well it
    supports them, so there the similarity alone counts. `asked`: the sentences are questions,
    embedded as queries."""
    if not sentences or not texts:
        return np.zeros((len(sentences), len(texts)), dtype=np.float32)
    if asked:
        s, p = embed(sentences, query=True), embed(texts)
    else:
        vecs = embed([*sentences, *texts])
        s, p = vecs[: len(sentences)], vecs[len(sentences) :]
    cos = s @ p.T
    lex = np.array([[_overlap(x, t) for t in texts] for x in sentences], dtype=np.float32)
    blend = 0.5 * cos + 0.5 * lex
    foreign = np.array([bool(lang) and guess_language(t) not in (lang, None) for t in texts])
    return np.asarray(np.where(foreign[None, :], cos, blend), dtype=np.float32)


def best_sentence(
    claim: str, passage: Passage, embed: Embed, *, stated: str | None = None, asked: bool = False
) -> str:
    """The passage sentence that best supports `claim`: among those that state the most of the
    numbers `stated` (default: the claim) states, the most similar. Similarity alone picks a wrong
    sentence across languages (an English claim, a Spanish passage), and the evidence must hold the
    number it vouches for. A question states no fact: its numbers ("funciones de dos variables")
    chose any sentence with a 2 in it ("ε/2", a list item's "2)"). `asked`: `claim` is a question,
    compared as the embedder's query, which finds the sentence answering it rather than the one
    reading like it (support_matrix)."""
    candidates = _sentences(passage) or [passage.text]
    scores = support_matrix([claim], candidates, embed, asked=asked)[0]
    facts = claim if stated is None else stated
    shared = [shared_numbers(facts, c) for c in candidates]
    best = max(range(len(candidates)), key=lambda i: (shared[i], float(scores[i])))
    return candidates[best]


def best_stating(question: str, passage: Passage, embed: Embed, keep: Callable[[str], bool]) -> str | None:
    """Among the passage sentences that `keep` accepts (those stating what the question asks
    for), the one closest to the question compared as a query; None when none is accepted."""
    candidates = [s for s in _sentences(passage) if keep(s)]
    if not candidates:
        return None
    scores = support_matrix([question], candidates, embed, asked=True)[0]
    return candidates[int(np.argmax(scores))]


def _sentences(passage: Passage) -> list[str]:
    """The passage's sentences, each without the "Name:" that opens a speaker's turn."""
    speakers = {name for c in passage.chunks for name in c.speakers}
    return [_unopened(c, speakers) for c in sentences_of(unwrapped(passage.text))]


def _unopened(sentence: str, speakers: set[str]) -> str:
    """A sentence without the "Name:" that opens its speaker's turn: the evidence is what was said
    (the label names who said it)."""
    head, colon, said = sentence.partition(": ")
    return said if colon and head in speakers and said.strip() else sentence


def quote_at(text: str, quote: str) -> int:
    """Where `text` holds `quote` (-1: nowhere). A quote is chosen with the text's line breaks read
    as spaces (a PDF's lines), so it is looked for the same way, by its opening 80 characters."""
    return unwrapped(text).find(quote[:80])


def _holding(quote: str, chunks: Sequence[Chunk]) -> list[Chunk]:
    """The chunk of a passage that holds the quote, narrowed to the cue or page it sits in (all
    the passage's chunks when no single one holds it)."""
    for c in chunks:
        at = quote_at(c.text, quote)
        if at >= 0:
            return [c.narrowed_to(at, at + len(quote))]
    return list(chunks)


def cite_quote(number: int, p: Passage, quote: str, support: float) -> Citation:
    """Citation `number` of passage `p`, its label, times and speakers narrowed to `quote`."""
    chunks = _holding(quote, p.chunks)
    start_s = min((c.start_s for c in chunks if c.start_s is not None), default=None)
    return Citation(
        number=number,
        label=label(chunks),
        source=p.first.source,
        title=p.first.title,
        page_start=min((c.page_start for c in chunks if c.page_start is not None), default=None),
        page_end=max((c.page_end for c in chunks if c.page_end is not None), default=None),
        start_s=start_s,
        end_s=max((c.end_s for c in chunks if c.end_s is not None), default=None),
        speakers=list(dict.fromkeys(s for c in chunks for s in c.speakers)),
        score=p.hit.score,
        support=support,
        text=p.text,
        quote=quote,
        link=play_link(chunks[0].url, start_s),
        pinned=p.hit.pinned,
    )
