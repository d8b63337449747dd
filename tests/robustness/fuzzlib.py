"""Program generators and the oracle of the fuzz tests (``test_fuzz.py``, ``bench/fuzz_long.py``).

Two sources of programs, both Hypothesis strategies:

* :func:`programs` builds `.snn` files from the grammar: lets, defaults, blocks, a model
  with parameters, inputs of rank 1 to 3, chains of layers chosen to fit the shape they
  receive (so many compile), groups, repeats, merges, several returns, and with a small
  probability "chaos": hostile labels, unknown ops, ``nn.*`` names, arguments of the
  wrong type or size, expressions that overflow.
* :func:`mutants` takes the example files and a few seed programs and flips bytes,
  truncates, deletes and inserts bytes, swaps and replaces tokens, duplicates and
  deletes lines.

And the shapes of input of issue #17, each a strategy with a size bound for CI:

* :func:`wide_merges`: ``add``/``cat`` (and the binary merges) of 2 to thousands of
  operands, inside chains, lets and blocks; :func:`deep_groups`: groups, repeats,
  blocks calling blocks, parenthesised and unary expressions and tuples nested near
  and past the front end's limit (200); :func:`long_literals`: long strings, integers,
  floats, names, comments and blank runs in every role. Checked by :func:`check_program`.
* :func:`nir_cases`: a base NIR graph with hostile edits (non-numeric, NaN, complex,
  empty or huge declared data, wrong ranks, zero strides, links, nested graphs, node
  types and names, metadata hints, edges), as a file through ``import_nir`` or
  ``snndsl import``, or as an in-memory graph. Checked by :func:`check_nir`.
* :func:`api_cases`: ``params`` values of odd types (numpy scalars, subclasses whose
  methods note that they ran, huge and non-finite numbers, containers), and with
  ``wide=True`` odd keys and keyword arguments. Checked by :func:`check_api`.

NIR and API cases are plain data (:class:`NirCase`, :class:`ApiCase`): a crash report's
``repr`` of the case is its reproduction.

:func:`check_program` is the oracle. It goes through the whole front end and middle
(parse, build, passes, codegen: ``snndsl.emit_python``), audits the generated source,
and, when ``run`` is set and the model is small, compiles it (``compile_source``) and
runs one multi-step and two single-step forwards on tiny input. The only acceptable
outcomes are success and :class:`snndsl.SnnError` located in the program's file; anything
else raises :class:`Crash`. Crashes that match :data:`KNOWN` (bugs already reported,
each with a test in ``test_arguments.py`` or ``test_hostile.py``) are tallied as
``known:<id>`` instead, so that the CI fuzz run keeps guarding everything else.
"""

from __future__ import annotations

import atexit
import math
import os
import re
import tempfile
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

import snndsl
from snndsl.compiler import generate, load_class, parameter_counts
from snndsl.diagnostics import SnnError, UsageError

from .support import EXAMPLES, tiny_forward, unsafe_constructs

FILENAME = "fuzz.snn"

#: crashes already reported to the lead: id -> (exception type name, message pattern).
#: Keep it to what still reproduces (each entry with a strict xfail row in test_arguments.py);
#: the rest were fixed and are now located errors at compile time.
KNOWN: dict[str, tuple[str, str]] = {}  # none left: every crash the fuzzer found is fixed


class Crash(Exception):
    """An outcome other than success or a located SnnError; ``signature`` groups like crashes."""

    def __init__(self, signature: str, text: str | bytes, detail: str):
        super().__init__(f"{signature}\n--- program ---\n{text!r}\n--- detail ---\n{detail}")
        self.signature = signature
        self.text = text
        self.detail = detail


@dataclass
class Limits:
    """The largest model the oracle will instantiate and run."""

    params: int = 300_000
    elements: int = 20_000


def _known(exc: BaseException) -> str | None:
    name, msg = type(exc).__name__, str(exc)
    for key, (types, pattern) in KNOWN.items():
        if re.fullmatch(types, name) and re.search(pattern, msg):
            return key
    return None


def _signature(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "snndsl" in f.filename and "tests" not in f.filename]
    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
    return f"{type(exc).__name__}@{where}: {str(exc).splitlines()[0][:80] if str(exc) else ''}"


def _located(e: SnnError, stage: str) -> None:
    if e.span.filename != FILENAME:
        raise Crash(f"unlocated-{type(e).__name__}", "", f"{stage}: {e.span} {e.message}")
    rendered = str(e)
    if not rendered.startswith(f"{FILENAME}:{e.span.line}:{e.span.column}: "):
        raise Crash("bad-render", "", rendered)


_READ_TMP: Path | None = None


def _decode(data: bytes) -> str | None:
    """Text of ``data`` as ``snndsl`` reads a file; None if it reports a located error."""
    global _READ_TMP
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if _READ_TMP is None:
        fd, name = tempfile.mkstemp(suffix=".snn", prefix="snndsl-fuzz-")
        os.close(fd)
        _READ_TMP = Path(name)
        atexit.register(_READ_TMP.unlink, missing_ok=True)
    _READ_TMP.write_bytes(data)
    try:
        snndsl.compile_file(_READ_TMP)
    except SnnError as e:
        if e.span.filename != str(_READ_TMP):
            raise Crash("unlocated-utf8", data, str(e)) from None
        return None
    raise Crash("invalid-utf8-accepted", data, "")


def check_program(program: str | bytes, run: bool = False, limits: Limits | None = None) -> str:
    """The outcome of one program: ``ok``, ``ran``, ``error:<Class>`` or ``known:<id>``.

    Raises :class:`Crash` for anything else.
    """
    limits = limits or Limits()
    if isinstance(program, bytes):
        decoded = _decode(program)
        if decoded is None:
            return "error:utf8"
        text = decoded
    else:
        text = program
    try:
        ir, gen = generate(text, FILENAME)
    except SnnError as e:
        _located(e, "emit")
        return f"error:{type(e).__name__}"
    except UsageError as e:
        if "several models" in str(e):
            return "error:UsageError"
        raise Crash(_signature(e), text, traceback.format_exc()) from None
    except Exception as e:  # noqa: BLE001 - every other exception is a finding
        known = _known(e)
        if known:
            return f"known:{known}"
        raise Crash(_signature(e), text, traceback.format_exc()) from None
    problems = unsafe_constructs(gen.source)
    if problems:
        raise Crash("unsafe-generated-code", text, "\n".join(problems) + "\n" + gen.source)
    if generate(text, FILENAME)[1].source != gen.source:
        raise Crash("nondeterministic-codegen", text, "")
    if not run:
        return "ok"
    try:
        cls = load_class(gen)
        counts = parameter_counts(cls)
        biggest = max((math.prod(n.shape) for n in ir.nodes() if n.shape is not None), default=0)
        if sum(counts.values()) > limits.params or biggest > limits.elements:
            return "ok"
        net = snndsl.compile_source(text, FILENAME)
        tiny_forward(net)
        paths = {n.path for n in ir.nodes()} | {p for n in ir.nodes() for p, _ in n.op.modules(n.path)}
        for key in net.state_dict():
            owner = key.rpartition(".")[0]
            if owner not in paths and not any(owner.startswith(p + ".") for p in paths):
                raise Crash("state-dict-key-not-a-module-path", text, f"{key} not under {sorted(paths)}")
    except Crash:
        raise
    except SnnError as e:
        _located(e, "compile")
        return f"error:{type(e).__name__}"
    except Exception as e:  # noqa: BLE001
        known = _known(e)
        if known:
            return f"known:{known}"
        raise Crash(_signature(e), text, traceback.format_exc()) from None
    return "ran"


# ---------------------------------------------------------------------------------------
# grammar-generated programs
# ---------------------------------------------------------------------------------------

HOSTILE_LABELS = ["class", "def", "lambda", "None", "__init__", "__class__", "__dict__", "forward",
                  "training", "state_dict", "_modules", "self", "T", "N", "nn", "torch", "x_flat",
                  "super", "cuda", "to", "_", "match", "import", "carry_state", "eval"]
ANY_OPS = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "Linear", "BatchNorm1d",
           "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm", "MaxPool1d", "MaxPool2d", "AvgPool1d",
           "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "Flatten", "Identity", "Upsample",
           "ReLU", "Sigmoid", "Tanh", "GELU", "VotingLayer", "IF", "LIF", "PLIF", "Dropout", "Dropout2d",
           "nn.Hardswish", "nn.PixelShuffle", "nn.Softmax", "nn.Unflatten", "nn.ELU", "nn.Identity",
           "nn.Dropout", "nn.LeakyReLU", "nn.Module", "nn.Sequential", "nn.RNN", "Conv2", "lif", "add",
           "nn.modules.Linear", "nn.Flatten", "nn.ZeroPad2d", "nn.Fold", "nn.Mish", "nn.Softplus"]
SURROGATES = ["Sigmoid", "ATan", "PiecewiseQuadratic", "PiecewiseExp", "SoftSign", "Erf", "SuperSpike",
              "PiecewiseLeakyReLU"]
STRINGS = ['"zeros"', '"same"', '"valid"', '"nearest"', '"tanh"', '"none"', '"\\"); import os #"',
           '"\\n"', '"\\u2028"', '""', '"reflect"', '"bilinear"']


