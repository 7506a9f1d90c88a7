"""Safe file names, paths that stay inside their folder, locks, and atomic writes.

Names that come from a plan (note titles, folders, calendar and list names) are the
model's text: "../../etc/passwd", "/etc/x", "CON", "a:b" must never name a file outside
the tool's folder, nor one Windows or macOS cannot hold. ``safe_name`` turns any text into
one path component (Unicode letters kept); ``inside`` checks the resolved result anyway.

Every read-modify-write of a folder's files holds ``folder_lock``: an OS file lock, so
parallel tasks and other tinyagent processes take turns, and a killed holder's lock dies
with it. ``atomic_write_bytes`` keeps the replaced file's mode and owner.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import ToolError

MAX_NAME_BYTES = 200  # file systems allow 255 bytes; leave room for " (2)" and ".ics"
_RESERVED_CHARS = re.compile(r'[/\\:*?"<>|\x00-\x1f\x7f]')
_WINDOWS_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))]
)


def safe_name(name: str, default: str = "") -> str:
    """``name`` as one safe file-name component; empty text means ``default``.

    Reserved characters become "-", leading dots/dashes and trailing dots/spaces go, Windows device
    names get a "_" prefix, and the result is cut to MAX_NAME_BYTES of UTF-8. Raises
    ToolError when nothing usable is left ("..", "///").
    """
    # Invisible format characters (bidi overrides that disguise "exe.txt") and lone surrogates
    # (not encodable) go; letters, digits and symbols of any script stay.
    visible = "".join(c for c in name if unicodedata.category(c) not in ("Cf", "Cs"))
    text = unicodedata.normalize("NFC", " ".join(visible.split()))
    if not text:
        text = default
    # Leading "-" too: a name must not read as an option to a program it is handed to.
    cleaned = _RESERVED_CHARS.sub("-", text).lstrip(". -").rstrip(". ")
    cleaned = cleaned.encode("utf-8")[:MAX_NAME_BYTES].decode("utf-8", "ignore").rstrip(". ")
    if not cleaned.strip("-"):
        raise ToolError(f"{name!r} cannot be used as a name: use letters or digits")
    if cleaned.split(".")[0].upper() in _WINDOWS_RESERVED:
        cleaned = "_" + cleaned
    return cleaned


def inside(root: Path, *parts: str) -> Path:
    """``root/parts...`` resolved, or ToolError when it would leave ``root`` (links included)."""
    base = root.resolve()
    path = base.joinpath(*parts).resolve()
    if path != base and base not in path.parents:
        raise ToolError(f"{'/'.join(parts)!r} is outside {root}")
    return path


LOCK_NAME = ".tinyagent.lock"
LOCK_TIMEOUT = 60.0  # a writer holds it for milliseconds; a minute means something is stuck
# mkstemp's names for atomic_write_bytes: ".NAME." + 8 random characters + ".tmp".
_TEMP_FILE = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")
_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once here: umask cannot be read without setting it, in every thread


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold the lock of ``folder`` (created if missing) across a read, a change and a write.

    Threads of this process and other processes alike wait their turn (flock on a hidden
    ``.tinyagent.lock`` there); a temp file a killed writer left behind is removed first,
    as nobody else can be writing one while the lock is held.
    """
    from filelock import FileLock, Timeout

    lock = FileLock(folder / LOCK_NAME, timeout=LOCK_TIMEOUT, is_singleton=False, thread_local=False)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except Timeout:
        raise ToolError(f"{folder} is locked by another tinyagent for over {LOCK_TIMEOUT:g} s; try again") from None
    except OSError as exc:
        raise ToolError(f"cannot lock {folder}: {exc.strerror or exc}") from None
    try:
        for leftover in folder.glob(".*.tmp"):
            if _TEMP_FILE.match(leftover.name):
                leftover.unlink(missing_ok=True)
        yield
    finally:
        lock.release()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` all at once: a reader sees the old file or the new, never half.

    A replaced file keeps its permissions (and owner, where allowed); a new one gets the
    usual ones (0666 less the umask), not mkstemp's 0600.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            old = path.stat()
        except FileNotFoundError:
            os.chmod(tmp, 0o666 & ~_UMASK)
        else:
            os.chmod(tmp, stat.S_IMODE(old.st_mode))
            try:
                os.chown(tmp, old.st_uid, old.st_gid)
            except (PermissionError, AttributeError):  # another's file: it becomes ours, as any editor does
                pass
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def unique_path(path: Path) -> Path:
    """``path``, or ``stem (2).ext``, ``stem (3).ext``... when it exists already."""
    if not path.exists():
        return path
    n = 2
    while True:
        candidate = path.with_name(f"{path.stem} ({n}){path.suffix}")
        if not candidate.exists():
            return candidate
        n += 1
