"""Does the KV cache of a prompt's static prefix pay off? Prints one JSON object.

    python bench/kv_state.py [--model gemma3-270m] [--examples 12] [--runs 3]

Measures, with the real planner model:
  * in one process: a first query with a ~1000-token prefix, then a second query that
    shares the prefix (llama-cpp-python reuses the matching KV cache);
  * across processes (the one-shot `tinyagent run` case): a cold start that evaluates the
    prefix, against a start that restores the prefix's KV state from a file written by
    llama.cpp's llama_state_save_file;
  * the cost of the plan grammar on generation speed.
Times are medians over --runs fresh processes (or repeats), in seconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tinyagent_cli.llm.llama import LlamaModel, load_llama_model, physical_cores  # noqa: E402
from tinyagent_cli.llm.files import ensure_installed  # noqa: E402
from tinyagent_cli.llm.registry import load_registry  # noqa: E402
from tinyagent_cli.plan.grammar import plan_grammar  # noqa: E402
from tinyagent_cli.settings import Settings  # noqa: E402
from tinyagent_cli.tools.spec import load_pack, shipped_packs_dir  # noqa: E402

TAILS = ("Question: Text Bob that I will be late\n", "Question: Email Alice the budget report\n")


def build_prefix(n_examples: int) -> str:
    """A prompt prefix shaped like the planner's: instructions, all 16 signatures, examples."""
    tools = load_pack(shipped_packs_dir() / "tinyagent").tools
    lines = ["Plan the function calls that answer the question. Functions:"]
    lines += [f"{t.signature()}: {t.description}" for t in tools]
    for i in range(n_examples):
        lines += [
            "",
            f"Question: Email contact number {i} the report called file {i}",
            f'1. get_email_address("Contact {i}")',
            f'2. open_and_get_file_path("file {i}")',
            f'3. compose_new_email(["$1"], [], "File {i}", "Here is file {i}", ["$2"])',
            "4. join()<END_OF_PLAN>",
        ]
    return "\n".join(lines) + "\n\n"


def timed_query(model: LlamaModel, prompt: str, max_tokens: int = 1, grammar: str | None = None) -> tuple[float, int]:
    import llama_cpp

    ctx = model.llama._ctx.ctx
    llama_cpp.llama_perf_context_reset(ctx)
    start = time.perf_counter()
    "".join(model.stream(prompt, max_tokens=max_tokens, grammar=grammar))
    return time.perf_counter() - start, llama_cpp.llama_perf_context(ctx).n_p_eval


def child(args: argparse.Namespace) -> None:
    settings = Settings.load()
    spec = load_registry(settings).get(args.model)
    path = ensure_installed(spec, settings)
    t0 = time.perf_counter()
    model = load_llama_model(spec, path, settings)
    load = time.perf_counter() - t0
    restore = 0.0
    prefix = build_prefix(args.examples)
    if args.state:
        t0 = time.perf_counter()
        model.warm_prefix(prefix, cache_dir=Path(args.state))
        restore = time.perf_counter() - t0
    query, evaluated = timed_query(model, prefix + TAILS[0])
    print(json.dumps({"load_s": load, "restore_s": restore, "query_s": query, "prompt_tokens_evaluated": evaluated}))


def run_child(args: argparse.Namespace, state: Path | None) -> dict:
    argv = [sys.executable, __file__, "--child", "--model", args.model, "--examples", str(args.examples)]
    if state is not None:
        argv += ["--state", str(state)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def median_runs(args: argparse.Namespace, state: Path | None) -> dict:
    runs = [run_child(args, state) for _ in range(args.runs)]
    result = {key: round(statistics.median(r[key] for r in runs), 4) for key in runs[0]}
    result["one_shot_s"] = round(statistics.median(r["load_s"] + r["restore_s"] + r["query_s"] for r in runs), 4)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gemma3-270m")
    parser.add_argument("--examples", type=int, default=12)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--state", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    settings = Settings.load()
    spec = load_registry(settings).get(args.model)
    model = load_llama_model(spec, ensure_installed(spec, settings), settings)
    prefix = build_prefix(args.examples)
    prefix_tokens = model.count_tokens(prefix)

    first, first_eval = timed_query(model, prefix + TAILS[0])
    # Alternate the tails so each query differs from the one before it, as real queries do.
    seconds = [timed_query(model, prefix + TAILS[(i + 1) % 2]) for i in range(args.runs)]
    second = statistics.median(s for s, _ in seconds)

    tools = load_pack(shipped_packs_dir() / "tinyagent").tools
    grammar = plan_grammar([t for t in tools if t.name in ("get_phone_number", "send_sms", "get_email_address")])
    free_gen, _ = timed_query(model, prefix + TAILS[0], max_tokens=48)
    model.grammar(grammar)  # compile outside the timing
    constrained_gen, _ = timed_query(model, prefix + TAILS[0], max_tokens=48, grammar=grammar)

    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        t0 = time.perf_counter()
        model.warm_prefix(prefix, cache_dir=state)
        save_s = time.perf_counter() - t0
        saved_tokens = model.llama.n_tokens
        state_bytes = sum(f.stat().st_size for f in state.iterdir())
        cold = median_runs(args, None)
        warm = median_runs(args, state)

    print(
        json.dumps(
            {
                "model": spec.name,
                "threads": physical_cores(),
                "n_ctx": spec.n_ctx,
                "prefix_tokens": prefix_tokens,
                "same_process": {
                    "first_query_s": round(first, 4),
                    "first_prompt_tokens_evaluated": first_eval,
                    "second_query_s": round(second, 4),
                    "second_prompt_tokens_evaluated": seconds[0][1],
                    "speedup": round(first / second, 1),
                },
                "fresh_process": {
                    "state_file_bytes": state_bytes,
                    "state_tokens": saved_tokens,
                    "save_s": round(save_s, 4),
                    "cold": cold,
                    "restored": warm,
                    "one_shot_speedup": round(cold["one_shot_s"] / warm["one_shot_s"], 2),
                },
                "generation_48_tokens": {
                    "free_s": round(free_gen, 4),
                    "with_plan_grammar_s": round(constrained_gen, 4),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
