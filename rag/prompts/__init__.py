"""Prompt templates live in files beside this module."""

from __future__ import annotations

from functools import cache
from importlib.resources import files


@cache
def load(name: str) -> str:
    return (files(__package__) / f"{name}.txt").read_text(encoding="utf-8")
