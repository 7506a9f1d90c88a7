"""`tinyagent prompt QUERY`: the exact text a planner would receive, without loading the planner.

Retrieval, the examples, the prompt style and the chat template are those `run` would use now,
so anyone can check a model's format by eye. The text goes to stdout byte for byte; what a
person should know about it (a template that is a stand-in, a server that wraps the text in
its own) goes to stderr.
"""

from __future__ import annotations

import sys

from ..agent import Agent
from ..errors import ConfigError
from ..settings import Settings
from ..tools.spec import Catalog


def prompt_command(settings: Settings, catalog: Catalog, query: str) -> None:
    if query == "-":
        query = sys.stdin.read()
    if not query.strip():
        raise ConfigError("nothing to show: give a request, or - for stdin")
    agent = Agent(settings, catalog)
    spec = agent.model_spec
    notes = [agent.template.note] if agent.template.note else []
    if spec.backend == "openai_compatible" and agent.style.chat:
        notes.append(f"{spec.name} is served by {spec.source.ref}: the server wraps this text in its own chat template")
    request = agent.prepare(query.strip())
    refusal = request.unavailable(catalog)
    if refusal is not None:
        raise refusal
    for note in notes:
        sys.stderr.write(f"tinyagent: {note}\n")
    sys.stdout.write(request.prompt.text)
    sys.stdout.flush()
