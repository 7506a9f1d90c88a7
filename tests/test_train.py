"""`tinyagent train`: training pairs, a few real LoRA steps on the embedded Gemma, the GGUF
adapter llama.cpp applies, and the models.yaml entries that run a base with an adapter."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from tinyagent_cli.errors import ModelError
from tinyagent_cli.llm import files
from tinyagent_cli.llm import registry as reg
from tinyagent_cli.settings import Config, Paths, Settings
from tinyagent_cli.tools.spec import load_catalog
from tinyagent_cli.train.lora import training_precision

from .conftest import run_cli

GEMMA_SHA = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
ROOT = Path(__file__).resolve().parent.parent
SHIPPED_ADAPTER = ROOT / "adapters" / "gemma3-270m-planner.gguf"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, object, object]:
    """The macos catalog with its ToolRAG, in a home shared by this module's tests."""
    from tinyagent_cli.retrieval.toolrag import ToolRAG

    home = tmp_path_factory.mktemp("train-home")
    settings = Settings(Paths(home / "config", home / "data", home / "cache"), Config(backend="macos"))
    catalog = load_catalog(settings)
    return settings, catalog, ToolRAG.load_or_train(catalog, settings, progress=lambda message: None)


def test_each_pair_is_the_prompt_the_planner_sees_and_the_plan(shared) -> None:
    from tinyagent_cli.train.data import training_pairs

    settings, catalog, rag = shared
    examples = list(rag.examples[:40])
    pairs = training_pairs(examples, catalog, settings, rag=rag)
    assert len(pairs) == 40
    for example, pair in zip(examples, pairs):
        assert pair.plan == example.plan.strip() and pair.plan.endswith("join()")
        assert pair.offered and set(pair.offered) <= set(catalog.tools)
        lines = pair.prompt.splitlines()
        assert lines[0] == "Tools:" and lines[-1] == f"Request: {example.query}"
        assert lines[1:-1] == [catalog.tools[t].signature() for t in pair.offered]


def test_examples_in_the_prompt_are_never_of_the_querys_own_templates(shared) -> None:
    """A request of a held-out phrasing finds no example of its own phrasing: in training,
    neither does a query, or the model learns to copy a near twin."""
    from tinyagent_cli.train.data import training_pairs

    settings, catalog, rag = shared
    examples = [e for e in rag.examples[::25] if e.template]
    templates = {e.query: set(e.template.split("+")) for e in rag.examples}
    pairs = training_pairs(examples, catalog, settings, rag=rag, examples_in_prompt=1)
    # An example is "Request: <query>" then its plan, which opens "1. <tool>(": a query may
    # run over several lines (a list typed line by line), so it ends only where its plan begins.
    shown = [re.findall(r"^Request: (.*?)\n1\. \w+\(", pair.prompt, re.S | re.M) for pair in pairs]
    assert sum(len(s) == 1 for s in shown) > 0.9 * len(pairs)
    for example, queries in zip(examples, shown):
        assert all(not templates[q] & templates[example.query] for q in queries)


def test_out_of_fold_selections_are_not_the_in_sample_ones(shared) -> None:
    """Selected by a classifier that never saw the template, some requests miss a tool or get
    an extra one, as a person's will: that is what the model must learn to cope with."""
    _, _, rag = shared
    examples = list(rag.examples[::20])
    held_out = rag.out_of_fold_tools(examples)
    in_sample = [rag.select(e.query).tools for e in examples]
    assert len(held_out) == len(examples) and all(held_out)
    assert held_out != in_sample


def test_held_out_templates_are_never_trained_on(shared) -> None:
    from tinyagent_cli.train.data import split_held_out, training_pairs

    settings, catalog, rag = shared
    pairs = training_pairs(list(rag.examples[:400]), catalog, settings, rag=rag)
    train, held = split_held_out(pairs, 0.1, seed=0)
    assert held and train and len(train) + len(held) == len(pairs)
    trained_on = {t for p in train for t in p.group.split("+")}
    # A held-out request joined from two templates may share one with training, never both.
    assert all(set(p.group.split("+")) - trained_on for p in held)


