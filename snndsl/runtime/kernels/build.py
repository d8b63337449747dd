"""Compiling a C kernel once per machine: the cache, the key, the atomic build.

The C kernels generated from neuron programs (:mod:`snndsl.codegen.neuron_c`,
:mod:`.program_native`) go through :func:`build`. A kernel is compiled with the
system compiler (``$CC``, else ``cc``/``gcc``/``clang``) into a cache directory
(``$SNNDSL_CACHE_DIR``, else ``$XDG_CACHE_HOME/snndsl``, else ``~/.cache/snndsl``; a
private ``snndsl-<uid>`` directory under the system temp dir when that is not writable)
as ``<stem>-<key>.so``. The key is the sha256 of the source, the headers of ``csrc/``
it may include, the flags, the compiler (path, size, mtime), the machine and the CPU's
feature flags (it is built with ``-march=native``): the same source gives the same file
name, and a changed source or machine another. The library is compiled to a temporary
file and renamed into place (``os.replace``), so concurrent builds and readers never see
a partial file.

Flags: ``-O3 -ffp-contract=off`` (no fused multiply-add: the kernels evaluate the
equations operation by operation), ``-fno-math-errno``; ``-march=native`` and
``-fopenmp`` where the compiler accepts them (without, in that order of preference).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["CSRC", "BuildError", "build", "cache_dir", "compiler", "fallback_dir", "key", "load"]

#: the shipped C sources and headers (``-I`` of every build)
CSRC = Path(__file__).with_name("csrc")
FLAGS = ("-O3", "-ffp-contract=off", "-fno-math-errno", "-fPIC", "-shared", "-std=gnu11")
NATIVE_FLAGS = ("-march=native",)
#: the extra flags tried in order until the compiler accepts one set
_VARIANTS = ((*NATIVE_FLAGS, "-fopenmp"), ("-fopenmp",), NATIVE_FLAGS, ())


class BuildError(RuntimeError):
    """No compiler, or the compiler failed."""


def cache_dir() -> Path:
    """``$SNNDSL_CACHE_DIR``, else ``$XDG_CACHE_HOME/snndsl``, else ``~/.cache/snndsl``."""
    configured = os.environ.get("SNNDSL_CACHE_DIR")
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "snndsl"


def fallback_dir() -> Path:
    """A private directory under the system temp dir (for read-only home directories)."""
    path = Path(tempfile.gettempdir()) / f"snndsl-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    st = path.stat()
    if st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise RuntimeError(f"{path} is not a private directory")
    return path


def compiler() -> str:
    """The C compiler's path: ``$CC``, else ``cc``, ``gcc``, ``clang``."""
    for candidate in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if candidate and (found := shutil.which(candidate)):
            return found
    raise BuildError("no C compiler found (install gcc or clang, or set CC)")


def _cpu_signature() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return line.strip()
    except OSError:
        pass
    return platform.processor()


def _writable_cache() -> Path:
    try:
        directory = cache_dir()
        directory.mkdir(parents=True, exist_ok=True)
        if not os.access(directory, os.W_OK):
            raise PermissionError(directory)
    except OSError:
        directory = fallback_dir()
    return directory


def key(source: bytes, cc: str | None = None) -> str:
    """The cache key of ``source`` on this machine with compiler ``cc`` (20 hex digits)."""
    cc = cc or compiler()
    st = os.stat(cc)
    headers = b"".join(p.name.encode() + p.read_bytes() for p in sorted(CSRC.glob("*.h")))
    key_text = repr((cc, st.st_size, st.st_mtime_ns, FLAGS, _VARIANTS, platform.machine(), _cpu_signature()))
    return hashlib.sha256(source + headers + key_text.encode()).hexdigest()[:20]


def build(stem: str, source: bytes, source_path: Path | None = None, cc: str | None = None) -> Path:
    """The shared library of the C ``source`` in the cache, compiled (atomically) unless
    it is there already; ``stem`` names it. ``source_path``: the file ``source`` was read
    from, compiled in place (its messages then name it); else the source is written
    next to the library as ``<stem>-<key>.c`` (also for reading it later). ``cc``: the
    compiler (default :func:`compiler`)."""
    cc = cc or compiler()
    name = f"{stem}-{key(source, cc)}"
    directory = _writable_cache()
    target = directory / f"{name}.so"
    if target.exists():
        return target
    if source_path is None:
        source_path = directory / f"{name}.c"
        if not source_path.exists():
            _write_atomic(source_path, source)
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}-", suffix=".so", dir=directory)
    os.close(fd)
    try:
        errors = []
        for extra in _VARIANTS:
            cmd = [cc, *FLAGS, *extra, f"-I{CSRC}", str(source_path), "-o", tmp, "-lm"]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            if proc.returncode == 0:
                os.replace(tmp, target)
                return target
            errors.append(proc.stderr.strip()[-2000:])
        raise BuildError(f"{cc} failed:\n" + "\n".join(errors))
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load(stem: str, source: bytes, source_path: Path | None = None) -> tuple[ctypes.CDLL, Path]:
    """:func:`build`, then the library loaded with :mod:`ctypes`, and its path. Raises
    :class:`BuildError` (or ``OSError``, ``subprocess.SubprocessError``) when it cannot."""
    path = build(stem, source, source_path)
    return ctypes.CDLL(str(path)), path
