"""Property tests: whatever the text, ``parse`` returns a File or raises an SnnError with
a location inside the text, never anything else; and the AST it builds during the parse
is the one built from Lark's tree."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark

from snndsl.diagnostics import SnnError
from snndsl.frontend import ast
from snndsl.frontend.grammar import get_parser
from snndsl.frontend.parse import KEYWORDS, parse

from .reference import reference_items
from .test_grammar import KITCHEN_SINK, SEW

ROOT = Path(__file__).resolve().parents[2]
SEEDS = [SEW, KITCHEN_SINK] + [
    p.read_text(encoding="utf-8") for p in sorted((ROOT / "examples").glob("*.snn"))
]
FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(text: str) -> ast.File | None:
    """Parse; on error, check the error is an SnnError that points into the text."""
    try:
        return parse(text, "fuzz.snn")
    except SnnError as err:
        lines = text.split("\n")
        assert 1 <= err.span.line <= len(lines) + 1, err.render()
        assert err.span.column >= 1, err.render()
        assert err.source == text
        err.render()  # must not fail either
        return None


# Whitespace that Lark ignores is not inserted between generated tokens, so keywords,
# names and separators get strategies that carry their own spaces.
_explicit = {kw.upper(): st.just(f" {kw} ") for kw in KEYWORDS}
_explicit.update(
    UNDERSCORE=st.just(" _ "),
    NAME=st.sampled_from([" x ", " h ", " c ", " Conv2d ", " ReLU ", " nn ", " add ", " dim "]),
    INT=st.from_regex(r"[0-9]{1,4}", fullmatch=True),
    WS=st.just(" "),
    COMMENT=st.just(" "),
    _SEP=st.sampled_from(["\n", ";", "\n\n", "  # note\n", "\r\n"]),
    _ARROW=st.sampled_from([" -> ", "\n    -> ", " ->\n    ", " -> # more\n  "]),
)
PROGRAMS = from_lark(get_parser(), start="start", explicit=_explicit)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PROGRAMS)
def test_generated_programs(text: str) -> None:
    """Programs drawn from the grammar parse or raise an SnnError, and when one parses,
    its AST is the one built from Lark's tree, spans included."""
    parsed = check(text)
    if parsed is not None:
        assert parsed.items == reference_items(text, "fuzz.snn")


_CHARS = st.one_of(
    st.sampled_from(list('()[]{}-><*#"\\;,:=._\n\r\t\x00 \ufeff\ud800') + ["->", "**", "//"]),
    st.characters(),
)
_EDIT = st.tuples(st.sampled_from(["insert", "delete", "replace"]), st.floats(0, 1), _CHARS)


@FAST
@given(st.sampled_from(SEEDS), st.lists(_EDIT, min_size=1, max_size=4), st.floats(0, 1))
def test_mutated_programs_parse_or_raise_snn_error(seed: str, edits: list, cut: float) -> None:
    text = seed
    for how, where, char in edits:
        i = int(where * len(text))
        if how == "insert":
            text = text[:i] + char + text[i:]
        elif how == "delete":
            text = text[:i] + text[i + 1 :]
        else:
            text = text[:i] + char + text[i + 1 :]
    check(text)
    check(text[: int(cut * len(text))])  # and a truncated copy


@FAST
@given(st.text(alphabet=st.characters(), max_size=200))
def test_random_text_parses_or_raises_snn_error(text: str) -> None:
    check(text)


@FAST
@given(st.binary(max_size=200))
def test_random_bytes_parse_or_raise_snn_error(data: bytes) -> None:
    check(data.decode("utf-8", errors="surrogateescape"))  # invalid UTF-8 -> lone surrogates


def test_every_prefix_of_an_example() -> None:
    for cut in range(0, len(SEW), 7):
        check(SEW[:cut])
