"""Implementations of the test pack (loaded from this file by the catalog)."""

import time

from tinyagent_cli.errors import ToolError


def echo(ctx, text):
    return text


def sleep(ctx, seconds, label):
    time.sleep(seconds)
    return label


def fail(ctx, reason):
    raise ToolError(reason)


def hang(ctx, pid_file):
    ctx.run(["sh", "-c", 'echo $$ > "$1"; exec sleep 600', "sh", pid_file])
    return "finished?"


def write(ctx, path, text):
    with open(path, "a", encoding="utf-8") as f:
        f.write(text + "\n")
    return path


def join_list(ctx, items):
    return "+".join(items)


def slow_write(ctx, path, text, seconds):
    open(path + ".started", "w").close()
    time.sleep(seconds)
    with open(path, "a", encoding="utf-8") as f:
        f.write(text + "\n")
    return path
