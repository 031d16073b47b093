"""Files a crash or a second process cannot corrupt: atomic writes, checksums, folder locks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, Callable


def atomic_write(path: str | Path, data: bytes | str | Callable[[BinaryIO], object]) -> Path:
    """Write ``data`` to ``path`` through a synced temporary file in the same folder and a rename.

    ``data`` is bytes, text, or a function that writes to the open binary file (e.g.
    ``lambda fh: torch.save(state, fh)``). A crash leaves the old file or the new one, never a mix.
    """
    path = Path(path)
    if isinstance(data, str):
        data = data.encode()
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            if callable(data):
                data(fh)
            else:
                fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """The SHA-256 of a file's bytes (hex)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


class FolderLock:
    """An exclusive lock on a folder while a process writes it (``fcntl.flock`` on ``<folder>/.lock``).

    The operating system releases it when the process ends, however it ends (``kill -9``
    included), so a stale lock never blocks a later run. The lock file records who holds it (pid,
    host, command, start time), which the error for a second writer quotes.
    """

    def __init__(self, folder: str | Path, what: str = "folder"):
        self.folder, self.what = Path(folder), what
        self._fh = None

    def __enter__(self) -> "FolderLock":
        import fcntl
        import json
        import socket
        import sys
        import time

        from .errors import EvosearchError

        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / ".lock"
        fh = open(path, "a+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            try:
                info = json.loads(holder)
                holder = (f"process {info['pid']} on {info['host']} since {info['since']} "
                          f"({info['command']})")
            except (ValueError, KeyError, TypeError):
                pass
            raise EvosearchError(f"{self.folder} is in use: {holder} is writing this {self.what}; wait for it to "
                                 "finish or stop it (a killed process releases the lock)") from None
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                             "since": time.strftime("%Y-%m-%d %H:%M:%S"), "command": " ".join(sys.argv)[:300]}))
        fh.flush()
        self._fh = fh
        return self

    def __exit__(self, *exc) -> None:
        import fcntl

        if self._fh is not None:
            self._fh.truncate(0)
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None
