"""An indenting line builder for generated Python source."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

INDENT = "    "


class Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 0

    def line(self, text: str = "") -> None:
        self.lines.append(INDENT * self.depth + text if text else "")

    @contextmanager
    def block(self, header: str) -> Iterator[None]:
        self.line(header)
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    def extend(self, other: Writer, indent: int = 0) -> None:
        for text in other.lines:
            self.lines.append(INDENT * (self.depth + indent) + text if text else "")

    def text(self) -> str:
        return "\n".join(self.lines).rstrip() + "\n"
