"""Prompt templates live in files beside this module. An answer style is a pair of files,
`STYLE-system[.LANG].txt` and `STYLE-user[.LANG].txt`; the language-specific one wins."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from core.errors import InputError


@cache
def load(name: str) -> str:
    return (files(__package__) / f"{name}.txt").read_text(encoding="utf-8")


@cache
def styles() -> list[str]:
    names = (p.name for p in files(__package__).iterdir())
    return sorted({n.split("-system")[0] for n in names if "-system" in n and n.endswith(".txt")})


def answer_templates(style: str, lang: str) -> tuple[str, str]:
    """(system, user) templates of an answer style, in `lang` where the style has it."""
    if style not in styles():
        raise InputError(f"unknown answer prompt {style!r} (known: {', '.join(styles())})")
    system, user = (_localised(f"{style}-{part}", lang) for part in ("system", "user"))
    return system, user


def _localised(name: str, lang: str) -> str:
    specific = f"{name}.{lang}"
    return load(specific) if (files(__package__) / f"{specific}.txt").is_file() else load(name)
