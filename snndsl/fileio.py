"""File input and output with clean failures.

* :func:`write_atomic`: write a temporary file beside the target, then rename it. A
  failed run never leaves a half-written or truncated output behind, and an existing
  file is replaced only by a complete new one. :func:`write_atomic_group` does the
  same for several files that belong together (all are replaced, or none).
* :func:`load_weights_file`: ``torch.load`` with ``weights_only=True`` (no code from the
  file runs); every failure is a :class:`UsageError` that names the file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .diagnostics import UsageError


def _write_temporary(target: Path, data: str | bytes) -> str:
    """A complete, flushed temporary file beside ``target`` holding ``data``; returns its path."""
    target.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        mode = (target.stat().st_mode & 0o777) if target.exists() else (0o666 & ~umask)
        os.chmod(tmp, mode)  # mkstemp makes 0600 files; keep the usual permissions
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        _remove(tmp)
        raise
    return tmp


def _remove(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass


def check_output_file(path: str | os.PathLike, inputs: tuple[str | os.PathLike, ...] = ()) -> None:
    """Refuse (a :class:`UsageError`) an output file path that an atomic write would
    mishandle: a symlink (the link would become a file; name its target instead),
    something that is not a regular file (a device such as ``/dev/null``, a FIFO, a
    folder: it would be replaced), a folder that does not exist, or one of ``inputs``."""
    from .diagnostics import UsageError

    p = Path(path)
    where = os.fspath(path)
    if p.is_symlink():
        raise UsageError(f"{where} is a symbolic link; give the path of the file itself "
                         "(or leave out -o to write to standard output)")
    if p.exists() and not p.is_file():
        raise UsageError(f"{where} exists and is not a regular file (a folder, device or pipe); "
                         "leave out -o to write to standard output")
    if not p.parent.is_dir():
        raise UsageError(f"cannot write {where}: the folder {os.fspath(p.parent)} does not exist")
    for src in inputs:
        if p.exists() and os.path.exists(src) and os.path.samefile(p, src):
            raise UsageError(f"{where} is the input file {os.fspath(src)}: refusing to overwrite it")


def check_output_folder(path: str | os.PathLike) -> None:
    """Make sure the folder ``path`` can be created (if missing) and written before the
    work that fills it starts: a :class:`UsageError` otherwise. Nothing is created."""
    from .diagnostics import UsageError

    where = os.fspath(path)
    p = Path(path).absolute()
    while not p.exists() and p.parent != p:
        p = p.parent
    if not p.is_dir():
        raise UsageError(f"cannot write into {where}: {os.fspath(p)} exists and is not a folder")
    if not os.access(p, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write into {where}: {os.fspath(p)} is not writable")


def write_atomic(path: str | os.PathLike, data: str | bytes) -> None:
    write_atomic_group({path: data})


def write_atomic_group(files: Mapping[str | os.PathLike, str | bytes]) -> None:
    """Write several files that belong together (a ``.snn`` file and its weights).

    Every file is written in full to a temporary file first; only then are they renamed
    into place. A failure while writing (a full disk, a permission) changes none of
    the targets, and neither does a rename that fails after others succeeded: the files
    already replaced get their old contents back (kept as hard links, or copies where
    the file system has none), and new ones are removed.
    """
    done: list[tuple[str, Path]] = []
    try:
        for path, data in files.items():
            target = Path(path)
            done.append((_write_temporary(target, data), target))
    except BaseException:
        for tmp, _ in done:
            _remove(tmp)
        raise
    backups: dict[Path, str | None] = {}
    try:
        if len(done) > 1:
            for _, target in done:
                backups[target] = _backup(target)
        for i, (tmp, target) in enumerate(done):
            try:
                os.replace(tmp, target)
            except BaseException:
                for rest, _ in done[i:]:
                    _remove(rest)
                for _, put in done[:i]:
                    _restore(put, backups.get(put))
                raise
    finally:
        for backup in backups.values():
            if backup is not None:
                _remove(backup)


def _backup(target: Path) -> str | None:
    """A temporary second name (or copy) of ``target``'s current contents, or None when
    there is no such file."""
    if not target.is_file():
        return None
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent)
    os.close(fd)
    os.unlink(tmp)
    try:
        os.link(target, tmp)
    except OSError:
        import shutil

        shutil.copy2(target, tmp)
    return tmp


def _restore(target: Path, backup: str | None) -> None:
    try:
        if backup is None:
            os.unlink(target)
        else:
            os.replace(backup, target)
    except OSError:
        pass


#: a weights file may declare at most this many bytes of uncompressed content beyond
#: what the model it is loaded into holds (torch.save writes uncompressed entries)
WEIGHTS_SLACK_BYTES = 64 * 2**20


def _zip_content_bytes(where: str) -> int | None:
    """The declared uncompressed size of the zip archive ``where`` (``torch.save``'s
    format), or None for a file that is not a zip (the legacy format is read as it is)."""
    import zipfile

    try:
        if not zipfile.is_zipfile(where):
            return None
        with zipfile.ZipFile(where) as zf:
            return sum(info.file_size for info in zf.infolist())
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return None  # torch.load reports it


def load_weights_file(path: str | os.PathLike, max_bytes: int | None = None) -> Any:
    """The object saved in ``path``, loaded with ``weights_only=True`` onto the CPU.

    Refused before anything is read: a path that is not a regular file (a FIFO would
    block, a device never ends), and an archive whose declared content exceeds
    ``max_bytes`` (default: half this machine's memory), so a small zip that inflates to
    gigabytes is never inflated.
    """
    import stat

    import torch

    where = os.fspath(path)
    try:
        st = os.stat(where)
    except FileNotFoundError:
        raise UsageError(f"no such weights file: {where}") from None
    except OSError as e:
        raise UsageError(f"cannot read weights from {where}: {e.strerror or e}") from None
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(f"{where} is not a regular file (a folder, device or pipe); "
                         "save the weights with torch.save and pass that file")
    if max_bytes is None:
        from .limits import available_memory

        max_bytes = available_memory() // 2
    declared = _zip_content_bytes(where)
    if declared is not None and declared > max_bytes:
        raise UsageError(f"cannot load weights from {where}: the archive declares {_size(declared)} "
                         f"of content ({_size(st.st_size)} on disk), more than the {_size(max_bytes)} "
                         "the model's weights can need; it is not a state_dict of this model")
    try:
        return torch.load(where, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds (pickle.UnpicklingError for code in the file)
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UsageError(f"cannot load weights from {where}: {first[:300]}") from None


def _size(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n} bytes"
