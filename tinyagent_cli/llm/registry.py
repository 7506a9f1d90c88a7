"""The model registry: models.yaml (shipped, plus the person's own), and model files on disk.

An entry names a planner or speech model and where its weights come from: a Python
package that carries them (installed with tinyagent, so the default models work offline
from the first run), a Hugging Face repo (``tinyagent models pull NAME``), a local path,
or an OpenAI-compatible server. Validation is strict and every error names the file and
line, because a typo in a model entry otherwise surfaces much later as a load failure.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ModelError
from ..settings import Settings

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from .base import LanguageModel

MODELS_FILENAME = "models.yaml"
MODEL_BACKENDS = ("llama_cpp", "openai_compatible", "faster_whisper")
PROMPT_STYLES = ("completion", "chat", "tinyagent", "trained")
# Styles whose text a chat template wraps (the others are plain completions, as measured).
TEMPLATE_STYLES = ("chat", "tinyagent")
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
# Marks a repo snapshot as complete; a folder without it is an interrupted pull.
_COMPLETE_MARKER = ".tinyagent-complete"
_BLOCK = 1 << 20


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
    prompt_style: str = ""  # planners only: one of PROMPT_STYLES
    examples: int | None = None  # planners: solved examples in the prompt (None: config's examples_k)
    base: str = ""  # another entry whose weights this one runs (with ``adapter``)
    adapter: Adapter | None = None
    template: str = ""  # planners: a Jinja chat template, used instead of the GGUF's own
    template_from: str = ""  # "gguf": the GGUF's own template wins, ``template`` stands in where it has none
    origin: str = field(default="", compare=False)  # "file:line" of the entry, for messages

    @property
    def kind(self) -> str:
        return "speech" if self.backend == "faster_whisper" else "planner"


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
    if backend not in MODEL_BACKENDS:
        raise entry.error("backend", f"must be one of {', '.join(MODEL_BACKENDS)}, not {backend!r}")
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
    if not base:
        _check_backend_source(entry, backend, source)

    if backend == "faster_whisper":
        for key in sorted(_PLANNER_KEYS & set(entry.data)):
            raise entry.error(key, "is only for planner models")
    else:
        for key in ("n_ctx", "prompt_style"):
            if key not in entry.data:
                raise entry.error(None, f"missing key {key!r} (planner models need it)")
    n_ctx = entry.get("n_ctx", int, "an integer", 0)
    if backend != "faster_whisper" and n_ctx < 256:
        raise entry.error("n_ctx", f"must be at least 256, not {n_ctx}")
    prompt_style = entry.get("prompt_style", str, "a string", "")
    if backend != "faster_whisper" and prompt_style not in PROMPT_STYLES:
        raise entry.error("prompt_style", f"must be one of {', '.join(PROMPT_STYLES)}, not {prompt_style!r}")
    examples = entry.get("examples", int, "an integer")
    if examples is not None and (backend == "faster_whisper" or examples < 0):
        raise entry.error("examples", "is a planner's count of examples in its prompt, 0 or more")
    stop = entry.get("stop", list, "a list of strings", [])
    if not all(isinstance(s, str) and s for s in stop):
        raise entry.error("stop", f"expected a list of non-empty strings, got {stop!r}")
    sha256 = _sha256(entry, "sha256")
    size = entry.get("size", int, "an integer (bytes)")
    if size is not None and size <= 0:
        raise entry.error("size", "must be positive")
    template, template_from = _parse_template(entry, backend, prompt_style)
    return ModelSpec(
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


def _parse_template(entry: _Entry, backend: str, prompt_style: str) -> tuple[str, str]:
    """``template`` (Jinja text) and ``template_from`` ("gguf" or ""), where they can apply.
    The Jinja itself is compiled on first use: every command reads models.yaml, few render."""
    template = entry.get("template", str, "a Jinja chat template")
    template_from = entry.get("template_from", str, "a string", "")
    if template is None and not template_from:
        return "", ""
    key = "template" if template is not None else "template_from"
    if prompt_style not in TEMPLATE_STYLES:
        raise entry.error(key, f"wraps the {' and '.join(TEMPLATE_STYLES)} prompt styles, not {prompt_style!r}")
    if template is not None and not template.strip():
        raise entry.error("template", "must not be empty")
    if backend == "openai_compatible" and prompt_style == "chat":
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


def _check_backend_source(entry: _Entry, backend: str, source: Source) -> None:
    """Refuse combinations that cannot load, at load time rather than at first use."""
    if backend == "openai_compatible":
        ok, need = source.kind == "base_url", "base_url"
    elif source.kind == "base_url":
        ok, need = False, "package, hub or path"
    elif backend == "llama_cpp":
        ok, need = not (source.kind == "package" and source.layout != "chunks"), "a single GGUF file"
        ok = ok and not (source.kind == "hub" and not source.file)
    else:  # faster_whisper loads a folder
        ok, need = not (source.kind == "package" and source.layout != "directory"), "a model folder"
        ok = ok and not (source.kind == "hub" and source.file)
    if not ok:
        raise entry.error("source", f"a {backend} model needs {need}, not {source.describe()}")


def _parse_file(file: Path) -> list[ModelSpec]:
    import yaml

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{file}: cannot be read ({exc})") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"{mark.line + 1}:" if mark is not None else ""
        raise ModelError(f"{file}:{at} not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
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


def installed_path(spec: ModelSpec, settings: Settings) -> Path | None:
    """Where the model's weights are on this machine, or None if they are not (yet) there."""
    source = spec.source
    if source.kind == "base_url":
        return None
    if source.kind == "path":
        path = Path(source.ref).expanduser()
        return path if path.exists() else None
    if source.kind == "package" and source.layout == "directory":
        path = _package_dir(source)
        return path / source.file if path is not None and (path / source.file).is_dir() else None
    path = _managed_path(spec, settings)
    if source.kind == "hub" and not source.file:
        return path if (path / _COMPLETE_MARKER).is_file() else None
    return path if path.is_file() else None


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

    installed_path = staticmethod(installed_path)


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


