"""The README's reference sections, generated from their sources of truth: the settings table from
`Settings` (defaults and descriptions), the command reference from `rag CMD --help`.
`python scripts/update_readme.py` writes them; a test fails when the README drifts."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from rag.config import Settings

WIDTH = 100


def _default(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def settings_table() -> str:
    rows = ["| setting | env | default | meaning |", "|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = "`~/.rag`" if name == "home" else _default(field.get_default(call_default_factory=False))
        rows.append(f"| {name} | `RAG_{name.upper()}` | {default} | {field.description or ''} |")
    return "\n".join(rows)


def command_help() -> str:
    """`rag --help` and each command's `--help`, as a terminal WIDTH columns wide shows them."""
    from typer.testing import CliRunner

    from rag.cli import app

    env = {"COLUMNS": str(WIDTH), "TERM": "dumb", "NO_COLOR": "1"}
    names = [c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands]
    invocations: list[list[str]] = [[], *([n.rstrip("_")] for n in names)]
    for group in app.registered_groups:  # `rag models`, then each of its subcommands
        assert group.name and group.typer_instance
        invocations.append([group.name])
        invocations += [[group.name, c.name or ""] for c in group.typer_instance.registered_commands]
    blocks = []
    for args in invocations:
        out = CliRunner().invoke(app, [*args, "--help"], env=env).output
        text = "\n".join(line.rstrip() for line in out.splitlines()).strip("\n")
        blocks.append(f"$ rag {' '.join(args)} --help".replace("  ", " ") + "\n" + text)
    return "```text\n" + "\n\n".join(blocks) + "\n```"


def sections() -> dict[str, str]:
    return {"settings": settings_table(), "commands": command_help()}


def _filled(body: str) -> Callable[[re.Match[str]], str]:
    def fill(m: re.Match[str]) -> str:
        return m.group(1) + body + "\n" + m.group(2)

    return fill


def render(readme: str) -> str:
    """The README with each `<!-- NAME:begin -->…<!-- NAME:end -->` block regenerated."""
    for name, body in sections().items():
        pattern = re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", re.S)
        if not pattern.search(readme):
            raise ValueError(f"README has no <!-- {name}:begin --> … <!-- {name}:end --> block")
        readme = pattern.sub(_filled(body), readme)
    return readme
