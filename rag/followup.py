"""Does a chat question depend on the conversation, and on what? Decided from the question's words
and the structure the last answer left (its cited chunks, their talk, order and neighbours), without
a model call:

  * standalone — searched exactly as typed, in its own language;
  * speaker ("who said that?", "¿quién lo dijo?") — the previous cited passage, whose label names
    the speaker, leads the context;
  * after / before ("what did she say next?", "¿y qué dijo antes?") — the neighbouring chunks of the
    cited talk lead the context;
  * ordinal ("the second one", "la segunda fuente") — that cited passage leads the context;
  * where ("which page is that on?", "¿en qué minuto lo dice?") — the previous cited passage,
    whose label holds the page or time, leads the context;
  * topic — a reference to the previous subject ("and how does it scale?"): searched as typed plus
    the content words of the previous query it lacks; the previous cited chunks join the fusion.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from core.store import VectorCollection
from core.text import tokenize
from core.types import Chunk
from rag import talk
from rag.facts import names

_ORDINALS = {
    "first": 1, "1st": 1, "primera": 1, "primer": 1, "primero": 1,
    "second": 2, "2nd": 2, "segunda": 2, "segundo": 2,
    "third": 3, "3rd": 3, "tercera": 3, "tercer": 3, "tercero": 3,
    "fourth": 4, "4th": 4, "cuarta": 4, "cuarto": 4,
    "fifth": 5, "5th": 5, "quinta": 5, "quinto": 5,
}  # fmt: skip
_ORDINAL = re.compile(
    r"\b(?:the\s+|la\s+|el\s+)?(" + "|".join(_ORDINALS) + r")\s+(?:one|source|passage|talk|result|fuente|"
    r"charla|pasaje|resultado|documento|document)\b|\b(?:source|fuente|passage|pasaje)\s*(?:n(?:o|º|\.)\s*)?#?(\d)\b",
    re.I,
)
_SPEAKER = re.compile(
    r"\bwho\s+(?:said|says|say|mentioned|mentions|explained|told|described|claimed|made\s+that|"
    r"was\s+(?:speaking|talking)|is\s+(?:speaking|talking))\b|\bqui[eé]n\s+(?:lo\s+|eso\s+)?(?:dijo|dice|dec[ií]a|habl[oó]|coment[oó]|"
    r"mencion[oó]|afirm[oó]|explic[oó]|cont[oó]|estaba\s+hablando)",
    re.I,
)
_WHERE = re.compile(
    r"\b(?:which|what)\s+(?:page|minute|time|timestamp|slide)\b|\bwhere\s+(?:is|was|does|did)\s+"
    r"(?:that|it|this)\b|\b(?:qu[eé]|cu[aá]l)\s+(?:p[aá]gina|minuto|momento|diapositiva)\b|"
    r"\bd[oó]nde\s+(?:est[aá]|aparece|lo\s+dic?e|lo\s+dijo|se\s+dice)\b",
    re.I,
)
_AFTER = re.compile(
    # "next" but not "next time / next year": that is a new question about the same subject.
    r"\b(?:after\s+(?:that|this|it)|afterwards|next(?!\s+(?:time|year|month|week|day|episode|season|one))|"
    r"then|right\s+after|what\s+came\s+next|"
    r"despu[eé]s(?:\s+de\s+eso)?|luego|a\s+continuaci[oó]n|acto\s+seguido|siguiente)\b",
    re.I,
)
_BEFORE = re.compile(
    r"\b(?:before\s+(?:that|this|it)|just\s+before|earlier|previously|antes(?:\s+de\s+eso)?|justo\s+antes|"
    r"anteriormente)\b",
    re.I,
)
_SAID = re.compile(
    r"\b(?:say|said|says|talk|talked|mention|mentioned|dijo|dice|habl[oó]|coment[oó]|contar?[oó]?)\b", re.I
)
_OPENS = (
    r"^[¿¡\"'\s]*(?:and|but|so|also|what\s+about|how\s+about|y|pero|entonces|tambi[eé]n|qu[eé]\s+hay\s+de)\b"
)
# "él" only with its accent: "el" is the article.
_POINTS = re.compile(
    r"\b(?:that|this|these|those|it|its|he|she|they|them|his|her|their|there|eso|esto|esa|ese|esas|esos|"
    r"ello|él|ella|ellos|ellas|all[ií]|su|sus)\b",
    re.I,
)
_REFERS = re.compile(f"{_OPENS}|{_POINTS.pattern}", re.I)
# A question with this many content words of its own is standalone even with a pronoun in it
# ("what is its time complexity of quicksort" names its subject).
_OWN_WORDS = 4


@dataclass(frozen=True)
class Cited:
    """A passage the previous answer cited: the chunk retrieved for it (the anchor), all its
    chunks, the sentence quoted as evidence and who said it (empty in sessions saved before)."""

    anchor: str
    chunk_ids: list[str]
    quote: str = ""
    speakers: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FollowUp:
    kind: str  # standalone | speaker | where | after | before | ordinal | topic
    query: str  # what is searched
    pinned: list[Chunk] = field(default_factory=list)  # lead the context, in this order
    extra: list[Chunk] = field(default_factory=list)  # join the fusion as a third ranking
    speaker: str = ""  # "who said that?": who said the quoted sentence
    quote: str = ""  # "who said that?", "which page?": the sentence of the previous answer's evidence

    @property
    def structural(self) -> bool:
        """Answered from what the conversation already points at: no abstention on search scores."""
        return bool(self.pinned)


def resolve(
    question: str, previous_query: str | None, cited: Sequence[Cited], collection: VectorCollection
) -> FollowUp:
    """`cited`: the passages the previous answer cited, in citation order."""
    if previous_query is None:
        return FollowUp("standalone", question)
    query = _with_previous(question, previous_query)
    chunks = [c for c in (collection.get(list(ref.chunk_ids)) for ref in cited) if c]
    m = _ORDINAL.search(question)
    if m and chunks:
        n = _ORDINALS.get((m.group(1) or "").lower()) or int(m.group(2) or 0)
        if 1 <= n <= len(chunks):
            return FollowUp("ordinal", query, pinned=chunks[n - 1])
    first = cited[0] if cited and chunks else None
    place = talk.locate(first.quote, chunks[0]) if first else None
    if first and _SPEAKER.search(question):
        # The citation's speakers were narrowed to its quote; several means it was not found.
        speaker = place.speaker if place else (first.speakers[0] if len(first.speakers) == 1 else None)
        return FollowUp("speaker", query, pinned=chunks[0], speaker=speaker or "", quote=first.quote)
    if first and _WHERE.search(question) and (_POINTS.search(question) or len(tokenize(question)) <= 2):
        # Only when it points back, or says little else: "what time is the final exam?" is new.
        return FollowUp("where", query, pinned=chunks[0], quote=first.quote)
    if chunks and (_SAID.search(question) or _REFERS.search(question)):
        for kind, pattern in (("after", _AFTER), ("before", _BEFORE)):
            if pattern.search(question):
                near = _near(kind, question, collection, chunks[0], place, [a.anchor for a in cited])
                if near:
                    return FollowUp(kind, query, pinned=near)
    own = tokenize(question)
    if (_REFERS.search(question) and len(own) < _OWN_WORDS) or len(own) <= 1:
        if _new_subject(question, previous_query):
            # "¿Y el de Weierstrass?" after Heine-Cantor: the kind of thing asked about carries
            # over, the previous subject's name and passages do not (they outranked the new one).
            return FollowUp("topic", _with_previous(question, previous_query, leave=_names(previous_query)))
        return FollowUp("topic", query, extra=[c for group in chunks for c in group])
    return FollowUp("standalone", question)


def carried_query(last: str, last_cited: Collection[str], before: str, before_cited: Collection[str]) -> str:
    """The previous query a follow-up builds on: the last turn's, plus the words of the turn
    before it when both answers cited a chunk in common, so were about one subject. "How many
    people participated?" after "Where was the TreeHacks hackathon held?" names no hackathon, and
    "Who did Daniel go there with?" next needs it. `*_cited`: the chunk ids each answer cited."""
    if set(last_cited) & set(before_cited):
        return _with_previous(last, before)
    return last


def _names(text: str) -> set[str]:
    return {w for name in names(text) for w in tokenize(name)}


def _new_subject(question: str, previous_query: str) -> bool:
    """The follow-up names something the previous question did not, and points at nothing of it
    ("and how is it called in Spanish?" is still about the previous subject)."""
    return bool(_names(question) - set(tokenize(previous_query))) and not _POINTS.search(question)


def _near(
    kind: str,
    question: str,
    collection: VectorCollection,
    group: list[Chunk],
    place: talk.Place | None,
    anchors: list[str],
) -> list[Chunk]:
    """The talk right after (or before) the quoted sentence, from the turn of whoever the
    question asks about; without a quote (an older session), the anchor chunk's neighbours."""
    if place is not None:
        speakers = list(dict.fromkeys(s for c in group for s in c.speakers))
        who = talk.wanted(question, speakers, place.speaker)
        return (talk.after if kind == "after" else talk.before)(collection, place, who)
    anchor = next((c for c in collection.get(anchors[:1])), group[0])
    return talk.neighbours(collection, anchor, 1 if kind == "after" else -1, count=2)


def _with_previous(question: str, previous_query: str, leave: Collection[str] = ()) -> str:
    """The question, then the previous query's content words it lacks (kept in their order),
    except those in `leave`."""
    have = set(tokenize(question)) | set(leave)
    missing = [w for w in dict.fromkeys(tokenize(previous_query)) if w not in have]
    return f"{question} {' '.join(missing)}".strip() if missing else question