class Gen:
    """Draws pieces of a program; ``chaos`` is the probability of a deliberately odd choice."""

    def __init__(self, draw, chaos: float):
        self.draw = draw
        # decisions come from one seeded Random: Hypothesis biases its own floats towards
        # 0.0, which would make every "rare" choice common
        self.rnd = draw(st.randoms(use_true_random=True))
        self.chaos = chaos
        self.labels: list[str] = []
        self.counter = 0

    def p(self, prob: float) -> bool:
        return self.rnd.random() < prob

    def odd(self) -> bool:
        return self.chaos > 0 and self.p(self.chaos)

    def pick(self, seq):
        return self.rnd.choice(list(seq))

    def int_(self, lo: int, hi: int) -> int:
        return self.rnd.randint(lo, hi)

    def fresh(self, base: str) -> str:
        self.counter += 1
        return f"{base}{self.counter}"

    def label(self) -> str:
        if self.odd() and self.p(0.3):
            return self.pick(HOSTILE_LABELS + self.labels[-1:])
        name = self.fresh("l")
        self.labels.append(name)
        return name

    def value(self) -> str:
        """Any argument value, mostly wrong."""
        return self.pick([
            "0", "-1", "1", "3", "2.5", "-0.5", "true", "false", "none", "_", "(1, 2)", "[3]", "()",
            "10**12", "2**70", "1e308 * 10", "1 / 0", "7 // 2", "ATan()", "Sigmoid(alpha=-1)",
            *STRINGS, "c0", "undefined_name", "(2, 2, 2, 2)", "-(3 ** 2)", "4 % 3", "1e-320",
        ])

    def num(self, v: int) -> str:
        """An integer literal, sometimes as an expression that evaluates to it."""
        if self.p(0.2):
            return self.pick([f"({v} + 0)", f"{v} * 1", f"{v} // 1", f"{v + 1} - 1", f"1 * {v} ** 1"])
        return str(v)

    def maybe_label(self, prob: float = 0.6) -> str:
        return f"{self.label()}: " if self.p(prob) else ""

    # -- layers ------------------------------------------------------------------------
    def neuron(self) -> str:
        kind = self.pick(["LIF", "IF", "PLIF"])
        kw: list[str] = []
        if self.p(0.3):
            kw.append(f"v_threshold={self.pick(['1.0', '0.5', '2', '-1.0', '0'])}")
        if self.p(0.2):
            kw.append(f"v_reset={self.pick(['0.0', 'none', '-0.5'])}")
        if self.p(0.3):
            sur = self.pick(SURROGATES)
            arg = "" if self.p(0.6) else ("w=0.5" if sur == "PiecewiseLeakyReLU" else f"alpha={self.pick(['2.0', '0.5', '4', '1e3'])}")
            kw.append(f"surrogate={sur}({arg})")
        if self.p(0.2):
            kw.append(f"detach_reset={self.pick(['true', 'false'])}")
        if kind == "LIF" and self.p(0.3):
            kw.append(f"tau={self.pick(['2.0', '1.5', '10', '100.0'] + (['0.5', '1', '-2.0'] if self.odd() else []))}")
        if kind == "PLIF" and self.p(0.3):
            kw.append(f"init_tau={self.pick(['2.0', '3', '1.01'] + (['0.9', '1.0'] if self.odd() else []))}")
        if kind in ("LIF", "PLIF") and self.p(0.2):
            kw.append(f"decay_input={self.pick(['true', 'false'])}")
        if self.p(0.05):
            kw.append("store_v_seq=true")
        return f"{kind}({', '.join(kw)})"

    def activation(self) -> str:
        return self.pick(["ReLU()", "Sigmoid()", "Tanh()", "GELU()", "Identity()", 'GELU(approximate="tanh")',
                          "nn.Hardswish()", "nn.ELU()", "nn.LeakyReLU(0.1)", "nn.Identity()", "nn.Mish()"])

    def stage(self, shape: tuple[int, ...] | None) -> tuple[str, tuple[int, ...] | None]:
        """One stage for a value of ``shape`` and the shape it makes (None: unknown)."""
        if shape is None or self.odd():
            return self.chaos_stage(), None
        rank = len(shape)
        options: list[str] = ["neuron", "act", "dropout"]
        if rank == 1:
            options += ["linear", "linear", "bn1", "ln", "voting"]
        elif rank == 2:
            options += ["conv1", "bn1", "pool1", "adapt1", "flatten", "gn", "ln", "convT1"]
        elif rank == 3:
            options += ["conv2", "conv2", "bn2", "pool2", "adapt2", "flatten", "gn", "up", "drop2d",
                        "convT2", "shuffle"]
        kind = self.pick(options)
        c = shape[0]
        if kind == "neuron":
            return self.neuron(), shape
        if kind == "act":
            return self.activation(), shape
        if kind == "dropout":
            return f"Dropout({self.pick(['0.5', '0.2', '0', '0.99'])})", shape
        if kind == "linear":
            n = self.int_(1, 16)
            first = "_" if self.p(0.5) else self.num(shape[-1])
            bias = self.pick(["", ", bias=false", ", bias=true"])
            return f"Linear({first}, {self.num(n)}{bias})", (*shape[:-1], n)
        if kind == "bn1":
            return f"BatchNorm1d({'_' if self.p(0.5) else c})", shape
        if kind == "bn2":
            mom = self.pick(["", ", momentum=0.1", ", momentum=none", ", affine=false", ", eps=1e-3"])
            return f"BatchNorm2d({'_' if self.p(0.5) else c}{mom})", shape
        if kind == "ln":
            return f"LayerNorm({'_' if self.p(0.5) else shape[-1]})", shape
        if kind == "gn":
            g = self.pick([d for d in range(1, c + 1) if c % d == 0])
            return f"GroupNorm({g}, {'_' if self.p(0.5) else c})", shape
        if kind == "voting":
            v = self.pick([d for d in range(1, shape[0] + 1) if shape[0] % d == 0])
            return f"VotingLayer({v})", (shape[0] // v,)
        if kind == "flatten":
            return "Flatten()", (math.prod(shape),)
        if kind in ("conv1", "conv2"):
            n = int(kind[-1])
            out = self.int_(1, 8)
            k = self.int_(1, 3)
            pad = self.pick([0, 1, '"same"']) if k > 1 else 0
            stride = self.pick([1, 1, 2]) if pad != '"same"' else 1
            spatial = shape[1:]
            if pad == '"same"':
                new = spatial
            else:
                new = tuple((d + 2 * int(pad) - k) // stride + 1 for d in spatial)
            if any(d <= 0 for d in new):
                return self.activation(), shape
            extra = "" if stride == 1 else f", stride={stride}"
            bias = self.pick(["", ", bias=false"])
            first = "_" if self.p(0.4) else str(c)
            ks = str(k) if self.p(0.7) else "(" + ", ".join([str(k)] * n) + ")"
            return f"Conv{n}d({first}, {self.num(out)}, {ks}, padding={pad}{extra}{bias})", (out, *new)
        if kind in ("convT1", "convT2"):
            n = int(kind[-1])
            out = self.int_(1, 4)
            k = self.int_(1, 3)
            s = self.pick([1, 2])
            new = tuple((d - 1) * s + k for d in shape[1:])
            if math.prod(new) > 256:
                return self.activation(), shape
            return f"ConvTranspose{n}d({c}, {out}, {k}, stride={s})", (out, *new)
        if kind in ("pool1", "pool2"):
            n = int(kind[-1])
            k = 2
            if any(d < k for d in shape[1:]):
                return self.activation(), shape
            op = self.pick(["MaxPool", "AvgPool"])
            return f"{op}{n}d({k})", (c, *(d // k for d in shape[1:]))
        if kind in ("adapt1", "adapt2"):
            n = int(kind[-1])
            size = self.int_(1, 3)
            return f"AdaptiveAvgPool{n}d({size})", (c, *([size] * n))
        if kind == "up":
            if math.prod(shape) > 64:
                return self.activation(), shape
            mode = self.pick(["", ', mode="nearest"', ', mode="bilinear"'])
            return f"Upsample(scale_factor=2{mode})", (c, shape[1] * 2, shape[2] * 2)
        if kind == "drop2d":
            return f"Dropout2d({self.pick(['0.2', '0.5'])})", shape
        if kind == "shuffle":
            if c % 4:
                return self.activation(), shape
            return "nn.PixelShuffle(2)", (c // 4, shape[1] * 2, shape[2] * 2)
        return self.activation(), shape  # pragma: no cover

    def chaos_stage(self) -> str:
        op = self.pick(ANY_OPS)
        args = [self.value() for _ in range(self.int_(0, 3))]
        if self.p(0.3):
            args.append(f"{self.pick(['bias', 'padding', 'tau', 'dim', 'p', 'foo', 'kernel_size', 'surrogate', 'mode', 'in_features'])}={self.value()}")
        return f"{op}({', '.join(args)})"

    def chain(self, head: str, shape: tuple[int, ...] | None, blocks: dict[str, int]) -> tuple[str, tuple[int, ...] | None]:
        parts = [head]
        for _ in range(self.int_(1, 4)):
            r = self.rnd.random()
            if blocks and r < 0.15 and shape is not None:
                name = self.pick(sorted(blocks))
                rep = f" * {self.int_(1, 3)}" if self.p(0.4) else ""
                parts.append(f"{self.label()}: {name}({self.num(shape[0]) if blocks[name] else ''}){rep}")
                continue  # blocks keep the shape (by construction)
            if r < 0.25 and shape is not None:
                inner, new = [], shape
                for _ in range(self.int_(1, 3)):
                    text, new2 = self.stage(new)
                    inner.append(text)
                    new = new2
                rep = f" * {self.int_(1, 3)}" if self.p(0.3) and new == shape else ""
                lab = f"{self.label()}: " if (rep or self.p(0.7)) else ""
                parts.append(f"{lab}({' -> '.join(inner)}){rep}")
                shape = new
                continue
            text, new = self.stage(shape)
            rep = ""
            if new == shape and self.p(0.1):
                rep = f" * {self.int_(1, 3)}"
            parts.append(f"{self.maybe_label(1.0 if rep else 0.6)}{text}{rep}")
            shape = new
        sep = self.pick([" -> ", " ->\n        ", "\n        -> "])
        return sep.join(parts), shape

    def block(self, name: str) -> tuple[str, bool]:
        """A block that keeps its input's shape; returns (text, takes a channel argument)."""
        takes_c = self.p(0.6)
        params = "c: int" if takes_c else ""
        if takes_c and self.p(0.3):
            params += ", scale: float = 1.0"
        body = ["input x"]
        if self.p(0.3):
            body.append("defaults LIF(tau=3.0)")
        stages = []
        for _ in range(self.int_(1, 3)):
            stages.append(f"{self.label()}: {self.pick(['ReLU()', 'LIF()', 'IF()', 'Identity()', 'Dropout(0.1)', 'BatchNorm2d(_)' if self.p(0.1) else 'Tanh()'])}")
        if takes_c and self.p(0.5):
            stages.append(f"{self.label()}: LayerNorm(_)")
        body.append("h = x -> " + " -> ".join(stages))
        ret = self.pick(["h", "add(h, x)", "mul(h, x)", "iand(h, x)", "sub(h, x)"]) if not self.odd() else self.pick(["cat(h, x)", "y", "h, x"])
        body.append(f"return {ret}")
        sep = self.pick(["\n    ", "; "])
        return f"block {name}({params}) {{\n    {sep.join(body)}\n}}", takes_c


@st.composite
def programs(draw, chaos: float = 0.02) -> str:
    """A `.snn` file from the grammar: mostly valid, sometimes deliberately odd."""
    g = Gen(draw, chaos)
    top: list[str] = []
    for i in range(g.int_(0, 2)):
        top.append(f"let c{i} = " + g.pick(["2", "3", "1 + 1", "2 ** 2", "7 // 2", "1.5", "true", '"s"']))
    if g.p(0.4):
        top.append(g.pick(["defaults LIF(tau=2.0, detach_reset=true)", "defaults IF(v_threshold=0.5)",
                           "defaults PLIF(init_tau=2.0)", "defaults LIF(surrogate=ATan())",
                           "defaults Conv2d(bias=false)", "defaults Dropout(p=0.1)"]))
    blocks: dict[str, int] = {}
    for _ in range(g.int_(0, 2)):
        name = g.fresh("Blk") if not g.odd() else g.pick(["class", "Conv2d", "nn", "Block", "Blk1"])
        text, takes_c = g.block(name)
        top.append(text)
        blocks[name] = takes_c
    rank = g.int_(1, 3)
    shape = {1: (g.int_(1, 12),), 2: (g.int_(1, 4), g.int_(1, 8)), 3: (g.int_(1, 4), g.int_(1, 6), g.int_(1, 6))}[rank]
    params = []
    if g.p(0.3):
        params.append(f"width: int = {g.int_(1, 8)}")
    if g.p(0.2):
        params.append(f"rate: float = {g.pick(['0.1', '1', '0.5'])}")
    model_name = "Net" if not g.odd() else g.pick(["class", "super", "nn", "M", "Net"])
    static = " static" if g.p(0.2) else ""
    body = [f"input x: [{', '.join(map(str, shape))}]{static}"]
    values = {"x": shape}
    if g.p(0.15):
        s2 = shape if g.p(0.7) else (g.int_(1, 4),)
        body.append(f"input y: [{', '.join(map(str, s2))}]")
        values["y"] = s2
    if g.p(0.2):
        body.append(f"let k = {g.pick(['2', 'c0' if top and top[0].startswith('let c0') else '3', '1 + 2'])}")
    heads: set[str] = set()
    for _ in range(g.int_(1, 3)):
        src = g.pick(sorted(values))
        heads.add(src)
        text, new = g.chain(src, values[src], blocks)
        target = g.pick(["h", "h", "z", "x"] + (["class", "T", "self"] if g.odd() else []))
        body.append(f"{target} = {text}")
        values[target] = new  # type: ignore[assignment]
        if g.p(0.3):
            same = [v for v in sorted(values) if values[v] is not None and values[v] == new and v != target]
            if same:
                op = g.pick(["add", "mul", "sub", "iand", "cat"])
                other = g.pick(same)
                dim = f", dim={g.pick([0, -1, 1])}" if op == "cat" and g.p(0.3) else ""
                body.append(f"m = {op}({target}, {other}{dim})")
                values["m"] = new if op != "cat" or dim else (None if new is None else (2 * new[0], *new[1:]))  # type: ignore[assignment]
    if g.p(0.25):  # feedback (#15): a cycle through prev, sometimes with a declared shape
        known = [v for v in sorted(values) if values[v] is not None]
        if known:
            src = g.pick(known)
            shp = values[src]
            assert shp is not None
            heads.add(src)
            inner = g.pick(["Identity()", "ReLU()", "Tanh()", "Dropout(0.1)", "Delay(1)", "LIF()", "LI()",
                            f"Linear({shp[-1]}, {shp[-1]}, bias=false)", "CubaLIF()", "Scale(0.5)"])
            decl = f", shape=[{', '.join(map(str, shp))}]" if g.p(0.3) else ""
            target = g.pick(["f", "f", "h"] + (["q"] if g.odd() else []))
            fed = target if not g.odd() else g.pick(["zz", f"{target} -> Identity()"])
            stmt = (f"{target} = add({src}, prev({fed}{decl}) -> {g.label()}: {inner}) -> "
                    f"{g.label()}: {g.pick(['LIF()', 'IF()', 'PLIF()', 'LI()'])}")
            if g.p(0.3):  # written before the values it reads: a forward reference through prev
                body.insert(len(body) - 1 if len(body) > 1 else len(body), stmt)
            else:
                body.append(stmt)
            values[target] = shp
    rets = [g.pick(sorted(values))]
    if g.p(0.2):
        rets.append(g.pick(sorted(values)))
    for v in ("x", "y"):  # keep inputs used, most of the time
        if v in values and v not in heads and v not in rets and not g.odd():
            rets.append(v)
    body.append("return " + ", ".join(rets))
    sep = g.pick(["\n    ", "\n    ", "; "])
    model = f"model {model_name}({', '.join(params)}) {{\n    {sep.join(body)}\n}}"
    items = [*top, model]
    if g.p(0.3):
        g.rnd.shuffle(items)
    return "\n".join(items) + "\n"


# ---------------------------------------------------------------------------------------
# mutations of the examples
# ---------------------------------------------------------------------------------------

SEEDS = [p.read_text(encoding="utf-8") for p in EXAMPLES] + [
    "model Tiny(c: int = 4) {\n    input x: [2, 6, 6]\n    h = x -> conv: Conv2d(2, c, 3, padding=1) -> bn: BatchNorm2d(c) -> sn: LIF()\n"
    "    h = h -> g: (MaxPool2d(2) -> Flatten() -> Linear(_, 10)) -> out: IF()\n    return h\n}\n",
    "block R(c: int) {\n    input x\n    h = x -> a: Linear(c, c) -> s: IF()\n    return add(h, x)\n}\n"
    "model Res() {\n    input x: [8]\n    h = x -> r: R(8) * 2 -> v: VotingLayer(2)\n    return h, x -> fc: Linear(8, 2)\n}\n",
]
TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|->|\*\*|//|\S')
EXTRA_TOKENS = ["__class__", "1e309", '"\\"', "(", ")", "{", "}", "[", "]", "->", ";", "\n", "99999999999",
                "-1", "0", "_", "nn.", "static", "model", "block", "return", "input", "*", "**", ",", ":",
                "=", "#", '"\\u0000"', "\t", "\r", "\\", "'", "\u2028", "\xff", "let", "use", "os.system",
                "2**2**2**2**2", "cat", "add", "dim=5", "*10000", "prev", "prev(h)", "Delay(2)",
                "shape=[4]"]


def _tokens(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in TOKEN.finditer(text)]


@st.composite
def mutants(draw) -> bytes:
    """An example or seed program with 1 to 4 random mutations, as bytes."""
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "delete", "insert", "swap", "replace",
                                     "dup-line", "del-line", "swap-lines", "replace", "replace"]))
        data = text.encode("utf-8")
        if kind == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            b = bytearray(data)
            b[i] ^= 1 << draw(st.integers(0, 7))
            return_bytes = bytes(b)
            try:
                text = return_bytes.decode("utf-8")
            except UnicodeDecodeError:
                return return_bytes
            continue
        if kind == "truncate":
            text = text[: draw(st.integers(0, len(text)))]
        elif kind == "delete" and text:
            i = draw(st.integers(0, len(text) - 1))
            text = text[:i] + text[i + draw(st.integers(1, 8)):]
        elif kind == "insert":
            i = draw(st.integers(0, len(text)))
            text = text[:i] + draw(st.sampled_from(EXTRA_TOKENS)) + text[i:]
        elif kind in ("swap", "replace"):
            toks = _tokens(text)
            if len(toks) < 2:
                continue
            a = draw(st.integers(0, len(toks) - 1))
            if kind == "swap":
                b_ = draw(st.integers(0, len(toks) - 1))
                (s1, e1), (s2, e2) = sorted([toks[a], toks[b_]])
                if s2 < e1:
                    continue
                text = text[:s1] + text[s2:e2] + text[e1:s2] + text[s1:e1] + text[e2:]
            else:
                pool = [text[s:e] for s, e in toks] + EXTRA_TOKENS
                s, e = toks[a]
                text = text[:s] + draw(st.sampled_from(pool)) + text[e:]
        else:
            lines = text.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            if kind == "dup-line":
                lines.insert(i, lines[i])
            elif kind == "del-line":
                del lines[i]
            elif kind == "swap-lines":
                j = draw(st.integers(0, len(lines) - 1))
                lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
    return text.encode("utf-8")


# ---------------------------------------------------------------------------------------
# wide merges, deep nesting, long literals (issue #17): programs, checked by check_program
# ---------------------------------------------------------------------------------------

KEEP_SHAPE = ["Identity()", "ReLU()", "IF()", "LIF()", "Dropout(0.1)", "nn.Identity()", "Tanh()",
              "LIF(tau=2.0, detach_reset=true)", "Sigmoid()", "PLIF()"]


def _sized(g: Gen, small: tuple[int, int], mid: tuple[int, int], big: tuple[int, int],
           p_mid: float = 0.25, p_big: float = 0.05) -> int:
    """Mostly small, sometimes medium, occasionally big."""
    r = g.rnd.random()
    lo, hi = big if r < p_big else mid if r < p_big + p_mid else small
    return g.int_(lo, max(lo, hi))


def _input_shape(g: Gen) -> tuple[int, ...]:
    return g.pick([(g.int_(1, 6),), (g.int_(1, 3), g.int_(1, 5)), (g.int_(1, 2), g.int_(1, 3), g.int_(1, 3))])


def _model(g: Gen, shape: tuple[int, ...], lines: list[str], top: Sequence[str] = (), params: str = "") -> str:
    dims = ", ".join(map(str, shape))
    body = [f"input x: [{dims}]", *lines]
    sep = "\n    " if not g.p(0.1) else "; "
    return "\n".join([*top, f"model M({params}) {{\n    {sep.join(body)}\n}}"]) + "\n"


@st.composite
def wide_merges(draw, max_width: int = 3000) -> str:
    """A model whose merge (``add``, ``cat``, ``mul``, ``sub``, ``iand``) has from 2 to
    ``max_width`` operands: mostly a few, sometimes hundreds, occasionally thousands."""
    g = Gen(draw, 0.05)
    width = _sized(g, (2, 12), (13, 400), (401, max_width), p_mid=0.3, p_big=0.08)
    shape = _input_shape(g)
    op = g.pick(["add", "add", "add", "cat", "cat", "mul", "sub", "iand"])
    if op in ("mul", "sub", "iand") and not g.p(0.1):  # these take exactly two (else: a located error)
        width = 2
    lines: list[str] = []
    names = ["x"]
    if g.p(0.5):
        lines.append(f"h = x -> h0: {g.pick(KEEP_SHAPE)}")
        names.append("h")
    kinds = ["name", "name", "chain", "group"] + (["nested"] if g.p(0.2) and op != "cat" else [])
    bad = g.int_(0, width - 1) if g.p(0.15) else -1  # one operand that is wrong
    operands = []
    for i in range(width):
        kind = g.pick(kinds) if i != bad else "odd"
        if kind == "name":
            operands.append(g.pick(names))
        elif kind == "chain":
            operands.append(f"{g.pick(names)} -> s{i}: {g.pick(KEEP_SHAPE)}")
        elif kind == "group":
            operands.append(f"{g.pick(names)} -> g{i}: ({g.pick(KEEP_SHAPE)} -> {g.pick(KEEP_SHAPE)})")
        elif kind == "nested":
            inner = ", ".join(g.pick(names) for _ in range(g.int_(2, 4)))
            operands.append(f"{g.pick(['add', 'cat', 'mul'])}({inner})")
        else:
            operands.append(g.pick([f"x -> w{i}: Linear(_, {shape[-1] + 1})", "y", "1", "none", "_",
                                    f"x -> w{i}: Flatten()", '"s"', "(x)", "x -> x", "x -> s0: IF()",
                                    "x -> class: IF()", "x -> h0: IF()", "add()", "cat(x)"]))
    kw = ""
    if op == "cat" and g.p(0.3):
        kw = f", dim={g.pick([0, 0, -1, len(shape) - 1, len(shape), -len(shape) - 1, 99])}"
    sep = g.pick([", ", ", ", ",\n        ", ",   "])
    merge = f"{op}({sep.join(operands)}{kw})"
    where = g.pick(["return", "let", "chain", "block"])
    if where == "return":
        lines.append(f"return {merge}")
    elif where == "let":
        lines += [f"m = {merge}", f"return m -> out: {g.pick(KEEP_SHAPE)}"]
    elif where == "chain":
        lines.append(f"return {merge} -> out: IF()" + (" -> f: Flatten()" if g.p(0.3) else ""))
    else:  # the merge inside a block, used once or repeated
        rep = f" * {g.int_(1, 3)}" if g.p(0.3) and op not in ("cat",) else ""
        block = ("block W() {\n    input x\n" + (f"    h = x -> h0: {KEEP_SHAPE[0]}\n" if "h" in names else "")
                 + f"    return {merge}\n}}")
        return _model(g, shape, [f"return x -> w: W(){rep}"], [block])
    return _model(g, shape, lines)


@st.composite
def deep_groups(draw, max_depth: int = 150) -> str:
    """Nesting near and past the front end's limits: groups and repeats inside groups,
    blocks that call blocks, parenthesised and unary expressions, nested tuples."""
    g = Gen(draw, 0.05)
    depth = _sized(g, (1, 12), (13, max_depth), (max_depth, max_depth + 120), p_mid=0.45, p_big=0.08)
    shape = _input_shape(g)
    kind = g.pick(["groups", "groups", "groups", "blocks", "expr", "tuple", "mixed"])
    if kind in ("groups", "mixed"):
        inner = g.pick(KEEP_SHAPE) if shape[0] > 0 else "Identity()"
        if len(shape) == 1 and g.p(0.5):
            inner = f"Linear({shape[0]}, {shape[0]})"
        copies = 1
        bad_label = g.int_(0, depth - 1) if g.p(0.05) else -1
        for i in range(depth):
            w = g.rnd.random()
            if w < 0.12 and copies * 2 <= 4:  # repeats multiply the nodes, and the code per node grows with depth
                k = g.pick([1, 2]) if not g.odd() else g.pick([0, -1, 2.5, "c", 10**6])
                copies *= k if isinstance(k, int) and k > 0 else 1
                inner = f"({inner}) * {k}"
            elif i == bad_label:
                inner = f"g{i}: ({inner})"  # a label inside a group: a located error
            elif w < 0.55:
                inner = f"({inner} -> {g.pick(KEEP_SHAPE)})"
            elif w < 0.6 and kind == "mixed":
                n = g.int_(1, 20)
                inner = f"({inner} -> Dropout(" + "(" * n + "0.1" + ")" * n + "))"
            else:
                inner = f"({inner})"
        if g.odd():  # an unbalanced bracket at some depth
            inner = inner[:-1] if g.p(0.5) else "(" + inner
        label = "top: " if g.p(0.5) or inner.endswith(tuple("0123456789")) else ""
        return _model(g, shape, [f"return x -> {label}{inner}"])
    if kind == "blocks":
        blocks = [f"block B0(c: int) {{\n    input x\n    return x -> s: {g.pick(KEEP_SHAPE)}\n}}"]
        bad = g.int_(1, depth - 1) if depth > 1 and g.p(0.1) else -1
        for i in range(1, depth):
            call = f"B{i - 1}(c)" if i != bad else g.pick([f"B{i}(c)", f"B{i - 1}()", f"B{depth}(c)"])
            body = f"return x -> b: {call}" + (" * 2" if g.p(0.02) else "")
            if g.p(0.2):
                body = f"h = x -> b: {call}\n    return add(h, x)"
            blocks.append(f"block B{i}(c: int) {{\n    input x\n    {body}\n}}")
        if g.p(0.3):
            g.rnd.shuffle(blocks)
        return _model(g, shape, [f"return x -> top: B{depth - 1}({shape[0]})"], blocks)
    n = shape[-1] if len(shape) == 1 else math.prod(shape)
    head = "" if len(shape) == 1 else "f: Flatten() -> "
    if kind == "expr":
        form = g.pick(["parens", "neg", "sum", "pow", "mixed"])
        expr = str(n)
        for i in range(depth):
            op = form if form != "mixed" else g.pick(["parens", "neg", "sum", "pow"])
            expr = {"parens": f"({expr})", "neg": f"-(-{expr})" if i % 2 == 0 else f"- -{expr}",
                    "sum": f"({expr} + 0)", "pow": f"({expr}) ** 1"}[op]
        where = g.pick(["arg", "let", "param"])
        if where == "let":
            return _model(g, shape, [f"let k = {expr}", f"return x -> {head}fc: Linear({n}, k) -> s: IF()"])
        if where == "param":
            return _model(g, shape, [f"return x -> {head}fc: Linear({n}, k) -> s: IF()"], params=f"k: int = {expr}")
        return _model(g, shape, [f"return x -> {head}fc: Linear({n}, {expr}) -> s: IF()"])
    tup = "1"
    for _ in range(depth):
        tup = g.pick([f"({tup},)", f"({tup}, 1)", f"[{tup}]", f"({tup})"])
    op = g.pick(["Dropout", "LIF(tau=", "Linear(_, ", "AdaptiveAvgPool1d(", "nn.Identity(a="])
    call = f"{op}{tup})" if op.endswith(("(", "=", ", ")) else f"{op}({tup})"
    return _model(g, shape, [f"return x -> {head}l: {call}"])


_ALPHABETS = ["a", "ab_", "0123456789", " \t", "\\n", '\\"', "\\\\", "\\u2028", "\u00e9\u4e2d\U0001f600",
              "\x00", "\x1b[31m", "\n", "'", "{}()[]", "-> ", "#"]


def _long_text(g: Gen, n: int) -> str:
    alphabet = g.pick(_ALPHABETS) if g.p(0.8) else "".join(g.rnd.sample(_ALPHABETS, 3))
    if len(alphabet) == 1 or g.p(0.5):
        return (alphabet * (n // max(1, len(alphabet)) + 1))[:n]
    return "".join(g.rnd.choices(alphabet, k=n))


@st.composite
def long_literals(draw, max_len: int = 100_000) -> str:
    """Long strings, numbers, names, comments and runs of blanks, in every role a literal
    or a name has in a `.snn` file."""
    g = Gen(draw, 0.05)
    n = _sized(g, (1, 300), (300, 10_000), (10_000, max_len), p_mid=0.4, p_big=0.15)
    kind = g.pick(["string", "string", "int", "float", "name", "comment", "blank"])
    shape = _input_shape(g)
    k = shape[-1] if len(shape) == 1 else math.prod(shape)
    flat = "" if len(shape) == 1 else "f: Flatten() -> "
    if kind == "string":
        text = _long_text(g, n)
        if text.endswith("\\") and not text.endswith("\\\\"):
            text = text[:-1]
        lit = f'"{text}"' if not g.odd() else g.pick([f'"{text}', f'"{text}\n"', f"'{text}'"])
        role = g.pick(["Dropout({})", 'GELU(approximate={})', "Upsample(scale_factor=2, mode={})",
                       "LIF(surrogate={})", "Conv1d(_, 2, 1, padding={})", "Linear(_, 2, bias={})"])
        where = g.pick(["arg", "let", "param", "defaults"])
        if where == "let":
            return _model(g, shape, [f"let s = {lit}", f"return x -> {flat}l: {role.format('s')}"])
        if where == "param":
            return _model(g, shape, [f"return x -> {flat}l: {role.format('s')}"], params=f"s: str = {lit}")
        if where == "defaults":
            return _model(g, shape, [f"return x -> {flat}l: LIF()"], [f"defaults LIF(tau={lit})"])
        return _model(g, shape, [f"return x -> {flat}l: {role.format(lit)}"])
    if kind in ("int", "float"):
        digits = _long_text(g, n) if g.p(0.1) else "".join(g.rnd.choices("0123456789", k=n))
        if kind == "int":
            lit = g.pick([digits, "0" * n + "4", "1" + digits, f"-{digits}", f"{digits} // {digits}",
                          f"{digits} - {digits}", f"2 ** {digits}"])
        else:
            lit = g.pick([f"0.{digits}", f"{digits}.0", f"1e{digits}", f"1e-{digits}", f".{digits}",
                          f"{digits}.{digits}", f"0.{'0' * n}1", f"1{'0' * n}.5"])
        role = g.pick([f"x -> {flat}fc: Linear({k}, {{}}) -> s: IF()", "x -> s: LIF(tau={})",
                       "x -> d: Dropout({})", "x -> s: IF(v_threshold={})"])
        where = g.pick(["arg", "let", "param", "shape"])
        if where == "shape":
            return f"model M() {{\n    input x: [{lit}]\n    return x -> s: IF()\n}}\n"
        if where == "let":
            return _model(g, shape, ["let c = " + lit, "return " + role.format("c")])
        if where == "param":
            t = "int" if kind == "int" else "float"
            return _model(g, shape, ["return " + role.format("c")], params=f"c: {t} = {lit}")
        return _model(g, shape, ["return " + role.format(lit)])
    if kind == "name":
        name = "a" + "".join(g.rnd.choices("abcdefghijklmnopqrstuvwxyz_0123456789", k=n))
        if g.odd():
            name = g.pick(["1" + name, name + "-x", "\u00e9" + name, "__" + name + "__"])
        where = g.pick(["label", "value", "model", "block", "param", "input", "let"])
        if where == "label":
            return _model(g, shape, [f"return x -> {name}: {g.pick(KEEP_SHAPE)}"])
        if where == "value":
            return _model(g, shape, [f"{name} = x -> s: IF()", f"return {name}"])
        if where == "model":
            return f"model {name.capitalize()}() {{\n    input x: [4]\n    return x -> s: IF()\n}}\n"
        if where == "block":
            return _model(g, shape, [f"return x -> b: {name.capitalize()}()"],
                          [f"block {name.capitalize()}() {{\n    input x\n    return x -> s: IF()\n}}"])
        if where == "param":
            return _model(g, shape, [f"return x -> {flat}fc: Linear({k}, {name})"], params=f"{name}: int = 2")
        if where == "input":
            return f"model M() {{\n    input {name}: [3]\n    return {name} -> s: IF()\n}}\n"
        return _model(g, shape, [f"let {name} = 2", f"return x -> {flat}fc: Linear({k}, {name})"])
    if kind == "comment":
        text = _long_text(g, n).replace("\n", " ")
        return _model(g, shape, [f"# {text}", f"return x -> s: IF()  # {text}"], [f"# {text}"])
    blank = g.pick([" ", "\n", "\t", "\r\n", " \n", ";"]) * n
    return _model(g, shape, [f"h = x ->{blank}s: IF()", blank + "return h"])


# ---------------------------------------------------------------------------------------
# crafted NIR files (issue #17): recipes, built and imported by check_nir
# ---------------------------------------------------------------------------------------

#: how a case reaches the importer: ``api`` (import_nir of the file), ``cli`` (snndsl
#: import FILE -o OUT), ``memory`` (import_nir of a nir.NIRGraph object, edited in place)
NIR_ROUTES = ("api", "api", "cli", "memory")


@dataclass(frozen=True)
class NirCase:
    """A crafted NIR graph: a base graph and the edits made to it (plain data, so that
    ``repr`` is the reproduction: :func:`build_nir_file` / :func:`build_nir_graph`)."""

    base: str
    route: str
    edits: tuple[tuple, ...]


def _nir_bases() -> dict[str, object]:
    import nir
    import numpy as np

    f32 = np.float32

    def lif(n: int, shape: tuple[int, ...] | None = None):
        s = shape or (n,)
        return nir.LIF(tau=np.full(s, 2e-4), r=np.ones(s), v_leak=np.zeros(s), v_threshold=np.ones(s))

    def if_(shape: tuple[int, ...]):
        return nir.IF(r=np.full(shape, 1e4), v_threshold=np.ones(shape))

    def affine(o: int, i: int):
        return nir.Affine(weight=np.linspace(-1, 1, o * i, dtype=f32).reshape(o, i), bias=np.zeros(o, dtype=f32))

    def conv2d(o: int, i: int, hw: int, **kw):
        return nir.Conv2d(input_shape=np.array([hw, hw]), weight=np.ones((o, i, 3, 3)) * 0.1,
                          stride=kw.get("stride", 1), padding=kw.get("padding", 0), dilation=1,
                          groups=kw.get("groups", 1), bias=np.zeros(o))

    def branch():
        nodes = {"input": nir.Input(np.array([3])), "a": affine(2, 3), "b": affine(2, 3), "lif": lif(2),
                 "output": nir.Output(np.array([2]))}
        edges = [("input", "a"), ("input", "b"), ("a", "lif"), ("b", "lif"), ("lif", "output")]
        return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)

    def subgraph():
        inner = nir.NIRGraph(nodes={"input": nir.Input(np.array([3])), "fc": affine(2, 3), "sn": lif(2),
                                    "output": nir.Output(np.array([2]))},
                             edges=[("input", "fc"), ("fc", "sn"), ("sn", "output")], type_check=False)
        nodes = {"input": nir.Input(np.array([3])), "sub": inner, "output": nir.Output(np.array([2]))}
        return nir.NIRGraph(nodes=nodes, edges=[("input", "sub.input"), ("sub.output", "output")],
                            type_check=False)

    return {
        "affine-lif": lambda: nir.NIRGraph.from_list(affine(2, 3), lif(2)),
        "linear-if": lambda: nir.NIRGraph.from_list(nir.Linear(weight=np.ones((4, 3))), if_((4,))),
        "conv2d": lambda: nir.NIRGraph.from_list(
            conv2d(2, 1, 4), if_((2, 2, 2)),
            nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
            nir.Flatten({"input": np.array([2, 1, 1])}, start_dim=0, end_dim=-1), affine(3, 2), lif(3)),
        "conv1d": lambda: nir.NIRGraph.from_list(
            nir.Conv1d(input_shape=6, weight=np.ones((2, 1, 3)) * 0.1, stride=1, padding=1, dilation=1,
                       groups=1, bias=np.zeros(2)), if_((2, 6)),
            nir.Flatten({"input": np.array([2, 6])}, start_dim=0, end_dim=-1), affine(3, 12), lif(3)),
        "avgpool": lambda: nir.NIRGraph.from_list(
            conv2d(2, 2, 4, padding=1, groups=2), if_((2, 4, 4)),
            nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
            nir.Flatten({"input": np.array([2, 2, 2])}, start_dim=0, end_dim=-1), affine(2, 8), lif(2)),
        "branch": branch,
        "subgraph": subgraph,
        "unsupported": lambda: nir.NIRGraph.from_list(
            affine(2, 3), nir.CubaLIF(tau_mem=np.full(2, 2e-4), tau_syn=np.full(2, 2e-4), r=np.ones(2),
                                      v_leak=np.zeros(2), v_threshold=np.ones(2)),
            nir.Scale(np.ones(2)), nir.Delay(np.ones(2)), nir.Threshold(np.ones(2))),
    }


_NIR_LAYOUT: dict[str, tuple[list[str], list[str], list[str]]] = {}
_NIR_DIR: Path | None = None


def _nir_dir() -> Path:
    global _NIR_DIR
    if _NIR_DIR is None:
        _NIR_DIR = Path(tempfile.mkdtemp(prefix="snndsl-fuzz-nir-"))
        import shutil

        atexit.register(shutil.rmtree, _NIR_DIR, ignore_errors=True)
    return _NIR_DIR


def nir_layout(base: str) -> tuple[list[str], list[str], list[str]]:
    """``(datasets, node groups, graph groups)`` of the file of a base graph (cached)."""
    if base not in _NIR_LAYOUT:
        import h5py
        import nir

        path = _nir_dir() / f"layout-{base}.nir"
        nir.write(path, _nir_bases()[base]())
        datasets: list[str] = []
        nodes: list[str] = []
        graphs: list[str] = ["node"]
        with h5py.File(path, "r") as f:
            def visit(name: str, obj: object) -> None:
                if isinstance(obj, h5py.Dataset):
                    datasets.append(name)
                elif name.rsplit("/", 1)[0].endswith("nodes"):
                    (graphs if "nodes" in obj else nodes).append(name)  # type: ignore[operator]
            f.visititems(visit)
        _NIR_LAYOUT[base] = (datasets, nodes, graphs)
    return _NIR_LAYOUT[base]


#: replacement values for a dataset, by name (see :func:`_nir_value`)
NIR_VALUES = ["nan", "inf", "-inf", "zeros", "neg", "1e300", "1e-320", "2**62", "-1", "0", "2.5", "str",
              "bytes", "object-str", "empty", "null", "complex", "bool", "rank+1", "rank-1", "scalar",
              "long", "len7", "int8", "float16", "uint64max", "compound", "escape", "long-str", "unicode",
              "same", "nonuniform", "huge-int-array", "tiny"]
#: metadata values (``snndsl`` op hints, model names, dt, static flags)
NIR_HINTS = ["LIF(tau=2.0, surrogate=ATan())", "VotingLayer(voting_size=2)", "VotingLayer(voting_size=0)",
             "MaxPool2d(2)", "MaxPool2d(kernel_size=(2, 2, 2))", "AdaptiveAvgPool2d((none, 4))",
             "AdaptiveAvgPool2d((0, 0))", "Conv2d(bias=false)", "__import__('os').system('true')",
             "LIF(tau=1e400)", "LIF(surrogate=Sigmoid(alpha=-1))", "VotingLayer(voting_size=" + "9" * 1900 + ")",
             "AdaptiveAvgPool2d(" + "(" * 300 + "1" + ")" * 300 + ")", "IF(v_reset=none)", "Linear(3, 2)",
             "nn.Identity()", "LIF(**{})", "LIF(tau=2.0, tau=3.0)", "Dropout(0.5)", "\x1b[31m", "", "9" * 5000,
             "PLIF(init_tau=1.0)", "LIF(v_threshold=-1.0)", "MaxPool2d(2, stride=3, padding=1)"]
NIR_NAMES = ["class", "def", "__init__", "__class__", "forward", "training", "state_dict", "self", "T", "x",
             "a.b", "x y", "1abc", "\u00e9t\u00e9", "a" * 1000, "input", "output", "nodes", "\x1b[31m",
             "_", "N", "nn", "torch", "return", "model", "0", "-", "lif", "Input"]
NIR_EDGES = ["self", "cycle", "unknown", "empty", "dup", "ints", "three", "huge", "long-name", "bad-utf8",
             "reversed", "none", "to-input", "from-output"]
NIR_TYPES = ["Affine", "Linear", "Conv1d", "Conv2d", "LIF", "IF", "Input", "Output", "NIRGraph", "Flatten",
             "SumPool2d", "AvgPool2d", "CubaLIF", "LI", "I", "Scale", "Delay", "Threshold", "Bogus", "",
             "a b", "x" * 100, "__class__", "NIRGraph\x00"]
#: python values set on nodes of an in-memory graph
MEMORY_VALUES = ["none", "str", "list", "dict", "object", "nan-float", "huge-int", "true", "object-array",
                 "nested-list", "tensor", "generator", "bytes", "negative", "zeros-like", "complex"]


def _edit_kinds(base: str) -> list[str]:
    kinds = ["value"] * 10 + ["delete", "group", "softlink", "extlink", "sparse", "nest", "meta", "meta",
                              "type", "type", "edges", "edges", "rename", "rename", "many", "node-dataset",
                              "version", "root"]
    return kinds if base != "subgraph" else kinds + ["value", "nest"]


@st.composite
def nir_cases(draw, max_depth: int = 700, max_nodes: int = 300) -> NirCase:
    """A base NIR graph with 0 to 3 hostile edits, to be imported one of three ways."""
    g = Gen(draw, 0.0)
    base = g.pick(sorted(_nir_bases()))
    route = g.pick(NIR_ROUTES)
    datasets, nodes, graphs = nir_layout(base)
    edits: list[tuple] = []
    n_edits = g.pick([0, 1, 1, 1, 1, 2, 2, 3]) if route != "memory" else g.pick([1, 1, 2, 3])
    for _ in range(n_edits):
        if route == "memory":
            names = [n.rsplit("/", 1)[1] for n in nodes if n.count("/") == 2]
            kind = g.pick(["set"] * 6 + ["nest", "edges", "node", "drop"])
            if kind == "set":
                edits.append(("set", g.pick(names), g.pick(["weight", "bias", "tau", "r", "v_threshold",
                                                             "v_leak", "v_reset", "stride", "padding",
                                                             "groups", "dilation", "shape", "kernel_size",
                                                             "start_dim", "end_dim", "metadata", "input_type"]),
                              g.pick(MEMORY_VALUES)))
            elif kind == "nest":
                edits.append(("nest", _sized(g, (1, 10), (10, 100), (100, max_depth))))
            elif kind == "edges":
                edits.append(("edges", g.pick(NIR_EDGES)))
            else:
                edits.append((kind, g.pick(names), g.pick(MEMORY_VALUES)))
            continue
        kind = g.pick(_edit_kinds(base))
        if kind == "value":
            fields = [d for d in datasets if d.rsplit("/", 1)[-1] not in ("type", "version")]
            edits.append(("value", g.pick(fields if g.p(0.85) else datasets), g.pick(NIR_VALUES)))
        elif kind in ("delete", "group", "softlink", "extlink"):
            edits.append((kind, g.pick(datasets + nodes)))
        elif kind == "sparse":
            arrays = [d for d in datasets if d.rsplit("/", 1)[-1] in ("weight", "bias", "tau", "r", "v_threshold")]
            edits.append(("sparse", g.pick(arrays or datasets), g.pick(["149GiB", "2**40", "2**60", "rank8",
                                                                           "ints-2**40"])))
        elif kind == "nest":
            edits.append(("nest", g.pick(graphs), _sized(g, (1, 10), (10, 100), (100, max_depth))))
        elif kind == "meta":
            key = g.pick(["snndsl", "snndsl", "snndsl_model", "snndsl_dt", "snndsl_static", "other"])
            edits.append(("meta", g.pick(nodes + graphs), key, g.pick(NIR_HINTS + NIR_VALUES + ["deep"])))
        elif kind == "type":
            edits.append(("type", g.pick(nodes + graphs), g.pick(NIR_TYPES)))
        elif kind == "edges":
            edits.append(("edges", g.pick(graphs), g.pick(NIR_EDGES)))
        elif kind == "rename":
            edits.append(("rename", g.pick(nodes), g.pick(NIR_NAMES)))
        elif kind == "many":
            edits.append(("many", g.pick(graphs), _sized(g, (1, 20), (20, max_nodes), (max_nodes, 3 * max_nodes))))
        elif kind == "node-dataset":
            edits.append(("node-dataset", g.pick(nodes)))
        elif kind == "version":
            edits.append(("version", g.pick(["9.9.9", "", "\xff", "object", "missing"])))
        else:
            edits.append(("root", g.pick(["dataset", "missing", "Affine", "link"])))
    return NirCase(base, route, tuple(edits))


def _nir_value(spec: str, orig):
    """``(data, create_dataset keywords)`` that replace the dataset holding ``orig``."""
    import h5py
    import numpy as np

    a = np.asarray(orig)
    shape = a.shape if a.dtype.kind in "fiub" else (2,)
    s = h5py.string_dtype()
    table = {
        "nan": lambda: (np.full(shape, np.nan), {}), "inf": lambda: (np.full(shape, np.inf), {}),
        "-inf": lambda: (np.full(shape, -np.inf), {}), "zeros": lambda: (np.zeros(shape), {}),
        "neg": lambda: (-np.ones(shape), {}), "1e300": lambda: (np.full(shape, 1e300), {}),
        "1e-320": lambda: (np.full(shape, 1e-320), {}), "2**62": lambda: (np.full(shape, 2**62, dtype=np.int64), {}),
        "-1": lambda: (np.int64(-1), {}), "0": lambda: (np.int64(0), {}), "2.5": lambda: (np.float64(2.5), {}),
        "str": lambda: ("fast", {"dtype": s}), "bytes": lambda: (np.full(shape, b"1"), {}),
        "object-str": lambda: (np.full(shape, "a", dtype=object), {"dtype": s}),
        "empty": lambda: (np.zeros((0,)), {}), "null": lambda: (h5py.Empty("f4"), {}),
        "complex": lambda: (np.full(shape, 1j), {}), "bool": lambda: (np.ones(shape, dtype=bool), {}),
        "rank+1": lambda: (a[..., None] if a.dtype.kind in "fiub" else np.ones((2, 1)), {}),
        "rank-1": lambda: (a.reshape(-1) if a.ndim > 1 else np.float64(1.0), {}),
        "scalar": lambda: (np.float64(a.reshape(-1)[0]) if a.dtype.kind in "fiu" and a.size else 1.0, {}),
        "long": lambda: (np.arange(1000), {}), "len7": lambda: (np.ones(7), {}),
        "int8": lambda: (np.ones(shape, dtype=np.int8), {}), "float16": lambda: (np.ones(shape, dtype=np.float16), {}),
        "uint64max": lambda: (np.full(shape, 2**64 - 1, dtype=np.uint64), {}),
        "compound": lambda: (np.zeros(2, dtype=[("a", "f4"), ("b", "i4")]), {}),
        "escape": lambda: ("\x1b[31mLIF\x1b[0m", {"dtype": s}), "long-str": lambda: ("x" * 100_000, {"dtype": s}),
        "unicode": lambda: ("\u00e9\u4e2d\U0001f600", {"dtype": s}),
        "same": lambda: (a, {}) if a.dtype.kind in "fiub" else ("Affine", {"dtype": s}),
        "nonuniform": lambda: (np.linspace(0.5, 2.0, max(2, a.size)).reshape(-1), {}),
        "huge-int-array": lambda: (np.full(shape, 2**40, dtype=np.int64), {}),
        "tiny": lambda: (np.full(shape, 1e-9), {}),
    }
    return table[spec]()


def _meta_value(spec: str):
    import h5py

    if spec in NIR_VALUES:
        return _nir_value(spec, [1.0, 2.0])
    return spec, {"dtype": h5py.string_dtype()}


def _replace_dataset(group, name: str, data, **kw) -> None:
    if name in group:
        del group[name]
    group.create_dataset(name, data=data, **kw)


def _edges_value(spec: str, names: list[str]):
    import h5py
    import numpy as np

    s = h5py.string_dtype()
    a, b = (names + ["x", "y"])[:2]
    pairs = {
        "self": [[a, a]], "cycle": [[a, b], [b, a]], "unknown": [[a, "nowhere"]], "empty": None,
        "dup": [[a, b], [a, b], [a, b]], "long-name": [[a, "n" * 10_000]], "reversed": [[b, a]],
        "to-input": [[b, "input"]], "from-output": [["output", a]], "none": [["", ""]],
    }
    if spec == "ints":
        return np.array([[0, 1]]), {}
    if spec == "three":
        return np.array([[a, b, a]], dtype=object), {"dtype": s}
    if spec == "bad-utf8":
        return np.array([[b"\xff\xfe", a.encode()]]), {}
    if spec == "huge":
        return None, {"shape": (10**12, 2), "dtype": s, "chunks": (1024, 2)}
    p = pairs[spec]
    if p is None:
        return h5py.Empty(s), {}
    return np.array(p, dtype=object), {"dtype": s}


def build_nir_file(case: NirCase, path: Path) -> None:
    """Write the NIR file of a ``case`` (routes ``api`` and ``cli``) to ``path``."""
    import h5py
    import nir
    import numpy as np

    nir.write(path, _nir_bases()[case.base]())
    with h5py.File(path, "r+") as f:
        for edit in case.edits:
            kind, target = edit[0], edit[1]
            if kind in ("value", "delete", "group", "softlink", "extlink", "sparse", "node-dataset", "rename",
                        "type", "meta", "edges", "many", "nest") and target not in f:
                continue  # an earlier edit removed it
            parent, _, name = target.rpartition("/")
            grp = f[parent] if parent else f
            if kind == "value":
                data, kw = _nir_value(edit[2], f[target][()] if isinstance(f[target], h5py.Dataset) else 1.0)
                _replace_dataset(grp, name, data, **kw)
            elif kind == "delete":
                del f[target]
            elif kind == "group":
                del f[target]
                grp.create_group(name)
            elif kind == "softlink":
                del f[target]
                grp[name] = h5py.SoftLink("/" + parent if parent else "/node")  # a cycle, often
            elif kind == "extlink":
                del f[target]
                grp[name] = h5py.ExternalLink("/etc/passwd", "/x")
            elif kind == "sparse":
                shape = {"149GiB": (2, 20_000_000_000), "2**40": (2**40,), "2**60": (2**30, 2**30),
                         "rank8": (2,) * 8, "ints-2**40": (2**40,)}[edit[2]]
                dtype = "int64" if edit[2].startswith("ints") else "float32"
                del f[target]
                chunks = tuple(min(d, 64) for d in shape)
                grp.create_dataset(name, shape=shape, dtype=dtype, chunks=chunks, compression="gzip")
            elif kind == "node-dataset":
                del f[target]
                grp.create_dataset(name, data=np.ones(3))
            elif kind == "rename":
                new = edit[2]
                if "/" in new or new in (".", "") or new in grp:
                    continue
                f.move(target, f"{parent}/{new}")
                edges_at = parent.rpartition("/")[0] + "/edges"
                if edges_at in f and isinstance(f[edges_at], h5py.Dataset) and f[edges_at].shape \
                        and f[edges_at].dtype.kind == "O":
                    old = f[edges_at][()]
                    fixed = np.array([[new if v.decode() == name else v.decode() for v in pair] for pair in old],
                                     dtype=object)
                    _replace_dataset(f, edges_at, fixed, dtype=h5py.string_dtype())
            elif kind == "type":
                t = f[target]
                if isinstance(t, h5py.Group):
                    _replace_dataset(t, "type", edit[2], dtype=h5py.string_dtype())
            elif kind == "meta":
                t = f[target]
                if not isinstance(t, h5py.Group):
                    continue
                m = t.require_group("metadata") if not isinstance(t.get("metadata"), h5py.Dataset) else None
                if m is None:
                    continue
                if edit[3] == "deep":
                    d = m
                    for _ in range(300):
                        d = d.create_group("m")
                    d.create_dataset(edit[2], data="Linear(3, 2)", dtype=h5py.string_dtype())
                else:
                    data, kw = _meta_value(edit[3])
                    _replace_dataset(m, edit[2], data, **kw)
            elif kind == "edges":
                t = f[target]
                if not isinstance(t, h5py.Group):
                    continue
                names = sorted(t["nodes"]) if isinstance(t.get("nodes"), h5py.Group) else []
                data, kw = _edges_value(edit[2], names)
                if "edges" in t:
                    del t["edges"]
                t.create_dataset("edges", data=data, **kw)
            elif kind == "many":
                t = f[target]
                nodes = t.get("nodes")
                if not isinstance(nodes, h5py.Group):
                    continue
                for i in range(edit[2]):
                    n = nodes.create_group(f"extra{i}")
                    n.create_dataset("type", data="Input", dtype=h5py.string_dtype())
                    n.create_dataset("shape", data=np.array([3]))
            elif kind == "nest":
                t = f[target]
                nodes = t.get("nodes")
                if not isinstance(nodes, h5py.Group):
                    continue
                d = nodes.create_group("deep")
                for _ in range(edit[2]):
                    d.create_dataset("type", data="NIRGraph", dtype=h5py.string_dtype())
                    d.create_dataset("edges", data=np.array([[b"a", b"a"]], dtype=h5py.string_dtype()))
                    d = d.create_group("nodes").create_group("a")
                d.create_dataset("type", data="Input", dtype=h5py.string_dtype())
                d.create_dataset("shape", data=np.array([3]))
            elif kind == "version":
                if "version" in f:
                    del f["version"]
                if target == "object":
                    f.create_group("version")
                elif target != "missing":
                    f.create_dataset("version", data=target, dtype=h5py.string_dtype())
            elif kind == "root":
                if target == "missing":
                    del f["node"]
                elif target == "dataset":
                    del f["node"]
                    f.create_dataset("node", data=np.ones(2))
                elif target == "link":
                    f.move("node", "real")
                    f["node"] = h5py.SoftLink("/real")
                else:
                    _replace_dataset(f["node"], "type", target, dtype=h5py.string_dtype())


class _Repr:
    """A value whose ``__repr__``/``__str__``/``__float__``... note that they ran."""

    ran: list[str] = []

    def __repr__(self) -> str:
        _Repr.ran.append("repr")
        return "__import__('os')"

    __str__ = __repr__


def _memory_value(spec: str, orig: object):
    import numpy as np
    import torch

    a = np.asarray(orig) if isinstance(orig, np.ndarray) else np.ones(2)
    return {
        "none": lambda: None, "str": lambda: "fast", "list": lambda: [1.0, 2.0], "dict": lambda: {"a": 1},
        "object": lambda: object(), "nan-float": lambda: float("nan"), "huge-int": lambda: 10**400,
        "true": lambda: True, "object-array": lambda: np.array([_Repr(), 1], dtype=object),
        "nested-list": lambda: [[[[1]]]] * 3, "tensor": lambda: torch.ones(a.shape),
        "generator": lambda: (i for i in range(3)), "bytes": lambda: b"\x00\xff",
        "negative": lambda: -np.abs(a) - 1, "zeros-like": lambda: np.zeros_like(a, dtype=np.float64),
        "complex": lambda: a.astype(np.complex128) * 1j,
    }[spec]()


def build_nir_graph(case: NirCase):
    """The in-memory ``nir.NIRGraph`` of a ``case`` (route ``memory``)."""
    import nir

    graph = _nir_bases()[case.base]()
    for edit in case.edits:
        kind = edit[0]
        if kind == "set":
            node = graph.nodes.get(edit[1])
            if node is not None:
                try:
                    setattr(node, edit[2], _memory_value(edit[3], getattr(node, edit[2], None)))
                except (AttributeError, TypeError):
                    pass
        elif kind == "nest":
            for _ in range(edit[1]):
                graph = nir.NIRGraph(nodes={"g": graph}, edges=[], type_check=False)
        elif kind == "edges":
            names = list(graph.nodes)
            data, _ = _edges_value(edit[1], names) if edit[1] not in ("huge", "empty") else ([], {})
            graph.edges = [tuple(str(v) for v in pair) for pair in data] if edit[1] != "ints" else [(0, 1)]
        elif kind == "node" and edit[1] in graph.nodes:
            graph.nodes[edit[1]] = _memory_value(edit[2], None)
        elif kind == "drop":
            graph.nodes.pop(edit[1], None)
    return graph


def check_nir(case: NirCase, run: bool = False, limits: Limits | None = None) -> str:
    """The outcome of importing one crafted NIR graph: ``ok`` or ``ran`` (imported, and its
    source compiled with its weights, and run when ``run``), ``error:<Class>`` (a
    :class:`SnnError` or :class:`UsageError`; through the CLI: exit 1 with a diagnostic
    located at the file, or 2), or ``skip`` (the case could not be crafted). Anything
    else, a traceback included, raises :class:`Crash`."""
    from snndsl.interop.nir import import_nir

    from .support import assert_clean, run_cli

    limits = limits or Limits()
    text = repr(case)
    work = Path(tempfile.mkdtemp(prefix="case-", dir=_nir_dir()))
    try:
        path = work / "crafted.nir"
        try:
            graph = build_nir_graph(case) if case.route == "memory" else build_nir_file(case, path)
        except (Exception, RecursionError):  # noqa: BLE001 - h5py or nir refused to make it
            return "skip"
        _Repr.ran.clear()
        if case.route == "cli":
            out = work / "out" / "net.snn"
            out.parent.mkdir()
            try:
                status, stdout, stderr = run_cli(["import", str(path), "-o", str(out)])
                assert_clean(status, stdout, stderr, file=str(path), allowed=(0, 1, 2))
            except AssertionError as e:
                raise Crash("cli-import-not-clean", text, str(e)[:4000]) from None
            except Exception as e:  # noqa: BLE001
                raise Crash(_signature(e), text, traceback.format_exc()) from None
            written = sorted(p.name for p in out.parent.iterdir())
            if status != 0:
                if written:
                    raise Crash("cli-import-wrote-on-failure", text, f"status {status}, wrote {written}")
                return "error:UsageError" if status == 2 else "error:NirError"
            if written != ["net.pt", "net.snn"]:
                raise Crash("cli-import-outputs", text, f"wrote {written}")
            import torch

            source = out.read_text(encoding="utf-8")
            state = torch.load(out.with_suffix(".pt"), weights_only=True)
        else:
            try:
                result = import_nir(graph if case.route == "memory" else path)
            except SnnError as e:
                if case.route != "memory" and e.span.filename != str(path):
                    raise Crash(f"unlocated-{type(e).__name__}", text, str(e)) from None
                return f"error:{type(e).__name__}"
            except UsageError:
                return "error:UsageError"
            except Exception as e:  # noqa: BLE001
                raise Crash(_signature(e), text, traceback.format_exc()) from None
            source, state = result.source, result.state_dict
        return _check_imported(text, source, state, run, limits)
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


def _check_imported(text: str, source: str, state: dict, run: bool, limits: Limits) -> str:
    """An imported model: plain `.snn` (no ``use``), it compiles, its weights fit it exactly."""
    if re.search(r"^\s*use\s", source, re.M):
        raise Crash("import-writes-use", text, source)
    if "__import__" in source or _Repr.ran:
        raise Crash("import-copies-code", text, source)
    try:
        ir, gen = generate(source, "imported.snn")
        problems = unsafe_constructs(gen.source)
        if problems:
            raise Crash("unsafe-generated-code", text, "\n".join(problems))
        net = snndsl.compile_source(source, "imported.snn")
        net.load_state_dict(state, strict=True)
        if run and sum(p.numel() for p in net.parameters()) <= limits.params:
            tiny_forward(net)
            return "ran"
    except Crash:
        raise
    except Exception as e:  # noqa: BLE001 - an import must make a model that compiles and loads
        raise Crash("imported-model-broken:" + _signature(e), text, source + "\n" + traceback.format_exc()) from None
    return "ok"


# ---------------------------------------------------------------------------------------
# API values of odd types (issue #17): recipes, built and passed to the API by check_api
# ---------------------------------------------------------------------------------------

API_TEXTS = {
    "typed": "model M(f: float = 1.0, n: int = 4, on: bool = true, s: str = \"x\") {\n    input x: [4]\n"
             "    return x -> fc: Linear(4, n) -> sn: LIF(tau=f + 1.0, detach_reset=on)\n}\n",
    "required": "model M(n: int, f: float) {\n    input x: [3]\n    return x -> fc: Linear(3, n) -> sn: IF(v_threshold=f)\n}\n",
    "block": "block B(c: int, p: float = 0.1) {\n    input x\n    return x -> d: Dropout(p) -> s: IF()\n}\n"
             "model M(c: int = 4, p: float = 0.2) {\n    input x: [4]\n    return x -> fc: Linear(4, c) -> b: B(c, p)\n}\n",
    "string": "model M(mode: str = \"none\", w: int = 2) {\n    input x: [2, 4]\n"
              "    return x -> g: GELU(approximate=mode) -> f: Flatten() -> fc: Linear(8, w) -> s: LIF()\n}\n",
    "shape": "model M(h: int = 3, w: int = 3) {\n    input x: [1, h, w]\n    return x -> c: Conv2d(1, 2, 1) -> s: IF()\n}\n",
}
API_PARAMS = {"typed": ["f", "n", "on", "s"], "required": ["n", "f"], "block": ["c", "p"],
              "string": ["mode", "w"], "shape": ["h", "w"]}
#: values, by name (see :func:`_api_value`)
API_VALUES = [
    "np.float16", "np.float32", "np.float64", "np.longdouble", "np.int8", "np.int32", "np.int64", "np.uint8",
    "np.uint64max", "np.bool_", "np.complex64", "np.str_", "np.bytes_", "np.array0d", "np.array1", "np.nan",
    "np.inf", "np.datetime64", "np.int64huge", "true", "false", "0", "-1", "3", "2**63", "10**30", "10**400",
    "-10**400", "1.0", "-0.0", "nan", "inf", "-inf", "1e308", "5e-324", "'x'", "''", "'\\x00'", "'quote'",
    "'newline'", "'long'", "'none'", "'tanh'", "'4'", "'1e400'", "None", "b'4'", "bytearray", "complex",
    "Fraction", "Decimal", "Decimal-nan", "[1]", "(1,)", "{'a': 1}", "{1}", "range", "object", "tensor0d",
    "tensor1", "Ellipsis", "function", "type", "EvilFloat", "EvilInt", "EvilStr", "HostileFloat", "HostileInt",
    "Indexable", "Floatable", "Boolable", "EqAll", "[EvilFloat]", "{'a': EvilStr}", "(np.float64,)", "deep-list",
    "self-list", "EvilStr-long",
]
API_KEYS = ["name", "name", "name", "name", "unknown", "int", "None", "tuple", "EvilStr", "bytes", "''",
            "name ", "long", "EqKey"]
API_CONTAINERS = ["dict", "dict", "dict", "dict", "dict", "list-of-pairs", "str", "none", "int", "Mapping",
                  "HostileMapping", "dict-subclass"]
API_KWARGS = {
    "model": ["None", "'M'", "'Nope'", "3", "EvilStr('M')", "b'M'"],
    "filename": ["'<string>'", "EvilStr", "Path", "b'f.snn'", "3", "'escape'", "'long'", "None"],
    "allow_imports": ["()", "'os'", "['os']", "None", "3", "[EvilStr]", "[3]"],
    "optimize": ["None", "'inference'", "'O3'", "3", "EvilStr"],
    "disable": ["()", "['fuse-stateless']", "'fuse-stateless'", "[3]", "['nope']", "None"],
    "step_mode": ["'m'", "'s'", "'x'", "3", "None", "EvilStr"],
    "carry_state": ["True", "'yes'", "np.bool_", "None"],
}


@dataclass(frozen=True)
class ApiCase:
    """A call of ``emit_python`` or ``compile_source`` with values of odd types (plain data:
    ``repr`` is the reproduction, :func:`build_api_call` makes the values)."""

    entry: str
    text: str
    container: str
    params: tuple[tuple[str, str, str], ...]  # (key kind, parameter name, value)
    kwargs: tuple[tuple[str, str], ...]


@st.composite
def api_cases(draw, wide: bool = False) -> ApiCase:
    """``params`` values of odd types (numpy scalars, subclasses with hostile methods, huge
    and non-finite numbers, containers) for the parameters of a model. ``wide``: also odd
    keys (not strings, hostile ``str`` subclasses), odd mappings and odd values of the
    other keyword arguments (``model``, ``filename``, ``allow_imports``, ``disable``,
    ``optimize``, ``step_mode``, ``carry_state``)."""
    g = Gen(draw, 0.0)
    text = g.pick(sorted(API_TEXTS))
    names = API_PARAMS[text]
    params = []
    for _ in range(g.pick([0, 1, 1, 1, 2, 2, 3])):
        key = g.pick(API_KEYS) if wide else g.pick(["name"] * 9 + ["unknown"])
        params.append((key, g.pick(names), g.pick(API_VALUES)))
    if text == "required" and g.p(0.7):  # mostly give the required ones, so that the odd value is reached
        given = {n for k, n, _ in params if k == "name"}
        params += [("name", n, g.pick(["3", "1.0", "np.int64", "np.float32"])) for n in names if n not in given]
    kwargs = [(key, g.pick(API_KWARGS[key])) for key in sorted(API_KWARGS) if wide and g.p(0.1)]
    entry = g.pick(["emit", "emit", "compile"])
    if entry == "emit":
        kwargs = [(k, v) for k, v in kwargs if k not in ("step_mode", "carry_state")]
    containers = API_CONTAINERS if wide else ["dict", "Mapping", "dict-subclass"]
    return ApiCase(entry, text, g.pick(containers) if g.p(0.3) else "dict", tuple(params), tuple(kwargs))


#: the user code that ran: each hostile method appends its name here
RAN: list[str] = []


def _hostile_classes() -> dict[str, type]:
    def flag(name, result):
        def method(self, *a, **k):
            RAN.append(f"{type(self).__name__}.{name}")
            return result(self) if callable(result) else result
        return method

    payload = "__import__('os').system('echo pwned')"
    evil = {"__repr__": flag("__repr__", payload), "__str__": flag("__str__", payload),
            "__format__": flag("__format__", payload)}
    return {
        "EvilFloat": type("EvilFloat", (float,), {**evil, "__float__": flag("__float__", 99.0)}),
        "EvilInt": type("EvilInt", (int,), {**evil, "__int__": flag("__int__", 99), "__index__": flag("__index__", 99)}),
        "EvilStr": type("EvilStr", (str,), evil),
        "HostileFloat": type("HostileFloat", (float,), {**evil, "__eq__": flag("__eq__", True),
                                                        "__hash__": flag("__hash__", 0),
                                                        "__bool__": flag("__bool__", True),
                                                        "__add__": flag("__add__", 0.0)}),
        "HostileInt": type("HostileInt", (int,), {**evil, "__abs__": flag("__abs__", 0), "__gt__": flag("__gt__", False),
                                                  "__lt__": flag("__lt__", False), "__mul__": flag("__mul__", 1)}),
        "Indexable": type("Indexable", (), {**evil, "__index__": flag("__index__", 3), "__int__": flag("__int__", 3)}),
        "Floatable": type("Floatable", (), {**evil, "__float__": flag("__float__", 2.0)}),
        "Boolable": type("Boolable", (), {**evil, "__bool__": flag("__bool__", True)}),
        "EqAll": type("EqAll", (), {**evil, "__eq__": flag("__eq__", True), "__hash__": flag("__hash__", 0)}),
        "EqKey": type("EqKey", (str,), {**evil, "__eq__": flag("__eq__", True), "__hash__": flag("__hash__", 0)}),
    }


def _api_value(spec: str):
    import decimal
    import fractions

    import numpy as np
    import torch

    h = _hostile_classes()
    if spec in h:
        base = {"EvilFloat": 3.0, "EvilInt": 3, "EvilStr": "tanh", "HostileFloat": 2.0, "HostileInt": 3,
                "EqKey": "n"}
        return h[spec](base[spec]) if spec in base else h[spec]()
    if spec == "self-list":
        v: list = []
        v.append(v)
        return v
    if spec == "deep-list":
        v = [1]
        for _ in range(10_000):
            v = [v]
        return v
    table = {
        "np.float16": lambda: np.float16(1.5), "np.float32": lambda: np.float32(0.5), "np.float64": lambda: np.float64(3.0),
        "np.longdouble": lambda: np.longdouble(1.5), "np.int8": lambda: np.int8(3), "np.int32": lambda: np.int32(3),
        "np.int64": lambda: np.int64(3), "np.uint8": lambda: np.uint8(3), "np.uint64max": lambda: np.uint64(2**64 - 1),
        "np.bool_": lambda: np.bool_(True), "np.complex64": lambda: np.complex64(1 + 0j), "np.str_": lambda: np.str_("tanh"),
        "np.bytes_": lambda: np.bytes_(b"x"), "np.array0d": lambda: np.array(3.0), "np.array1": lambda: np.array([3]),
        "np.nan": lambda: np.float64("nan"), "np.inf": lambda: np.float32("inf"),
        "np.datetime64": lambda: np.datetime64("2020-01-01"), "np.int64huge": lambda: np.int64(2**63 - 1),
        "true": lambda: True, "false": lambda: False, "0": lambda: 0, "-1": lambda: -1, "3": lambda: 3,
        "2**63": lambda: 2**63, "10**30": lambda: 10**30, "10**400": lambda: 10**400, "-10**400": lambda: -(10**400),
        "1.0": lambda: 1.0, "-0.0": lambda: -0.0, "nan": lambda: float("nan"), "inf": lambda: float("inf"),
        "-inf": lambda: float("-inf"), "1e308": lambda: 1e308, "5e-324": lambda: 5e-324, "'x'": lambda: "x",
        "''": lambda: "", "'\\x00'": lambda: "\x00", "'quote'": lambda: '"); import os #',
        "'newline'": lambda: "a\nb\u2028c", "'long'": lambda: "x" * 1_000_000, "'none'": lambda: "none",
        "'tanh'": lambda: "tanh", "'4'": lambda: "4", "'1e400'": lambda: "1e400", "None": lambda: None,
        "b'4'": lambda: b"4", "bytearray": lambda: bytearray(b"4"), "complex": lambda: complex(1, 2),
        "Fraction": lambda: fractions.Fraction(1, 2), "Decimal": lambda: decimal.Decimal("1.5"),
        "Decimal-nan": lambda: decimal.Decimal("nan"), "[1]": lambda: [1], "(1,)": lambda: (1,),
        "{'a': 1}": lambda: {"a": 1}, "{1}": lambda: {1}, "range": lambda: range(3), "object": lambda: object(),
        "tensor0d": lambda: torch.tensor(3.0), "tensor1": lambda: torch.tensor([3]), "Ellipsis": lambda: ...,
        "function": lambda: (lambda: RAN.append("function called")), "type": lambda: int,
        "[EvilFloat]": lambda: [h["EvilFloat"](1.0)], "{'a': EvilStr}": lambda: {"a": h["EvilStr"]("x")},
        "(np.float64,)": lambda: (np.float64(1.0),), "EvilStr-long": lambda: h["EvilStr"]("y" * 100_000),
    }
    return table[spec]()


def _api_key(spec: str, name: str):
    h = _hostile_classes()
    return {"name": name, "unknown": "nope", "int": 1, "None": None, "tuple": ("n",), "EvilStr": h["EvilStr"](name),
            "bytes": name.encode(), "''": "", "name ": name + " ", "long": "k" * 100_000,
            "EqKey": h["EqKey"](name)}.get(spec, spec)


def _api_kwarg(spec: str):
    h = _hostile_classes()
    return {"None": None, "'M'": "M", "'Nope'": "Nope", "3": 3, "EvilStr('M')": h["EvilStr"]("M"), "b'M'": b"M",
            "'<string>'": "<string>", "EvilStr": h["EvilStr"]("x"), "Path": Path("f.snn"), "b'f.snn'": b"f.snn",
            "'escape'": "x\x1b[31m.snn", "'long'": "f" * 10_000 + ".snn", "()": (), "'os'": "os", "['os']": ["os"],
            "[EvilStr]": [h["EvilStr"]("os")], "[3]": [3], "'inference'": "inference", "'O3'": "O3",
            "['fuse-stateless']": ["fuse-stateless"], "'fuse-stateless'": "fuse-stateless", "['nope']": ["nope"],
            "'m'": "m", "'s'": "s", "'x'": "x", "True": True, "'yes'": "yes",
            "np.bool_": __import__("numpy").bool_(True)}[spec]


def build_api_call(case: ApiCase) -> tuple[object, dict[str, object]]:
    """``(params, keyword arguments)`` of a case's call, made fresh."""
    from collections.abc import Mapping

    names = API_PARAMS[case.text]
    pairs = [(_api_key(k, n if n in names else names[0]), _api_value(v)) for k, n, v in case.params]
    kwargs = {k: _api_kwarg(v) for k, v in case.kwargs}
    c = case.container
    if c == "dict":
        params: object = dict(pairs)
    elif c == "list-of-pairs":
        params = pairs
    elif c == "str":
        params = "n=3"
    elif c == "none":
        params = None
    elif c == "int":
        params = 3
    elif c in ("Mapping", "HostileMapping"):
        hostile = c == "HostileMapping"

        class M(Mapping):
            def __init__(self, items):
                self.items_ = dict(items)

            def __getitem__(self, k):
                if hostile:
                    RAN.append("Mapping.__getitem__ (expected)")
                return self.items_[k]

            def __iter__(self):
                return iter(self.items_)

            def __len__(self):
                return len(self.items_)

        params = M(pairs)
    else:
        params = type("D", (dict,), {"__repr__": lambda self: RAN.append("D.__repr__") or "D()"})(pairs)
    return params, kwargs


#: user code that the API may run: a Mapping's own item access (the caller chose it), a
#: key's ``__hash__`` and ``__eq__`` (every lookup of a key in a dict calls them)
EXPECTED_CALLS = re.compile(r"Mapping\.__getitem__ \(expected\)|EqKey\.__(hash|eq)__")


def check_api(case: ApiCase, run: bool = False, limits: Limits | None = None) -> str:
    """The outcome of one API call with odd values: ``ok``/``ran``, or ``error:<Class>`` for
    an :class:`SnnError`, a :class:`UsageError` or a ``TypeError`` with a message. Raises
    :class:`Crash` for any other exception, for a user method that ran (a ``__repr__``,
    ``__float__``, ``__eq__`` ... of a value), for unsafe generated code and for a model
    whose parameters are not plain ``bool``/``int``/``float``/``str`` values."""
    text = repr(case)
    try:
        params, kwargs = build_api_call(case)
    except RecursionError:
        return "skip"
    RAN.clear()
    source = API_TEXTS[case.text]
    outcome = "ok"
    try:
        if case.entry == "emit":
            gen_source = snndsl.emit_python(source, params=params, **kwargs)  # type: ignore[arg-type]
            ir = None
        else:
            net = snndsl.compile_source(source, params=params, **kwargs)  # type: ignore[arg-type]
            gen_source, ir = net.snn_source, net.snn_ir
    except (SnnError, UsageError) as e:
        outcome = f"error:{type(e).__name__}"
    except TypeError as e:
        if not str(e).strip():
            raise Crash("TypeError-without-message", text, traceback.format_exc()) from None
        outcome = "error:TypeError"
    except Exception as e:  # noqa: BLE001
        raise Crash(_signature(e), text, traceback.format_exc()) from None
    ran = [r for r in RAN if not EXPECTED_CALLS.fullmatch(r)]
    if ran:
        raise Crash(f"user-code-ran:{ran[0]}", text, f"{outcome}; ran {sorted(set(ran))}")
    if outcome != "ok":
        return outcome
    if "pwned" in gen_source or "__import__" in gen_source:
        raise Crash("api-value-reached-code", text, gen_source)
    problems = unsafe_constructs(gen_source)
    if problems:
        raise Crash("unsafe-generated-code", text, "\n".join(problems))
    if ir is not None:
        odd = {k: type(v).__name__ for k, v in ir.params.items() if type(v) not in (bool, int, float, str)}
        if odd:
            raise Crash("api-param-not-plain", text, str(odd))
        if run:
            try:
                from snndsl.runtime import functional

                functional.set_step_mode(net, "m")  # tiny_forward starts in multi-step mode
                tiny_forward(net)
            except Exception as e:  # noqa: BLE001
                raise Crash(_signature(e), text, traceback.format_exc()) from None
            return "ran"
    return "ok"
