"""llama.cpp planner backend with the real embedded Gemma: streaming, determinism, KV reuse, quiet logs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from tinyagent_cli.errors import ModelError
from tinyagent_cli.llm.base import LanguageModel
from tinyagent_cli.llm.llama import LlamaModel, physical_cores, uses_amx
from tinyagent_cli.settings import Config, Paths, Settings

REPO = Path(__file__).resolve().parent.parent


def test_a_build_that_runs_on_amx_is_recognised_by_its_system_info() -> None:
    """Where llama.cpp would repack weights for AMX (and crash), models load without extra buffers."""
    assert uses_amx(b"CPU : SSE3 = 1 | AVX512_BF16 = 1 | AMX_INT8 = 1 | LLAMAFILE = 1 | REPACK = 1 |")
    assert not uses_amx("CPU : SSE3 = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | REPACK = 1 |")
    assert not uses_amx("CPU : AMX_INT8 = 0 | REPACK = 1 |")


def test_physical_cores_is_within_what_we_may_use() -> None:
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert 1 <= physical_cores() <= (available or 1)


@pytest.fixture(scope="module")
def shared_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A home whose models folder is shared by this session's tests, so Gemma is assembled once."""
    home = tmp_path_factory.getbasetemp() / "shared-gemma-home"
    return Settings(Paths(home / "config", home / "data", home / "cache"), Config())


@pytest.fixture(scope="module")
def gemma(shared_settings: Settings) -> LlamaModel:
    from tinyagent_cli.llm.backends import open_model
    from tinyagent_cli.llm.registry import load_registry

    model = open_model(load_registry(shared_settings).get("gemma3-270m"), shared_settings)
    assert isinstance(model, LlamaModel)
    return model


def _prompt_tokens_evaluated(model: LlamaModel, prompt: str) -> int:
    """Prompt tokens llama.cpp really evaluated for one completion (its own perf counter)."""
    import llama_cpp

    ctx = model.llama._ctx.ctx
    llama_cpp.llama_perf_context_reset(ctx)
    "".join(model.stream(prompt, max_tokens=2))
    return llama_cpp.llama_perf_context(ctx).n_p_eval


@pytest.mark.slow
def test_stream_is_a_deterministic_language_model(gemma: LlamaModel, shared_settings: Settings) -> None:
    from tinyagent_cli.llm.backends import open_model
    from tinyagent_cli.llm.registry import load_registry

    assert isinstance(gemma, LanguageModel) and gemma.name == "gemma3-270m"
    prompt = "The three primary colours are"
    chunks = list(gemma.stream(prompt, max_tokens=24))
    assert len(chunks) > 1 and all(isinstance(c, str) for c in chunks)
    assert "".join(gemma.stream(prompt, max_tokens=24)) == "".join(chunks)
    assert open_model(load_registry(shared_settings).get("gemma3-270m"), shared_settings) is gemma  # one per process


@pytest.mark.slow
def test_stop_strings_end_the_completion(gemma: LlamaModel) -> None:
    counting = 'root ::= " 6, 7, 8, 9"'  # the grammar decides the text, whatever the CPU's kernels
    free = "".join(gemma.stream("1, 2, 3, 4, 5,", grammar=counting, max_tokens=12))
    assert free == " 6, 7, 8, 9"
    stopped = "".join(gemma.stream("1, 2, 3, 4, 5,", grammar=counting, stop=["7"], max_tokens=12))
    assert stopped == " 6, "


@pytest.mark.slow
def test_count_tokens(gemma: LlamaModel) -> None:
    assert gemma.count_tokens("") == 0
    one = gemma.count_tokens("hello world")
    assert 1 <= one <= 4
    assert gemma.count_tokens("hello world " * 10) > 5 * one


