"""Files written whole or not at all, with the permissions an ordinary write would give.

:func:`atomic_output` is the one way the package writes a file (the weights cache, ``results.json``,
``report.html``, the figures, the command's images): the caller writes to a temporary name in the target's
own folder, which is flushed to disk (``fsync``) and renamed onto the target (``os.replace``, atomic on one
file system) only when the caller's block ends without an error. On any exception, Ctrl-C included, the
temporary file is removed and the target is left as it was: a reader sees the old file or the new one, never
half of one.

``tempfile.mkstemp`` and ``mkdtemp`` create owner-only files (``0o600``) and folders (``0o700``) whatever the
umask, so a renamed temporary would stay owner-only; here files get ``0o666 & ~umask`` and folders
(:func:`make_temp_dir`) ``0o777 & ~umask``, as ``open(path, "w")`` and ``os.mkdir`` give.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_output", "atomic_write_text", "current_umask", "make_temp_dir"]


def current_umask() -> int:
    """The process's umask, read without changing it where Linux says it (``/proc/self/status``); elsewhere
    set and restored at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable, where the platform lets a folder be opened (not on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder (same suffix); when the block ends without an error it is
    flushed to disk and renamed to ``path``, with permissions ``0o666 & ~umask``.

    On any exception, Ctrl-C included, the temporary file is removed and ``path`` is left as it was.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> folder = Path(tempfile.mkdtemp())
        >>> with atomic_output(folder / "a.txt") as tmp:
        ...     _ = tmp.write_text("whole")
        >>> (folder / "a.txt").read_text(), sorted(p.name for p in folder.iterdir())
        ('whole', ['a.txt'])
    """
    target = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{target.suffix}", dir=target.parent)
    tmp = Path(name)
    try:
        try:
            os.fchmod(fd, 0o666 & ~current_umask())
        finally:
            os.close(fd)
        yield tmp
        with open(tmp, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(tmp, target)
        _fsync_folder(target.parent)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through :func:`atomic_output`."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def make_temp_dir(*, prefix: str, suffix: str, dir: str | os.PathLike[str]) -> Path:
    """``tempfile.mkdtemp`` whose folder gets ``0o777 & ~umask`` (a staging folder that is later renamed into
    place keeps the permissions an ordinary ``mkdir`` gives)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=dir))
    folder.chmod(0o777 & ~current_umask())
    return folder
