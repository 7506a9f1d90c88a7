"""Plugins: toolpacks, model backends and commands from other distributions.

A plugin is named in the ``tinyagent`` entry-point group of its distribution's metadata::

    [project.entry-points.tinyagent]
    hello = "tinyagent_hello"

and implements some of the hooks of ``hookspecs.py``, marked with ``hookimpl`` from here.
tinyagent's own pack, backends and ``plugins`` command are a plugin too (``default.py``),
registered first, through the same hooks.

Nothing is read at import. The entry points are read, and the plugin modules imported, the
first time a hook is wanted: the CLI asks for commands before it parses its arguments (so
``tinyagent --help`` shows them), the catalog for toolpacks, models.yaml for backends.
``TINYAGENT_PLUGINS`` narrows which installed plugins load: unset, all of them; a comma
list of plugin or distribution names, those; empty, none (the built-in one always loads).

A plugin that fails to import, or raises in a hook, is set aside with one line on stderr
and everything else goes on; a failure of the built-in one is a bug and is raised.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from .hookspecs import hookimpl, hookspec

if TYPE_CHECKING:
    import pluggy
    import typer

__all__ = ["GROUP", "ENV", "Plugin", "hookimpl", "hookspec", "plugins", "registrations", "register_commands", "reset",
           "set_aside"]

GROUP = "tinyagent"  # the entry-point group
ENV = "TINYAGENT_PLUGINS"
BUILTIN = ("tinyagent", "tinyagent_cli.plugins.default")  # name, module

T = TypeVar("T")


@dataclass
class Plugin:
    name: str  # the entry point's name
    dist: str  # the distribution it came from
    version: str
    builtin: bool = False
    hooks: tuple[str, ...] = ()  # the hooks it implements
    error: str = ""  # why it was set aside: it failed to import, or raised in a hook


_manager: pluggy.PluginManager | None = None
_plugins: dict[str, Plugin] = {}
_memo: dict[str, Any] = {}
_ADDED = "_tinyagent_plugin_commands"  # marks an app the plugins' commands were added to


def reset() -> None:
    """Forget every loaded plugin and what their hooks gave (tests; a changed ``TINYAGENT_PLUGINS``)."""
    global _manager
    _manager = None
    _plugins.clear()
    _memo.clear()


def _manager_now() -> pluggy.PluginManager:
    global _manager
    if _manager is None:
        import importlib

        import pluggy

        from . import hookspecs

        manager = pluggy.PluginManager(GROUP)
        manager.add_hookspecs(hookspecs)
        from .. import __version__

        name, module = BUILTIN
        manager.register(importlib.import_module(module), name=name)
        _plugins[name] = Plugin(name, "tinyagent-cli", __version__, builtin=True, hooks=_hooks_of(manager, name))
        _manager = manager  # set before the others load: a plugin may import this module's helpers
        _load_installed(manager)
    return _manager


def _wanted() -> set[str] | None:
    value = os.environ.get(ENV)
    if value is None:
        return None
    return {_normal(part) for part in value.split(",") if part.strip()}


def _normal(name: str) -> str:
    """A distribution's name as pip compares them (PEP 503)."""
    import re

    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def _load_installed(manager: pluggy.PluginManager) -> None:
    from importlib.metadata import entry_points

    wanted = _wanted()
    if wanted is not None and not wanted:
        return
    found = sorted(entry_points(group=GROUP), key=lambda ep: ep.name)
    seen: set[tuple[str, str]] = set()
    for ep in found:
        dist = getattr(ep, "dist", None)
        dist_name = (getattr(dist, "name", None) or "?") if dist is not None else "?"
        if (ep.name, dist_name) in seen:  # one distribution seen twice on sys.path
            continue
        seen.add((ep.name, dist_name))
        if wanted is not None and not wanted & {_normal(ep.name), _normal(dist_name)}:
            continue
        plugin = Plugin(ep.name, dist_name, (getattr(dist, "version", None) or "") if dist is not None else "")
        if ep.name in _plugins:
            other = _plugins[ep.name]
            _fail(plugin, f"the name is taken by the plugin from {other.dist}")
            continue
        _plugins[ep.name] = plugin
        try:
            manager.register(ep.load(), name=ep.name)
        except Exception as exc:  # a plugin's bug must not stop tinyagent
            _fail(plugin, _why(exc))
            continue
        plugin.hooks = _hooks_of(manager, ep.name)
        unknown = [hook for hook in plugin.hooks if hook not in _hook_names()]
        if unknown:
            _fail(plugin, f"unknown hook {unknown[0]!r} (known: {', '.join(_hook_names())})")


def _hook_names() -> tuple[str, ...]:
    from . import hookspecs

    return tuple(name for name in vars(hookspecs) if name.startswith("register_"))