def test_the_trained_prompt_is_short_and_starts_the_same(shared) -> None:
    from datetime import datetime

    from tinyagent_cli.planners import build_prompt

    _, catalog, _ = shared
    tools = [catalog.tools["get_phone_number"], catalog.tools["send_sms"]]
    a = build_prompt("text Omar that I'm late", tools, [], now=datetime(2026, 1, 1), style="trained")
    b = build_prompt("email Ana", tools[:1], [], now=datetime(2027, 5, 5, 17), style="trained",
                     instructions=["always cc Nick"])
    assert a.text.startswith(a.prefix) and b.text.startswith(a.prefix) and a.prefix == b.prefix
    assert a.text == "Tools:\n" + "".join(t.signature() + "\n" for t in tools) + "Request: text Omar that I'm late\n"
    assert "- always cc Nick\n" in b.text and "2027" not in b.text  # no clock: dates stay phrases
    # An amount is shown as a plan writes it, so the plan copies "$$20", not a reference.
    money = build_prompt("text Omar I owe him $20", tools, [], now=datetime(2026, 1, 1), style="trained",
                         instructions=["tip $5"])
    assert "Request: text Omar I owe him $$20\n" in money.text and "- tip $$5\n" in money.text


# ---------------------------------------------------------------------- models.yaml


def _write(settings: Settings, text: str) -> None:
    path = reg.user_models_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")


ADAPTED = """\
    models:
      - name: planner
        description: Gemma with an adapter
        backend: llama_cpp
        base: gemma3-270m
        adapter: {{path: {path}{sha}}}
        license: test
        n_ctx: 2048
        prompt_style: trained
        examples: 0
"""


def test_an_adapted_model_runs_its_bases_weights(home: Path) -> None:
    settings = Settings.load()
    _write(settings, ADAPTED.format(path="adapters/mine.gguf", sha=""))
    registry = reg.load_registry(settings)
    spec, base = registry.get("planner"), registry.get("gemma3-270m")
    assert spec.base == "gemma3-270m" and spec.source == base.source and spec.sha256 == base.sha256
    assert spec.adapter is not None and spec.adapter.path == settings.paths.config_dir / "adapters" / "mine.gguf"
    assert spec.examples == 0 and spec.prompt_style == "trained"
    assert files._managed_path(spec, settings) == files._managed_path(base, settings)  # one copy of the weights


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("base: gemma3-270m\n        source: {path: /x.gguf}\n", "needs exactly one of 'source' and 'base'"),
        ("base: gemma3-270m\n", "is for a llama_cpp planner with an adapter"),
        ("source: {path: /x.gguf}\n        adapter: {path: a.gguf}\n", "needs 'base'"),
        ("base: nothing-here\n        adapter: {path: a.gguf}\n", "base 'nothing-here' must be a llama_cpp model"),
        ("base: gemma3-270m\n        adapter: {path: a.gguf, sha256: abc}\n", "expected 64 lowercase hex digits"),
        ("base: gemma3-270m\n        adapter: {path: a.gguf}\n        size: 5\n", "comes from the base model"),
    ],
)
def test_bad_adapted_entries_name_the_problem(home: Path, entry: str, message: str) -> None:
    settings = Settings.load()
    _write(settings, f"""\
    models:
      - name: planner
        description: d
        backend: llama_cpp
        {entry}        license: test
        n_ctx: 2048
        prompt_style: trained
    """)
    with pytest.raises(ModelError, match=message):
        reg.load_registry(settings)


def test_a_missing_or_changed_adapter_is_a_model_error(home: Path, tmp_path: Path) -> None:
    from tinyagent_cli.llm.llama import _verified_adapter

    settings = Settings.load()
    adapter = tmp_path / "a.gguf"
    _write(settings, ADAPTED.format(path=adapter, sha=", sha256: '" + "0" * 64 + "'"))
    spec = reg.load_registry(settings).get("planner")
    with pytest.raises(ModelError, match="does not exist"):
        _verified_adapter(spec)
    adapter.write_bytes(b"GGUF and then some")
    with pytest.raises(ModelError, match="sha256 differs"):
        _verified_adapter(spec)


# ---------------------------------------------------------------------- real training


@pytest.fixture(scope="module")
def base_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.getbasetemp() / "shared-gemma-home"
    settings = Settings(Paths(home / "config", home / "data", home / "cache"), Config())
    return files.ensure_installed(reg.load_registry(settings).get("gemma3-270m"), settings)


def _next_logits(llama, prompt: str):  # type: ignore[no-untyped-def]
    import llama_cpp
    import numpy as np

    tokens = llama.tokenize(prompt.encode(), add_bos=True, special=True)
    llama.reset()
    llama.eval(tokens)
    return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llama._ctx.ctx, -1), shape=(llama.n_vocab(),)).copy()


