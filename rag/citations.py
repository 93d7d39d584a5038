"""Citations you can trust. Small models mis-number sources and state facts their sources do not
hold, so after generation each answer sentence is

1. attributed to the passage that best supports it (embedding similarity blended with word
   overlap): a wrong [n] is corrected, an unsupported one dropped, a well-supported uncited
   sentence gets one;
2. verified: every number and name it states must occur in the passage it cites (or in the
   question). A sentence that fails is re-cited to a passage that holds its facts, or replaced by
   that passage's own words ("The source says: «…»"), never shown as cited; a sentence whose
   words the passages do not hold (rag.grounding) is dropped;
3. given evidence: each citation carries the passage sentence that supports the answer, and its
   place (cue times, page) narrows to the chunk that holds that sentence.

Square brackets that are content (vectors "[1, 0]", "[sic]", indexes) are left as written."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import numpy as np

from core.text import answer_language, guess_language, tokenize
from core.types import Chunk
from rag.concise import asks_for_more_than_a_fact, kept_sentences, restates
from rag.context import label, play_link
from rag.facts import check, shared_numbers
from rag.grounding import source_words, ungrounded
from rag.types import Answer, Citation, Passage

MARKER = re.compile(r"\s*\[(?:(?:source|fuente)\s*)?(\d+(?:\s*[,;]\s*\d+)*)\]", re.I)
# A bracket right after these reads as a value ("coordenadas [1, 2]", "v = [1, 0]"), not a source.
_VALUE_CONTEXT = re.compile(
    r"(=|\b(vector|vectors|vectores|coordinates|coordenadas|column|columns|columna|columnas|"
    r"matrix|matriz|array|arreglo|entry|entrada|point|punto|index|índice)\s*(\w+\s*){0,2})$",
    re.I,
)
# A sentence ends at . ! ? and a space, or a line break; not after a title ("Dr. Alice Moreno"),
# a single Latin letter ("a. C.", "U.S.", "e.g."; a Greek one is a variable: "… < δ. Será") or a
# doubled capital of a Spanish plural ("EE. UU.").
_BOUNDARY = re.compile(r"(?<=[.!?])\s+|\n+")
# A line break inside a sentence: PDF text keeps the page's lines ("pues representan\nvectores"),
# and a quote cut at them is a fragment. Headings and list items start their line with a capital,
# a digit or a bullet, so they stay apart. Replaced one for one, so offsets still match the chunk.
_WRAP = re.compile(
    # A formula goes on on the next line too ("… mínimo, es decir\n∃x1,x2 ∈M : f(x1) ≤f(x) …").
    r"(?<=[a-záéíóúñü,;])\n(?=[a-záéíóúñü∃∀∑∏∫√‖|(\[{−=<>≤≥∈⊂∪∩→⇒⇔αβγδελμπσφω])|(?<=,)\n(?=[^\s])"
)
_ABBREVIATION = re.compile(
    r"(?:\b(?:Dr|Mr|Mrs|Ms|Sr|Sra|Srta|Dra|Prof|vs|ej|St|Jr)|(?<!\w)[A-Za-zÁÉÍÓÚáéíóúÑñ]|\b([A-Z])\1)\.$"
)
# Small models often append their own list of sources (or echo the instructions); the sources
# panel already shows them, so such a tail is cut.
_TRAILER = re.compile(
    r"(?:^|\n|(?<=[.!?])\s)\s*(?:\*\*)?(?:Sources?|Fuentes?|References?|Referencias?)(?:\*\*)?\s*:", re.I
)
QUOTE_LEAD = {"en": "The source says:", "es": "La fuente dice:"}
# A list item's enumerator ("2. Italia", "3) …", "- …") is layout, not a number the answer states.
_ITEM = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*•])\s+(?=\S)")
_SHORT_ITEM = 6  # words: a run of items this short is one enumeration ("Francia, Italia y Bélgica")


# Sentences about the answer rather than the subject ("Sure, here is the answer in Spanish:",
# "This answer is based on the information provided"): filler that no source supports.
_FILLER = re.compile(
    r"^(claro|por supuesto|sure|certainly|of course)\b[^.!?:,]{0,40}[:,]\s*"
    r"((aquí tienes|here is|here's)\b[^.!?:]{0,60}:\s*)?"
    r"|^(aquí tienes|here is|here's)\b[^.!?:]{0,60}:\s*"
    r"|(^|(?<=[.!?])\s+)(esta respuesta|this answer|la respuesta anterior|the answer above)\b[^.!?]*"
    r"(basad[ao]|based|se basa)[^.!?]*[.!?]?"
    # The prompt's "citing sources like [1]" copied as a placeholder.
    r"|\s*\[n\]"
    # A chat's history lists each earlier answer's "(sources: label; label)", which the model copies.
    r"|\s*\((?:sources?|fuentes?|references?|referencias?)\s*:[^()\n]*\)",
    re.I,
)


def inline_lists(answer: str) -> str:
    """Lists written as lines, without their enumerators: a run of short items becomes one
    comma-separated sentence, longer items become sentences of their own. Otherwise "2." would
    be checked as a claimed number, and every item cut into sentences of its own."""
    answer = _LONE_ENUMERATOR.sub(r"\1 ", answer)
    lines = [piece for line in answer.split("\n") for piece in _items_of_line(line)]
    out: list[str] = []
    run: list[str] = []
    for line in [*lines, ""]:
        item = _ITEM.match(line)
        if item:
            run.append(line[item.end() :].strip())
            continue
        if run:
            joined = _joined(run)
            while out and not out[-1].strip() and joined[-1:] == ".":
                out.pop()  # "…países:\n\n1. Francia" → one sentence: "…países: Francia, …"
            if out and out[-1].rstrip().endswith(":") and "\n" not in joined:
                out[-1] = f"{out[-1].rstrip()} {joined}"
            else:
                out.append(joined)
            run = []
        out.append(line)
    return "\n".join(out[:-1])


# "1." alone on its line, its item on the next.
_LONE_ENUMERATOR = re.compile(r"^(\s*\d{1,2}[.)])[ \t]*\n+(?=\S)", re.M)
# An enumeration written on one line ("…en: 1. Alemania 2. Holanda").
_INLINE_ITEM = re.compile(r"(?:(?<=\s)|(?<=:)|^)(\d{1,2})\.\s+(?=\S)")


def _items_of_line(line: str) -> list[str]:
    """A line holding an enumeration numbered 1, 2, … as one line per item (after its lead)."""
    found = list(_INLINE_ITEM.finditer(line))
    if len(found) < 2 or [int(m.group(1)) for m in found] != list(range(1, len(found) + 1)):
        return [line]
    ends = [m.start() for m in found[1:]] + [len(line)]
    head = line[: found[0].start()].rstrip()
    return [
        *([head] if head else []),
        *(line[m.start() : end].strip() for m, end in zip(found, ends, strict=True)),
    ]


def _joined(items: list[str]) -> str:
    if all(
        len(i.split()) <= _SHORT_ITEM and not re.search(r"[.!?:;]\S*\s", i.rstrip(".;, ") + " ")
        for i in items
    ):
        bare = [i.rstrip(".;,") for i in items]
        marks = "".join(f" [{m}]" for m in MARKER.findall(bare[-1]))  # they cover the whole list
        return ", ".join([*bare[:-1], MARKER.sub("", bare[-1]).strip()]) + marks + "."
    return "\n".join(i if i[-1:] in ".!?" else f"{i}." for i in items)


_SOURCE_WORD = r"(?:sources?|fuentes?|texto|text|párrafo|paragraph|documentos?|documents?)"
# Sentences that only point at the sources ("Esto se menciona en la fuente [2].", "This is stated
# in source under the section …"): the citation already says where. Left alone when a quote or a
# colon follows (content), and a clause that starts the sentence ("Según la fuente [1], …").
_POINTER = re.compile(
    r"(?:^|(?<=[.!?])\s+)(?:esto|esta información|estos|estas|this|this information|these)\s+"
    r"(?:se menciona|se encuentra|se puede ver|se puede encontrar|se indica|son mencionad[oa]s|"
    r"is stated|is mentioned|can be seen|can be found|is found|are mentioned)\s+(?:en|in)\b"
    # The source named by a word or by its marker, with the time or page of its label ("in [1]
    # at 11:37–15:58"): the colon of a time is not the colon that introduces content.
    r"[^.!?«»\"“”:]*?(?:\b"
    + _SOURCE_WORD
    + r"\b|\[\d+\])(?:[^.!?«»\"“”:]|(?<=\d)[:.](?=\d)|(?<=\bp)\.|(?<=\bpp)\.)*(?:[.!?]|$)"
    # A trailing "según la información proporcionada en el primer source", "citing sources like".
    r"|(?<=\w),?\s+(?:según|de acuerdo con|according to|as stated in|citing)\s+"
    r"(?:la información proporcionada en |los datos proporcionados en |the information (?:provided|given) in )?"
    r"(?:(?:el|la|los|las|the)\s+)?(?:(?:primer[oa]?|segund[oa]|first|second)\s+)?"
    r"(?:" + _SOURCE_WORD + r"(?:\s+like)?)(?:\s+\d+)?(?=\s*(?:\[\d|[.!?]|$))"
    # A closing "Cite sources [1] for more information.", "Para más información, consulta la fuente [2]."
    r"|(?:^|(?<=[.!?])\s+)(?:(?:for more (?:information|details)|para (?:obtener )?más (?:información|detalles)),?\s+)?"
    r"(?:cite|check|see|consult|refer to|consulta|consulte|revisa|revise|véase)\s+(?:(?:the|las?|los)\s+)?"
    + _SOURCE_WORD
    + r"\b[^.!?«»\"“”:]*(?:[.!?]|$)",
    re.I,
)


def strip_trailer(answer: str) -> str:
    """Without a model-appended list of sources, and without filler about the answer itself or
    pointing at the sources."""
    match = _TRAILER.search(answer)
    answer = answer[: match.start()].rstrip() if match and match.start() > 0 else answer
    stripped = _POINTER.sub("", _FILLER.sub("", answer)).strip()
    return stripped[:1].upper() + stripped[1:] if stripped else answer


class Embed(Protocol):
    """Unit vectors for texts; `query`: the texts are questions, embedded as the model's queries
    (an asymmetric embedder's query prompt)."""

    def __call__(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray: ...


class Attributed(NamedTuple):
    """What `attribute` makes of an answer."""

    text: str  # with corrected, verified, renumbered [n] markers
    citations: list[Citation]
    replaced: list[str]  # facts no passage holds, whose sentences were replaced by a quote
    dropped: list[str]  # sentences dropped because the passages do not hold their words


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


def sentences_of(text: str, *, quotes: bool = False) -> list[str]:
    """`text`'s sentences. `quotes` (an answer's text): a quotation that closes later on the same
    line is one sentence with the words around it, whatever stops it holds ('Chris said "we are
    45 minutes away. " and left'), or each piece would get its own citation marker."""
    pieces, start = [], 0
    for m in _BOUNDARY.finditer(text):
        if "\n" not in m.group() and (
            _ABBREVIATION.search(text, start, m.start()) or (quotes and _inside_quotation(text, start, m))
        ):
            continue
        pieces.append(text[start : m.start()])
        start = m.end()
    pieces.append(text[start:])
    return [s.strip() for s in pieces if s.strip()]


_QUOTE_PAIRS = (('"', '"'), ("«", "»"), ("“", "”"))
_QUOTE_REACH = 400  # characters: further on, an unclosed quote mark is a stray one


def _inside_quotation(text: str, start: int, boundary: re.Match[str]) -> bool:
    """Whether the sentence begun at `start` has a quotation open at `boundary`, closed later on
    the same line."""
    before = text[start : boundary.start()]
    line_end = text.find("\n", boundary.end())
    after = text[
        boundary.end() : min(line_end if line_end >= 0 else len(text), boundary.end() + _QUOTE_REACH)
    ]
    for opens, closes in _QUOTE_PAIRS:
        still_open = (
            before.count(opens) % 2 == 1 if opens == closes else before.count(opens) > before.count(closes)
        )
        if still_open and closes in after:
            return True
    return False


def unwrapped(text: str) -> str:
    """`text` with the line breaks inside its sentences made spaces, one character for one."""
    return _WRAP.sub(" ", text)


# A marker used as a noun ("mentioned in the text from [1], where …", "está en [2]."): without
# its preposition, so the sentence still reads once the marker moves to its end.
_NOUN_MARKER = re.compile(r"\s+(?:from|in|en|de|desde)\s+(\[\d+\])(?=\s*[,.;:]|\s*$)", re.I)


def split_markers(sentence: str, n_passages: int, literal: str = "") -> tuple[str, list[int]]:
    """(the sentence without its citation markers, the passage indices they name). A bracket is a
    citation only if it names passages that exist, is not written in the sources or the question
    themselves (`literal`), and does not follow a word that introduces a value."""
    cited: list[int] = []
    squeezed = re.sub(r"\s+", "", literal)
    sentence = _NOUN_MARKER.sub(
        lambda m: m.group(0) if _VALUE_CONTEXT.search(sentence[: m.start()].rstrip()) else f" {m.group(1)}",
        sentence,
    )

    def replace(m: re.Match[str]) -> str:
        numbers = [int(x) for x in re.split(r"[,;]\s*", m.group(1).replace(" ", ""))]
        if _VALUE_CONTEXT.search(sentence[: m.start()].rstrip()) or 0 in numbers:
            return m.group(0)
        if len(numbers) == 1:  # "[7]" with three sources is a wrong citation: dropped below
            cited.append(numbers[0] - 1)
            return ""
        copied = re.sub(r"\s+", "", m.group(0)) in squeezed
        if copied or not all(k <= n_passages for k in numbers):
            return m.group(0)  # a vector or list of values, as written in a source
        cited.extend(k - 1 for k in numbers)
        return ""

    plain = MARKER.sub(replace, sentence).strip()
    return plain, list(dict.fromkeys(cited))


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


# "According to [1], X." → "X [1].": the marker is kept, at the end where markers go; left in
# place, the clause read "According to, X" once the marker moved.
_ACCORDING_TO = (
    r"(^|(?<=[.!?])\s+)(?:according to|as (?:stated|said) in|según|de acuerdo con)\s+(?:(?:the|el|la)\s+)?"
)
_MARKER_CLAUSE = re.compile(
    _ACCORDING_TO + r"(?:(?:source|fuente)s?\s+)?((?:\[\d+\]\s*)+),\s*([^.!?]*)([.!?]|$)",
    re.IGNORECASE,
)


def _without_label_clauses(answer: str, passages: Sequence[Passage]) -> str:
    """Without an opening "According to practical ai 273 — Ramin Mohammadi — 0:00–7:02, " or
    "According to [1], ": the model copies the prompt's label of a source, which its citation
    shows already."""
    answer = _MARKER_CLAUSE.sub(
        lambda m: (
            f"{m.group(1)}{m.group(3)[:1].upper()}{m.group(3)[1:].rstrip()} {m.group(2).strip()}{m.group(4) or '.'}"
        ),
        answer,
    )
    names = {n for p in passages for n in (label(p.chunks), p.first.title) if n and len(n) > 3}
    if not names:
        return answer
    # A label copied from an earlier turn names other speakers: any parts, then its time range.
    timed = r"(?:\s+—\s+[^—]+?)*\s+—\s+\d[\d:]*[–-]\d[\d:]*"
    alternatives = "|".join(rf"{re.escape(n)}(?:{timed})?" for n in sorted(names, key=len, reverse=True))
    clause = re.compile(
        _ACCORDING_TO + rf"(?:(?:source|fuente|episode|episodio|talk|charla)\s+)?(?:{alternatives})\s*,\s*",
        re.IGNORECASE,
    )
    out, at = [], 0
    for m in clause.finditer(answer):
        out += [answer[at : m.start()], m.group(1), answer[m.end() : m.end() + 1].upper()]
        at = m.end() + 1
    return ("".join(out) + answer[at:]).strip()


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
    answer = _without_label_clauses(strip_trailer(inline_lists(answer)), passages)
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


def best_sentence(
    claim: str, passage: Passage, embed: Embed, *, stated: str | None = None, asked: bool = False
) -> str:
    """The passage sentence that best supports `claim`: among those that state the most of the
    numbers `stated` (default: the claim) states, the most similar. Similarity alone picks a wrong
    sentence across languages (an English claim, a Spanish passage), and the evidence must hold the
    number it vouches for. A question states no fact: its numbers ("funciones de dos variables")
    chose any sentence with a 2 in it ("ε/2", a list item's "2)"). `asked`: `claim` is a question,
    compared as the embedder's query, which finds the sentence answering it rather than the one
    reading like it (rag.citations.support_matrix)."""
    speakers = {name for c in passage.chunks for name in c.speakers}
    candidates = [_unopened(c, speakers) for c in sentences_of(unwrapped(passage.text))] or [passage.text]
    scores = support_matrix([claim], candidates, embed, asked=asked)[0]
    facts = claim if stated is None else stated
    shared = [shared_numbers(facts, c) for c in candidates]
    best = max(range(len(candidates)), key=lambda i: (shared[i], float(scores[i])))
    return candidates[best]


def _unopened(sentence: str, speakers: set[str]) -> str:
    """A sentence without the "Name:" that opens its speaker's turn: the evidence is what was said
    (the label names who said it)."""
    head, colon, said = sentence.partition(": ")
    return said if colon and head in speakers and said.strip() else sentence


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
