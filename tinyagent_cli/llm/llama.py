"""Planner models run in-process by llama.cpp (llama-cpp-python), deterministic and quiet.

One ``Llama`` per model file per process: loading costs far more than a plan, and the
KV cache it keeps is what makes the next query fast. Prompts are built so their static
part (instructions, tool list, examples) is a byte-stable prefix; llama-cpp-python then
keeps the matching prefix of the cache and only evaluates the new tail.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import queue
import re
import subprocess
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import ModelError
from ..settings import Settings
from .base import SEED, LanguageModel
from .registry import ModelSpec

# llama.cpp's OpenMP threads spin while they wait. On a machine doing anything else the
# spinners steal the cores the work needs: beside one busy process on 2 cores, generation
# fell from ~65 to 0.2 tokens/s. A short spin keeps nearly all the speed on an idle
# machine (65 tok/s) and most of it beside a busy one (12 tok/s); sleeping at once
# (OMP_WAIT_POLICY=PASSIVE) halves the idle speed. Read by GNU OpenMP when llama_cpp
# loads it, so it is set before any import; a person's own setting wins.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "1000")

TOP_CANDIDATES = 64  # tokens tried before the whole vocabulary when the grammar refuses the best one
MAX_REJECTED = 3  # lines a caller may refuse in one generation; after that they stand
MAX_FORBIDDEN = 4096  # tokens ``forbid`` may turn down (a few µs each) before the first stands
RIVALS = 8  # other tokens tried at a position of a refused line before giving that position up
KEEP_GRAMMARS = 4  # compiled grammars kept per model

_models: dict[tuple[Path, int], LlamaModel] = {}
_models_lock = threading.Lock()
_no_log_callback: Any = None  # the ctypes callback must outlive every native call that may log

# GNU OpenMP, which runs llama.cpp's CPU work, keeps a team of threads for each thread that
# calls it, and while a first team lived a second ran slower: on 2 cores a batch of 2-9
# tokens took 42-74 ms instead of 26-63, one token 17.6 ms instead of 15.4. The REPL warms
# the model up on its main thread and plans on another, so every plan paid. Hence one
# thread does all of this process's llama.cpp work, and in order: no generation needs a lock.
_llama_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama.cpp")


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


class LlamaModel(LanguageModel):
    """A loaded GGUF model: greedy, grammar-constrained streaming completion.

    Generation is our own short loop over llama.cpp rather than ``create_completion``:
    llama-cpp-python applies a grammar to every token of the vocabulary at every step,
    which with Gemma's 262k-token vocabulary made constrained plans about 8x slower than
    free text. Here the greedy token is checked against the grammar first, and the whole
    vocabulary is filtered only when that token is not allowed (llama.cpp's own approach).
    """

    def __init__(self, spec: ModelSpec, llama: Any, path: Path, verbose: bool) -> None:
        self.spec = spec
        self.name = spec.name
        self.path = path
        self.llama = llama
        self._verbose = verbose
        self._grammars: OrderedDict[str, _Grammar] = OrderedDict()  # the last few, newest last
        self._candidates = _Candidates(llama.n_vocab())

    def stream(
        self, prompt: str, *, grammar: str | None = None, stop: Sequence[str] = (), max_tokens: int = 256,
        reject: Callable[[str], bool] | None = None, forbid: Callable[[str], bool] | None = None,
    ) -> Iterator[str]:
        constraint = self.grammar(grammar) if grammar else None
        stops = tuple(dict.fromkeys(s for s in (*self.spec.stop, *stop) if s))

        def generate() -> Iterator[str]:
            tokens = self._prompt_tokens(prompt)
            room = self.llama.n_ctx() - len(tokens)
            if room <= 0:
                raise ModelError(
                    f"{self.name}: the prompt takes {len(tokens)} tokens, more than the context of {self.llama.n_ctx()}"
                )
            self._evaluate_prompt(tokens)
            if constraint is not None:
                constraint.reset()
            yield from self._decode(constraint, min(max_tokens, room), reject, forbid)

        yield from _stop_at(_on_llama_thread(generate), stops)

    def count_tokens(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def trained_toolset(self) -> tuple[str, ...] | None:
        toolset = adapter_metadata(self.llama).get("tinyagent.toolset")
        return None if toolset is None else tuple(toolset.split(","))

    def _prompt_tokens(self, text: str) -> list[int]:
        """``text``'s tokens after BOS; a chat template that writes the BOS token itself
        ("<s>[INST] ...") does not get a second one."""
        bos = self.llama.token_bos()
        piece = self.llama._model.token_get_text(bos) if bos >= 0 else ""
        written = bool(piece) and text.startswith(piece)
        return self.llama.tokenize(text.encode("utf-8"), add_bos=not written, special=True)

    def grammar(self, text: str) -> _Grammar:
        """The compiled grammar for GBNF ``text``, checked by llama.cpp, cached per text."""
        compiled = self._grammars.pop(text, None)
        if compiled is None:
            with _stderr_to_devnull(not self._verbose):  # llama.cpp prints parse errors itself
                compiled = _Grammar(self.llama, text, self._candidates)
        self._grammars[text] = compiled
        # A plan grammar holds the request's words, so nearly every query brings a new one:
        # kept all, a long REPL session grows without end. A replan reuses its query's.
        while len(self._grammars) > KEEP_GRAMMARS:
            self._grammars.popitem(last=False)
        return compiled

    def warm_prefix(self, prefix: str, cache_dir: Path | None = None) -> None:
        """Evaluate ``prefix`` now so the next prompt starting with it only pays for its tail.

        With ``cache_dir``, the prefix's KV state is also kept in a file, and a later process
        restores it instead of evaluating (bench/kv_state.py, Gemma 270M, 1238-token prefix,
        2 busy cores: one-shot run 21.2 s cold against 2.0 s restored; ~18 KB a token on disk).
        """
        _llama_thread.submit(self._warm_prefix, prefix, cache_dir).result()

    def _warm_prefix(self, prefix: str, cache_dir: Path | None) -> None:
        import llama_cpp

        tokens = self._prompt_tokens(prefix)
        llama = self.llama
        if (llama.n_tokens >= len(tokens) and llama.input_ids[: len(tokens)].tolist() == tokens
                and llama._ctx.kv_cache_seq_rm(-1, len(tokens), -1)):
            # Already there (a warm process): keep just the prefix, as a restore leaves it.
            # Keeping more of the last prompt would read the next one in other batches,
            # and sums in another order can change a plan: the same request must plan
            # the same whatever came before it.
            llama.n_tokens = len(tokens)
            return
        file = self._state_file(cache_dir, tokens) if cache_dir is not None else None
        if file is not None and file.is_file() and self._restore(file, tokens):
            return
        self._evaluate_prompt(tokens)
        llama_cpp.llama_synchronize(self.llama._ctx.ctx)  # finished when we return, not queued
        if file is not None:
            self._save(file)

    def _state_file(self, cache_dir: Path, tokens: list[int]) -> Path:
        """A file name that changes with the model file, the context size and the prefix."""
        import hashlib

        files = [self.path] + ([self.spec.adapter.path] if self.spec.adapter else [])  # an adapter changes every state
        key = "|".join(f"{f.resolve()}|{f.stat().st_size}|{f.stat().st_mtime_ns}" for f in files)
        key += f"|{self.llama.n_ctx()}|{tokens}"
        return cache_dir / f"{self.name}-{hashlib.sha256(key.encode()).hexdigest()[:20]}.kv"

    def _save(self, file: Path) -> None:
        import llama_cpp

        llama = self.llama
        n = llama.n_tokens
        file.parent.mkdir(parents=True, exist_ok=True)
        partial = file.with_name(file.name + ".partial")
        ids = (llama_cpp.llama_token * n)(*llama.input_ids[:n].tolist())
        if llama_cpp.llama_state_save_file(llama._ctx.ctx, str(partial).encode(), ids, n):
            os.replace(partial, file)
        partial.unlink(missing_ok=True)

    def _restore(self, file: Path, tokens: list[int]) -> bool:
        """Load a saved prefix state; False (and nothing changed) unless it holds ``tokens``."""
        import llama_cpp

        llama = self.llama
        capacity = llama.n_ctx()
        ids = (llama_cpp.llama_token * capacity)()
        count = ctypes.c_size_t(0)
        with _stderr_to_devnull(not self._verbose):
            ok = llama_cpp.llama_state_load_file(llama._ctx.ctx, str(file).encode(), ids, capacity, ctypes.byref(count))
        if not ok or list(ids[: count.value]) != tokens:
            llama.reset()  # a failed or foreign load leaves the cache in an unknown state
            return False
        # Tell llama-cpp-python which tokens the restored cache holds, for prefix matching.
        llama.input_ids[: count.value] = tokens
        llama.n_tokens = count.value
        return True

    def _evaluate_prompt(self, tokens: list[int]) -> None:
        """Evaluate ``tokens``, keeping the KV cache of the longest prefix already evaluated."""
        llama = self.llama
        cached = llama.input_ids[: llama.n_tokens]
        keep = 0
        for a, b in zip(cached, tokens):
            if a != b:
                break
            keep += 1
        keep = min(keep, len(tokens) - 1)  # the last token is evaluated again for fresh logits
        if keep <= 0 or not llama._ctx.kv_cache_seq_rm(-1, keep, -1):
            keep = 0
            llama.reset()
        llama.n_tokens = keep
        llama.eval(tokens[keep:])

    def _decode(self, constraint: _Grammar | None, max_tokens: int,
                reject: Callable[[str], bool] | None = None,
                forbid: Callable[[str], bool] | None = None) -> Iterator[str]:
        """Greedy tokens as text. With ``reject``, each line is held until it is complete
        and offered to it; a refused line is taken back and replaced by the likeliest
        other line (see ``_divert``), up to MAX_REJECTED times. ``forbid`` is asked about
        the text so far plus each token the grammar allows; a forbidden token gives way to
        the next likeliest."""
        import codecs

        import llama_cpp

        llama = self.llama
        vocab = llama._model.vocab
        start = llama.n_tokens  # where the first generated token goes in the cache
        tokens: list[int] = []
        text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        line, head, line_start, refused = "", "", 0, 0
        written = ""  # all the text so far, for ``forbid``
        while len(tokens) < max_tokens:
            token = self._next_token(constraint, written, forbid)
            if token < 0:
                break  # the grammar allows nothing more
            if llama_cpp.llama_vocab_is_eog(vocab, token):
                break
            piece = text.decode(llama.detokenize([token]))
            llama.eval([token])
            tokens.append(token)
            written += piece
            if reject is None:
                if piece:
                    yield piece
                continue
            line += piece
            if "\n" not in line:
                continue
            done, rest = line.split("\n", 1)
            if refused < MAX_REJECTED and reject(done + "\n"):
                refused += 1
                turn = self._divert(constraint, start, tokens, line_start, forbid)
                if turn is not None:
                    position, other = turn
                    del tokens[position:]
                    tokens.append(other)
                    llama.eval([other])
                    text.reset()
                    line = head + text.decode(llama.detokenize(tokens[line_start:]))
                    written = _text(llama, tokens)
                    continue
            yield done + "\n"
            # What follows the newline in the same token starts the next line and stays
            # with it: going back never goes into a token.
            line, head, line_start = rest, rest, len(tokens)
        if line:
            yield line

    def _next_token(self, constraint: _Grammar | None, written: str,
                    forbid: Callable[[str], bool] | None) -> int:
        """The likeliest token the grammar allows and ``forbid`` does not (-1: none), taken
        into the grammar."""
        logits = self._logits()
        token = int(logits.argmax())
        if constraint is not None and not constraint.allows(token, logits):
            token = constraint.best_allowed(logits)
        if token >= 0 and forbid is not None and forbid(written + _text(self.llama, [token])):
            token = self._unforbidden(constraint, logits, written, forbid, token)
        if token >= 0 and constraint is not None:
            constraint.accept(token)
        return token

    def _unforbidden(self, constraint: _Grammar | None, logits: Any, written: str,
                     forbid: Callable[[str], bool], first: int) -> int:
        """The likeliest token after ``first`` that the grammar allows and ``forbid`` does
        not: of the likeliest TOP_CANDIDATES, then of the whole vocabulary (a check often
        turns down every token that opens a string, and those can be hundreds). After
        MAX_FORBIDDEN refusals ``first`` stands: a plan that breaks a check still beats no
        plan."""
        import numpy as np

        refused = {first}
        for ids in (_likeliest(logits), None):
            if constraint is not None:
                ranked = constraint.allowed(logits, ids)
            else:
                ranked = ids if ids is not None else np.arange(len(logits))
                ranked = ranked[np.lexsort((ranked, -logits[ranked]))]
            for token in (int(t) for t in ranked):
                if token in refused:
                    continue
                if len(refused) > MAX_FORBIDDEN:
                    return first
                if not forbid(written + _text(self.llama, [token])):
                    return token
                refused.add(token)
        return first

    def _logits(self) -> Any:
        import llama_cpp
        import numpy as np

        return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(self.llama._ctx.ctx, -1),
                                     shape=(self.llama.n_vocab(),))

    def _rewind(self, constraint: _Grammar | None, start: int, tokens: list[int], keep: int) -> None:
        """Cache, grammar and logits as they were when ``tokens[:keep]`` had been generated."""
        llama = self.llama
        last = start + keep - 1  # the token whose logits chose tokens[keep]: evaluated again
        llama._ctx.kv_cache_seq_rm(-1, last, -1)
        previous = tokens[keep - 1] if keep else int(llama.input_ids[last])
        llama.n_tokens = last
        llama.eval([previous])
        if constraint is not None:
            constraint.reset()
            for token in tokens[:keep]:
                constraint.accept(token)

    def _divert(self, constraint: _Grammar | None, start: int, tokens: list[int],
                line_start: int, forbid: Callable[[str], bool] | None = None) -> tuple[int, int] | None:
        """Where the refused line ``tokens[line_start:]`` should go another way, and the token
        to take there: of every position, the one where the best other allowed (and not
        forbidden) token came closest to the token taken (the likeliest line that says
        something else). The state is left just before that position; None (and the state
        after the line) if no token had a rival."""
        import numpy as np

        llama = self.llama
        self._rewind(constraint, start, tokens, line_start)
        best: tuple[float, int, int] | None = None
        for position in range(line_start, len(tokens)):
            logits = self._logits()
            taken = tokens[position]
            others = logits.copy()
            others[taken] = -np.inf
            rest = llama.detokenize(tokens[position:]).lower()
            for _ in range(RIVALS):
                # A rival beyond the likeliest tokens starts an unlikely line: not worth the
                # whole-vocabulary check at every position the grammar forces.
                rival = (constraint.best_allowed(others, likeliest_only=True) if constraint is not None
                         else int(others.argmax()))
                if rival < 0 or not np.isfinite(others[rival]):
                    break
                if forbid is not None and forbid(_text(llama, tokens[:position] + [rival])):
                    others[rival] = -np.inf
                    continue
                if not rest.startswith(llama.detokenize([rival]).lower()):
                    gap = float(logits[taken] - logits[rival])
                    if best is None or gap < best[0]:
                        best = (gap, position, rival)
                    break
                # The same text in other tokens, or in other case ("Expense report.xlsx"),
                # would write the same line again.
                others[rival] = -np.inf
            if constraint is not None:
                constraint.accept(taken)
            llama.eval([taken])
        if best is None:
            return None
        _, position, rival = best
        self._rewind(constraint, start, tokens, position)
        if constraint is not None:
            constraint.accept(rival)
        return position, rival


class _Candidates:
    """Buffers of llama.cpp token candidates, one set per model: a model generates one plan
    at a time, and with Gemma's 262k tokens a set is 4 MB, too much to keep per grammar."""

    def __init__(self, n_vocab: int) -> None:
        import llama_cpp
        import numpy as np

        self.one = (llama_cpp.llama_token_data * 1)()
        self.top = (llama_cpp.llama_token_data * min(TOP_CANDIDATES, n_vocab))()
        self.all = (llama_cpp.llama_token_data * n_vocab)()
        # numpy views of the candidate structs, to fill and read logits without a Python loop.
        self.top_view = np.ctypeslib.as_array(self.top)
        self.view = np.ctypeslib.as_array(self.all)
        self.ids = np.arange(n_vocab, dtype=np.int32)


class _Grammar:
    """A llama.cpp grammar sampler for one GBNF text; reset before each generation."""

    def __init__(self, llama: Any, text: str, candidates: _Candidates) -> None:
        import llama_cpp

        self._free = llama_cpp.llama_sampler_free  # kept: at interpreter exit imports fail
        self._sampler = llama_cpp.llama_sampler_init_grammar(llama._model.vocab, text.encode("utf-8"), b"root")
        if not self._sampler:
            raise ModelError("llama.cpp rejected the plan grammar (run with --verbose to see why)")
        self._candidates = candidates

    def reset(self) -> None:
        import llama_cpp

        llama_cpp.llama_sampler_reset(self._sampler)

    def accept(self, token: int) -> None:
        import llama_cpp

        llama_cpp.llama_sampler_accept(self._sampler, token)

    def allows(self, token: int, logits: Any) -> bool:
        """Whether the grammar allows ``token`` next."""
        import numpy as np

        one = self._candidates.one
        one[0].id, one[0].logit, one[0].p = token, float(logits[token]), 0.0
        self._apply(one, 1)
        return bool(np.isfinite(one[0].logit))

    def best_allowed(self, logits: Any, *, likeliest_only: bool = False) -> int:
        """The allowed token with the highest logit (-1: none). The likeliest tokens are
        tried first: when one of them is allowed it is the answer, and checking them costs
        a fraction of the whole vocabulary (about 50 ms a check with Gemma's 262k tokens).
        ``likeliest_only`` stops there."""
        likeliest = _likeliest(logits)
        for ids in (likeliest,) if likeliest_only else (likeliest, None):
            allowed = self.allowed(logits, ids)
            if len(allowed):
                return int(allowed[0])
        return -1

    def allowed(self, logits: Any, ids: Any = None) -> Any:
        """Of the token ``ids`` (at most TOP_CANDIDATES of them; None: the whole
        vocabulary), those the grammar allows next, likeliest first (ties to the lower id,
        as argmax over all)."""
        import numpy as np

        buffers = self._candidates
        if ids is None:
            view, data, ids = buffers.view, buffers.all, buffers.ids
        else:
            view, data = buffers.top_view[:len(ids)], buffers.top
        view["id"], view["logit"], view["p"] = ids, logits[ids], 0.0
        self._apply(data, len(view))
        allowed = ids[np.isfinite(view["logit"])]
        return allowed[np.lexsort((allowed, -logits[allowed]))]

    def _apply(self, data: Any, size: int) -> None:
        """Let the grammar set the logit of every candidate it forbids to -inf."""
        import llama_cpp

        candidates = llama_cpp.llama_token_data_array(data=data, size=size, selected=-1, sorted=False)
        llama_cpp.llama_sampler_apply(self._sampler, ctypes.byref(candidates))

    def __del__(self) -> None:
        if getattr(self, "_sampler", None):
            self._free(self._sampler)


def _on_llama_thread(generate: Callable[[], Iterator[str]]) -> Iterator[str]:
    """The items of ``generate()``, which runs on the llama.cpp thread. Closing this iterator
    stops it at its next item; its error is raised here."""
    items: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()
    stop = threading.Event()

    def produce() -> None:
        try:
            with contextlib.closing(generate()) as pieces:
                for piece in pieces:
                    if stop.is_set():
                        return
                    items.put((True, piece))
            items.put((False, None))
        except BaseException as exc:  # raised again in the caller's thread
            items.put((False, exc))

    _llama_thread.submit(produce)
    try:
        while True:
            more, item = items.get()
            if not more:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()


def _likeliest(logits: Any) -> Any:
    """The ids of the TOP_CANDIDATES highest logits, in no order."""
    import numpy as np

    count = min(TOP_CANDIDATES, len(logits))
    return np.argpartition(logits, -count)[-count:]


def _text(llama: Any, tokens: list[int]) -> str:
    return llama.detokenize(tokens).decode("utf-8", errors="replace")


def _stop_at(pieces: Iterator[str], stops: Sequence[str]) -> Iterator[str]:
    """Pass text through until a stop string; hold back only a tail that could begin one.

    Holding back a fixed length instead kept a finished plan line (and so its task) from
    the executor until the model had written the next dozen characters.
    """
    if not stops:
        yield from pieces
        return
    pending = ""
    for piece in pieces:
        pending += piece
        cut = min((i for i in (pending.find(s) for s in stops) if i >= 0), default=-1)
        if cut >= 0:
            if pending[:cut]:
                yield pending[:cut]
            return
        hold = max((k for s in stops for k in range(1, len(s)) if pending.endswith(s[:k])), default=0)
        if len(pending) > hold:
            yield pending[: len(pending) - hold]
            pending = pending[len(pending) - hold :]
    if pending:
        yield pending


def load_llama_model(spec: ModelSpec, path: Path, settings: Settings, verbose: bool = False) -> LlamaModel:
    """The process-wide LlamaModel for ``path`` (loaded on first use)."""
    adapter = _verified_adapter(spec) if spec.adapter else None
    key = (path.resolve(), spec.n_ctx, adapter)
    with _models_lock:
        model = _models.get(key)
        if model is None:
            extra = {"lora_path": str(adapter)} if adapter else {}
            llama = _load(path, spec.n_ctx, verbose, **extra)
            if adapter:
                _check_adapter_base(spec, llama, adapter)
            if not _models:
                atexit.register(_close_models)
            model = _models[key] = LlamaModel(spec, llama, path, verbose)
        return model


def _verified_adapter(spec: ModelSpec) -> Path:
    from .files import sha256_file

    assert spec.adapter is not None
    path = spec.adapter.path
    if not path.is_file():
        raise ModelError(f"model {spec.name!r}: its adapter {path} does not exist ({spec.origin})")
    if spec.adapter.sha256 is not None and sha256_file(path) != spec.adapter.sha256:
        raise ModelError(f"model {spec.name!r}: {path} is not the adapter models.yaml names (sha256 differs); "
                         "reinstall tinyagent or fix the entry's adapter.sha256")
    return path


def adapter_metadata(llama: Any) -> dict[str, str]:
    """The ``tinyagent.*`` keys of the adapter loaded into ``llama`` ({} without one)."""
    import llama_cpp

    adapter = getattr(llama, "_lora_adapter", None)
    if adapter is None:
        return {}
    found = {}
    buf = ctypes.create_string_buffer(4096)
    for i in range(llama_cpp.llama_adapter_meta_count(adapter)):
        llama_cpp.llama_adapter_meta_key_by_index(adapter, i, buf, len(buf))
        key = buf.value.decode("utf-8", "replace")
        if key.startswith("tinyagent."):
            llama_cpp.llama_adapter_meta_val_str_by_index(adapter, i, buf, len(buf))
            found[key] = buf.value.decode("utf-8", "replace")
    return found


def _check_adapter_base(spec: ModelSpec, llama: Any, adapter: Path) -> None:
    """An adapter trained on other weights would load and write nonsense: refuse it."""
    made_for = adapter_metadata(llama).get("tinyagent.base_sha256")
    if made_for and spec.sha256 and made_for != spec.sha256:
        llama.close()
        raise ModelError(f"model {spec.name!r}: {adapter.name} was trained for another base model "
                         f"(sha256 {made_for[:12]}…, not {spec.base}'s {spec.sha256[:12]}…); train it again "
                         "with tinyagent train")


def _close_models() -> None:
    """Free the models while the interpreter is whole; left to ``__del__`` at shutdown,
    llama-cpp-python's finalizers find their module globals gone and print tracebacks."""
    with _models_lock:
        for model in _models.values():
            model.llama.close()
        _models.clear()


def uses_amx(system_info: bytes | str) -> bool:
    """Whether llama.cpp's build runs matrix products on Intel AMX ("AMX_INT8 = 1" in its
    system info: built for a CPU that has it, Sapphire Rapids and later)."""
    text = system_info.decode() if isinstance(system_info, bytes) else system_info
    return re.search(r"\bAMX_INT8 = 1\b", text) is not None


@contextmanager
def _no_extra_buffers(enabled: bool) -> Iterator[None]:
    """Models loaded inside load their weights without llama.cpp's extra buffer types.

    On a CPU with AMX, llama.cpp repacks Q4_K weights into an AMX buffer and then crashes
    (SIGSEGV) in the first product (ggml-org/llama.cpp#20824, seen here with Gemma 3 270M):
    there the weights stay as the file has them, which costs the AVX repack's speed too.
    ``Llama`` takes no such argument; it reads the defaults from this function, so the
    defaults are changed while it loads (callers hold ``_models_lock``).
    """
    if not enabled:
        yield
        return
    import llama_cpp.llama_cpp as native

    defaults = native.llama_model_default_params

    def without_extra_buffers() -> Any:
        params = defaults()
        params.use_extra_bufts = False
        return params

    native.llama_model_default_params = without_extra_buffers
    try:
        yield
    finally:
        native.llama_model_default_params = defaults


def _load(path: Path, n_ctx: int, verbose: bool, **extra: Any) -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise ModelError(f"llama-cpp-python is not installed or does not load ({exc}); pip install llama-cpp-python") from None
    quiet_native_logs(verbose)
    threads = physical_cores()
    try:
        with _stderr_to_devnull(not verbose), _no_extra_buffers(uses_amx(llama_cpp.llama_print_system_info())):
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
