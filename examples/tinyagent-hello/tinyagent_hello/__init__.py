"""An example tinyagent plugin: the module named in ``[project.entry-points.tinyagent]``.

tinyagent imports it for every command (to find its commands), so it imports nothing
heavy at the top: each hook imports what it needs.
"""

from __future__ import annotations

from pathlib import Path

from tinyagent_cli.plugins import hookimpl

PACK = Path(__file__).resolve().parent / "pack"


@hookimpl
def register_toolpacks(register):
    """A folder with a pack.yaml: tools, their implementation, examples for retrieval."""
    register(PACK)


@hookimpl
def register_model_backends(register):
    """``backend: echo`` in models.yaml."""
    from .echo import open_echo

    register("echo", open_echo)


@hookimpl
def register_commands(cli):
    import typer

    @cli.command()
    def hello(name: str = typer.Argument("world", help="Who to greet.")) -> None:
        """Say hello (from the tinyagent-hello plugin)."""
        from .tools import greeting

        typer.echo(greeting(name))
