"""The ``snndsl`` command line.

Exit status: 0 success; 1 the input is wrong (a located diagnostic on stderr, never a
traceback); 2 bad command-line usage. Results go to stdout, errors to stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .diagnostics import SnnError, UsageError, print_error, printable
from .frontend.grammar import MAX_SOURCE

#: the bundled data sets of ``train`` and ``run --data`` (``training.data.DATASETS``; a test
#: checks they agree, so the CLI need not import the training stack to parse arguments)
DATA_SETS = ("digits", "digits-rows")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse exits 2 on usage errors, as we want
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")



def _seed(text: str) -> int:
    """``--seed``: an integer torch accepts (0 to 2**63 - 1)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid seed {text[:40]!r}: an integer from 0 to 2**63 - 1") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"seed {text[:40]}{'...' if len(text) > 40 else ''} is out of range: "
                                         "use an integer from 0 to 2**63 - 1")
    return value

def _scale(text: str) -> float:
    """``--input-scale``: a finite positive number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid scale {text[:40]!r}: a positive number such as 4") from None
    if not (0 < value < float("inf")):
        raise argparse.ArgumentTypeError(f"scale {text[:40]} must be a finite positive number")
    return value


def _params(pairs: Sequence[str] | None):
    from .frontend.declarations import CliParams

    out = CliParams()
    for pair in pairs or ():
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise UsageError(f"--set expects K=V, got {pair!r}")
        out[key.strip()] = value
    return out


def _common(p: argparse.ArgumentParser, model: bool = True) -> None:
    p.add_argument("file", help="the .snn file")
    p.add_argument("--set", action="append", metavar="K=V", dest="set",
                   help="set a model parameter (repeatable), e.g. --set channels=64")
    if model:
        p.add_argument("--model", help="which model of the file (when it holds several)")
    p.add_argument("--allow-import", action="append", default=[], metavar="PKG",
                   help="allow `use` declarations to import from PKG (repeatable)")


def _optimize(p: argparse.ArgumentParser) -> None:
    p.add_argument("-O", "--optimize", choices=("inference",), default=None, metavar="LEVEL",
                   help="'inference': add the passes for eval-mode inference (fold-batchnorm)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="snndsl", description="Compile .snn spiking-network descriptions to PyTorch.")
    from ._version import __version__

    parser.add_argument("--version", action="version", version=f"snndsl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("check", help="validate a file and print its layer table")
    _common(p)
    p.add_argument("--print-ir-after", metavar="PASS", help="print the IR as YAML after PASS ('all' for every pass)")
    _optimize(p)

    p = sub.add_parser("compile", help="emit the generated Python module")
    _common(p)
    p.add_argument("-o", "--output", help="write to this file (atomically) instead of stdout")
    _optimize(p)
    p.add_argument("--no-memory-check", action="store_true",
                   help="compile a model whose parameters exceed this machine's memory (for a larger machine)")

    p = sub.add_parser("run", help="run the model on random input: shapes, spike rates, time per step")
    _common(p)
    p.add_argument("-T", type=int, default=None, help="time steps (default 4; with --data, the data set's)")
    p.add_argument("-N", type=int, default=2, help="batch size (default 2)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--step-mode", choices=("m", "s"), default="m", help="multi-step (m) or single-step (s)")
    p.add_argument("--seed", type=_seed, default=0, help="random seed for weights and input")
    p.add_argument("--torch-compile", action="store_true", help="wrap the module in torch.compile")
    p.add_argument("--input-scale", type=_scale, default=1.0, metavar="S",
                   help="random input uniform in [0, S) (default 1); with --input-code poisson, spike rates")
    p.add_argument("--input-code", choices=("uniform", "poisson"), default="uniform",
                   help="uniform values (default) or Poisson spikes (rate-coded, as SpikingJelly's PoissonEncoder)")
    _optimize(p)
    p.add_argument("--weights", help="load a state_dict (.pt, loaded with weights_only=True) first")
    p.add_argument("--data", choices=DATA_SETS, help="evaluate on a data set's test split instead of random input")

    p = sub.add_parser("train", help="train the model on a bundled data set")
    _common(p)
    p.add_argument("--data", choices=DATA_SETS, default="digits", help="data set (default digits)")
    p.add_argument("-T", type=int, default=None,
                   help="time steps (default: the data set's, 4 for digits; digits-rows is 8 steps long)")
    p.add_argument("--epochs", type=int, default=10, help="epochs (default 10)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--out", default="runs/digits", help="run folder for checkpoint and pictures")

    p = sub.add_parser("viz", help="draw the IR after every pass, with an index.html")
    _common(p)
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.add_argument("--format", choices=("svg", "png", "dot"), default="svg")
    p.add_argument("--collapse", action="store_true", help="draw each block instance as one node")
    _optimize(p)

    p = sub.add_parser("export", help="export the model as a NIR graph")
    _common(p)
    p.add_argument("--nir", required=True, metavar="OUT.nir", help="the NIR file to write")
    p.add_argument("--weights", help="state_dict to export (default: freshly initialised weights)")
    p.add_argument("--dt", type=float, default=1e-4, help="time step in seconds (default 1e-4)")
    p.add_argument("--strict", action="store_true", help="fail instead of reporting what NIR cannot express")

    p = sub.add_parser("import", help="convert a NIR graph to .snn source and weights")
    p.add_argument("file", metavar="IN.nir")
    p.add_argument("-o", "--output", required=True, metavar="OUT.snn")
    p.add_argument("--dt", type=float, default=None,
                   help="time step in seconds (default: the file's own for an snndsl export, 1/r for a "
                        "graph of IF neurons only, else 1e-4)")
    p.add_argument("--reset", choices=("zero", "subtract"), default="zero",
                   help="how the neurons reset (NIR does not say): to v_reset, or by subtracting the "
                        "threshold (default zero)")
    p.add_argument("--model", default=None, help="name of the model to write (default: from the file name)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except SnnError as e:
        if e.source is None and getattr(args, "file", None) and e.span.filename == args.file:
            source = _source_for_display(args.file)
            if source is not None:
                e.with_source(source)
        print_error(e)
        return 1
    except UsageError as e:
        print(f"snndsl {args.command}: error: {printable(str(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


#: a file larger than this is not read again to show the line of an error (a `.snn`
#: file that large is refused by the front end; a NIR file is binary anyway)
DISPLAY_LIMIT = 4 * MAX_SOURCE


def _source_for_display(path: str) -> str | None:
    """The text of ``path`` for showing an error's line, or None for a file that is not a
    small regular text file."""
    import os
    import stat

    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > DISPLAY_LIMIT:
            return None
        with open(path, "rb") as fh:
            return fh.read(DISPLAY_LIMIT).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _dispatch(args: argparse.Namespace) -> int:
    from . import commands

    handler = getattr(commands, "cmd_" + args.command)
    return handler(args, _params(getattr(args, "set", None)))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
