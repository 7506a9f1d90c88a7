"""ToolRAG, the example bank and the dataset reader, on the shipped pack and on a tiny user pack."""

from __future__ import annotations

import io
import json
import pickle
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tinyagent_cli.errors import DatasetError, PackError
from tinyagent_cli.plan.parser import plan_calls
from tinyagent_cli.retrieval.dataset import read_dataset
from tinyagent_cli.retrieval.examples import ExampleBank
from tinyagent_cli.retrieval.toolrag import ToolRAG, grams, model_key, model_path
from tinyagent_cli.settings import Settings
from tinyagent_cli.tools.spec import load_catalog

ROOT = Path(__file__).resolve().parent.parent


# ---- the shipped pack, trained once per session ------------------------------------


@pytest.fixture(scope="session")
def shipped(tmp_path_factory):
    """(rag, catalog, settings) for the macOS backend, trained once in a tmp home."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TINYAGENT_HOME", str(tmp_path_factory.mktemp("home")))
        settings = Settings.load(backend="macos")
        catalog = load_catalog(settings)
        rag = ToolRAG.load_or_train(catalog, settings, progress=lambda _: None)
        yield rag, catalog, settings


def _recall(rag, path: Path) -> tuple[float, float]:
    examples = [e for e in read_dataset(path) if set(e.tools) <= set(rag.tools)]
    selections = [rag.select(e.query).tools for e in examples]
    hits = sum(set(e.tools) <= set(s) for e, s in zip(examples, selections))
    return hits / len(examples), sum(map(len, selections)) / len(examples)


def test_recall_on_held_out_templates(shipped):
    rag = shipped[0]
    assert len(rag.tools) == 16 and "send_sms" in rag.tools
    recall, per_query = _recall(rag, ROOT / "datasets" / "test.jsonl")
    assert recall >= 0.99
    assert per_query <= 4.0


def test_recall_on_natural_requests(shipped):
    recall, per_query = _recall(shipped[0], ROOT / "datasets" / "dev.jsonl")
    assert recall >= 0.97
    assert per_query <= 4.0


@pytest.mark.parametrize(
    "query",
    [
        "text Omar I'm running late",
        "send a message to Priya saying the door code is 4412",
        "can you text my brother happy birthday",
    ],
)
def test_texting_selects_sms_and_phone_number(shipped, query):
    selected = shipped[0].select(query).tools
    assert {"send_sms", "get_phone_number"} <= set(selected)
    assert selected != ("compose_new_email",)


def test_selection_is_never_empty_and_respects_the_cap(shipped):
    rag = shipped[0]
    for query in ["", "xyzzy plugh", "?"]:
        assert len(rag.select(query).tools) >= 1
    query = "email Sarah the Q3 deck, text Omar the plan and put a review on Thursday at 3 with a zoom link"
    assert len(rag.select(query, hint_floor=2.0).tools) > 2
    capped = replace(rag, max_tools=2)
    assert len(capped.select(query, hint_floor=2.0).tools) == 2


def test_hints_add_the_tools_that_come_first(shipped):
    rag, catalog, _ = shipped
    query = "summarize the quarterly report pdf"
    everything = rag.select(query, hint_floor=0.0)
    assert "summarize_pdf" in everything.tools and "open_and_get_file_path" in everything.tools
    for tool in everything.hinted:
        assert any(tool in catalog.tools[t].after for t in everything.tools if t not in everything.hinted)


def test_selection_is_in_catalog_order_with_all_scores(shipped):
    rag, catalog, _ = shipped
    selection = rag.select("email Sarah the Q3 deck")
    order = list(catalog.tools)
    assert list(selection.tools) == sorted(selection.tools, key=order.index)
    assert set(selection.scores) == set(catalog.tools) == set(selection.thresholds)
    assert all(0.0 <= s <= 1.0 for s in selection.scores.values())


def test_query_vectors_match_the_training_matrix(shipped):
    """The pure-numpy transform at predict time equals the batch one used in training."""
    rag = shipped[0]
    indptr, rows, values = rag.example_index
    for i in (0, 1, len(rag.examples) // 2, len(rag.examples) - 1):
        index, weights = rag.space.vector(grams(rag.examples[i].query))
        stored = {int(f): float(values[p]) for f in index for p in range(indptr[f], indptr[f + 1]) if rows[p] == i}
        assert sorted(stored) == index.tolist()
        np.testing.assert_allclose([stored[int(f)] for f in index], weights, rtol=1e-5)
        assert abs(float(np.linalg.norm(weights)) - 1.0) < 1e-4


def test_warm_prediction_is_fast(shipped):
    rag = shipped[0]
    queries = [e.query for e in read_dataset(ROOT / "datasets" / "dev.jsonl")]
    for q in queries:
        rag.select(q)
    timings = []
    for q in queries * 3:
        started = time.perf_counter()
        rag.select(q)
        timings.append(time.perf_counter() - started)
    # The target is 2 ms on an idle machine; allow for a busy test runner.
    assert statistics.median(timings) < 0.010


def test_cached_model_is_loaded_without_retraining(shipped):
    rag, catalog, settings = shipped
    messages: list[str] = []
    again = ToolRAG.load_or_train(catalog, settings, progress=messages.append)
    assert messages == []
    assert again.key == rag.key
    assert again.select("text Omar I'm running late").tools == rag.select("text Omar I'm running late").tools


# ---- the example bank ------------------------------------------------------------------


def test_example_bank_picks_similar_examples_within_the_selection(shipped):
    rag, catalog, settings = shipped
    bank = ExampleBank.for_catalog(catalog, settings, rag)
    query = "text Omar I'm running late"
    tools = rag.select(query).tools
    picked = bank.pick(query, tools, k=4)
    assert len(picked) == 4
    assert len(bank.pick(query, tools)) == settings.config.examples_k
    assert all(set(e.tools) <= set(tools) for e in picked)
    assert "send_sms" in picked[0].tools
    assert len({e.query for e in picked}) == len(picked)


def test_example_bank_prefers_diverse_tool_sets(shipped):
    rag, catalog, settings = shipped
    bank = ExampleBank.for_catalog(catalog, settings, rag)
    query = "email Sarah the Q3 deck and put a review on Thursday at 3"
    tools = rag.select(query).tools
    picked = bank.pick(query, tools, k=4)
    assert len({e.tools for e in picked}) >= 2
    assert all(set(e.tools) <= set(tools) for e in picked)
    assert bank.pick(query, ("maps_open_location",), k=3)
    assert all(e.tools == ("maps_open_location",) for e in bank.pick(query, ("maps_open_location",), k=3))
    assert bank.pick(query, tools, k=0) == []


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("text Kwame and Ines that the game is off", {"get_phone_number": 2}),
        ("text Kwame that the game is off", {"get_phone_number": 1}),
        ("send minutes.pdf to Olga Petrova, Tariq and Mei", {"get_email_address": 2, "open_and_get_file_path": 1}),
        ("email Tariq the budget.xlsx and the Q3 deck", {"get_email_address": 1, "open_and_get_file_path": 2}),
    ],
)
def test_mentions_count_what_a_request_names(shipped, query, named):
    """Counted as the example bank uses them: none, one, or more than one (2 here). The bank
    names at most two people per lookup, so a third is counted or not as the data falls."""
    rag, _, _ = shipped
    assert rag.mentions.tools == ("get_email_address", "get_phone_number", "open_and_get_file_path")
    assert {t: min(n, 2) for t, n in rag.mentions.counts(query).items() if n} == named


def test_example_bank_shows_a_repeated_lookup_when_two_people_are_named(shipped):
    rag, catalog, settings = shipped
    bank = ExampleBank.for_catalog(catalog, settings, rag)
    for query in ("text Kwame and Ines that the game is off", "invite Bongani and Sofia to the retro friday at 2"):
        picked = bank.pick(query, rag.select(query).tools)
        assert any(e.repeated for e in picked), query
    query = "text Kwame that the game is off"
    assert not any(e.repeated for e in bank.pick(query, rag.select(query).tools))


# ---- commands ----------------------------------------------------------------------


def test_suggest_command_json_and_table(shipped):
    from rich.console import Console

    from tinyagent_cli.commands.tools_rag import suggest_command

    _, catalog, settings = shipped
    out = io.StringIO()
    suggest_command(settings, catalog, "text Omar I'm running late", True, Console(file=out, width=200))
    data = json.loads(out.getvalue())
    assert {"send_sms", "get_phone_number"} <= set(data["tools"])
    assert set(data["scores"]) == set(catalog.tools)
    assert {"score", "threshold"} == set(data["scores"]["send_sms"])
    assert data["mentions"] == {"get_phone_number": 1}

    out = io.StringIO()
    suggest_command(settings, catalog, "[bold]text[/] Omar", False, Console(file=out, width=200))
    assert "send_sms" in out.getvalue() and "[bold]text[/] Omar" in out.getvalue()
    out = io.StringIO()
    suggest_command(settings, catalog, "text Kwame and Ines that the game is off", False, Console(file=out, width=200))
    assert "Mentions: 2 for get_phone_number" in out.getvalue()


# ---- the dataset reader ------------------------------------------------------------------


def test_read_dataset_derives_tools_from_the_plan(tmp_path):
    path = tmp_path / "d.jsonl"
    plan = '1. get_email_address("Sarah")\n2. open_and_get_file_path("deck")\n3. get_email_address("Bo")\n4. join()'
    path.write_text(json.dumps({"query": "q", "plan": plan, "template": "t.0", "extra": 1}) + "\n\n", encoding="utf-8")
    [example] = read_dataset(path)
    assert example.tools == ("get_email_address", "open_and_get_file_path")
    assert example.repeated == ("get_email_address",)
    assert example.template == "t.0"
    assert plan_calls("Thought: look up\n1. join()") == []
    # A hand-written example is held out with the other lines of its author's brief.
    path.write_text(json.dumps({"query": "q", "plan": plan, "author": "terse"}) + "\n", encoding="utf-8")
    assert read_dataset(path)[0].template == "author:terse"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "expected a JSON object"),
        ('{"query": "q"}', "'plan'"),
        ('{"query": "", "plan": "1. create_note(\\"a\\", \\"b\\", \\"\\")"}', "'query'"),
        ('{"query": "q", "plan": "join()"}', "no numbered tool call"),
        ('{"query": "q", "plan": "1. open_note(\\"a\\", \\"\\")", "author": 7}', "'author' must be"),
    ],
)
def test_read_dataset_names_the_malformed_line(tmp_path, line, reason):
    path = tmp_path / "d.jsonl"
    good = json.dumps({"query": "q", "plan": '1. open_note("a", "")\n2. join()'})
    path.write_text(f"{good}\n{line}\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=rf"d\.jsonl:2: .*{reason}"):
        read_dataset(path)


# ---- cache life cycle, on a tiny user pack (trains in well under a second) ---------------

_PACK = """
name: {name}
implementations: {{macos: impl.py, portable: impl.py}}
tools:
{tools}
"""
_TOOL = """  - name: {tool}
    description: {description}
    side_effects: false
    after: {after}
    params: [{{name: text, type: str}}]
