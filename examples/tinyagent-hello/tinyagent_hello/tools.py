"""The hello pack's implementation (pack.yaml: ``implementations``): ``fn(ctx, *args) -> str``."""

from __future__ import annotations


def greeting(name: str) -> str:
    return f"Hello, {name.strip() or 'world'}!"


def say_hello(ctx, name):
    return greeting(name)
