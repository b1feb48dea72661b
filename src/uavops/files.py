"""Writing outputs so that an interruption never leaves a half-written file.

Every stage writes through :func:`atomic_write` (or :func:`atomic_path` for libraries such
as rasterio that want a path): the data goes to a temporary file beside the target, which is
renamed over the target only once complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .errors import InputError

__all__ = ["atomic_path", "atomic_write", "write_json", "read_json", "ensure_out_dir", "output_folder"]


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` if the block succeeds."""
    target = Path(target)
    ensure_out_dir(target.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or target.suffix or ".tmp",
                               dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual permissions
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_write(target: str | os.PathLike[str], mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary file for writing; it replaces ``target`` only when the block completes."""
    with atomic_path(target) as tmp:
        kwargs: dict[str, Any] = {} if "b" in mode else {"encoding": encoding, "newline": ""}
        with open(tmp, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())


def write_json(target: str | os.PathLike[str], data: Any, indent: int = 2) -> None:
    """Write JSON atomically."""
    with atomic_write(target) as fh:
        json.dump(data, fh, indent=indent, ensure_ascii=False, allow_nan=False)
        fh.write("\n")


def read_json(path: str | os.PathLike[str], what: str = "file") -> Any:
    """Read JSON, turning the usual failures into one clear :class:`InputError`."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"The {what} {path} does not exist; check the path.") from None
    except IsADirectoryError:
        raise InputError(f"The {what} {path} is a folder, not a file; name the file inside it.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"The {what} {path} is not valid JSON ({exc}); re-export or fix it.") from None


def ensure_out_dir(path: str | os.PathLike[str]) -> Path:
    """Create an output folder, or fail with a clear message if it cannot be written."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (PermissionError, FileExistsError, NotADirectoryError, OSError) as exc:
        raise InputError(f"Cannot create the output folder {path} ({exc.strerror or exc}); "
                         "choose another --out.") from None
    if not os.access(path, os.W_OK):
        raise InputError(f"The output folder {path} is not writable; choose another --out.")
    return path


@contextlib.contextmanager
def output_folder(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Create an output folder for a run; if the run fails, remove the folders it created while empty.

    A command that stops on bad input must not leave a fresh, empty ``--out`` folder behind: the
    operator would take it for a run that produced nothing. Folders that already existed, and any
    folder that holds something (a resumable flight record, a finished file), are left alone.
    """
    path = Path(path)
    created: list[Path] = []  # deepest first
    probe = path
    while not probe.exists() and probe != probe.parent:
        created.append(probe)
        probe = probe.parent
    out = ensure_out_dir(path)
    try:
        yield out
    except BaseException:
        for folder in created:
            try:
                folder.rmdir()  # only succeeds while empty
            except OSError:
                break
        raise
