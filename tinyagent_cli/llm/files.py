"""Model files on disk: where a model's weights are, and getting, checking and removing them.

A packaged model is assembled from its package's chunks on first use, a hub model is
pulled by ``tinyagent models pull``; each is checked against the sha256 its entry gives.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ModelError
from ..settings import Settings

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from .registry import ModelSpec, Source

# Marks a repo snapshot as complete; a folder without it is an interrupted pull.
_COMPLETE_MARKER = ".tinyagent-complete"
_BLOCK = 1 << 20


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
