"""Atomic file output: write a temporary file beside the target, then rename it.

A failed run never leaves a half-written or truncated output behind, and an existing
file is replaced only by a complete new one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: str | os.PathLike, data: str | bytes) -> None:
    target = Path(path)
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
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
