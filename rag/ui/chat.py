"""The interactive `rag chat` session: streaming answers, a sources panel, and slash commands."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.panel import Panel

from rag.answer import Assistant
from rag.memory import Memory, check_session_name
from rag.retrieve import Filters
from rag.types import Answer
from rag.ui.render import safe, sources_table, stats_line, stream_answer

HELP = """[bold]/sources[/]   sources of the last answer      [bold]/show N[/]   whole passage N
[bold]/history[/]   the conversation so far         [bold]/reset[/]    forget the conversation
[bold]/save [NAME][/] save the session                 [bold]/help[/]     this help
[bold]/exit[/]      leave (Ctrl-D too); Ctrl-C stops an answer, not the session"""


class ChatSession:
    def __init__(
        self,
        assistant: Assistant,
        memory: Memory,
        sessions_dir: Path,
        console: Console,
        filters: Filters | None = None,
    ) -> None:
        self.assistant = assistant
        self.memory = memory
        self.sessions_dir = sessions_dir
        self.console = console
        self.filters = filters
        self.last: Answer | None = None

    def run(self) -> None:
        c = self.console
        c.print(f"[bold]rag chat[/] — session [cyan]{self.memory.session.name}[/]; /help for commands")
        while True:
            try:
                line = c.input("[bold green]you>[/] ")
            except (EOFError, KeyboardInterrupt):
                c.print()
                break
            line = line.strip()
            if not line:
                continue
            if line.startswith("/"):
                if not self.command(line):
                    break
                continue
            self.ask(line)
        self.memory.session.save(self.sessions_dir)

    def ask(self, question: str) -> None:
        try:
            answer = stream_answer(
                self.console,
                lambda on_token, stop: self.assistant.ask(
                    question, self.filters, self.memory, on_token, stop
                ),
            )
        except KeyboardInterrupt:
            self.console.print("[yellow]stopped[/]")
            return
        if answer.interrupted:
            self.console.print("[yellow](stopped)[/]")
        self.last = answer
        self.console.print(sources_table(answer))
        self.console.print(stats_line(answer))
        self.memory.session.save(self.sessions_dir)

    def command(self, line: str) -> bool:
        """Run a slash command; False means leave."""
        c = self.console
        name, _, arg = line.partition(" ")
        arg = arg.strip()
        if name in ("/exit", "/quit"):
            return False
        if name == "/help":
            c.print(HELP)
        elif name == "/sources":
            if self.last is None:
                c.print("[dim]no answer yet[/]")
            else:
                c.print(sources_table(self.last))
        elif name == "/show":
            self._show(arg)
        elif name == "/reset":
            self.memory.reset()
            self.last = None
            c.print("[dim]conversation forgotten[/]")
        elif name == "/history":
            s = self.memory.session
            if s.summary:
                c.print(Panel(safe(s.summary), title=f"summary of {s.summarized_turns} earlier turns"))
            if not s.turns and not s.summary:
                c.print("[dim]no history yet[/]")
            for turn in s.turns:
                c.print(safe("you> " + turn.question, style="green"))
                c.print(safe(turn.answer))
        elif name == "/save":
            if arg:
                self.memory.session.name = check_session_name(arg)
            path = self.memory.session.save(self.sessions_dir)
            c.print(f"[dim]saved to {path}[/]")
        else:
            c.print(f"[red]unknown command {name}[/]; /help lists them")
        return True

    def _show(self, arg: str) -> None:
        c = self.console
        if self.last is None:
            c.print("[dim]no answer yet[/]")
            return
        try:
            n = int(arg)
        except ValueError:
            c.print("[red]usage: /show N[/] (N = a source number)")
            return
        match = next((cit for cit in self.last.citations if cit.number == n), None)
        if match is not None:
            c.print(Panel(safe(match.text), title=safe(f"[{n}] {match.label}")))
            if match.link:  # printed in full: the one place a user can copy it from
                c.print(safe(f"▶ {match.link}", "cyan"))
            return
        if not self.last.citations and 1 <= n <= len(self.last.hits):
            from rag.context import label

            hit = self.last.hits[n - 1]
            c.print(Panel(safe(hit.chunk.text), title=safe(f"({n}) {label([hit.chunk])}")))
            return
        c.print(f"[red]no source {n}[/]")
