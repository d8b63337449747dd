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
        paths = {n.path for n in ir.nodes()}
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
                "2**2**2**2**2", "cat", "add", "dim=5", "*10000"]


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
