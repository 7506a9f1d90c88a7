"""Message bodies a planner leaves to a writer, written from the request before the plan is shown.

TinyAgent's planners leave an email's ``context`` "" (or hand on a result, "$N") for a second
model that wrote the body from the request; run as they are, they would open empty drafts.
Here an empty body becomes the part of the request that is the message ("text Omar *that I
am late*", "email Ana saying *the meeting moved*"), or the whole request when no part stands
out: no draft goes out empty, and the tree shows the text before anything is confirmed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from ..plan.tasks import Task
from ..tools.spec import ToolSpec

# What introduces the message in a request: a quotation, a colon, or a word such as "saying".
_QUOTED = re.compile(r"[\"“]([^\"”]{2,})[\"”]|(?<!\w)'([^']{2,})'(?!\w)")
_COLON = re.compile(r":\s+(?=\S)")
_CUE = re.compile(
    r"\b(?:saying|to say|that says|which says|with the message|telling \w+|let(?:ting)? \w+ know)"
    r"(?:\s+that)?\s+(?=\S)|\bthat\s+(?=\S)|(?=\babout\s+\S)",  # "about ..." is the message, "about" and all
    re.IGNORECASE,
)
# Where the message ends: another request begins ("... and remind me to ...") or a sentence does.
_NEXT_REQUEST = re.compile(
    r"(?:\s*[.;!?]\s+(?:(?:and|then|also|plus)\s+)*|\s*,?\s+(?:and|then|also|plus)\s+(?:(?:also|then)\s+)?)"
    r"(?:please\s+)?"
    r"(?=(?:remind|set|create|add|schedule|book|put|make|text|email|mail|send|forward|reply|open|show|find|get"
    r"|summari[sz]e|append|note|call|invite|share)\b)",
    re.IGNORECASE,
)


def message_of(request: str) -> str:
    """The part of ``request`` that is the message to send, else the request itself."""
    request = " ".join(request.split())
    quoted = _QUOTED.search(request)
    if quoted:
        return quoted.group(1) or quoted.group(2)
    starts = [m.end() for m in (_COLON.search(request), _CUE.search(request)) if m]
    text = request[min(starts):] if starts else request
    end = _NEXT_REQUEST.search(text)
    text = (text[: end.start()] if end else text).strip().rstrip(",;")
    return text[:1].upper() + text[1:] if text else request


def write_body(task: Task, tool: ToolSpec, request: str, bodies: Mapping[str, str]) -> Task:
    """``task`` with its empty message body (``bodies``: tool -> parameter) written from the request."""
    name = bodies.get(task.tool)
    index = next((i for i, p in enumerate(tool.params) if p.name == name), None)
    if index is None or index >= len(task.args) or task.args[index] != "":
        return task
    return replace(task, args=(*task.args[:index], message_of(request), *task.args[index + 1:]))