@pytest.mark.slow
def test_a_few_steps_give_an_adapter_llama_cpp_applies_as_torch_does(shared, base_gguf: Path, tmp_path: Path) -> None:
    """Two real LoRA steps on Gemma, exported to GGUF: llama.cpp moves the next-token
    logits the way torch does with the same adapter, and reads the adapter's metadata."""
    import numpy as np
    import torch

    from tinyagent_cli.llm.llama import _load, adapter_metadata
    from tinyagent_cli.train.data import training_pairs
    from tinyagent_cli.train.export import write_adapter
    from tinyagent_cli.train.lora import TrainConfig, load_base, train_lora

    settings, catalog, rag = shared
    pairs = training_pairs(list(rag.examples[:4]), catalog, settings, rag=rag)
    tokenizer, model = load_base(base_gguf, "cpu")
    prompt = pairs[0].prompt + "1."
    ids = tokenizer(prompt, add_special_tokens=True, return_tensors="pt").input_ids
    with torch.no_grad():
        torch_base = model(ids).logits[0, -1].float().numpy()
    # A large step, so the adapter's effect stands well above the two engines' rounding.
    # Batches of two: on a loaded 2-core machine each step's cost grows with its tokens.
    config = TrainConfig(max_steps=2, batch_size=2, learning_rate=5e-3, warmup_steps=1, checkpoint_every=1)
    result = train_lora(tokenizer, model, pairs, pairs[:2], config, device="cpu", work_dir=tmp_path / "work")
    assert result.steps == 2 and result.examples_seen == 4 and result.held_out_loss is not None
    assert (tmp_path / "work" / "checkpoint.pt").is_file()
    adapter = write_adapter(result.lora, base_gguf, tmp_path / "a.gguf", alpha=config.alpha,
                            metadata={"tinyagent.base_sha256": GEMMA_SHA, "tinyagent.toolset": "send_sms"})

    with torch.no_grad():  # training put the LoRA layers into the model in place
        torch_adapted = model(ids).logits[0, -1].float().numpy()
    plain, adapted = _load(base_gguf, 512, False), _load(base_gguf, 512, False, lora_path=str(adapter))
    assert plain.tokenize(prompt.encode(), add_bos=True, special=True) == ids[0].tolist()
    llama_base, llama_adapted = _next_logits(plain, prompt), _next_logits(adapted, prompt)
    n = min(len(torch_base), len(llama_base))  # llama.cpp may pad the vocabulary
    torch_shift, llama_shift = torch_adapted[:n] - torch_base[:n], llama_adapted[:n] - llama_base[:n]
    assert np.abs(llama_shift).max() > 1.0  # the adapter changes the output
    assert np.corrcoef(torch_shift, llama_shift)[0, 1] > 0.9
    assert adapter_metadata(adapted) == {"tinyagent.base_sha256": GEMMA_SHA, "tinyagent.toolset": "send_sms"}
    assert adapter_metadata(plain) == {}
    plain.close()
    adapted.close()


@pytest.mark.slow
def test_an_adapter_for_another_base_is_refused(home: Path, base_gguf: Path, tmp_path: Path) -> None:
    from tinyagent_cli.llm.llama import load_llama_model
    from tinyagent_cli.train.export import write_adapter

    zeros = {f"base_model.model.model.layers.0.self_attn.q_proj.lora_{p}.weight": t
             for p, t in (("A", _zeros(4, 640)), ("B", _zeros(1024, 4)))}
    adapter = write_adapter(zeros, base_gguf, tmp_path / "other.gguf", alpha=8.0,
                            metadata={"tinyagent.base_sha256": "f" * 64})
    settings = Settings.load()
    _write(settings, ADAPTED.format(path=adapter, sha=""))
    spec = reg.load_registry(settings).get("planner")
    with pytest.raises(ModelError, match="trained for another base model"):
        load_llama_model(spec, base_gguf, settings)