# --------------------------------------------------------------------------- files on disk


def _package_dir(source: Source) -> Path | None:
    """The package's folder, found without importing it (importing may be slow)."""
    found = importlib.util.find_spec(source.module)
    if found is None or found.origin is None:
        return None
    return Path(found.origin).parent


def _managed_path(spec: ModelSpec, settings: Settings) -> Path:
    """Where tinyagent keeps a model it assembled or downloaded: models_dir/NAME[/FILE]."""
    folder = settings.paths.models_dir / (spec.base or spec.name)  # an adapted model shares its base's file
    return folder / spec.source.file if spec.source.file else folder


@contextmanager
def _progress(console: Console | None) -> Iterator[Progress]:
    """A byte progress bar on stderr, so it never mixes with output a script reads."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    target = console if console is not None and console.stderr else Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=target, transient=True) as progress:
        yield progress


def sha256_file(path: Path, on_block: Callable[[int], None] | None = None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
            if on_block is not None:
                on_block(len(block))
    return digest.hexdigest()


def _assemble_chunks(spec: ModelSpec, target: Path, console: Console | None) -> Path:
    """Join the package's chunk files into ``target``, hashing on the way, then rename.

    The package's own ``assemble()`` writes straight to the target and hashes in a second
    pass; joining here gives one pass, a progress bar and no half-written model file if
    interrupted (the rename is atomic).
    """
    import importlib

    try:
        module = importlib.import_module(spec.source.module)
    except ImportError:
        raise ModelError(f"model {spec.name!r} needs the package {spec.source.ref}: pip install {spec.source.ref}") from None
    try:
        chunks = [Path(p) for p in module.chunk_paths()]
        module.verify_chunks()
    except (AttributeError, FileNotFoundError, ImportError) as exc:
        raise ModelError(f"model {spec.name!r}: the package {spec.source.ref} is incomplete ({exc}); reinstall it") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    try:
        with _progress(console) as progress, partial.open("wb") as out:
            task = progress.add_task(f"assembling {spec.name}", total=sum(p.stat().st_size for p in chunks))
            for chunk in chunks:
                with chunk.open("rb") as f:
                    while block := f.read(_BLOCK):
                        out.write(block)
                        digest.update(block)
                        progress.advance(task, len(block))
        _check_sha(spec, digest.hexdigest(), partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _check_sha(spec: ModelSpec, actual: str, path: Path) -> None:
    if spec.sha256 is not None and actual != spec.sha256:
        path.unlink(missing_ok=True)
        raise ModelError(
            f"model {spec.name!r}: sha256 mismatch (expected {spec.sha256}, got {actual}); the file was removed"
        )


def ensure_installed(spec: ModelSpec, settings: Settings, console: Console | None = None) -> Path:
    """The model's local path, assembling a packaged model on first use."""
    path = installed_path(spec, settings)
    if path is not None:
        return path
    source = spec.source
    if source.kind == "package" and source.layout == "chunks":
        from filelock import FileLock

        target = _managed_path(spec, settings)
        settings.paths.models_dir.mkdir(parents=True, exist_ok=True)
        # Two first runs at once: one assembles, the other waits and finds the file made.
        with FileLock(settings.paths.models_dir / f".{spec.base or spec.name}.lock"):
            return target if target.is_file() else _assemble_chunks(spec, target, console)
    if source.kind == "package":
        raise ModelError(f"model {spec.name!r} needs the package {source.ref}: pip install {source.ref}")
    if source.kind == "hub":
        raise ModelError(f"model {spec.name!r} is not installed; run: tinyagent models pull {spec.name}")
    if source.kind == "path":
        raise ModelError(f"model {spec.name!r}: {source.ref} does not exist ({spec.origin})")
    raise ModelError(f"model {spec.name!r} is served by {source.ref}; it has no local files")


