"""The model registry: models.yaml (shipped, plus the person's own), read into ModelSpecs.

An entry names a planner or speech model and where its weights come from: a Python
package that carries them (installed with tinyagent, so the default models work offline
from the first run), a Hugging Face repo (``tinyagent models pull NAME``), a local path,
or an OpenAI-compatible server. Validation is strict and every error names the file and
line, because a typo in a model entry otherwise surfaces much later as a load failure;
each backend checks its own fields (``backends.py``). The files themselves (pull, verify,
remove) are ``files.py``'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import planners
from ..errors import ModelError
from ..settings import Settings, read_yaml
from .backends import BackendFieldError, ModelBackend, model_backends

MODELS_FILENAME = "models.yaml"
# The backends (llama_cpp, openai_compatible, faster_whisper and those of plugins) are a
# table the plugins fill: model_backends().
SOURCE_KINDS = ("package", "hub", "path", "base_url")
LAYOUTS = ("chunks", "directory")

_ENTRY_KEYS = {"name", "description", "backend", "source", "sha256", "size", "license", "n_ctx", "stop", "prompt_style",
               "base", "adapter", "examples", "template", "template_from"}
_PLANNER_KEYS = {"n_ctx", "stop", "prompt_style", "template", "template_from"}
_SOURCE_KEYS = {
    "package": ({"package", "module", "layout", "file"}, {"package", "module", "layout", "file"}),
    "hub": ({"hub", "file"}, {"hub"}),
    "path": ({"path"}, {"path"}),
    "base_url": ({"base_url", "model"}, {"base_url", "model"}),
}


@dataclass(frozen=True)
class Source:
    """Where a model's weights are: ``kind`` is one of SOURCE_KINDS, ``ref`` its main value."""

    kind: str
    ref: str  # package name, hub repo, local path or base URL
    module: str = ""  # package: its import name
    layout: str = ""  # package: chunks or directory
    file: str = ""  # package/hub: the file (or folder) name; "" for a whole hub repo
    model: str = ""  # base_url: the model name the server expects

    def describe(self) -> str:
        if self.kind == "package":
            return f"package {self.ref}"
        if self.kind == "hub":
            return f"hub {self.ref}" + (f"/{self.file}" if self.file else "")
        return f"{self.kind} {self.ref}"


@dataclass(frozen=True)
class Adapter:
    """A LoRA adapter (GGUF) that llama.cpp applies to a base model's weights at load."""

    path: Path
    sha256: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    backend: str
    source: Source
    license: str
    sha256: str | None = None
    size: int | None = None  # bytes, approximately where the entry cannot know exactly
    n_ctx: int = 0  # planners only
    stop: tuple[str, ...] = ()
    prompt_style: str = ""  # planners only: a planner style's name (``planners/``)
    examples: int | None = None  # planners: solved examples in the prompt (None: config's examples_k)
    base: str = ""  # another entry whose weights this one runs (with ``adapter``)
    adapter: Adapter | None = None
    template: str = ""  # planners: a Jinja chat template, used instead of the GGUF's own
    template_from: str = ""  # "gguf": the GGUF's own template wins, ``template`` stands in where it has none
    origin: str = field(default="", compare=False)  # "file:line" of the entry, for messages

    @property
    def kind(self) -> str:
        """planner or speech, as its backend says (planner for a backend no plugin gives)."""
        backend = model_backends().get(self.backend)
        return backend.kind if backend is not None else "planner"


# --------------------------------------------------------------------------- loading


def shipped_models_file() -> Path:
    """models.yaml inside the installed package, else the repo's top (editable installs)."""
    here = Path(__file__).resolve().parent.parent
    inside = here / MODELS_FILENAME
    return inside if inside.is_file() else here.parent / MODELS_FILENAME


def user_models_file(settings: Settings) -> Path:
    return settings.paths.config_dir / MODELS_FILENAME


