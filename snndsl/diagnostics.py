"""Source spans and user-facing errors.

Every mistake a user can make in a `.snn` file or on the command line ends as an
:class:`SnnError` that carries a :class:`SourceSpan` and a one-line hint. Rendering
follows the compiler convention::

    examples/bad.snn:3:12: error: unknown op 'Conv2' (did you mean 'Conv2d'?)
        h = x -> Conv2(1, 8, 3)
                 ^~~~~
    hint: built-in layers are listed in docs/language.md
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SourceSpan:
    """A region of a source file; lines and columns count from 1, ``end_column`` is exclusive."""

    filename: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{printable(self.filename)}:{self.line}:{self.column}"

    @classmethod
    def point(cls, filename: str, line: int, column: int) -> SourceSpan:
        return cls(filename, line, column, line, column + 1)


UNKNOWN_SPAN = SourceSpan("<unknown>", 1, 1, 1, 2)


def _is_control(c: str) -> bool:
    return not c.isprintable() and c != " "


def printable(text: str) -> str:
    """``text`` (a file name) with control characters escaped (``\\n``, ``\\x1b``, ``\\u2028``),
    so that a name cannot break a diagnostic's line or drive the terminal."""
    if not any(_is_control(c) for c in text):
        return text
    return "".join(c.encode("unicode_escape").decode("ascii") if _is_control(c) else c for c in text)


def _shown(line: str) -> str:
    """A source line for display: control characters become one replacement character
    each, so the caret below stays aligned."""
    return "".join("\ufffd" if _is_control(c) else c for c in line)


class SnnError(Exception):
    """Base of every user-facing error. ``span`` locates it, ``hint`` says how to fix it.

    ``source`` (the text of the file) is attached by the front end so that ``str(err)``
    can show the offending line with a caret.
    """

    kind = "error"

    def __init__(self, message: str, span: SourceSpan | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.span = span or UNKNOWN_SPAN
        self.hint = hint
        self.source: str | None = None
        #: where the error's context came from, innermost first ("in block B, used as ...")
        self.notes: list[str] = []
        #: further independent errors found in the same run (shown after this one)
        self.others: list[SnnError] = []

    def with_source(self, source: str) -> SnnError:
        if self.source is None:
            self.source = source
        for other in self.others:
            other.with_source(source)
        return self

    def render(self, color: bool = False) -> str:
        return render(self, self.source, color=color)

    def __str__(self) -> str:
        return self.render()


class SnnSyntaxError(SnnError):
    """The text does not follow the grammar."""


class SnnNameError(SnnError):
    """An undefined or duplicate name, label, op or block."""


class SnnTypeError(SnnError):
    """An argument of the wrong type, or an unknown or missing argument."""


class SnnShapeError(SnnError):
    """Per-sample shapes that do not fit together."""


class SnnLimitError(SnnError):
    """A compile-time computation or size that exceeds the compiler's bounds."""


class SnnPermissionError(SnnError):
    """A `use` declaration that the caller did not allow."""


class UsageError(Exception):
    """Bad command-line or API usage that has no source location (exit status 2)."""


def _use_color(stream) -> bool:
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()


def render(err: SnnError, source: str | None, color: bool = False) -> str:
    """``FILE:LINE:COL: error: message``, the source line, a caret and the hint."""
    span = err.span
    bold, red, cyan, reset = ("\x1b[1m", "\x1b[31m", "\x1b[36m", "\x1b[0m") if color else ("",) * 4
    out = [f"{bold}{span}: {red}{err.kind}:{reset}{bold} {err.message}{reset}"]
    if source is not None:
        lines = [ln.removesuffix("\r") for ln in source.split("\n")]  # the parser counts only \n
        if 1 <= span.line <= len(lines):
            text = _shown(lines[span.line - 1].expandtabs(1))
            if len(text) > 200:  # keep huge generated lines readable
                start = max(0, span.column - 80)
                text, col = text[start : start + 160], span.column - start
            else:
                col = span.column
            width = 1
            if span.end_line == span.line and span.end_column > span.column:
                width = min(span.end_column - span.column, max(1, len(text) - col + 1))
            out.append(f"    {text}")
            out.append("    " + " " * (col - 1) + f"{red}^{'~' * (width - 1)}{reset}")
    if err.hint:
        out.append(f"{cyan}hint:{reset} {err.hint}")
    out += [f"{cyan}note:{reset} {note}" for note in err.notes]
    for other in err.others:
        out += ["", render(other, other.source if other.source is not None else source, color)]
    if err.others:
        out += ["", f"{bold}{1 + len(err.others)} errors{reset}"]
    return "\n".join(out)


def print_error(err: SnnError, stream=None) -> None:
    stream = stream or sys.stderr
    print(err.render(color=_use_color(stream)), file=stream)


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate most similar to ``name``, for "did you mean" hints."""
    cands = sorted(set(candidates))
    lower = {c.lower(): c for c in cands}
    if name.lower() in lower:
        return lower[name.lower()]
    found = difflib.get_close_matches(name, cands, n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    c = closest(name, candidates)
    return f" (did you mean '{c}'?)" if c else ""
