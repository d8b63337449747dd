"""Source spans and user-facing errors.

Every mistake a user can make in a `.snn` file or on the command line ends as an
:class:`SnnError` that carries a :class:`SourceSpan` and a one-line hint. Rendering
follows the compiler convention::

    examples/bad.snn:3:12: error: unknown op 'Conv2' (did you mean 'Conv2d'?)
        h = x -> Conv2(1, 8, 3)
                 ^~~~~
    hint: built-in layers are listed in docs/language.md

What an error echoes from the input is bounded: :func:`shorten` cuts a long text in the
middle and :func:`shown_items` lists the first few of many items with "... (N more)";
an :class:`SnnError` keeps at most :data:`MAX_MESSAGE` characters of its message, hint
and each note, and shows at most :data:`SOURCE_WINDOW` characters of the source line.
So an error about 50,000 names, a million-element tuple or the end of a 1 MB line
prints a few lines.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass

#: the most characters of a message, a hint or a note that an error keeps
MAX_MESSAGE = 500
#: the most items :func:`shown_items` lists before "... (N more)"
MAX_ITEMS = 10
#: a source line longer than this is shown as a window of this many characters around
#: the error's column
SOURCE_WINDOW = 160


def shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text``, or for one longer than ``limit``, its start and end with the number of
    characters left out between them; the result has at most about ``limit`` characters."""
    if len(text) <= limit:
        return text
    tail = limit // 5
    head = max(0, limit - tail - 40)  # the marker takes about 40 characters
    return f"{text[:head]} ... ({len(text) - head - tail:,} more characters) ... {text[len(text) - tail:]}"


def shown_items(items: Iterable[object], limit: int = MAX_ITEMS, sep: str = ", ",
                width: int = MAX_MESSAGE // 10) -> str:
    """The first ``limit`` items joined with ``sep``, then "... (N more)" if there are more;
    each item is shortened to ``width`` characters (a tenth of :data:`MAX_MESSAGE`)."""
    listed = items if isinstance(items, (list, tuple)) else list(items)
    shown = [shorten(str(x), width) for x in listed[:limit]]
    if len(listed) > limit:
        shown.append(f"... ({len(listed) - limit:,} more)")
    return sep.join(shown)


def shown_value(value: object, fmt: Callable[[object], str] = repr, limit: int = MAX_ITEMS,
                budget: int = MAX_MESSAGE // 2) -> str:
    """``value`` as ``fmt`` writes it, for a message: a tuple or list of more than ``limit``
    items shows the first ones and "... (N more)", nested ones too, and the whole takes
    about ``budget`` characters at most (a tuple of tuples that share items can hold
    more items than there are atoms in the universe). ``fmt`` writes the other values."""
    out: list[str] = []
    left = budget

    def emit(text: str) -> None:
        nonlocal left
        out.append(text)
        left -= len(text)

    def walk(v: object) -> None:
        if not isinstance(v, (tuple, list)):
            emit(shorten(fmt(v), max(20, min(left, MAX_MESSAGE // 5))))
            return
        emit("(" if isinstance(v, tuple) else "[")
        for i, item in enumerate(v[:limit]):
            if i:
                emit(", ")
            if left <= 0:
                emit("...")
                break
            walk(item)
        else:
            if len(v) > limit:
                emit(f", ... ({len(v) - limit:,} more)")
            elif len(v) == 1 and isinstance(v, tuple):
                emit(",")
        emit(")" if isinstance(v, tuple) else "]")

    walk(value)
    return shorten("".join(out), 2 * budget)  # the closing brackets of deep nesting


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
        message = shorten(message)
        super().__init__(message)
        self.message = message
        self.span = span or UNKNOWN_SPAN
        self.hint = shorten(hint) if hint is not None else None
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
    """Bad command-line or API usage that has no source location (exit status 2).

    A message is kept to ``4 * MAX_MESSAGE`` characters (see :func:`shorten`)."""

    def __init__(self, *args: object):
        super().__init__(*(shorten(a, 4 * MAX_MESSAGE) if isinstance(a, str) else a for a in args))


def _use_color(stream) -> bool:
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()


def render(err: SnnError, source: str | None, color: bool = False) -> str:
    """``FILE:LINE:COL: error: message``, the source line, a caret and the hint."""
    span = err.span
    bold, red, cyan, reset = ("\x1b[1m", "\x1b[31m", "\x1b[36m", "\x1b[0m") if color else ("",) * 4
    out = [f"{bold}{span}: {red}{err.kind}:{reset}{bold} {shorten(err.message)}{reset}"]
    line = _source_line(source, span.line) if source is not None else None
    if line is not None:
        if len(line) > SOURCE_WINDOW + 40:  # keep huge generated lines readable
            start = max(0, span.column - SOURCE_WINDOW // 2)
            line, col = line[start : start + SOURCE_WINDOW], span.column - start
        else:
            col = span.column
        # tabs become one space each (expandtabs(1)): the columns stay those of the parser
        text = _shown(line.expandtabs(1))
        width = 1
        if span.end_line == span.line and span.end_column > span.column:
            width = min(span.end_column - span.column, max(1, len(text) - col + 1))
        out.append(f"    {text}")
        out.append("    " + " " * (col - 1) + f"{red}^{'~' * (width - 1)}{reset}")
    if err.hint:
        out.append(f"{cyan}hint:{reset} {shorten(err.hint)}")
    out += [f"{cyan}note:{reset} {shorten(note)}" for note in err.notes]
    for other in err.others:
        out += ["", render(other, other.source if other.source is not None else source, color)]
    if err.others:
        out += ["", f"{bold}{1 + len(err.others)} errors{reset}"]
    return "\n".join(out)


def _source_line(source: str, n: int) -> str | None:
    """Line ``n`` (from 1) of ``source`` without its line end, or None if there is none.
    Lines end at ``\n`` only, as the parser counts them."""
    if n < 1:
        return None
    parts = source.split("\n", n)  # the lines before n, line n, and the rest
    return parts[n - 1].removesuffix("\r") if len(parts) >= n else None


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