def _lora(rank: int, seed: int) -> dict[str, object]:
    """A small random LoRA on two of layer 0's projections, in peft's naming."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    prefix = "base_model.model.model.layers.0"
    shapes = {f"{prefix}.self_attn.q_proj": (1024, 640), f"{prefix}.mlp.down_proj": (640, 2048)}
    lora: dict[str, object] = {}
    for module, (out, into) in shapes.items():
        lora[f"{module}.lora_A.weight"] = torch.randn(rank, into, generator=gen) / 10
        lora[f"{module}.lora_B.weight"] = torch.randn(out, rank, generator=gen) / 10
    return lora


def _deltas(path: Path) -> dict[str, object]:
    """What an adapter file adds to each weight it adapts: (alpha / rank) B A, as ggml reads it."""
    import gguf
    import numpy as np

    from tinyagent_cli.train.export import gguf_field

    reader = gguf.GGUFReader(path)
    tensors = {t.name: np.asarray(t.data, dtype=np.float64) for t in reader.tensors}
    alpha = gguf_field(reader, gguf.Keys.Adapter.LORA_ALPHA)
    return {name.removesuffix(".lora_a"): alpha / a.shape[0] * tensors[name.replace("lora_a", "lora_b")] @ a
            for name, a in tensors.items() if name.endswith(".lora_a")}


def test_an_average_of_adapters_changes_each_weight_by_the_mean_of_their_changes(base_gguf: Path,
                                                                                  tmp_path: Path) -> None:
    import gguf
    import numpy as np

    from tinyagent_cli.train.export import average_adapters, gguf_field, write_adapter

    kept = {"tinyagent.base_sha256": GEMMA_SHA, "tinyagent.toolset": "send_sms", "tinyagent.prompt_style": "trained"}
    # Ranks and alphas that differ, as after `--rank`: each parent's scale must be kept.
    one = write_adapter(_lora(4, 1), base_gguf, tmp_path / "one.gguf", alpha=8.0,
                        metadata={**kept, "tinyagent.seed": "1"})
    two = write_adapter(_lora(8, 2), base_gguf, tmp_path / "two.gguf", alpha=4.0,
                        metadata={**kept, "tinyagent.seed": "2"})
    average = average_adapters([one, two], tmp_path / "average.gguf")

    parents, mean = _deltas(one), _deltas(average)
    assert mean.keys() == parents.keys() and len(mean) == 2
    for name, delta in _deltas(two).items():
        expected = (parents[name] + delta) / 2
        assert np.abs(mean[name] - expected).max() < 1e-3 * np.abs(expected).max()  # f16 rounding only
    reader = gguf.GGUFReader(average)
    assert {t.name: t.data.shape[0] for t in reader.tensors if t.name.endswith("lora_a")} == {
        "blk.0.attn_q.weight.lora_a": 12, "blk.0.ffn_down.weight.lora_a": 12}
    assert {key: gguf_field(reader, key) for key in reader.fields if key.startswith("tinyagent.")} == {
        **kept, "tinyagent.averaged_from": f"{files.sha256_file(one)},{files.sha256_file(two)}"}


def test_adapters_for_other_bases_or_tools_are_not_averaged(base_gguf: Path, tmp_path: Path) -> None:
    from tinyagent_cli.errors import ConfigError
    from tinyagent_cli.train.export import average_adapters, write_adapter

    one = write_adapter(_lora(4, 1), base_gguf, tmp_path / "one.gguf", alpha=8.0,
                        metadata={"tinyagent.base_sha256": GEMMA_SHA, "tinyagent.toolset": "send_sms"})
    other = write_adapter(_lora(4, 2), base_gguf, tmp_path / "other.gguf", alpha=8.0,
                          metadata={"tinyagent.base_sha256": GEMMA_SHA, "tinyagent.toolset": "send_email,send_sms"})
    with pytest.raises(ModelError, match="differ in tinyagent.toolset"):
        average_adapters([one, other], tmp_path / "average.gguf")
    with pytest.raises(ConfigError, match="two adapters or more"):
        average_adapters([one], tmp_path / "average.gguf")
    (tmp_path / "broken.gguf").write_bytes(b"GGUF and then some")
    with pytest.raises(ModelError, match="not a GGUF adapter"):
        average_adapters([one, tmp_path / "broken.gguf"], tmp_path / "average.gguf")
    assert not (tmp_path / "average.gguf").exists()


def test_the_average_script_says_in_one_line_what_it_wrote_or_why_not(base_gguf: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    from tinyagent_cli.train.export import write_adapter

    script = ROOT / "scripts" / "average_adapters.py"
    one = write_adapter(_lora(4, 1), base_gguf, tmp_path / "one.gguf", alpha=8.0, metadata={})
    two = write_adapter(_lora(4, 2), base_gguf, tmp_path / "two.gguf", alpha=8.0, metadata={})
    done = subprocess.run([sys.executable, str(script), str(one), str(two), "-o", str(tmp_path / "av.gguf")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip().endswith(files.sha256_file(tmp_path / "av.gguf"))
    refused = subprocess.run([sys.executable, str(script), str(one), "-o", str(tmp_path / "one-only.gguf")],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and refused.stderr == "error: averaging needs two adapters or more\n"


@pytest.mark.slow
def test_the_shipped_adapter_averaged_with_itself_plans_as_it_does(base_gguf: Path, tmp_path: Path) -> None:
    """The average's doubled rank and alpha as llama.cpp reads them: an adapter averaged with
    itself moves the logits as the adapter itself does. Its weights are the adapter's within 2e-8;
    llama.cpp's sums at rank 32 differ from rank 16 by about a tenth of the adapter's own move
    (0.8 and 1.4 for stages 11 and 17), where an alpha read undoubled would halve the move."""
    import numpy as np

    from tinyagent_cli.llm.llama import _load, adapter_metadata
    from tinyagent_cli.train.export import average_adapters

    average = average_adapters([SHIPPED_ADAPTER, SHIPPED_ADAPTER], tmp_path / "average.gguf")
    prompt = "Text Mia that I am running late"
    bare = _load(base_gguf, 512, False)
    logits_bare = _next_logits(bare, prompt)
    bare.close()
    once = _load(base_gguf, 512, False, lora_path=str(SHIPPED_ADAPTER))
    twice = _load(base_gguf, 512, False, lora_path=str(average))
    logits_once, logits_twice = _next_logits(once, prompt), _next_logits(twice, prompt)
    moved = np.abs(logits_once - logits_bare).max()
    assert np.abs(logits_once - logits_twice).max() < 0.25 * moved
    assert logits_once.argmax() == logits_twice.argmax()
    assert adapter_metadata(twice)["tinyagent.base_sha256"] == GEMMA_SHA
    once.close()
    twice.close()


def _zeros(*shape: int):  # type: ignore[no-untyped-def]
    import torch

    return torch.zeros(shape)


@pytest.mark.parametrize("examples", [0, 1])
def test_the_printed_models_entry_plans_as_the_adapter_was_trained(home: Path, tmp_path: Path, examples: int) -> None:
    from tinyagent_cli.commands.train_cmd import models_entry

    settings = Settings.load()
    adapter = tmp_path / "my: adapter.gguf"
    entry = models_entry(reg.load_registry(settings).get("gemma3-270m"), adapter, "0" * 64, examples)
    (home / "config" / "models.yaml").write_text("models:\n" + entry + "\n", encoding="utf-8")
    spec = reg.load_registry(Settings.load()).get("gemma3-270m-mine")
    assert spec.base == "gemma3-270m" and spec.prompt_style == "trained" and spec.examples == examples
    assert spec.adapter is not None and spec.adapter.path == adapter


@pytest.mark.slow
def test_train_command_writes_an_adapter_and_says_how_to_use_it(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "mine.gguf"
    result = run_cli(home, "train", "--limit", "24", "--max-steps", "1", "--batch-size", "4", "--out", str(out),
                     "--json", timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["steps"] == 1 and report["examples_seen"] == 4 and report["base"] == "gemma3-270m"
    assert report["precision"] == training_precision("cpu")
    assert out.is_file() and report["sha256"] == files.sha256_file(out) and report["bytes"] == out.stat().st_size
    assert "Traceback" not in result.stderr


def test_bf16_is_trained_in_only_where_the_hardware_computes_it(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import torch

    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert training_precision("cpu") == "float32"  # emulated bf16: three times as slow
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert training_precision("cpu") == "bfloat16"
    assert training_precision("mps") == "float32"


def test_a_query_given_twice_to_weigh_it_up_is_held_out_or_trained_on_whole() -> None:
    from tinyagent_cli.retrieval.dataset import Example
    from tinyagent_cli.retrieval.toolrag import example_group
    from tinyagent_cli.train.data import TrainingPair, split_held_out

    written = [Example(f"text friend {n} that I'm late", "", ("send_sms",)) for n in range(40)]
    templated = Example("text Omar that I'm late", "", ("send_sms",), template="sms.late.00+notes.open.c01")
    assert example_group(templated) == "sms.late.00+notes.open.c01"
    pairs = [TrainingPair(e.query, "", "", example_group(e), ()) for e in written + written]
    train, held = split_held_out(pairs, 0.25, seed=3)
    assert held and train and not {p.query for p in train} & {p.query for p in held}
    assert len(held) % 2 == 0  # both copies of each held-out query


@pytest.mark.slow
def test_training_can_start_from_an_adapter_already_trained(home: Path, tmp_path: Path) -> None:
    """--init reads the shipped adapter back into LoRA weights: its first step already plans
    the bank's requests (loss near the shipped run's 0.03), where a start from zero is at ~2."""
    out = tmp_path / "next.gguf"
    result = run_cli(home, "train", "--limit", "16", "--max-steps", "1", "--batch-size", "4",
                     "--init", str(SHIPPED_ADAPTER), "--out", str(out), "--json", timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["train_loss"] < 0.5
    missing = run_cli(home, "train", "--init", str(tmp_path / "none.gguf"), "--out", str(out), timeout=300)
    assert missing.returncode != 0 and "--init" in missing.stderr and "Traceback" not in missing.stderr
