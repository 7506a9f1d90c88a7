"""The run history: every run appended to a SQLite log in the data folder.

The log is a convenience, never a reason to fail: when it is locked by another process or
cannot be written, the run goes on unlogged with one warning on stderr. A file that is not
a SQLite database (or is damaged) is moved aside, never deleted, and a new log started.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    from .settings import Settings
    from .loop import Outcome

HISTORY_FILENAME = "history.sqlite3"
CONFIRMATIONS = ("auto", "yes", "no", "dry-run", "refused")
BUSY_TIMEOUT = 1.0  # seconds to wait for another writer before giving up on logging this run
SCHEMA_VERSION = 2

# Each brings a log from the version before it (index 0: a new file) to the next.
_MIGRATIONS = (
    """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    query TEXT NOT NULL,
    transcript TEXT,
    model TEXT NOT NULL,
    backend TEXT NOT NULL,
    plan TEXT NOT NULL,
    confirmation TEXT NOT NULL,
    results TEXT NOT NULL,
    answer TEXT NOT NULL,
    timings TEXT NOT NULL,
    exit_code INTEGER NOT NULL
)
""",
    "ALTER TABLE runs ADD COLUMN edited INTEGER NOT NULL DEFAULT 0",  # 2: the person edited the plan
)
_COLUMNS = (
    "id", "started_at", "query", "transcript", "model", "backend", "plan",
    "confirmation", "results", "answer", "timings", "exit_code", "edited",
)  # fmt: skip
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26  # SQLite's primary result codes (sqlite3 names them from 3.11)


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class RunRecord:
    """One run as logged.

    ``results`` holds one JSON object per task (``TaskResult.to_json()`` plus ``"tool"``);
    ``timings`` maps a phase ("plan_s", "first_task_s", "total_s", ...) to seconds.
    """

    query: str
    model: str
    backend: str
    plan: str
    confirmation: str
    exit_code: int
    answer: str = ""
    results: tuple[Mapping[str, Any], ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)
    transcript: str | None = None
    edited: bool = False  # ``plan`` is the person's edit of the model's plan
    started_at: str = field(default_factory=utc_now)
    id: int | None = None

    def __post_init__(self) -> None:
        if self.confirmation not in CONFIRMATIONS:
            raise ValueError(f"confirmation must be one of {CONFIRMATIONS}, not {self.confirmation!r}")

    @property
    def tools(self) -> list[str]:
        """The tools the plan called, in plan order (join excluded)."""
        from .plan.parser import plan_calls

        return plan_calls(self.plan)

    @property
    def total_seconds(self) -> float | None:
        """The run's wall time: ``total_s`` when logged, else the longest phase (they overlap)."""
        if "total_s" in self.timings:
            return float(self.timings["total_s"])
        return float(max(self.timings.values())) if self.timings else None

    @classmethod
    def from_outcome(cls, outcome: Outcome, *, transcript: str | None = None) -> RunRecord:
        """The record of one finished turn; ``outcome.confirmation`` must be one of CONFIRMATIONS."""
        tools = outcome.plan.tools_by_id() if outcome.plan else {}
        results = tuple({"tool": tools.get(r.id, ""), **r.to_json()} for r in outcome.results.values())
        return cls(
            query=outcome.query or "",
            transcript=transcript,
            model=outcome.model or "",
            backend=outcome.backend or "",
            plan=outcome.plan.to_text() if outcome.plan else "",
            confirmation=outcome.confirmation,
            results=results,
            answer=outcome.answer.text if outcome.answer else (outcome.error or ""),
            timings={k: round(v, 3) for k, v in outcome.timings.items()},
            exit_code=outcome.exit_code,
            edited=outcome.edited,
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["results"] = [dict(r) for r in self.results]
        data["timings"] = dict(self.timings)
        return data


def _row_to_record(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        id=row["id"],
        started_at=row["started_at"],
        query=row["query"],
        transcript=row["transcript"],
        model=row["model"],
        backend=row["backend"],
        plan=row["plan"],
        confirmation=row["confirmation"],
        results=tuple(json.loads(row["results"])),
        answer=row["answer"],
        timings=json.loads(row["timings"]),
        exit_code=row["exit_code"],
        edited=bool(row["edited"]),
    )


def _is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    """Not a database, or a damaged one (as opposed to locked, busy or read-only)."""
    code = getattr(exc, "sqlite_errorcode", None)  # Python >= 3.11
    if code is not None:
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    # Before 3.11: SQLite's CORRUPT and NOTADB are raised as the base class, BUSY/LOCKED as
    # OperationalError.
    return type(exc) is sqlite3.DatabaseError


class HistoryLog:
    """Append runs to, and read them from, one SQLite file.

    ``enabled=False`` (config ``log_history: false`` or ``--no-log``) makes ``record`` a no-op
    that touches no file; reading still shows what earlier runs logged.
    """

    def __init__(self, path: Path, *, enabled: bool = True) -> None:
        self.path = Path(path)
        self.enabled = enabled
        self._warned = False

    @classmethod
    def for_settings(cls, settings: Settings, *, enabled: bool = True) -> HistoryLog:
        return cls(settings.paths.data_dir / HISTORY_FILENAME, enabled=enabled and settings.config.log_history)

    # ------------------------------------------------------------------ connection

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT)) as conn:
            conn.row_factory = sqlite3.Row
            # WAL: readers (``tinyagent history``) never block a run that is logging, and the
            # other way round. Setting it needs a moment of write access; it persists in the file.
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                self._check_ours(conn, _COLUMNS[:-1])  # before ALTERing another program's table
                with conn:
                    # IMMEDIATE: of two processes opening an old log, one migrates, the other waits and sees it done.
                    conn.execute("BEGIN IMMEDIATE")
                    for migration in _MIGRATIONS[conn.execute("PRAGMA user_version").fetchone()[0]:]:
                        conn.execute(migration)
                    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self._check_ours(conn, _COLUMNS)
            yield conn

    def _check_ours(self, conn: sqlite3.Connection, columns: tuple[str, ...]) -> None:
        """ConfigError when a ``runs`` table is there without our columns: not our log."""
        found = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
        if found and not set(columns) <= found:
            raise ConfigError(f"{self.path} holds a 'runs' table that is not tinyagent's history "
                              "(move the file aside; the next run starts a new log)")

    def _move_aside(self) -> Path:
        """Rename the damaged log (and its WAL files) out of the way; return the new name."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while target.exists():
            n += 1
            target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
        self.path.rename(target)
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                side.rename(target.with_name(target.name + suffix))
        return target

    def _warn(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            print(f"warning: {message}", file=sys.stderr)

    # ------------------------------------------------------------------ writing

    def _insert(self, entry: RunRecord) -> int:
        with self._connect() as conn, conn:
            cursor = conn.execute(
                f"INSERT INTO runs ({', '.join(_COLUMNS[1:])}) VALUES ({', '.join('?' * (len(_COLUMNS) - 1))})",
                (
                    entry.started_at,
                    entry.query,
                    entry.transcript,
                    entry.model,
                    entry.backend,
                    entry.plan,
                    entry.confirmation,
                    json.dumps([dict(r) for r in entry.results], ensure_ascii=False, default=str),
                    entry.answer,
                    json.dumps(dict(entry.timings)),
                    entry.exit_code,
                    int(entry.edited),
                ),
            )
            return int(cursor.lastrowid or 0)

    def record(self, entry: RunRecord) -> int | None:
        """Append a run; its id, or None when logging is off or the log is unavailable."""
        if not self.enabled:
            return None
        try:
            try:
                return self._insert(entry)
            except sqlite3.DatabaseError as exc:
                if not _is_corrupt(exc):
                    raise
                moved = self._move_aside()
                print(
                    f"warning: history log {self.path} was damaged ({exc}); moved it to {moved.name} "
                    "and started a new one",
                    file=sys.stderr,
                )
                return self._insert(entry)
        except (sqlite3.DatabaseError, OSError, ConfigError) as exc:
            self._warn(f"history log unavailable: {exc}; this run is not logged")
            return None

    # ------------------------------------------------------------------ reading

    def _read(self, sql: str, params: tuple[Any, ...]) -> list[sqlite3.Row]:
        if not self.path.exists():
            return []
        try:
            with self._connect() as conn:
                return conn.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            hint = " (move the file aside; the next run starts a new log)" if _is_corrupt(exc) else ""
            raise ConfigError(f"history log {self.path} cannot be read: {exc}{hint}") from None

    def list(self, limit: int = 20) -> list[RunRecord]:
        """The latest ``limit`` runs, newest first."""
        rows = self._read("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (max(0, limit),))
        return [_row_to_record(row) for row in rows]

    def get(self, run_id: int) -> RunRecord:
        rows = self._read("SELECT * FROM runs WHERE id = ?", (run_id,))
        if not rows:
            raise ConfigError(f"no run {run_id} in the history log (tinyagent history lists them)")
        return _row_to_record(rows[0])