class _Entry:
    """One YAML mapping with the line of each key, so every error can point at it."""

    def __init__(self, file: Path, node: Any, what: str, line: int | None = None) -> None:
        import yaml

        self.file = file
        self.line = line or node.start_mark.line + 1
        if not isinstance(node, yaml.MappingNode):
            raise ModelError(f"{file}:{self.line}: {what} must be a mapping")
        self.lines: dict[str, int] = {}
        self.nodes: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if not isinstance(key_node, yaml.ScalarNode) or not isinstance(key, str):
                raise ModelError(f"{file}:{key_node.start_mark.line + 1}: {what}: keys must be names")
            if key in self.nodes:
                raise ModelError(f"{file}:{key_node.start_mark.line + 1}: {what}: duplicate key {key!r}")
            self.lines[key] = key_node.start_mark.line + 1
            self.nodes[key] = value_node
        self.data: dict[str, Any] = {k: _construct(v) for k, v in self.nodes.items()}
        self.what = what

    def error(self, key: str | None, message: str) -> ModelError:
        line = self.lines.get(key, self.line) if key else self.line
        where = f"{self.what}.{key}" if key else self.what
        return ModelError(f"{self.file}:{line}: {where}: {message}")

    def check_keys(self, allowed: set[str], required: set[str]) -> None:
        for key in self.data:
            if key not in allowed:
                raise self.error(key, f"unknown key (allowed: {', '.join(sorted(allowed))})")
        for key in sorted(required):
            if key not in self.data:
                raise self.error(None, f"missing key {key!r}")

    def get(self, key: str, kind: type, what: str, default: Any = None) -> Any:
        if key not in self.data:
            return default
        value = self.data[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.error(key, f"expected {what}, got {value!r}")
        return value


def _construct(node: Any) -> Any:
    import yaml

    return yaml.constructor.SafeConstructor().construct_object(node, deep=True)


def _parse_source(entry: _Entry) -> Source:
    src = _Entry(entry.file, entry.nodes["source"], f"{entry.what}.source", entry.lines["source"])
    kinds = [k for k in SOURCE_KINDS if k in src.data]
    if len(kinds) != 1:
        raise src.error(None, f"needs exactly one of {', '.join(SOURCE_KINDS)}")
    kind = kinds[0]
    allowed, required = _SOURCE_KEYS[kind]
    src.check_keys(allowed, required)
    values = {k: src.get(k, str, "a string") for k in allowed}
    for key, value in values.items():
        if value is not None and not value.strip():
            raise src.error(key, "must not be empty")
    if kind == "package" and values["layout"] not in LAYOUTS:
        raise src.error("layout", f"must be one of {', '.join(LAYOUTS)}, not {values['layout']!r}")
    return Source(
        kind=kind,
        ref=values[kind],
        module=values.get("module") or "",
        layout=values.get("layout") or "",
        file=values.get("file") or "",
        model=values.get("model") or "",
    )


def _parse_entry(file: Path, node: Any, index: int) -> ModelSpec:
    entry = _Entry(file, node, f"models[{index}]")
    entry.check_keys(_ENTRY_KEYS, {"name", "description", "backend", "license"})
    name = entry.get("name", str, "a string")
    if not name or any(c.isspace() or c == "/" for c in name):
        raise entry.error("name", f"{name!r} is not a usable model name (no spaces or slashes)")
    entry.what = f"model {name!r}"
    backend = entry.get("backend", str, "a string")
    backends = model_backends()
    if backend not in backends:
        raise entry.error("backend", f"must be one of {', '.join(backends)}, not {backend!r}")
    speech = backends[backend].kind == "speech"
    base = entry.get("base", str, "the name of another model", "")
    if ("source" in entry.data) == bool(base):
        raise entry.error(None, "needs exactly one of 'source' and 'base'")
    if base and (backend != "llama_cpp" or "adapter" not in entry.data):
        raise entry.error("base", "is for a llama_cpp planner with an adapter: the base's weights plus the adapter")
    for key in ("sha256", "size"):
        if base and key in entry.data:
            raise entry.error(key, f"comes from the base model {base!r}; the adapter's own goes in adapter.sha256")
    if "adapter" in entry.data and not base:
        raise entry.error("adapter", "needs 'base', the model whose weights it adapts")
    # Filled in from the base entry once every file is read (load_registry).
    source = Source(kind="path", ref="") if base else _parse_source(entry)

    if speech:
        for key in sorted(_PLANNER_KEYS & set(entry.data)):
            raise entry.error(key, "is only for planner models")
    else:
        for key in ("n_ctx", "prompt_style"):
            if key not in entry.data:
                raise entry.error(None, f"missing key {key!r} (planner models need it)")
    n_ctx = entry.get("n_ctx", int, "an integer", 0)
    if not speech and n_ctx < 256:
        raise entry.error("n_ctx", f"must be at least 256, not {n_ctx}")
    prompt_style = entry.get("prompt_style", str, "a string", "")
    if not speech and prompt_style not in planners.names():
        raise entry.error("prompt_style", f"must be one of {', '.join(planners.names())}, not {prompt_style!r}")
    examples = entry.get("examples", int, "an integer")
    if examples is not None and (speech or examples < 0):
        raise entry.error("examples", "is a planner's count of examples in its prompt, 0 or more")
    stop = entry.get("stop", list, "a list of strings", [])
    if not all(isinstance(s, str) and s for s in stop):
        raise entry.error("stop", f"expected a list of non-empty strings, got {stop!r}")
    sha256 = _sha256(entry, "sha256")
    size = entry.get("size", int, "an integer (bytes)")
    if size is not None and size <= 0:
        raise entry.error("size", "must be positive")
    template, template_from = _parse_template(entry, backend, prompt_style)
    spec = ModelSpec(
        name=name,
        description=entry.get("description", str, "a string").strip(),
        backend=backend,
        source=source,
        license=entry.get("license", str, "a string").strip(),
        sha256=sha256,
        size=size,
        n_ctx=n_ctx,
        stop=tuple(stop),
        prompt_style=prompt_style,
        examples=examples,
        base=base,
        adapter=_parse_adapter(entry) if base else None,
        template=template,
        template_from=template_from,
        origin=f"{file}:{entry.line}",
    )
    if not base:  # an adapted entry runs its base's weights, checked in their own entry
        _validate(entry, backends[backend], spec)
    return spec


def _parse_template(entry: _Entry, backend: str, prompt_style: str) -> tuple[str, str]:
    """``template`` (Jinja text) and ``template_from`` ("gguf" or ""), where they can apply.
    The Jinja itself is compiled on first use: every command reads models.yaml, few render."""
    template = entry.get("template", str, "a Jinja chat template")
    template_from = entry.get("template_from", str, "a string", "")
    if template is None and not template_from:
        return "", ""
    key = "template" if template is not None else "template_from"
    wrapped = [name for name, style in planners.styles().items() if style.template]
    if prompt_style not in wrapped:
        raise entry.error(key, f"wraps the {' and '.join(wrapped)} prompt styles, not {prompt_style!r}")
    if template is not None and not template.strip():
        raise entry.error("template", "must not be empty")
    if backend == "openai_compatible" and planners.get(prompt_style).chat:
        raise entry.error(key, "a chat model's server applies its own template")
    if template_from and (template_from != "gguf" or template is None or backend != "llama_cpp"):
        raise entry.error("template_from", "can only be gguf, for a llama_cpp model with a template to fall back on")
    return template or "", template_from


def _sha256(entry: _Entry, key: str) -> str | None:
    sha256 = entry.get(key, str, "a string")
    if sha256 is not None and (len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256)):
        raise entry.error(key, "expected 64 lowercase hex digits")
    return sha256


