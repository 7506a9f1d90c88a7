"""Toolpacks: declarative tool signatures, validated strictly, and the catalog in force.

A toolpack is a folder with ``pack.yaml`` (the tools), optionally solved queries for
retrieval (``examples.jsonl``, or the files its ``examples`` patterns name) and whatever
its implementations need (AppleScript files). The shipped pack lives in ``toolpacks/``; a person's own packs live in the
config dir's ``toolpacks/`` and may bring their own Python implementation file; plugins give theirs through the
``register_toolpacks`` hook (``plugins/``), the shipped one included.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from ..errors import PackError, ToolError
from ..settings import BACKENDS, Settings, read_yaml

PARAM_TYPES = ("str", "int", "bool", "list[str]", "date")
_PACK_KEYS = {"name", "description", "implementations", "tools", "examples"}
DEFAULT_EXAMPLES = ("examples.jsonl",)
_TOOL_KEYS = {"name", "description", "side_effects", "backends", "after", "params", "returns"}
_PARAM_KEYS = {"name", "type", "description", "verbatim", "kind", "said_by", "choices"}


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # one of PARAM_TYPES; "date" is a str resolved to ISO 8601 before running
    description: str = ""
    # The value is words of the request itself (a name, a title, a message), or a result
    # "$N": a grammar-constrained planner may only copy it, never make it up.
    verbatim: bool = False
    # What a "$N" here must be the result of ("email": a task that returns an email
    # address); "" takes any result. An email or phone argument may also hold an address
    # or number the request gave (plan/checks.py).
    kind: str = ""
    # Words of which the request must hold one for this argument to be other than its empty
    # value (0, False, ""): a constrained planner writes the empty value otherwise, so it
    # cannot make up a priority nobody asked for.
    said_by: tuple[str, ...] = ()
    # The values it may take, each with the other ways a planner spells it (transport: "w"
    # for "walking", "walk", "on foot"); a tool receives the value, never a spelling.
    choices: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def choice(self, value: Any) -> Any:
        """``value`` as one of ``choices`` (ToolError when it is none); other values as they are."""
        if not self.choices:
            return value
        said = " ".join(str(value).lower().split())
        for choice, spellings in self.choices:
            if said == choice or said in spellings:
                return choice
        listed = ", ".join(f"{choice} ({spellings[0]})" if spellings else choice for choice, spellings in self.choices)
        raise ToolError(f"{self.name} must be {listed}, not {value!r}")


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    params: tuple[Param, ...]
    side_effects: bool
    backends: tuple[str, ...]
    after: tuple[str, ...]  # tools that usually come first (hints for retrieval and the plan grammar)
    pack: str
    # The kind of value its result is ("email", "path"), matched against Param.kind; ""
    # for a confirmation, which no "$N" passes on.
    returns: str = ""

    @property
    def is_lookup(self) -> bool:
        """A tool that finds something the request names (a contact, a file, a note, a place):
        it changes nothing and returns a value."""
        return not self.side_effects and bool(self.returns)

    def signature(self) -> str:
        """The Python-style signature a planner reads: ``name(a: str, b: list[str]) -> str``."""
        args = ", ".join(f"{p.name}: {'str' if p.type == 'date' else p.type}" for p in self.params)
        return f"{self.name}({args}) -> str"


@dataclass(frozen=True)
class Toolpack:
    name: str
    description: str
    dir: Path
    implementations: Mapping[str, str]  # backend -> module name or a .py file in the pack
    tools: tuple[ToolSpec, ...]
    examples: tuple[str, ...] = DEFAULT_EXAMPLES  # glob patterns of JSONL files, relative to the pack

    def examples_paths(self) -> list[Path]:
        """The pack's example files that exist, each pattern's matches in name order."""
        return [path for pattern in self.examples for path in sorted(self.dir.glob(pattern)) if path.is_file()]


def shipped_packs_dir() -> Path:
    """The packs inside the installed package (also the repo's toolpacks/ when editable)."""
    here = Path(__file__).resolve().parent.parent
    inside = here / "toolpacks"
    return inside if inside.is_dir() else here.parent / "toolpacks"


def shipped_pack_dirs() -> list[Path]:
    """The shipped packs' folders (the built-in plugin registers them)."""
    return _pack_dirs(shipped_packs_dir())


def _registered_pack(path: Any) -> Path:
    """A plugin's ``register(path)`` of the ``register_toolpacks`` hook, checked."""
    pack_dir = Path(path)
    if not (pack_dir / "pack.yaml").is_file():
        raise ValueError(f"{pack_dir} has no pack.yaml")
    return pack_dir


def _choices(file: Path, where: str, value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``{value: [spelling, ...]}``, spellings lower-cased; every value and spelling once only."""
    _expect(file, where, value, dict, "a mapping of each value to its other spellings")
    seen: set[str] = set()
    found = []
    for choice, spellings in value.items():
        spelled = tuple(" ".join(s.lower().split()) for s in _str_list(file, f"{where}.{choice}", spellings or []))
        for word in (str(choice), *spelled):
            if word in seen:
                raise PackError(f"{file}: {where}: {word!r} is given twice")
            seen.add(word)
        found.append((str(choice), spelled))
    return tuple(found)


def _expect(file: Path, where: str, value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise PackError(f"{file}: {where}: expected {what}, got {value!r}")
    return value


def _keys(file: Path, where: str, data: Any, allowed: set[str], required: set[str]) -> dict:
    _expect(file, where, data, dict, "a mapping")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise PackError(f"{file}: {where}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
    missing = sorted(required - set(data))
    if missing:
        raise PackError(f"{file}: {where}: missing key {missing[0]!r}")
    return data


def _str_list(file: Path, where: str, value: Any) -> tuple[str, ...]:
    _expect(file, where, value, list, "a list of strings")
    for item in value:
        _expect(file, where, item, str, "a list of strings")
    return tuple(value)


def _kind(file: Path, where: str, value: Any) -> str:
    """A kind of value ("email", "phone_number"): a lower-case identifier a pack may coin."""
    _expect(file, where, value, str, "a kind of value such as email")
    if value and not re.fullmatch(r"[a-z][a-z0-9_]*", value):
        raise PackError(f"{file}: {where}: {value!r} is not a kind (lower-case letters, digits and _)")
    return value


def _is_identifier(name: str) -> bool:
    return name.isidentifier() and name != "join"


def load_pack(pack_dir: Path) -> Toolpack:
    """Load and validate one pack; every defect is a PackError naming the file and key."""
    file = pack_dir / "pack.yaml"
    data = read_yaml(file, PackError)

    _keys(file, "pack", data, _PACK_KEYS, {"name", "tools"})
    name = _expect(file, "name", data["name"], str, "a string")
    description = _expect(file, "description", data.get("description", ""), str, "a string")
    impls = _expect(file, "implementations", data.get("implementations", {}), dict, "a mapping")
    examples = _str_list(file, "examples", data.get("examples", list(DEFAULT_EXAMPLES)))
    for pattern in examples:
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            raise PackError(f"{file}: examples: {pattern!r} must be a pattern inside the pack's folder")
    for backend, target in impls.items():
        if backend not in BACKENDS:
            raise PackError(f"{file}: implementations: unknown backend {backend!r} (known: {', '.join(BACKENDS)})")
        _expect(file, f"implementations.{backend}", target, str, "a module name or .py file")

    tools: list[ToolSpec] = []
    seen: set[str] = set()
    for i, raw in enumerate(_expect(file, "tools", data["tools"], list, "a list")):
        where = f"tools[{i}]"
        _keys(file, where, raw, _TOOL_KEYS, {"name", "description", "params", "side_effects"})
        tool_name = _expect(file, f"{where}.name", raw["name"], str, "a string")
        where = f"tools[{i}] ({tool_name})"
        if not _is_identifier(tool_name):
            raise PackError(f"{file}: {where}.name: {tool_name!r} is not a valid tool name")
        if tool_name in seen:
            raise PackError(f"{file}: {where}.name: duplicate tool name {tool_name!r}")
        seen.add(tool_name)
        params: list[Param] = []
        for j, p in enumerate(_expect(file, f"{where}.params", raw["params"], list, "a list")):
            pwhere = f"{where}.params[{j}]"
            _keys(file, pwhere, p, _PARAM_KEYS, {"name", "type"})
            pname = _expect(file, f"{pwhere}.name", p["name"], str, "a string")
            ptype = _expect(file, f"{pwhere}.type", p["type"], str, "a string")
            if ptype not in PARAM_TYPES:
                raise PackError(f"{file}: {pwhere}.type: {ptype!r} is not one of {', '.join(PARAM_TYPES)}")
            pdesc = _expect(file, f"{pwhere}.description", p.get("description", ""), str, "a string")
            verbatim = _expect(file, f"{pwhere}.verbatim", p.get("verbatim", False), bool, "true or false")
            if verbatim and ptype not in ("str", "list[str]"):
                raise PackError(f"{file}: {pwhere}.verbatim: only a str or list[str] can be words of the request")
            kind = _kind(file, f"{pwhere}.kind", p.get("kind", ""))
            if kind and ptype not in ("str", "list[str]"):
                raise PackError(f"{file}: {pwhere}.kind: only a str or list[str] can hold a result")
            said_by = tuple(w.lower() for w in _str_list(file, f"{pwhere}.said_by", p.get("said_by", [])))
            if said_by and ptype == "date":
                raise PackError(f"{file}: {pwhere}.said_by: a date is already only what the request says")
            choices = _choices(file, f"{pwhere}.choices", p.get("choices", {}))
            if choices and ptype != "str":
                raise PackError(f"{file}: {pwhere}.choices: only a str is one of several values")
            params.append(Param(pname, ptype, pdesc, verbatim, kind, said_by, choices))
        backends = _str_list(file, f"{where}.backends", raw.get("backends", list(impls)))
        for backend in backends:
            if backend not in impls:
                raise PackError(f"{file}: {where}.backends: {backend!r} has no entry in implementations")
        tools.append(
            ToolSpec(
                name=tool_name,
                description=_expect(file, f"{where}.description", raw["description"], str, "a string").strip(),
                params=tuple(params),
                side_effects=_expect(file, f"{where}.side_effects", raw["side_effects"], bool, "true or false"),
                backends=backends,
                after=_str_list(file, f"{where}.after", raw.get("after", [])),
                pack=name,
                returns=_kind(file, f"{where}.returns", raw.get("returns", "")),
            )
        )
    return Toolpack(name, description.strip(), pack_dir, dict(impls), tuple(tools), examples)


def _pack_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / "pack.yaml").is_file())


@dataclass(frozen=True)
class Catalog:
    """The packs loaded for one backend: the tools a plan may use, and why others may not."""

    packs: tuple[Toolpack, ...]
    backend: str
    disabled_tools: frozenset[str] = frozenset()

    @cached_property
    def _all(self) -> dict[str, tuple[ToolSpec, Toolpack]]:
        return {t.name: (t, pack) for pack in self.packs for t in pack.tools}

    @cached_property
    def tools(self) -> dict[str, ToolSpec]:
        """Enabled tools the active backend implements and can run here, in pack order."""
        return {
            name: spec
            for name, (spec, _) in self._all.items()
            if name not in self.disabled_tools and self.backend in spec.backends and name not in self.missing
        }

    @cached_property
    def known(self) -> dict[str, ToolSpec]:
        """Every enabled tool of the loaded packs, whatever the backend: retrieval scores them
        all, so a request for one that cannot run here is told so instead of half planned."""
        return {name: spec for name, (spec, _) in self._all.items() if name not in self.disabled_tools}

    @cached_property
    def missing(self) -> dict[str, str]:
        """Tools the backend implements but this machine cannot run now, and why. A backend
        module (not a pack's own .py file, which loads only when its tools run) may define
        ``unavailable() -> {tool: why, and how to get it}``: the portable send_sms needs KDE
        Connect. Asked once, when the tools are first needed."""
        found: dict[str, str] = {}
        for pack in self.packs:
            target = pack.implementations.get(self.backend)
            if target is None or target.endswith(".py") or not any(self.backend in t.backends for t in pack.tools):
                continue
            check = getattr(_import_implementation(pack, target), "unavailable", None)
            if callable(check):
                found.update({name: why for name, why in check().items() if name in self._all})
        return found

    def get(self, name: str) -> ToolSpec | None:
        return self.tools.get(name)

    def why_unavailable(self, name: str) -> str:
        """Why a tool name cannot be used; for plan errors a person can act on."""
        if name not in self._all:
            return f"unknown tool {name!r}"
        return f"tool {name!r} {self.lack(name)}"

    def lack(self, name: str) -> str:
        """What keeps a tool of the packs that is not in ``tools`` from being used, worded to
        follow its name ("send_sms cannot run ...")."""
        spec, _ = self._all[name]
        if name in self.disabled_tools:
            return "is disabled in config"
        if self.backend in spec.backends and name in self.missing:
            return f"cannot run on the {self.backend} backend here: {self.missing[name]}"
        return f"is not available on the {self.backend} backend (it has: {', '.join(spec.backends)})"

    def pack_of(self, name: str) -> Toolpack:
        return self._all[name][1]

    def implementation(self, name: str) -> Callable[..., str]:
        """The function that runs tool ``name`` on the active backend: ``fn(ctx, *args)``."""
        spec, pack = self._all[name]
        target = pack.implementations[self.backend]
        module = _import_implementation(pack, target)
        fn = getattr(module, name, None)
        if not callable(fn):
            raise PackError(f"{pack.dir / 'pack.yaml'}: implementations.{self.backend}: {target} has no function {name}")
        return fn

    def target(self, name: str) -> Callable[..., str] | None:
        """``TOOL_target(ctx)`` of the tool's implementation, if it has one: one line saying
        what a call will act on that its arguments do not say (the message a reply answers),
        shown in the plan before it is confirmed."""
        spec, pack = self._all[name]
        describe = getattr(_import_implementation(pack, pack.implementations[self.backend]), f"{name}_target", None)
        return describe if callable(describe) else None

    def examples_files(self) -> list[Path]:
        return [path for pack in self.packs for path in pack.examples_paths()]


_loaded_files: dict[Path, Any] = {}


def _import_implementation(pack: Toolpack, target: str) -> Any:
    if not target.endswith(".py"):
        return importlib.import_module(target)
    path = (pack.dir / target).resolve()
    if path not in _loaded_files:
        spec = importlib.util.spec_from_file_location(f"tinyagent_pack_{pack.name}", path)
        if spec is None or spec.loader is None or not path.is_file():
            raise PackError(f"{pack.dir / 'pack.yaml'}: implementations: cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _loaded_files[path] = module
    return _loaded_files[path]


def load_catalog(settings: Settings, extra_dirs: Iterable[Path] = ()) -> Catalog:
    """The shipped packs, the person's own, then the plugins', less what config disables.

    A plugin's pack that does not load (or redefines a tool) sets that plugin aside with a
    warning; any other pack's defect is an error."""
    from .. import plugins

    registered = plugins.registrations("register_toolpacks", _registered_pack)
    order: list[tuple[Path, plugins.Plugin | None]] = [
        *((pack_dir, None) for plugin, pack_dir in registered if plugin.builtin),
        *((pack_dir, None) for pack_dir in _pack_dirs(settings.paths.user_packs_dir)),
        *((pack_dir, plugin) for plugin, pack_dir in registered if not plugin.builtin),
        *((pack_dir, None) for pack_dir in extra_dirs),
    ]
    disabled = set(settings.config.disabled_packs)
    packs: list[Toolpack] = []
    seen: dict[str, Path] = {}
    for pack_dir, plugin in order:
        if plugin is not None and plugin.error:
            continue
        try:
            pack = load_pack(pack_dir)
            if pack.name in disabled:
                continue
            for tool in pack.tools:
                if tool.name in seen:
                    raise PackError(
                        f"{pack_dir / 'pack.yaml'}: tool {tool.name!r} is already defined in {seen[tool.name]}"
                    )
        except PackError as exc:
            if plugin is None:
                raise
            plugins.set_aside(plugin, str(exc))
            continue
        seen.update({tool.name: pack_dir / "pack.yaml" for tool in pack.tools})
        packs.append(pack)
    return Catalog(tuple(packs), settings.backend, frozenset(settings.config.disabled_tools))