def pull(spec: ModelSpec, settings: Settings, console: Console | None = None) -> Path:
    """Download (hub) or assemble (package) a model, verify its sha256, return its path."""
    source = spec.source
    if source.kind != "hub":
        return ensure_installed(spec, settings, console)
    endpoint = _reachable_endpoint(spec)
    folder = settings.paths.models_dir / spec.name
    try:
        path = _download(spec, folder, endpoint, console)
    except Exception as exc:  # huggingface_hub raises many types; sort the ones a person can fix
        error = _hub_error(spec, exc, endpoint)
        if error is None:
            raise
        raise error from None
    if source.file and spec.sha256 is not None:
        with _progress(console) as progress:
            task = progress.add_task(f"verifying {spec.name}", total=path.stat().st_size)
            _check_sha(spec, sha256_file(path, lambda n: progress.advance(task, n)), path)
    if not source.file:
        (path / _COMPLETE_MARKER).write_text("", encoding="utf-8")
    return path


def _reachable_endpoint(spec: ModelSpec) -> str:
    """The hub's address, after one quick request: huggingface_hub itself retries a refused
    connection for about 25 seconds, printing warnings, before it gives up."""
    import httpx
    from huggingface_hub import constants

    if constants.is_offline_mode() or os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise ModelError(f"cannot pull {spec.name!r}: offline mode is on (HF_HUB_OFFLINE); unset it and retry")
    # HF_ENDPOINT is read when huggingface_hub is imported; honour it as it is now.
    endpoint = (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")
    try:
        httpx.head(endpoint, timeout=10.0)
    except httpx.HTTPError:
        raise ModelError(f"cannot pull {spec.name!r}: {endpoint} cannot be reached (offline?); retry when online") from None
    return endpoint


def _download(spec: ModelSpec, folder: Path, endpoint: str, console: Console | None) -> Path:
    import huggingface_hub

    folder.mkdir(parents=True, exist_ok=True)
    with _progress(console) as progress:
        tqdm_class = _rich_tqdm(progress, spec.name)
        if spec.source.file:
            return Path(
                huggingface_hub.hf_hub_download(
                    spec.source.ref, spec.source.file, local_dir=folder, endpoint=endpoint, tqdm_class=tqdm_class
                )
            )
        return Path(
            huggingface_hub.snapshot_download(spec.source.ref, local_dir=folder, endpoint=endpoint, tqdm_class=tqdm_class)
        )


def _rich_tqdm(progress: Progress, label: str) -> type:
    """A tqdm class that draws nothing itself and advances a rich task instead."""
    from tqdm.auto import tqdm

    class RichTqdm(tqdm):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True  # tqdm's own drawing off; rich draws
            super().__init__(*args, **kwargs)
            self.n = kwargs.get("initial", 0) or 0
            desc = kwargs.get("desc") or ""
            self._task = progress.add_task(f"{label} {desc}".strip(), total=kwargs.get("total"), completed=self.n)

        def update(self, n: float | None = 1) -> bool | None:
            self.n += n or 0
            progress.update(self._task, completed=self.n)
            return None

        def close(self) -> None:
            pass

    return RichTqdm


def _hub_error(spec: ModelSpec, exc: Exception, endpoint: str) -> ModelError | None:
    from huggingface_hub import errors

    if isinstance(exc, errors.OfflineModeIsEnabled):
        return ModelError(f"cannot pull {spec.name!r}: offline mode is on (HF_HUB_OFFLINE); unset it and retry")
    if isinstance(exc, (errors.GatedRepoError, errors.RepositoryNotFoundError)):
        return ModelError(f"cannot pull {spec.name!r}: {spec.source.ref} is not found or needs a login (hf auth login)")
    if isinstance(exc, errors.RemoteEntryNotFoundError):
        return ModelError(f"cannot pull {spec.name!r}: {spec.source.file} is not in {spec.source.ref}")
    if isinstance(exc, (errors.LocalEntryNotFoundError, ConnectionError, TimeoutError)):
        return ModelError(f"cannot pull {spec.name!r}: the connection to {endpoint} failed; retry when online")
    if isinstance(exc, OSError):
        return ModelError(f"cannot pull {spec.name!r}: {exc}".splitlines()[0])
    return None


def remove(spec: ModelSpec, settings: Settings) -> Path | None:
    """Delete a model tinyagent downloaded or assembled; returns what was removed, if anything."""
    source = spec.source
    if source.kind == "package" and source.layout == "directory":
        raise ModelError(f"model {spec.name!r} is part of the package {source.ref}: pip uninstall {source.ref}")
    if source.kind in ("path", "base_url"):
        raise ModelError(f"model {spec.name!r} ({source.describe()}) is not managed by tinyagent; nothing to remove")
    folder = settings.paths.models_dir / spec.name  # the whole folder, hub metadata included
    if not folder.exists():
        return None
    shutil.rmtree(folder)
    return folder


# --------------------------------------------------------------------------- opening


def open_model(spec: ModelSpec, settings: Settings, verbose: bool = False, console: Console | None = None) -> LanguageModel:
    """A planner ready to stream; llama.cpp models are loaded once per process."""
    if spec.backend == "openai_compatible":
        from .openai_compat import OpenAICompatibleModel

        return OpenAICompatibleModel(spec)
    if spec.backend == "llama_cpp":
        from .llama import load_llama_model

        return load_llama_model(spec, ensure_installed(spec, settings, console), settings, verbose=verbose)
    raise ModelError(f"model {spec.name!r} is a {spec.kind} model ({spec.backend}), not a planner")