"""

_MINI_TOOLS = {
    "water_plants": ("Water the plants in a room.", []),
    "order_pizza": ("Order a pizza with toppings.", []),
    "ring_doorbell": ("Ring the doorbell of a neighbour.", ["water_plants"]),
}
_PHRASES = {
    "water_plants": ["water the {x} plants", "please water the plants in the {x}", "the {x} plants need water"],
    "order_pizza": ["order a {x} pizza", "get me a pizza with {x}", "I want a {x} pizza delivered"],
    "ring_doorbell": ["ring the doorbell at {x}", "ring {x}'s bell", "press the doorbell of {x}"],
}
_SLOTS = ["kitchen", "garden", "olive", "mushroom", "Anna", "number 12", "office", "pepperoni"]


def _write_pack(root: Path, name: str, tools: dict[str, tuple[str, list[str]]], phrases: dict[str, list[str]]) -> Path:
    pack = root / name
    pack.mkdir(parents=True)
    body = "".join(_TOOL.format(tool=t, description=d, after=json.dumps(a)) for t, (d, a) in tools.items())
    (pack / "pack.yaml").write_text(_PACK.format(name=name, tools=body), encoding="utf-8")
    lines = []
    for tool, templates in phrases.items():
        for n, template in enumerate(templates):
            for slot in _SLOTS:
                plan = f'1. {tool}("{slot}")\n2. join()'
                lines.append(json.dumps({"query": template.format(x=slot), "plan": plan, "template": f"{tool}.{n}"}))
    (pack / "examples.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return pack


@pytest.fixture
def mini(tmp_path, monkeypatch):
    """A home whose only pack is a 3-tool user pack; returns a loader of (settings, catalog)."""
    monkeypatch.setenv("TINYAGENT_HOME", str(tmp_path))
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "config.yaml").write_text("disabled_packs: [tinyagent]\n", encoding="utf-8")
    _write_pack(config_dir / "toolpacks", "mini", _MINI_TOOLS, _PHRASES)

    def load():
        settings = Settings.load(backend="macos")
        return settings, load_catalog(settings)

    return load


def _train(settings, catalog):
    messages: list[str] = []
    rag = ToolRAG.load_or_train(catalog, settings, progress=messages.append)
    return rag, messages


def test_mini_pack_trains_and_selects(mini):
    settings, catalog = mini()
    rag, messages = _train(settings, catalog)
    assert rag.tools == ("water_plants", "order_pizza", "ring_doorbell")
    assert messages and "training" in messages[0]
    assert model_path(settings, rag.key).is_file()
    assert rag.select("could you water the garden plants").tools == ("water_plants",)
    assert rag.select("ring the doorbell at Anna", hint_floor=2.0).tools == ("ring_doorbell",)
    assert rag.select("ring the doorbell at Anna", hint_floor=0.0).hinted == ("water_plants",)


def test_mini_pack_without_repeated_calls_has_no_mentions(mini):
    settings, catalog = mini()
    rag, _ = _train(settings, catalog)
    assert rag.mentions.tools == ()
    assert rag.mentions.counts("water the kitchen and garden plants") == {}
    bank = ExampleBank.for_catalog(catalog, settings, rag)
    assert bank.pick("water the kitchen and garden plants", rag.tools, k=1)


def test_mentions_of_a_user_pack_are_learned_and_cached(mini):
    settings, catalog = mini()
    pack = settings.paths.user_packs_dir / "mini"
    spec = pack / "pack.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("type: str}", "type: str, verbatim: true}"),
                    encoding="utf-8")
    twice = [
        {"query": f"ring the doorbell at {a} and {b}",
         "plan": f'1. ring_doorbell("{a}")\n2. ring_doorbell("{b}")\n3. join()', "template": "ring.twice"}
        for a, b in zip(_SLOTS, _SLOTS[1:] + _SLOTS[:1])
    ]
    with open(pack / "examples.jsonl", "a", encoding="utf-8") as f:
        f.writelines(json.dumps(line) + "\n" for line in twice)
    settings, catalog = mini()
    rag, _ = _train(settings, catalog)
    assert rag.mentions.tools == ("ring_doorbell",)
    assert rag.mentions.counts("ring the doorbell at Anna and Olive")["ring_doorbell"] == 2
    assert rag.mentions.counts("ring the doorbell at Anna")["ring_doorbell"] == 1
    loaded = ToolRAG.load(model_path(settings, rag.key), rag.key, catalog, settings)
    assert loaded.mentions.vocab == rag.mentions.vocab
    assert np.array_equal(loaded.mentions.weights, rag.mentions.weights)
    assert loaded.mentions.counts("ring the doorbell at Anna and Olive")["ring_doorbell"] == 2


def test_changed_examples_file_triggers_a_retrain(mini):
    settings, catalog = mini()
    first, _ = _train(settings, catalog)
    assert _train(settings, catalog)[1] == []  # cached
    examples = settings.paths.user_packs_dir / "mini" / "examples.jsonl"
    examples.write_text(
        examples.read_text() + json.dumps({"query": "more pizza", "plan": '1. order_pizza("x")'}) + "\n"
    )
    second, messages = _train(settings, catalog)
    assert messages and second.key != first.key
    assert len(second.examples) == len(first.examples) + 1


def test_a_pack_names_its_example_files_and_each_one_counts(mini):
    settings, catalog = mini()
    first, _ = _train(settings, catalog)
    pack = settings.paths.user_packs_dir / "mini"
    (pack / "pack.yaml").write_text((pack / "pack.yaml").read_text().replace(
        "tools:\n", "examples: [examples.jsonl, written/*.jsonl]\ntools:\n", 1))
    (pack / "written").mkdir()
    (pack / "written" / "a.jsonl").write_text(
        json.dumps({"query": "a large pizza with anchovies would be great", "plan": '1. order_pizza("anchovies")'}) + "\n")
    settings, catalog = mini()
    assert catalog.examples_files() == [pack / "examples.jsonl", pack / "written" / "a.jsonl"]
    second, messages = _train(settings, catalog)
    assert messages and second.key != first.key and len(second.examples) == len(first.examples) + 1
    (pack / "pack.yaml").write_text((pack / "pack.yaml").read_text().replace("written/*.jsonl", "../*.jsonl"))
    with pytest.raises(PackError, match="inside the pack's folder"):
        mini()


def test_added_user_pack_triggers_a_retrain_and_brings_its_examples(mini):
    settings, catalog = mini()
    first, _ = _train(settings, catalog)
    _write_pack(
        settings.paths.user_packs_dir,
        "extra",
        {"feed_cat": ("Feed the cat.", [])},
        {"feed_cat": ["feed the cat {x}", "give {x} food to the cat", "the cat wants {x}"]},
    )
    settings, catalog = mini()
    second, messages = _train(settings, catalog)
    assert messages and second.key != first.key
    assert "feed_cat" in second.tools
    assert second.select("please feed the cat some tuna").tools == ("feed_cat",)
    bank = ExampleBank.for_catalog(catalog, settings, second)
    assert all(e.tools == ("feed_cat",) for e in bank.pick("feed the cat", ("feed_cat",), k=2))


def test_disabled_tool_is_never_selected(mini):
    settings, catalog = mini()
    config = settings.paths.config_file
    config.write_text(config.read_text() + "disabled_tools: [ring_doorbell]\n", encoding="utf-8")
    settings, catalog = mini()
    rag, messages = _train(settings, catalog)
    assert messages and "ring_doorbell" not in rag.tools
    bank = ExampleBank.for_catalog(catalog, settings, rag)
    for query in ["ring the doorbell at Anna", "press the doorbell of number 12", "ring ring"]:
        selection = rag.select(query, hint_floor=0.0)
        assert "ring_doorbell" not in selection.tools and "ring_doorbell" not in selection.scores
        assert all("ring_doorbell" not in e.tools for e in bank.pick(query, selection.tools))


def test_model_key_covers_tool_descriptions_but_not_the_backend(mini):
    """One fit serves every backend: it scores every known tool, and selection keeps to those that run."""
    settings, catalog = mini()
    key = model_key(catalog)
    assert model_key(replace(catalog, backend="portable")) == key
    pack = settings.paths.user_packs_dir / "mini" / "pack.yaml"
    pack.write_text(pack.read_text().replace("Order a pizza", "Order one pizza"), encoding="utf-8")
    assert model_key(mini()[1]) != key


def _assert_rebuilt(settings, catalog, path: Path) -> None:
    rag, messages = _train(settings, catalog)
    assert any("unusable" in m for m in messages) and any("training" in m for m in messages)
    assert rag.select("order a mushroom pizza").tools == ("order_pizza",)
    # The rebuilt file is ours again and loads without a retrain.
    assert ToolRAG.load(path, rag.key, catalog, settings).tools == rag.tools
    assert _train(settings, catalog)[1] == []


@pytest.mark.parametrize("content", [b"", b"garbage, not a zip", b"PK\x03\x04truncated zip"])
def test_corrupt_cache_file_is_rebuilt(mini, content):
    settings, catalog = mini()
    rag, _ = _train(settings, catalog)
    path = model_path(settings, rag.key)
    path.write_bytes(content)
    _assert_rebuilt(settings, catalog, path)


def test_foreign_npz_is_rebuilt(mini):
    settings, catalog = mini()
    rag, _ = _train(settings, catalog)
    path = model_path(settings, rag.key)
    with open(path, "wb") as f:
        np.savez(f, weights=np.zeros((3, 3), dtype=np.float32), meta=np.zeros(4, dtype=np.uint8))
    _assert_rebuilt(settings, catalog, path)


def test_model_of_another_catalog_is_rebuilt(mini):
    """Right arrays, wrong key inside: e.g. a file copied from another machine's cache."""
    settings, catalog = mini()
    rag, _ = _train(settings, catalog)
    path = model_path(settings, rag.key)
    replace(rag, key="0" * 64).save(path)
    _assert_rebuilt(settings, catalog, path)


