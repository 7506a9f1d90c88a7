"""What a tool implementation receives: settings, its pack folder, and a killable runner.

Tools run in worker threads (so a blocking tool never serialises the others); a thread
cannot be killed, so anything slow a tool does outside Python goes through
``ToolContext.run``, which the executor can cancel: the child's whole process group is
killed at the task's timeout or on Ctrl-C.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from uuid import uuid4

from ..errors import OutcomeUnknown, ToolError, ToolUnavailable
from ..settings import Settings

_POLL_SECONDS = 0.05
KEY_HEADER = "X-TinyAgent-Task"  # a draft's header holding ToolContext.key: a retried call finds it
_SHOW = re.compile(r"\b(open|opens|opening|show|view|display|pull up|bring up|launch|look at|see)\b", re.IGNORECASE)


@dataclass(frozen=True)
class ToolContext:
    settings: Settings
    pack_dir: Path
    now: datetime = field(default_factory=lambda: datetime.now().astimezone())
    cancel: threading.Event = field(default_factory=threading.Event)
    # Names this call across retries (the run's id and the task's): a tool that creates an
    # item writes it into the item (an event's UID, a draft's header) and, finding it there
    # already, does not create a second one.
    key: str = field(default_factory=lambda: uuid4().hex)
    # What a read-only tool shows the person (a file it opens) waits for the plan's
    # confirmation: read-only tasks run while the plan is still being shown, and a refused
    # plan must have shown nothing. Called without a plan to confirm, it runs at once.
    after_confirmation: Callable[[Callable[[], None]], None] = field(default=lambda action: action())
    request: str = ""  # the person's words, for what a tool must pick that no argument says

    def asks_to_show(self) -> bool:
        """Whether the request asks to see what a lookup finds ("open the Q3 deck"), not only
        to use it ("email Sarah the Q3 deck"); a plan run without its request (``exec`` of a
        bare plan file) does what the tool's name says."""
        return not self.request.strip() or _SHOW.search(self.request) is not None

    def run(
        self, argv: Sequence[str], *, input: str | None = None, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a program with data only in argv/stdin; killed if the task is cancelled.

        Returns the completed process whatever its exit status; the caller reads it.
        """
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                errors="replace",
                start_new_session=True,  # its own process group, so a kill takes its children too
            )
        except FileNotFoundError:
            raise ToolUnavailable(f"{argv[0]} is not installed or not on PATH") from None
        except OSError as exc:
            raise ToolError(f"cannot start {argv[0]}: {exc.strerror or exc}") from None

        result: dict[str, tuple[str, str]] = {}
        reader = threading.Thread(target=lambda: result.setdefault("out", proc.communicate(input)), daemon=True)
        reader.start()
        waited = 0.0
        while reader.is_alive():
            reader.join(_POLL_SECONDS)
            waited += _POLL_SECONDS
            if self.cancel.is_set() or (timeout is not None and waited >= timeout):
                _kill_group(proc)
                reader.join(1.0)
                if self.cancel.is_set():
                    raise OutcomeUnknown(f"{Path(argv[0]).name} was stopped (timeout or cancel)")
                raise OutcomeUnknown(f"{Path(argv[0]).name} did not answer within {timeout:g} s")
        stdout, stderr = result["out"]
        return subprocess.CompletedProcess(list(argv), proc.returncode, stdout, stderr)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except ProcessLookupError:
        pass
