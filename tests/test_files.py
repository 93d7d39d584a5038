"""Files written beside their target and renamed into place (sessions, transcripts, the server
file, the int8 cache, assembled models)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from core.files import replacing, write_text


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "session.json"
    write_text(target, "old")
    with pytest.raises(RuntimeError), replacing(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["session.json"]


def test_the_new_text_replaces_the_old_in_one_rename(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "server.json"
    write_text(target, "one", prefix=".server-")
    write_text(target, "two", prefix=".server-")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["server.json"]


def test_only_the_owner_can_read_it(tmp_path: Path) -> None:
    """The server file holds the API token."""
    target = tmp_path / "server.json"
    write_text(target, '{"token": "secret"}')
    assert stat.S_IMODE(target.stat().st_mode) & 0o077 == 0