@pytest.mark.slow
def test_shared_prefix_is_not_evaluated_again(gemma: LlamaModel) -> None:
    prefix = "".join(f"Example {i}: get_email_address(\"Person {i}\") returns person{i}@example.com\n" for i in range(40))
    total = gemma.count_tokens(prefix)
    assert total > 500
    first = _prompt_tokens_evaluated(gemma, prefix + "Question: who is Person 3?\n")
    second = _prompt_tokens_evaluated(gemma, prefix + "Question: what about Person 7?\n")
    assert first >= total
    assert second < 40, f"second query evaluated {second} prompt tokens; the {total}-token prefix was not reused"


@pytest.mark.slow
def test_warm_prefix_leaves_only_the_tail(gemma: LlamaModel) -> None:
    prefix = "".join(f"Note {i}: remember to buy item number {i}.\n" for i in range(30))
    gemma.warm_prefix(prefix)
    assert _prompt_tokens_evaluated(gemma, prefix + "Note 30:") < 15


@pytest.mark.slow
def test_llama_cpp_works_on_one_thread_whoever_asks(gemma: LlamaModel, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second OpenMP team slows llama.cpp down while the first lives, so every evaluation
    happens on one thread, whichever thread asks; after a stream closed early the next one
    still answers as before."""
    import threading

    threads: set[int] = set()
    evaluate = gemma.llama.eval

    def recorded(tokens):  # type: ignore[no-untyped-def]
        threads.add(threading.get_ident())
        return evaluate(tokens)

    monkeypatch.setattr(gemma.llama, "eval", recorded)
    prompt = "The three primary colours are"
    gemma.warm_prefix("The three primary")  # from this thread, as the REPL warms up
    alone = "".join(gemma.stream(prompt, max_tokens=12))
    texts: list[str] = []
    workers = [threading.Thread(target=lambda: texts.append("".join(gemma.stream(prompt, max_tokens=12))))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert texts == [alone, alone]
    assert len(threads) == 1 and threading.get_ident() not in threads
    closed = gemma.stream(prompt, max_tokens=200)
    next(closed)
    closed.close()
    assert "".join(gemma.stream(prompt, max_tokens=12)) == alone


@pytest.mark.slow
def test_prompt_longer_than_the_context_is_a_model_error(gemma: LlamaModel) -> None:
    with pytest.raises(ModelError) as err:
        "".join(gemma.stream("word " * (gemma.spec.n_ctx + 10), max_tokens=4))
    assert "\n" not in str(err.value)


@pytest.mark.slow
def test_native_logging_stays_off_the_terminal(gemma: LlamaModel, shared_settings: Settings) -> None:
    """Load, generate with a grammar, and reject a bad grammar in a fresh process: stderr stays empty."""
    path = gemma.path
    code = f"""
from pathlib import Path
from tinyagent_cli.errors import ModelError
from tinyagent_cli.llm.registry import load_registry
from tinyagent_cli.llm.llama import load_llama_model
from tinyagent_cli.settings import Settings
settings = Settings.load()
spec = load_registry(settings).get("gemma3-270m")
model = load_llama_model(spec, Path({str(path)!r}), settings)
print("".join(model.stream("Hi", grammar='root ::= "ok"', max_tokens=4)))
try:
    model.grammar('root ::= ( "x"')
except ModelError as exc:
    print("rejected")
"""
    env = {**os.environ, "TINYAGENT_HOME": str(shared_settings.paths.data_dir.parent)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["ok", "rejected"]
    assert out.stderr == ""


@pytest.mark.slow
def test_prefix_state_kept_on_disk_is_restored(gemma: LlamaModel, tmp_path: Path) -> None:
    import llama_cpp

    prefix = "".join(f"Task {i}: water plant number {i}.\n" for i in range(30))
    gemma.warm_prefix(prefix, cache_dir=tmp_path)
    [state] = list(tmp_path.glob("gemma3-270m-*.kv"))
    assert state.stat().st_size > 0
    gemma.llama.reset()  # as good as a fresh process: nothing cached
    ctx = gemma.llama._ctx.ctx
    llama_cpp.llama_perf_context_reset(ctx)
    gemma.warm_prefix(prefix, cache_dir=tmp_path)
    assert llama_cpp.llama_perf_context(ctx).n_p_eval <= 1  # restored, not evaluated (llama.cpp reports at least 1)
    assert _prompt_tokens_evaluated(gemma, prefix + "Task 30:") < 15
    gemma.warm_prefix("Something else entirely.\n", cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.kv"))) == 2  # another prefix, another file


@pytest.mark.slow
def test_the_planners_cached_prefix_starts_every_prompt(gemma: LlamaModel, tmp_path: Path) -> None:
    """The prefix's KV cache is only worth keeping if a whole prompt's tokens start with
    the prefix's; a warm process reads only the rest of each prompt, and plans a request
    exactly as a fresh process does, whatever it planned before."""
    import llama_cpp

    from tinyagent_cli.planners import build_prompt
    from tinyagent_cli.tools.spec import load_pack, shipped_packs_dir

    tools = load_pack(shipped_packs_dir() / "tinyagent").tools[:3]
    now = datetime(2026, 11, 21, 9, 0)
    tokens = lambda text: gemma.llama.tokenize(text.encode(), add_bos=True, special=True)  # noqa: E731
    for style in ("completion", "tinyagent", "trained"):
        prompt = build_prompt("text Omar that I'm late", tools, [], now=now, style=style)
        assert tokens(prompt.text)[: len(tokens(prompt.prefix))] == tokens(prompt.prefix), style
    first = build_prompt("text Omar that I'm late", tools, [], now=now)
    second = build_prompt("email Ana the report", tools, [], now=now)
    gemma.warm_prefix(first.prefix, cache_dir=tmp_path)
    "".join(gemma.stream(first.text, max_tokens=8))
    ctx = gemma.llama._ctx.ctx
    llama_cpp.llama_perf_context_reset(ctx)
    gemma.warm_prefix(second.prefix, cache_dir=tmp_path)  # as the agent does before each plan
    warm = "".join(gemma.stream(second.text, max_tokens=40))
    tail = len(tokens(second.text)) - len(tokens(second.prefix))
    assert tail <= llama_cpp.llama_perf_context(ctx).n_p_eval <= tail + 1  # llama.cpp counts one more
    gemma.llama.reset()  # a fresh process: the prefix comes from the file
    gemma.warm_prefix(second.prefix, cache_dir=tmp_path)
    assert "".join(gemma.stream(second.text, max_tokens=40)) == warm


@pytest.mark.slow
def test_a_long_session_keeps_only_a_few_grammars(gemma: LlamaModel) -> None:
    """Every request makes its own grammar (it holds the request's words): a REPL that
    kept them all would grow by megabytes a query."""
    from tinyagent_cli.llm.llama import KEEP_GRAMMARS

    texts = [f'root ::= "request {i}"' for i in range(KEEP_GRAMMARS + 6)]
    for text in texts:
        gemma.grammar(text)
    assert len(gemma._grammars) == KEEP_GRAMMARS
    assert gemma.grammar(texts[-1]) is gemma.grammar(texts[-1])  # a replan reuses its own


@pytest.mark.slow
def test_a_refused_line_is_replaced_by_the_next_likeliest(gemma: LlamaModel) -> None:
    """A line the caller refuses is taken back and another written in its place; the text
    stays inside the grammar, and a caller that refuses everything still gets an answer."""
    from tinyagent_cli.llm.llama import MAX_REJECTED

    prompt = "Shopping list:\n1. milk\n2. eggs\n3. bread\n"
    # Words of at most 8 letters: three lines always fit in 40 tokens, so each text has all three.
    grammar = 'root ::= item item item\nitem ::= [4-9] ". " [a-z]{1,8} "\\n"'
    free = "".join(gemma.stream(prompt, grammar=grammar, max_tokens=40)).splitlines(keepends=True)
    assert len(free) == 3
    offered: list[str] = []

    def refuse_second(line: str) -> bool:
        offered.append(line)
        return line == free[1]

    lines = "".join(gemma.stream(prompt, grammar=grammar, max_tokens=40, reject=refuse_second)).splitlines(keepends=True)
    assert offered[:2] == free[:2]
    assert lines[0] == free[0] and lines[1] != free[1] and len(lines) == 3
    assert all(re.fullmatch(r"[4-9]\. [a-z]{1,8}\n", line) for line in lines)
    assert "".join(gemma.stream(prompt, grammar=grammar, max_tokens=40)).splitlines(keepends=True) == free

    refused: list[str] = []
    everything = "".join(gemma.stream(prompt, grammar=grammar, max_tokens=40,
                                      reject=lambda line: refused.append(line) or True))
    assert len(everything.splitlines()) == 3 and len(refused) == MAX_REJECTED


@pytest.mark.slow
def test_a_forbidden_token_gives_way_to_the_next_likeliest(gemma: LlamaModel) -> None:
    """``forbid`` turns tokens down as they come, inside the grammar, and is shown the whole
    text so far; with or without a line refused, no forbidden text is ever written."""
    prompt = "Shopping list:\n1. milk\n2. eggs\n3. bread\n"
    grammar = 'root ::= item item item\nitem ::= [4-9] ". " [a-z]{1,8} "\\n"'
    free = "".join(gemma.stream(prompt, grammar=grammar, max_tokens=40))
    banned = free.splitlines()[1].split(". ")[1][:1]  # the first letter of the second item
    shown: list[str] = []

    def no_banned_item(text: str) -> bool:
        shown.append(text)
        return any(line.split(". ")[-1].startswith(banned) for line in text.split("\n") if ". " in line)

    for reject in (None, lambda line: line == free.splitlines(keepends=True)[0]):
        shown.clear()
        text = "".join(gemma.stream(prompt, grammar=grammar, max_tokens=40, reject=reject, forbid=no_banned_item))
        assert re.fullmatch(r"(?:[4-9]\. [a-z]{1,8}\n){3}", text), text
        assert not no_banned_item(text) and text != free
        assert shown[0] and free.startswith(shown[0])  # the text from its start, with one candidate


@pytest.mark.slow
def test_the_one_token_not_forbidden_is_found_however_unlikely(gemma: LlamaModel) -> None:
    """A check can turn down hundreds of likelier tokens (every token that opens a string
    among an email's recipients): the one the grammar allows and ``forbid`` does not is
    still found, here "]" where the model wants a list of names."""
    prompt = 'Names of the guests: ["Ana", "Raj", "Li"]\nNames of the guests: ['
    grammar = 'root ::= [^\\]\\n]{0,20} "]"'
    asked: list[str] = []

    def all_but_the_end(text: str) -> bool:
        asked.append(text)
        return text != "]"

    assert "".join(gemma.stream(prompt, grammar=grammar, max_tokens=30)).startswith('["Ana"')
    assert "".join(gemma.stream(prompt, grammar=grammar, max_tokens=30, forbid=all_but_the_end)) == "]"
    assert len(asked) > 16  # more than the candidates the decoder once tried before giving up


def test_stop_strings_hold_back_only_what_could_begin_one() -> None:
    """A finished plan line reaches the parser at once, not a dozen characters later."""
    from tinyagent_cli.llm.llama import _stop_at

    seen = []
    for piece in _stop_at(iter(['1. a("x")', "\n", "2", ". join()", "<END_", "OF_PLAN>", "tail"]),
                          ("<END_OF_PLAN>", "\n\n")):
        seen.append(piece)
    assert seen[:2] == ['1. a("x")', "\n2"]  # the newline goes as soon as "2" shows it is not "\n\n"
    assert "".join(seen) == '1. a("x")\n2. join()'