def _hooks_of(manager: pluggy.PluginManager, name: str) -> tuple[str, ...]:
    callers = manager.get_hookcallers(manager.get_plugin(name)) or []
    return tuple(sorted(caller.name for caller in callers))


def _why(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _fail(plugin: Plugin, why: str) -> None:
    """Set a plugin aside, saying so in one line (once)."""
    if plugin.error:
        return
    plugin.error = why
    sys.stderr.write(f"warning: plugin {plugin.name!r} (from {plugin.dist}) failed to load: {why}\n")
    if _manager is not None and _plugins.get(plugin.name) is plugin and _manager.get_plugin(plugin.name) is not None:
        _manager.unregister(name=plugin.name)


def set_aside(plugin: Plugin, why: str) -> None:
    """Set a plugin aside for something it gave that does not work (a pack that does not load)."""
    _fail(plugin, why)


def plugins() -> list[Plugin]:
    """Every plugin found, the built-in one first; those set aside have ``error``."""
    _manager_now()
    return list(_plugins.values())


def _impls(hook: str) -> Iterator[tuple[Plugin, Any]]:
    """The plugins implementing ``hook``, in the order they registered (the built-in one first)."""
    for impl in getattr(_manager_now().hook, hook).get_hookimpls():
        plugin = _plugins.get(impl.plugin_name)
        if plugin is not None and not plugin.error:
            yield plugin, impl


def _call(plugin: Plugin, hook: str, impl: Any, **kwargs: Any) -> bool:
    """Run one plugin's hook; False (and the plugin set aside) if it raised."""
    args = {name: kwargs[name] for name in impl.argnames}
    if plugin.builtin:
        impl.function(**args)
        return True
    try:
        impl.function(**args)
    except Exception as exc:
        _fail(plugin, f"{hook}: {_why(exc)}")
        return False
    return True


def registrations(hook: str, make: Callable[..., T], key: Callable[[T], str] | None = None) -> list[tuple[Plugin, T]]:
    """Call ``hook(register)`` of every plugin; ``register(*args)`` gives ``make(*args)``.

    What a plugin registered counts only if its hook returns: one that raises (``make``
    refusing its arguments included) is set aside whole. ``key`` names what may be
    registered once only (a backend's name)."""
    done: list[tuple[Plugin, T]] = []
    owners: dict[str, str] = {}
    for plugin, impl in _impls(hook):
        staged: list[T] = []

        def register(*args: Any, _staged: list[T] = staged, _plugin: Plugin = plugin, **kwargs: Any) -> None:
            item = make(*args, **kwargs)
            if key is not None:
                name = key(item)
                owner = owners.get(name) or (_plugin.name if any(key(s) == name for s in _staged) else None)
                if owner is not None:
                    raise ValueError(f"{name!r} is already registered by the plugin {owner!r}")
            _staged.append(item)

        if _call(plugin, hook, impl, register=register):
            for item in staged:
                if key is not None:
                    owners[key(item)] = plugin.name
                done.append((plugin, item))
    return done


def memo(name: str, build: Callable[[], T]) -> T:
    """``build()``, once per process (until ``reset``): a table the hooks fill."""
    if name not in _memo:
        _memo[name] = build()
    return _memo[name]


def register_commands(cli: typer.Typer) -> None:
    """Let every plugin add its commands to ``cli``, once per app (commands cannot be taken
    back, so not again after ``reset`` either). A plugin whose hook raises, or that would
    take a name already taken, loses what it added."""
    if getattr(cli, _ADDED, False):
        return
    setattr(cli, _ADDED, True)
    for plugin, impl in _impls("register_commands"):
        taken = _command_names(cli.registered_commands, cli.registered_groups)
        commands, groups = len(cli.registered_commands), len(cli.registered_groups)
        ok = _call(plugin, "register_commands", impl, cli=cli)
        added = _command_names(cli.registered_commands[commands:], cli.registered_groups[groups:])
        clash = next((name for name in added if name in taken or added.count(name) > 1), None)
        if ok and clash is not None:
            if plugin.builtin:
                raise RuntimeError(f"the built-in plugin adds the command {clash!r} twice")
            _fail(plugin, f"register_commands: the command {clash!r} is already taken")
        if not ok or clash is not None:
            del cli.registered_commands[commands:]
            del cli.registered_groups[groups:]


def _command_names(commands: list[Any], groups: list[Any]) -> list[str]:
    from typer.main import get_command_name

    names = [info.name or get_command_name(info.callback.__name__) for info in commands if info.callback or info.name]
    for info in groups:
        name = info.name or getattr(getattr(info.typer_instance, "info", None), "name", None)
        if isinstance(name, str):
            names.append(name)
    return names