def test_model_with_inconsistent_arrays_is_rebuilt(mini):
    settings, catalog = mini()
    rag, _ = _train(settings, catalog)
    path = model_path(settings, rag.key)
    replace(rag, thresholds=rag.thresholds[:-1]).save(path)
    _assert_rebuilt(settings, catalog, path)
    # Shapes that fit, but class 5 (bits 0 and 2) names a tool the one-tool tagger lacks.
    mentions = replace(rag.mentions, tools=("ring_doorbell",), weights=np.zeros((0, 2), np.float32),
                       intercept=np.zeros(2, np.float32), classes=np.array([0, 5], dtype=np.int32))
    replace(rag, mentions=mentions).save(path)
    _assert_rebuilt(settings, catalog, path)


class _Trap:
    """Unpickling this touches a marker file: proof that a loader ran pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickle_in_the_cache_is_rebuilt_and_never_unpickled(mini, tmp_path):
    settings, catalog = mini()
    rag, _ = _train(settings, catalog)
    path = model_path(settings, rag.key)
    marker = tmp_path / "unpickled"
    path.write_bytes(pickle.dumps(_Trap(marker)))
    _assert_rebuilt(settings, catalog, path)
    assert not marker.exists()
    # An .npz holding an object array (a pickle inside) is refused the same way.
    with open(path, "wb") as f:
        np.savez(f, meta=np.array([_Trap(marker)], dtype=object))
    _assert_rebuilt(settings, catalog, path)
    assert not marker.exists()


def test_train_command_reports_time_and_size(mini):
    from rich.console import Console

    from tinyagent_cli.commands.tools_rag import train_command

    settings, catalog = mini()
    out = io.StringIO()
    train_command(settings, catalog, Console(file=out, width=300))
    text = out.getvalue()
    assert "Trained tool retrieval for 3 tools" in text and " s: " in text and "MB" in text
    assert any(model_path(settings, model_key(catalog)).parent.glob("*.npz"))


def test_the_shipped_fit_is_what_the_shipped_packs_train_and_a_first_run_loads_it(tmp_path, monkeypatch):
    """toolpacks/toolrag.npz is current (else: python scripts/ship_toolrag.py) and fits every backend."""
    from tinyagent_cli.retrieval.toolrag import shipped_model_path

    monkeypatch.setenv("TINYAGENT_HOME", str(tmp_path))
    for backend in ("macos", "portable"):
        settings = Settings.load(backend=backend)
        catalog = load_catalog(settings)
        rag = ToolRAG.load(shipped_model_path(), model_key(catalog), catalog, settings)
        messages: list[str] = []
        assert ToolRAG.load_or_train(catalog, settings, progress=messages.append).key == rag.key
        assert messages == []  # loaded, not fitted
        assert set(rag.select("text Omar that I am late").tools) <= set(catalog.tools)
