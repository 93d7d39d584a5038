"""Regenerate the README's settings table and command reference from Settings and `rag --help`.
Usage: python scripts/update_readme.py [--check]   (--check: exit 1 if the README is out of date)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rag.ui.reference import render

README = Path(__file__).resolve().parents[1] / "README.md"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--check", action="store_true", help="only report whether the README is current")
    args = ap.parse_args()
    current = README.read_text(encoding="utf-8")
    fresh = render(current)
    if fresh == current:
        print("README is up to date")
        return 0
    if args.check:
        print("README is out of date: run python scripts/update_readme.py", file=sys.stderr)
        return 1
    README.write_text(fresh, encoding="utf-8")
    print("README updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