def _parse_adapter(entry: _Entry) -> Adapter:
    """``adapter: {path, sha256}``; a relative path is relative to the models.yaml it is in."""
    adapter = _Entry(entry.file, entry.nodes["adapter"], f"{entry.what}.adapter", entry.lines["adapter"])
    adapter.check_keys({"path", "sha256"}, {"path"})
    path = Path(adapter.get("path", str, "a string")).expanduser()
    return Adapter(path if path.is_absolute() else entry.file.parent / path, _sha256(adapter, "sha256"))


def _validate(entry: _Entry, backend: ModelBackend, spec: ModelSpec) -> None:
    """The backend's own checks of an entry: refuse what cannot load, at load time rather than at first use."""
    if backend.validate is None:
        return
    try:
        backend.validate(spec)
    except BackendFieldError as exc:
        raise entry.error(exc.key or None, str(exc)) from None
    except Exception as exc:  # a plugin's validate with a bug: still one line, naming the entry and the plugin
        raise entry.error("backend", f"the plugin {backend.plugin!r} refused it: {type(exc).__name__}: {exc}") from None


def _parse_file(file: Path) -> list[ModelSpec]:
    import yaml

    root = read_yaml(file, ModelError, nodes=True)
    if root is None:
        return []
    top = _Entry(file, root, "file")
    top.check_keys({"models"}, {"models"})
    models_node = top.nodes["models"]
    if not isinstance(models_node, yaml.SequenceNode):
        raise top.error("models", "expected a list of model entries")
    specs: list[ModelSpec] = []
    seen: dict[str, str] = {}
    for index, node in enumerate(models_node.value):
        spec = _parse_entry(file, node, index)
        if spec.name in seen:
            raise ModelError(f"{spec.origin}: model {spec.name!r} is already defined at {seen[spec.name]}")
        seen[spec.name] = spec.origin
        specs.append(spec)
    return specs


@dataclass(frozen=True)
class Registry:
    """The models in force: shipped entries, with the person's own merged over them by name."""

    models: Mapping[str, ModelSpec]
    files: tuple[Path, ...]

    def get(self, name: str) -> ModelSpec:
        spec = self.models.get(name)
        if spec is None:
            known = ", ".join(self.models) or "none"
            raise ModelError(f"unknown model {name!r} (known: {known}; add one to {self.files[-1]})")
        return spec

    def planners(self) -> list[ModelSpec]:
        return [m for m in self.models.values() if m.kind == "planner"]

    def speech(self) -> list[ModelSpec]:
        return [m for m in self.models.values() if m.kind == "speech"]


def load_registry(settings: Settings) -> Registry:
    models: dict[str, ModelSpec] = {}
    files = [shipped_models_file(), user_models_file(settings)]
    for file in files:
        if file.is_file():
            models.update({spec.name: spec for spec in _parse_file(file)})
    for name, spec in models.items():
        if spec.base:
            base = models.get(spec.base)
            if base is None or base.backend != "llama_cpp" or base.base:
                raise ModelError(f"{spec.origin}: model {name!r}: base {spec.base!r} must be a llama_cpp model "
                                 f"with weights of its own (known: {', '.join(models)})")
            models[name] = replace(spec, source=base.source, sha256=base.sha256, size=base.size)
    return Registry(models, tuple(files))
