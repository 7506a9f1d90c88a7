"""`tinyagent train`: fine-tune a planner's base model on solved queries, write a GGUF adapter."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console

    from ..llm.registry import ModelSpec
    from ..settings import Settings
    from ..tools.spec import Catalog
    from ..train.lora import TrainConfig

EXTRA = "pip install 'tinyagent-cli[train]'"


def _require_extra() -> None:
    import warnings

    # transformers and peft warn about deprecations and GGUF details a user cannot act on.
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TQDM_DISABLE", "1")
    missing = []
    for module in ("torch", "transformers", "peft", "gguf"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise ConfigError(f"training needs {', '.join(missing)}: {EXTRA}")


def train_command(settings: Settings, catalog: Catalog, datasets: Sequence[Path], out: Path, *, base: str,
                  config: TrainConfig, examples_in_prompt: int, held_out: float, limit: int | None,
                  resume: bool, as_json: bool, console: Console, init: Path | None = None) -> None:
    _require_extra()
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from ..llm.files import ensure_installed, sha256_file
    from ..llm.registry import load_registry
    from ..retrieval.dataset import read_dataset
    from ..retrieval.toolrag import ToolRAG
    from ..train.data import data_hash, split_held_out, training_pairs
    from ..train.export import read_adapter, write_adapter
    from ..train.lora import load_base, pick_device, train_lora

    if init is not None and not init.is_file():
        raise ConfigError(f"--init: {init} does not exist")
    spec = load_registry(settings).get(base)
    if spec.backend != "llama_cpp" or spec.base:
        raise ConfigError(f"{base!r} is not a llama_cpp model with weights of its own: train on a base such as gemma3-270m")
    device = pick_device(config.device)
    rag = ToolRAG.load_or_train(catalog, settings, progress=lambda message: console.print(f"[dim]{message}[/]"))
    examples = [e for path in datasets for e in read_dataset(path)] if datasets else list(rag.examples)
    if limit:
        examples = examples[:limit]
    pairs = training_pairs(examples, catalog, settings, rag=rag, examples_in_prompt=examples_in_prompt)
    train, held = split_held_out(pairs, held_out, config.seed)
    console.print(f"{len(train):,} training pairs, {len(held):,} held out "
                  f"({len(examples) - len(pairs):,} skipped: tools not in the {catalog.backend} backend)")

    gguf_path = ensure_installed(spec, settings, console)
    console.print(f"[dim]loading {spec.name} from {gguf_path} on {device} ...[/]")
    tokenizer, model = load_base(gguf_path, device)
    work_dir = out.with_name(out.name + ".work")
    with Progress(TextColumn("training"), BarColumn(), TextColumn("{task.completed}/{task.total} steps"),
                  TextColumn("loss {task.fields[loss]:.3f}"), TimeElapsedColumn(), TimeRemainingColumn(),
                  console=console, transient=False, disable=not console.is_terminal) as bar:
        task = bar.add_task("train", total=None, loss=float("nan"))
        started = time.monotonic()

        def progress(step: int, total: int, loss: float) -> None:
            bar.update(task, completed=step, total=total, loss=loss)
            if not console.is_terminal and (step % 10 == 0 or step == total):  # a log keeps a line now and then
                left = (time.monotonic() - started) / step * (total - step)
                console.print(f"step {step}/{total}, loss {loss:.3f}, {left / 60:.0f} min left")

        start = None if init is None else (lambda modules: read_adapter(init, gguf_path, modules))
        result = train_lora(tokenizer, model, train, held, config, device=device, work_dir=work_dir,
                            resume=resume, progress=progress, init=start)

    metadata = {
        "tinyagent.base_model": spec.name,
        "tinyagent.base_sha256": spec.sha256 or sha256_file(gguf_path),
        "tinyagent.data_sha256": data_hash(train),
        "tinyagent.toolset": ",".join(sorted(catalog.tools)),
        "tinyagent.prompt_style": "trained",
        "tinyagent.examples_in_prompt": str(examples_in_prompt),
        "tinyagent.seed": str(config.seed),
        "tinyagent.steps": str(result.steps),
        "tinyagent.precision": result.precision,
        "tinyagent.config": json.dumps(asdict(config), sort_keys=True),
    }
    if init is not None:
        metadata["tinyagent.init_sha256"] = sha256_file(init)
    write_adapter(result.lora, gguf_path, out, alpha=config.alpha, metadata=metadata)
    report = {
        "adapter": str(out),
        "sha256": sha256_file(out),
        "bytes": out.stat().st_size,
        "base": spec.name,
        "steps": result.steps,
        "examples_seen": result.examples_seen,
        "train_pairs": len(train),
        "held_out_pairs": len(held),
        "train_loss": round(result.train_loss, 4),
        "held_out_loss": None if result.held_out_loss is None else round(result.held_out_loss, 4),
        "seconds": round(result.seconds, 1),
        "device": result.device,
        "precision": result.precision,
        "interrupted": result.interrupted,
    }
    if as_json:
        print(json.dumps(report))
        return
    if result.interrupted:
        console.print(f"Stopped at step {result.steps}; the adapter below is that step's "
                      "(--resume with the same options goes on from there).")
    held_text = "" if result.held_out_loss is None else f", held-out loss {result.held_out_loss:.3f}"
    console.print(f"Trained {result.steps} steps ({result.examples_seen:,} examples) in {result.seconds / 60:.1f} min "
                  f"on {result.device} ({result.precision}): loss {result.train_loss:.3f}{held_text}")
    console.print(f"Adapter: {out} ({out.stat().st_size / 1e6:.1f} MB, sha256 {report['sha256']})")
    console.print("To plan with it, add to models.yaml in your config folder:\n"
                  + models_entry(spec, out, report["sha256"], examples_in_prompt), highlight=False)


def models_entry(base: ModelSpec, adapter: Path, sha256: str, examples_in_prompt: int) -> str:
    """The models.yaml entry (an item of ``models:``) that plans with a trained adapter."""
    return (f"  - name: {base.name}-mine\n    description: {base.name} with my adapter\n"
            f"    backend: llama_cpp\n    base: {base.name}\n"
            # Quoted: a path may hold ": ", and a hash of digits and one "e" reads as a number.
            f"    adapter: {{path: {json.dumps(str(adapter.resolve()))}, sha256: {json.dumps(sha256)}}}\n"
            f"    license: {json.dumps(base.license)}\n    n_ctx: {base.n_ctx}\n    prompt_style: trained\n"
            # As many examples as it was trained with: an entry without them reads examples_k.
            f"    examples: {examples_in_prompt}")
