"""Citations you can trust. Small models mis-number sources and state facts their sources do not
hold, so after generation each answer sentence is

1. attributed to the passage that best supports it (embedding similarity blended with word
   overlap): a wrong [n] is corrected, an unsupported one dropped, a well-supported uncited
   sentence gets one;
2. verified: every number and name it states must occur in the passage it cites (or in the
   question). A sentence that fails is re-cited to a passage that holds its facts, or replaced by
   that passage's own words ("The source says: «…»"), never shown as cited; a sentence whose
   words the passages do not hold (rag.grounding) is dropped; an answer that does not state the
   kind of quantity asked for (a count, a year, a percentage: rag.asked) becomes the cited
   passage's sentence that does, quoted;
3. given evidence: each citation carries the passage sentence that supports the answer, and its
   place (cue times, page) narrows to the chunk that holds that sentence.

Square brackets that are content (vectors "[1, 0]", "[sic]", indexes) are left as written."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from core.text import answer_language
from rag.asked import asked_for, states
from rag.concise import asks_for_more_than_a_fact, kept_sentences, restates
from rag.context import label
from rag.evidence import Embed, best_sentence, best_stating, cite_quote, support_matrix
from rag.facts import check
from rag.grounding import source_words, ungrounded
from rag.markers import split_markers
from rag.sentences import sentences_of
from rag.tidy import inline_lists, strip_trailer, without_label_clauses
from rag.types import Answer, Citation, Passage

QUOTE_LEAD = {"en": "The source says:", "es": "La fuente dice:"}


class Attributed(NamedTuple):
    """What `attribute` makes of an answer."""

    text: str  # with corrected, verified, renumbered [n] markers
    citations: list[Citation]
    replaced: list[str]  # facts no passage holds, whose sentences were replaced by a quote
    # Sentences dropped: the passages do not hold their words, or they do not state the count,
    # year or percentage the question asks for (replaced by a passage sentence that does).
    dropped: list[str]


@dataclass(frozen=True)
class AttributionConfig:
    keep_margin: float = 0.12  # a cited passage this close to the best one is kept
    min_support: float = 0.2  # below this a citation is dropped
    add_support: float = 0.45  # an uncited sentence this well supported gets a citation
    min_words: int = 5


@dataclass
class _Sentence:
    raw: str
    plain: str  # without citation markers
    cited: list[int]  # passage indices the model wrote
    keep: list[int]  # passage indices after correction and verification
    replaced: list[str] = field(default_factory=list)  # its facts no passage holds


def _correct(sent: _Sentence, row: np.ndarray, n_passages: int, config: AttributionConfig) -> list[int]:
    """The passages a sentence should cite: the model's, corrected by support."""
    best = int(np.argmax(row))
    best_score = float(row[best])
    keep: list[int] = []
    for idx in sent.cited:
        if 0 <= idx < n_passages and row[idx] >= max(best_score - config.keep_margin, config.min_support):
            keep.append(idx)
        elif best_score >= config.min_support and best not in keep:
            keep.append(best)  # the model pointed at the wrong source
    if not sent.cited and len(sent.plain.split()) >= config.min_words and best_score >= config.add_support:
        keep.append(best)
    return keep


def _verify(sent: _Sentence, row: np.ndarray, passages: Sequence[Passage], question: str, lang: str) -> bool:
    """Keep the sentence's facts grounded. A sentence that states no number or name has nothing to
    check. Otherwise its citation must hold every fact the question does not; if it does not, the
    best-supported passage that does is cited instead. False: no passage holds them."""
    if not check(sent.plain).unsupported or not check(sent.plain, question).unsupported:
        return True
    cited = [passages[i] for i in sent.keep]
    if (
        cited
        and check(sent.plain, *(p.text for p in cited), question, names_from=_names_of(cited), lang=lang).ok
    ):
        return True
    order = [int(i) for i in np.argsort(-row)]
    for idx in order:
        p = passages[idx]
        if check(sent.plain, p.text, question, names_from=_names_of([p]), lang=lang).ok:
            sent.keep = [idx]
            return True
    # A sentence may join two passages' facts ("Maven, a Department of Defense project, began in
    # 2017"): the two best-supported that hold them together are both cited.
    for a, b in itertools.combinations(order[:3], 2):
        pair = [passages[a], passages[b]]
        if check(sent.plain, *(p.text for p in pair), question, names_from=_names_of(pair), lang=lang).ok:
            sent.keep = sorted((a, b))
            return True
    return False


