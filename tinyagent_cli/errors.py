"""The errors tinyagent raises on purpose, and the exit code each one maps to.

Every error a person can cause or fix is one of these. The CLI turns them into a
one-line message and ``exit_code`` in one place (``cli.main``); anything else is a bug.
"""

from __future__ import annotations

# Exit codes, documented in README.md ("Exit codes").
EXIT_OK = 0
EXIT_TASK_FAILED = 1
EXIT_USAGE = 2
EXIT_NO_PLAN = 3
EXIT_DECLINED = 4
EXIT_INTERRUPTED = 130


class TinyAgentError(Exception):
    """Base class: a message a person can act on, and the exit code it means."""

    exit_code: int = EXIT_USAGE


class ConfigError(TinyAgentError):
    """A config file, toolpack, model registry or option is wrong or missing."""


class PackError(ConfigError):
    """A toolpack does not validate; the message names the file and the key."""


class ModelError(ConfigError):
    """A model is unknown, not installed, corrupt, or cannot be loaded."""


class DatasetError(ConfigError):
    """A dataset line is malformed; the message names the line."""


class PlanError(TinyAgentError):
    """A plan that cannot be parsed or does not fit the tools' signatures."""

    exit_code = EXIT_NO_PLAN

    def __init__(self, reason: str, line: int | None = None) -> None:
        self.reason = reason
        self.line = line
        super().__init__(f"line {line}: {reason}" if line is not None else reason)


class ToolError(TinyAgentError):
    """A tool ran and failed; the message says why and, where it can, what to do."""

    exit_code = EXIT_TASK_FAILED


class OutcomeUnknown(ToolError):
    """A tool's program was stopped (its timeout, or cancelled) before it answered: what it
    was asked to do may have happened. The executor never retries or replans such a task."""


class ToolUnavailable(ToolError):
    """A tool cannot run here: missing credentials, backend, permission or program."""


class Declined(TinyAgentError):
    """The person said no, or there was no terminal to ask and no --yes."""

    exit_code = EXIT_DECLINED


class VoiceError(TinyAgentError):
    """No microphone, an unreadable audio file, or a failed transcription."""
