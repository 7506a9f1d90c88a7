"""tinyagent's own plugin: the shipped toolpack, the model backends and the ``plugins``
command, registered through the same hooks as any installed plugin (always first).

Importing it stays cheap (it is imported for ``tinyagent --help``): each hook imports what it needs.
"""

from __future__ import annotations

from typing import Any, Callable

from .hookspecs import hookimpl


@hookimpl
def register_toolpacks(register: Callable[[Any], None]) -> None:
    from ..tools.spec import shipped_pack_dirs

    for pack_dir in shipped_pack_dirs():
        register(pack_dir)


@hookimpl
def register_model_backends(register: Callable[..., None]) -> None:
    from ..llm import backends

    register("llama_cpp", backends.open_llama_cpp, validate=backends.check_llama_cpp)
    register("openai_compatible", backends.open_openai_compatible, validate=backends.check_openai_compatible)
    # Speech: the voice commands load faster-whisper themselves (voice.py); no open() here.
    register("faster_whisper", None, kind="speech", validate=backends.check_faster_whisper)


@hookimpl
def register_planner_styles(register: Callable[[Any], None]) -> None:
    from ..planners import fewshot, tinyagent, trained

    for module in (fewshot, trained, tinyagent):
        for style in module.STYLES:
            register(style)


@hookimpl
def register_commands(cli: Any) -> None:
    import typer

    @cli.command("plugins")
    def plugins_(
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of the table."),
    ) -> None:
        """List the plugins: each one's distribution, version and hooks."""
        from ..commands.plugins_cmd import list_command

        list_command(as_json)
