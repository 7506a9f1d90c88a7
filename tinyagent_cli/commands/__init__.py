"""Command implementations the Typer app in cli.py registers."""
