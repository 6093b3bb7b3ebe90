"""Finds the documentation's executable examples.

The convention: an HTML comment ``<!-- doctest: KIND [name=value …] -->`` on the line
before a fenced code block marks that block as an example the suite runs. Unmarked blocks
are prose (sample output, long-running commands like ``serve``). Kinds:

* ``graphql`` — the block is a GraphQL document, run against the app with an all-scopes key
  on a small seeded account; it must answer without errors, or with ``code=CODE`` as the
  first error's ``extensions.code``. ``variables='{"first": 2}'`` passes variables.
* ``curl`` — every ``curl …`` command of the block (``\\`` continues a line) is sent to a real
  server; ``$KEY`` is the key, ``http://127.0.0.1:8000`` the server. The answer must be 2xx,
  or ``status=NNN``.
* ``cli`` — every ``contacts-gateway …`` line runs against a fresh database and must exit 0.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MARK = re.compile(r"^\s*<!--\s*doctest:\s*(\w+)(.*?)-->\s*$")
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)")


@dataclass(frozen=True)
class Example:
    """One marked code block."""

    path: Path
    line: int  # 1-based line of the block's first code line
    kind: str
    code: str
    options: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def documents() -> list[Path]:
    """README.md and every docs/*.md."""
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def examples(paths: list[Path] | None = None) -> list[Example]:
    """Every marked example, in document order."""
    found: list[Example] = []
    for path in paths or documents():
        lines = path.read_text(encoding="utf-8").splitlines()
        i = 0
        while i < len(lines):
            mark = MARK.match(lines[i])
            i += 1
            if not mark:
                continue
            while i < len(lines) and not lines[i].strip():
                i += 1
            fence = FENCE.match(lines[i]) if i < len(lines) else None
            if fence is None:
                raise ValueError(f"{path}:{i}: a doctest mark must be followed by a code block")
            indent, ticks = fence.group(1), fence.group(2)
            start = i + 1
            i = start
            while i < len(lines) and not lines[i].strip().startswith(ticks):
                i += 1
            body = "\n".join(
                line[len(indent) :] if line.startswith(indent) else line for line in lines[start:i]
            )
            options = dict(
                (k, v) for k, _, v in (o.partition("=") for o in shlex.split(mark.group(2)))
            )
            found.append(Example(path, start + 1, mark.group(1), body, options))
            i += 1
    return found


def commands(code: str, program: str) -> list[list[str]]:
    """The ``program …`` commands of a shell block, as argv lists (``\\`` joins lines)."""
    joined = re.sub(r"\\\n\s*", " ", code)
    result: list[list[str]] = []
    for line in joined.splitlines():
        line = line.strip()
        if line.startswith(program + " ") or line == program:
            result.append(shlex.split(line, comments=True))
    return result
