"""The interactive `rag chat` session: streaming answers, a sources panel, and slash commands."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from rich.console import Console
from rich.panel import Panel

from rag.answer import Assistant
from rag.generate import OnToken
from rag.memory import Memory, Session, check_session_name
from rag.retrieve import Filters
from rag.types import Answer
from rag.ui.render import safe, sources_table, stats_line, stream_answer

if TYPE_CHECKING:
    from rag.serve.client import Remote

HELP = """[bold]/sources[/]   sources of the last answer      [bold]/show N[/]   whole passage N
[bold]/history[/]   the conversation so far         [bold]/reset[/]    forget the conversation
[bold]/save [NAME][/] save the session                 [bold]/help[/]     this help
[bold]/exit[/]      leave (Ctrl-D too); Ctrl-C stops an answer, not the session"""


class Conversation(Protocol):
    """Where chat turns are answered: in this process, or by a running `rag serve`."""

    @property
    def session(self) -> Session: ...

    def ask(self, question: str, on_token: OnToken, stop: threading.Event) -> Answer: ...
    def reset(self) -> None: ...
    def save(self) -> Path: ...


class LocalConversation:
    def __init__(
        self, assistant: Assistant, memory: Memory, sessions_dir: Path, filters: Filters | None
    ) -> None:
        self.assistant, self.memory, self.sessions_dir, self.filters = (
            assistant,
            memory,
            sessions_dir,
            filters,
        )

    @property
    def session(self) -> Session:
        return self.memory.session

    def ask(self, question: str, on_token: OnToken, stop: threading.Event) -> Answer:
        return self.assistant.ask(question, self.filters, self.memory, on_token, stop)

    def reset(self) -> None:
        self.memory.reset()

    def save(self) -> Path:
        return self.memory.session.save(self.sessions_dir)


class RemoteConversation:
    """Turns answered by the server, which saves the session after each; this side reads it back
    (same machine, same $RAG_HOME) for /history and /save."""

    def __init__(self, remote: Remote, session: Session, sessions_dir: Path, body: dict[str, object]) -> None:
        self.remote, self.session, self.sessions_dir, self.body = remote, session, sessions_dir, body

    def ask(self, question: str, on_token: OnToken, stop: threading.Event) -> Answer:
        name = self.session.name
        self.session.save(self.sessions_dir)  # a /save NAME moved it: the server reads it here
        answer = self.remote.ask(self.body | {"question": question, "session": name}, on_token, stop)
        self.session = Session.load(self.sessions_dir, name)
        return answer

    def reset(self) -> None:
        self.remote.post(f"/api/sessions/{self.session.name}/reset", {})
        self.session = Session.load(self.sessions_dir, self.session.name)

    def save(self) -> Path:
        return self.session.save(self.sessions_dir)


class ChatSession:
    def __init__(self, conversation: Conversation, console: Console) -> None:
        self.conversation = conversation
        self.console = console
        self.last: Answer | None = None

    def run(self) -> None:
        c = self.console
        c.print(f"[bold]rag chat[/] — session [cyan]{self.conversation.session.name}[/]; /help for commands")
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
        self.conversation.save()

    def ask(self, question: str) -> None:
        try:
            answer = stream_answer(
                self.console, lambda on_token, stop: self.conversation.ask(question, on_token, stop)
            )
        except KeyboardInterrupt:
            self.console.print("[yellow]stopped[/]")
            return
        if answer.interrupted:
            self.console.print("[yellow](stopped)[/]")
        self.last = answer
        self.console.print(sources_table(answer))
        self.console.print(stats_line(answer))
        self.conversation.save()

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
            self.conversation.reset()
            self.last = None
            c.print("[dim]conversation forgotten[/]")
        elif name == "/history":
            s = self.conversation.session
            if s.summary:
                c.print(Panel(safe(s.summary), title=f"summary of {s.summarized_turns} earlier turns"))
            if not s.turns and not s.summary:
                c.print("[dim]no history yet[/]")
            for turn in s.turns:
                c.print(safe("you> " + turn.question, style="green"))
                c.print(safe(turn.answer))
        elif name == "/save":
            if arg:
                self.conversation.session.name = check_session_name(arg)
            path = self.conversation.save()
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
