"""Planner models run in-process by llama.cpp (llama-cpp-python), deterministic and quiet.

One ``Llama`` per model file per process: loading costs far more than a plan, and the
KV cache it keeps is what makes the next query fast. Prompts are built so their static
part (instructions, tool list, examples) is a byte-stable prefix; llama-cpp-python then
keeps the matching prefix of the cache and only evaluates the new tail.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import ModelError
from ..settings import Settings
from .base import SEED
from .registry import ModelSpec

_models: dict[tuple[Path, int], LlamaModel] = {}
_models_lock = threading.Lock()
_no_log_callback: Any = None  # the ctypes callback must outlive every native call that may log


def physical_cores() -> int:
    """Cores llama.cpp should use: physical ones (SMT siblings only slow it), within our affinity."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    physical = _linux_physical_cores() if sys.platform.startswith("linux") else _macos_physical_cores()
    return max(1, min(physical or available, available))


def _linux_physical_cores() -> int | None:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    cores: set[tuple[str, str]] = set()
    physical_id = core_id = ""
    for line in text.splitlines() + [""]:
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "physical id":
            physical_id = value.strip()
        elif key == "core id":
            core_id = value.strip()
        elif not line.strip():
            if core_id:
                cores.add((physical_id, core_id))
            physical_id = core_id = ""
    return len(cores) or None


def _macos_physical_cores() -> int | None:
    try:
        out = subprocess.run(["sysctl", "-n", "hw.physicalcpu"], capture_output=True, text=True, timeout=2)
        return int(out.stdout.strip())
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def quiet_native_logs(verbose: bool) -> None:
    """Route llama.cpp/ggml logging to nowhere (or back to llama-cpp-python's printer).

    ``Llama(verbose=False)`` still lets errors and some load messages through the log
    callback, and they would land in the middle of the plan tree.
    """
    global _no_log_callback
    import llama_cpp
    from llama_cpp import _logger

    if verbose:
        llama_cpp.llama_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))
        return
    if _no_log_callback is None:
        _no_log_callback = llama_cpp.llama_log_callback(lambda level, text, user_data: None)
    llama_cpp.llama_log_set(_no_log_callback, ctypes.c_void_p(0))


@contextmanager
def _stderr_to_devnull(enabled: bool) -> Iterator[None]:
    """Native code that prints with fprintf(stderr) bypasses the log callback; hide it too."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class LlamaModel:
    """A loaded GGUF model: greedy, seeded, grammar-constrained streaming completion."""

    def __init__(self, spec: ModelSpec, llama: Any, path: Path, verbose: bool) -> None:
        self.spec = spec
        self.name = spec.name
        self.path = path
        self.llama = llama
        self._verbose = verbose
        self._grammars: dict[str, Any] = {}
        self._lock = threading.Lock()  # one generation at a time: a Llama has one KV cache

    def stream(
        self, prompt: str, *, grammar: str | None = None, stop: Sequence[str] = (), max_tokens: int = 256
    ) -> Iterator[str]:
        compiled = self.grammar(grammar) if grammar else None
        stops = list(dict.fromkeys([*self.spec.stop, *stop]))
        with self._lock:
            try:
                chunks = self.llama.create_completion(
                    prompt,
                    max_tokens=max_tokens,
                    temperature=0.0,
                    seed=SEED,
                    stop=stops,
                    stream=True,
                    grammar=compiled,
                )
                for chunk in chunks:
                    text = chunk["choices"][0]["text"]
                    if text:
                        yield text
            except ValueError as exc:  # llama-cpp-python's way of saying the prompt does not fit
                raise ModelError(f"{self.name}: {exc}".splitlines()[0]) from None

    def count_tokens(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def grammar(self, text: str) -> Any:
        """The compiled LlamaGrammar for GBNF ``text``, checked by llama.cpp itself, cached.

        A grammar llama.cpp cannot parse would otherwise reach the sampler as a null
        pointer and crash the process, so it is parsed once here first.
        """
        compiled = self._grammars.get(text)
        if compiled is None:
            with _stderr_to_devnull(not self._verbose):  # llama.cpp prints parse errors itself
                check_grammar(self.llama, text)
            from llama_cpp import LlamaGrammar

            compiled = self._grammars[text] = LlamaGrammar.from_string(text, verbose=self._verbose)
        return compiled

    def warm_prefix(self, prefix: str) -> None:
        """Evaluate ``prefix`` now so the next prompt starting with it only pays for its tail."""
        with self._lock:
            # One greedy token evaluates the whole prefix; llama-cpp-python keeps the tokens
            # it evaluated and reuses the longest common prefix on the next completion.
            self.llama.create_completion(prefix, max_tokens=1, temperature=0.0, seed=SEED)


def check_grammar(llama: Any, text: str) -> None:
    """Raise ModelError if llama.cpp cannot parse GBNF ``text`` for this model's vocabulary."""
    import llama_cpp

    sampler = llama_cpp.llama_sampler_init_grammar(llama._model.vocab, text.encode("utf-8"), b"root")
    if not sampler:
        raise ModelError("llama.cpp rejected the plan grammar (run with --verbose to see why)")
    llama_cpp.llama_sampler_free(sampler)


def load_llama_model(spec: ModelSpec, path: Path, settings: Settings, verbose: bool = False) -> LlamaModel:
    """The process-wide LlamaModel for ``path`` (loaded on first use)."""
    key = (path.resolve(), spec.n_ctx)
    with _models_lock:
        model = _models.get(key)
        if model is None:
            model = _models[key] = LlamaModel(spec, _load(path, spec.n_ctx, verbose), path, verbose)
        return model


def _load(path: Path, n_ctx: int, verbose: bool, **extra: Any) -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise ModelError(f"llama-cpp-python is not installed or does not load ({exc}); pip install llama-cpp-python") from None
    quiet_native_logs(verbose)
    threads = physical_cores()
    try:
        with _stderr_to_devnull(not verbose):
            return llama_cpp.Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                seed=SEED,
                # Gemma 3 and others use sliding-window attention; without a full-size SWA
                # cache llama.cpp cannot drop a cache tail, so no prompt prefix is reused.
                swa_full=True,
                verbose=verbose,
                **extra,
            )
    except (ValueError, RuntimeError, OSError) as exc:
        raise ModelError(
            f"cannot load {path} ({exc}); if the file is damaged, run: tinyagent models rm NAME, then pull it again"
        ) from None