def _names_of(passages: Sequence[Passage]) -> str:
    """Titles, speakers and the parts of each passage's label (its times or pages): they vouch for
    the names an answer states, and a sentence that names them refers to the source; they are not
    evidence for its numbers."""
    return "\n".join(
        "\n".join(
            [p.first.title, ", ".join(s for c in p.chunks for s in c.speakers), *label(p.chunks).split(" — ")]
        )
        for p in passages
    )


def attribute(
    answer: str,
    passages: Sequence[Passage],
    embed: Embed,
    *,
    question: str = "",
    lang: str = "en",
    config: AttributionConfig | None = None,
    concise: bool = False,
) -> Attributed:
    """The answer with corrected, verified, renumbered [n] markers; the citations they point to,
    each with its supporting quote; the facts that had to be replaced and the sentences dropped as
    unsupported (empty when none).
    `concise`: a factual question's answer loses the sentences that cite other passages than its
    first cited sentence (rag.concise)."""
    config = config or AttributionConfig()
    answer = without_label_clauses(strip_trailer(inline_lists(answer)), passages)
    if not passages or not answer.strip():
        return Attributed(answer.strip(), [], [], [])
    literal = " ".join([question, *(p.text for p in passages)])
    sents = [
        _Sentence(raw, *split_markers(raw, len(passages), literal), keep=[])
        for raw in sentences_of(answer, quotes=True)
    ]
    sents = _fold_bare_markers(sents)
    support = support_matrix([s.plain or s.raw for s in sents], [p.text for p in passages], embed, lang)
    rows, quoted = [], False
    for r, (sent, row) in enumerate(zip(sents, support, strict=True)):
        sent.keep = _correct(sent, row, len(passages), config)
        if not _verify(sent, row, passages, question, lang):
            sent.replaced = check(
                sent.plain, *(p.text for p in passages), question, names_from=_names_of(passages), lang=lang
            ).unsupported
            if quoted:
                # One quote stands in for a wrong answer; a second one (the passage sentence
                # closest to another wrong sentence) only adds noise to read.
                continue
            best = int(np.argmax(row))
            quote = best_sentence(sent.plain, passages[best], embed)
            sent.plain, sent.keep, quoted = _quoting(quote, lang), [best], True
        rows.append(r)
    replaced = [fact for s in sents for fact in s.replaced]
    sents, support = [sents[r] for r in rows], support[rows]
    sents, support, dropped = _without_ungrounded(sents, support, passages, question, lang, embed)
    if concise and not asks_for_more_than_a_fact(question):
        kept = kept_sentences([s.keep for s in sents])
        rows = [r for r, k in enumerate(kept) if k]
        sents, support = [sents[r] for r in rows], support[rows]
    if question and sents and all(restates(s.plain, question) for s in sents):
        sents, support = [_quoted_for(question, sents[0], support[0], passages, embed, lang)], support[:1]
    if question and sents:
        sents, support, unstated = _stating_the_asked(question, sents, support, passages, embed, lang)
        dropped += unstated
    return Attributed(
        _render(sents), _citations(sents, passages, support, embed, question), replaced, dropped
    )


def _without_ungrounded(
    sents: list[_Sentence],
    support: np.ndarray,
    passages: Sequence[Passage],
    question: str,
    lang: str,
    embed: Embed,
) -> tuple[list[_Sentence], np.ndarray, list[str]]:
    """Sentences whose words the passages do not hold (rag.grounding) are dropped; when none is
    left, the answer becomes the quote of the cited passage's sentence closest to the question."""
    pool = source_words([p.text for p in passages], lang)
    if pool is None:
        return sents, support, []
    leads = tuple(QUOTE_LEAD.values())
    flags = [not s.plain.startswith(leads) and ungrounded(s.plain, question, pool) for s in sents]
    if not any(flags):
        return sents, support, []
    dropped = [s.plain for s, flag in zip(sents, flags, strict=True) if flag]
    rows = [r for r, flag in enumerate(flags) if not flag]
    if rows:
        return [sents[r] for r in rows], support[rows], dropped
    return [_quoted_for(question, sents[0], support[0], passages, embed, lang)], support[:1], dropped


