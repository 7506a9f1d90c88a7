"""Model backends by name: what opens a models.yaml entry (``backend: llama_cpp``), and
what each backend requires of its entry's fields.

The table is filled through the plugins' ``register_model_backends`` hook, the built-in
plugin's first (``plugins/default.py``), so a backend of a plugin is one like ours.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..errors import ModelError
from ..settings import Settings

if TYPE_CHECKING:
    from rich.console import Console

    from .base import LanguageModel
    from .registry import ModelSpec

MODEL_KINDS = ("planner", "speech")


class BackendFieldError(ValueError):
    """What a backend's ``validate(spec)`` raises to refuse a models.yaml entry: ``key`` is
    the entry's key at fault ("" for the entry as a whole), the message says why."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class ModelBackend:
    """A ``backend:`` of models.yaml, as a plugin registered it (``register_model_backends``).

    ``open(spec, settings, *, verbose, console)`` gives a ready ``LanguageModel`` (planners;
    a speech backend has none); ``validate(spec)`` refuses an entry this backend cannot
    load, raising BackendFieldError, when models.yaml is read rather than at first use."""

    name: str
    open: Callable[..., LanguageModel] | None = None
    kind: str = "planner"
    validate: Callable[[ModelSpec], None] | None = None
    plugin: str = ""  # the plugin that registered it


def _make_backend(name: str, open: Callable[..., LanguageModel] | None = None, *, kind: str = "planner",
                  validate: Callable[[ModelSpec], None] | None = None) -> ModelBackend:
    """A plugin's ``register(name, open, kind=..., validate=...)``, checked."""
    if not isinstance(name, str) or not name or any(c.isspace() for c in name):
        raise ValueError(f"a model backend's name must be a word, not {name!r}")
    if kind not in MODEL_KINDS:
        raise ValueError(f"model backend {name!r}: kind must be one of {', '.join(MODEL_KINDS)}, not {kind!r}")
    if kind == "planner" and not callable(open):
        raise ValueError(f"model backend {name!r}: a planner backend needs open(spec, settings, ...), not {open!r}")
    if validate is not None and not callable(validate):
        raise ValueError(f"model backend {name!r}: validate must be a function of the entry, not {validate!r}")
    return ModelBackend(name, open, kind, validate)


def model_backends() -> Mapping[str, ModelBackend]:
    """Every backend the plugins give (the built-in plugin's first), by name."""
    from .. import plugins

    def build() -> dict[str, ModelBackend]:
        found = plugins.registrations("register_model_backends", _make_backend, key=lambda backend: backend.name)
        return {backend.name: replace(backend, plugin=plugin.name) for plugin, backend in found}

    return plugins.memo("model_backends", build)


def _need(spec: ModelSpec, ok: bool, need: str) -> None:
    if not ok:
        raise BackendFieldError("source", f"a {spec.backend} model needs {need}, not {spec.source.describe()}")


def check_llama_cpp(spec: ModelSpec) -> None:
    """llama.cpp loads one GGUF file."""
    source = spec.source
    _need(spec, source.kind != "base_url", "package, hub or path")
    _need(spec, not (source.kind == "package" and source.layout != "chunks")
          and not (source.kind == "hub" and not source.file), "a single GGUF file")


def check_openai_compatible(spec: ModelSpec) -> None:
    _need(spec, spec.source.kind == "base_url", "base_url")


def check_faster_whisper(spec: ModelSpec) -> None:
    """faster-whisper loads a folder."""
    source = spec.source
    _need(spec, source.kind != "base_url", "package, hub or path")
    _need(spec, not (source.kind == "package" and source.layout != "directory")
          and not (source.kind == "hub" and source.file), "a model folder")


def open_llama_cpp(spec: ModelSpec, settings: Settings, *, verbose: bool = False,
                   console: Console | None = None) -> LanguageModel:
    """llama.cpp models are loaded once per process."""
    from .files import ensure_installed
    from .llama import load_llama_model

    return load_llama_model(spec, ensure_installed(spec, settings, console), settings, verbose=verbose)


def open_openai_compatible(spec: ModelSpec, settings: Settings, **_: Any) -> LanguageModel:
    from .openai_compat import OpenAICompatibleModel

    return OpenAICompatibleModel(spec)



def open_model(spec: ModelSpec, settings: Settings, verbose: bool = False, console: Console | None = None) -> LanguageModel:
    """A planner ready to stream, opened by its backend (``model_backends()``)."""
    backend = model_backends().get(spec.backend)
    if backend is None:
        raise ModelError(f"model {spec.name!r} ({spec.origin or 'no file'}): no installed plugin gives its backend "
                         f"{spec.backend!r} (known: {', '.join(model_backends())}; see tinyagent plugins)")
    if backend.open is None or backend.kind != "planner":
        raise ModelError(f"model {spec.name!r} is a {spec.kind} model ({spec.backend}), not a planner")
    from .base import LanguageModel

    model = backend.open(spec, settings, verbose=verbose, console=console)
    if not isinstance(model, LanguageModel):
        raise ModelError(f"model {spec.name!r}: backend {spec.backend!r} gave a {type(model).__name__}, which is not a "
                         "LanguageModel (its class should subclass tinyagent_cli.llm.base.LanguageModel)")
    return model
