"""The hooks a tinyagent plugin may implement (pluggy, project name ``tinyagent``).

A plugin is a module (or any object) named in the ``tinyagent`` entry-point group of its
distribution; each function of it marked ``@hookimpl`` and named like a hook below is
called with the hook's argument. Every hook may be left out. tinyagent's own pack, model
backends and ``plugins`` command come through the same hooks (``plugins/default.py``).
"""

from __future__ import annotations

from pluggy import HookimplMarker, HookspecMarker

hookspec = HookspecMarker("tinyagent")
hookimpl = HookimplMarker("tinyagent")


@hookspec
def register_toolpacks(register):  # type: ignore[no-untyped-def]
    """Give toolpacks: ``register(path)`` for each folder holding a ``pack.yaml``.

    They load after the shipped packs and the person's own (config dir's ``toolpacks/``)."""


@hookspec
def register_model_backends(register):  # type: ignore[no-untyped-def]
    """Give model backends: ``register(name, open, *, kind="planner", validate=None)``.

    A models.yaml entry with ``backend: NAME`` is then listed and opened:
    ``open(spec, settings, *, verbose, console)`` returns a ``LanguageModel``
    (``llm/base.py``); ``validate(spec)`` may refuse an entry at load time by raising
    ``llm.backends.BackendFieldError(key, message)``. A ``kind="speech"`` backend needs no
    ``open``: the voice commands load it themselves."""


@hookspec
def register_commands(cli):  # type: ignore[no-untyped-def]
    """Add commands to the ``tinyagent`` Typer app: ``@cli.command()`` or ``cli.add_typer``."""


@hookspec
def register_planner_styles(register):  # type: ignore[no-untyped-def]
    """Give planner styles: ``register(style)`` for each ``tinyagent_cli.planners.PlannerStyle``
    (its prompt, grammar policy, guards, ...); a models.yaml entry names one as ``prompt_style``."""