def _stating_the_asked(
    question: str,
    sents: list[_Sentence],
    support: np.ndarray,
    passages: Sequence[Passage],
    embed: Embed,
    lang: str,
) -> tuple[list[_Sentence], np.ndarray, list[str]]:
    """A question asking for a count, a year or a percentage (rag.asked) whose answer states none
    is answered by the cited passage's sentence that states one, quoted (the first cited passage
    that has one); the answer stays when none has. Also: the model's sentences replaced."""
    kind = asked_for(question)
    if kind is None or any(states(s.plain, kind) for s in sents):
        return sents, support, []
    cited = list(dict.fromkeys(i for s in sents for i in s.keep)) or [int(np.argmax(support[0]))]
    for idx in cited:
        quote = best_stating(question, passages[idx], embed, lambda text: states(text, kind))
        if quote is not None:
            leads = tuple(QUOTE_LEAD.values())
            unstated = [s.plain for s in sents if not s.plain.startswith(leads)]
            return [_Sentence(sents[0].raw, _quoting(quote, lang), [], keep=[idx])], support[:1], unstated
    return sents, support, []


def _quoted_for(
    question: str, sent: _Sentence, row: np.ndarray, passages: Sequence[Passage], embed: Embed, lang: str
) -> _Sentence:
    """An answer that only repeats the question becomes the cited passage's sentence closest to
    the question, quoted: the user reads what the source says instead of their own words back."""
    best = sent.keep[0] if sent.keep else int(np.argmax(row))
    quote = best_sentence(question, passages[best], embed, stated="", asked=True)
    return _Sentence(sent.raw, _quoting(quote, lang), sent.cited, keep=[best])


def _quoting(quote: str, lang: str) -> str:
    """A sentence of the source shown in place of the model's ("La fuente dice: «…»")."""
    return f"{QUOTE_LEAD.get(lang, QUOTE_LEAD['en'])} «{quote}»"


def _fold_bare_markers(sents: list[_Sentence]) -> list[_Sentence]:
    """A "sentence" that is only a marker ("… 2000 personas [1]. [2].") belongs to the one before."""
    out: list[_Sentence] = []
    for sent in sents:
        if out and not re.sub(r"[\W_]+", "", sent.plain):
            out[-1].cited = list(dict.fromkeys(out[-1].cited + sent.cited))
            continue
        out.append(sent)
    return out


_SPACED_CLOSE = re.compile(r"([.!?…])\s+([\"”»])$")


def _render(sents: list[_Sentence]) -> str:
    order = _order(sents)
    rebuilt = []
    for sent in sents:
        marks = "".join(f"[{order[i]}]" for i in sent.keep)
        # The model spaces a closing quote off ('… architecture. "'); it closes on the word.
        stripped = _SPACED_CLOSE.sub(r"\1\2", sent.plain.rstrip())
        if marks:  # the marker goes before the sentence's final punctuation (a quote gets one)
            end = stripped[-1] if stripped and stripped[-1] in ".!?" else ""
            rebuilt.append(f"{stripped[: len(stripped) - len(end)]} {marks}{end or '.'}")
        elif stripped:
            rebuilt.append(stripped)
    return " ".join(rebuilt)


def _order(sents: list[_Sentence]) -> dict[int, int]:
    order: dict[int, int] = {}
    for sent in sents:
        for idx in sent.keep:
            order.setdefault(idx, len(order) + 1)
    return order


def _citations(
    sents: list[_Sentence], passages: Sequence[Passage], support: np.ndarray, embed: Embed, question: str
) -> list[Citation]:
    out = []
    for idx, number in sorted(_order(sents).items(), key=lambda kv: kv[1]):
        p = passages[idx]
        # The first sentence citing the passage states the answer; joined with the later ones,
        # which add detail, it pulled the quote toward the detail. The question stands in when
        # that sentence is too short to say much ("En 1985.", a heading).
        first = next(s.plain for s in sents if idx in s.keep)
        score = float(max(support[r, idx] for r, sent in enumerate(sents) if idx in sent.keep))
        quote = best_sentence(f"{question} {first}".strip(), p, embed, stated=first)
        out.append(cite_quote(number, p, quote, score))
    return out


def audit(answer: Answer) -> list[str]:
    """The numbers and names in an answer's sentences that what they cite does not hold (an
    uncited sentence: no passage holds). Empty for a verified answer; `rag eval` reports it."""
    passages = {c.number: c.text for c in answer.citations}
    names = _names_of(answer.passages)  # every citation's passage is among them
    everything = [p.text for p in answer.passages]
    lang = answer_language(answer.text)
    missing: list[str] = []
    for raw in sentences_of(answer.text, quotes=True):
        plain, cited = split_markers(raw, max(passages, default=0), " ".join(passages.values()))
        sources = [passages[i + 1] for i in cited if i + 1 in passages] or everything
        missing += check(plain, *sources, answer.question, names_from=names, lang=lang).unsupported
    return missing
