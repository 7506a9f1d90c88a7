"""TinyAgent's planners in the format they were trained on (#17): the prompt line by line, its
chat template (from models.yaml or the GGUF's header), the grammar policy, the writer of the
bodies they leave empty, their replan, and `tinyagent prompt`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tinyagent_cli.errors import ModelError
from tinyagent_cli.llm.chat_template import ChatTemplate, choose_template, gguf_string
from tinyagent_cli.llm.registry import load_registry, user_models_file
from tinyagent_cli import planners
from tinyagent_cli.llm.base import LanguageModel
from tinyagent_cli.plan.grammar import plan_grammar, string_bound
from tinyagent_cli.plan.prompt import Failure
from tinyagent_cli.plan.tasks import Plan, Task, TaskResult
from tinyagent_cli.planners import build_prompt
from tinyagent_cli.planners.tinyagent import convert_example, load_format
from tinyagent_cli.planners.writer import message_of, write_body
from tinyagent_cli.settings import Config, Paths, Settings
from tinyagent_cli.tools.spec import load_pack, shipped_packs_dir

from .conftest import REPO, reuse_cache, run_cli
from .test_openai_compat import server  # noqa: F401  (a fixture)

PACK = load_pack(shipped_packs_dir() / "tinyagent")
TOOLS = {t.name: t for t in PACK.tools}
EXPECTED = Path(__file__).parent / "data" / "tinyagent-1.1b-prompt.txt"

# A fixed request, selection (in our pack's order, not TinyAgent's), examples and time.
QUERY = "text Omar that I am late and remind me to buy milk tomorrow at 9"
SELECTED = [TOOLS[n] for n in ("send_sms", "get_phone_number", "create_reminder", "get_email_address",
                               "compose_new_email")]
EXAMPLES = [  # most similar first
    ("text Omar that I'm on my way", '1. get_phone_number("Omar")\n2. send_sms(["$1"], "I\'m on my way")\n3. join()'),
    ("remind me to call mom tomorrow at 6pm", '1. create_reminder("call mom", "tomorrow at 6pm", "", "", 0, False)\n'
                                              "2. join()"),
    ("email Ana that the report is done", '1. get_email_address("Ana")\n'
                                          '2. compose_new_email(["$1"], [], "report", "the report is done", [])\n3. join()'),
]
NOW = datetime(2026, 11, 21, 9, 30, tzinfo=timezone(timedelta(hours=1)))  # a Saturday


@pytest.fixture
def settings(home: Path) -> Settings:
    return Settings.load()


def shipped_template(settings: Settings) -> ChatTemplate:
    spec = load_registry(settings).get("tinyagent-1.1b")
    return ChatTemplate(spec.template, spec.origin)


def golden_prompt(settings: Settings) -> str:
    return build_prompt(QUERY, SELECTED, EXAMPLES, now=NOW, style="tinyagent", template=shipped_template(settings)).text


def test_the_prompt_is_the_checked_in_text(settings: Settings) -> None:
    assert golden_prompt(settings) == EXPECTED.read_text(encoding="utf-8")


def _shape(line: str) -> str:
    """What a prompt line is, in the terms of TinyAgent's planner prompt."""
    kinds = [
        (r"### (Instruction|Input|Response):", r"\g<0>"),
        (r"\d+\. [a-z_]+\(.*\) -> str", "N. signature"),
        (r"\d+\. join\(\):", "N. join():"),
        (r"\d+\. join\(\)<END_OF_PLAN>", "N. join()<END_OF_PLAN>"),
        (r"\d+\. [a-z_]+\(.*\)", "N. call"),
        (r"Guidelines:", "Guidelines:"),
        (r" - Today's date is [A-Z][a-z]+day \d{4}-\d\d-\d\d \d\d:\d\d", "date"),
        (r" - .+", "-"),
        (r"    - .+", "  -"),
        (r"   \([ab]\) .+", "(x)"),
        (r"Question: .+", "Question:"),
        (r"###", "###"),
        (r"", ""),
    ]
    for pattern, name in kinds:
        if re.fullmatch(pattern, line):
            return re.sub(pattern, name, line)
    return "text"


def test_the_prompt_has_tinyagents_layout_line_by_line(settings: Settings) -> None:
    """TinyAgent's planner prompt (SqueezeAILab/TinyAgent: generate_llm_compiler_prompt in
    src/llm_compiler/planner.py, get_planner_custom_instructions_prompt in src/tiny_agent/prompts.py,
    the tool descriptions in src/tiny_agent/tiny_agent_tools.py), for this selection, in the
    sections of TinyLlama-1.1B-32k-Instruct's template, reduced to what each line is."""
    def tool(bullets: int) -> list[str]:
        return ["N. signature", *["-"] * bullets, ""]

    original = [
        "### Instruction:",
        "text",  # "Given a user query, ... from the following 6 types:"
        *tool(2), *tool(2), *tool(6), *tool(5), *tool(3),  # phone, email, compose, reminder, sms: calendar order
        "N. join():", "-", "-", "-", "(x)", "(x)", "",
        "Guidelines:", "-", "  -", "  -", *["-"] * 8, "",
        "-", "date", *["-"] * 7,  # the rules, then those of the offered tools: email, sms (2), send before join
        "-", "-", "-", "-", "", "",
        "text", "",  # "Here are some examples:"
        "Question:", "N. call", "N. call", "N. join()<END_OF_PLAN>", "###",
        "Question:", "N. call", "N. join()<END_OF_PLAN>", "###",
        "Question:", "N. call", "N. call", "N. join()<END_OF_PLAN>", "###",
        "", "",
        "### Input:", "Question:", "",
        "### Response:", "",
    ]
    text = golden_prompt(settings)
    assert [_shape(line) for line in text.split("\n")] == original
    numbered = [line for line in text.splitlines() if re.match(r"\d+\. \w+\(", line) and line.endswith("-> str")]
    assert [line.split("(")[0] for line in numbered] == [
        "1. get_phone_number", "2. get_email_address", "3. compose_new_email", "4. create_reminder", "5. send_sms"]
    assert "6. join():\n" in text and " - Today's date is Saturday 2026-11-21 09:30\n" in text
    assert text.endswith("###\n\n\n### Input:\nQuestion: " + QUERY + "\n\n### Response:\n")


def test_without_a_template_the_parts_are_joined_as_tinyagent_joined_them() -> None:
    prompt = build_prompt(QUERY, SELECTED, [], now=NOW, style="tinyagent")
    assert prompt.text.endswith("Here are a few examples:\n\n###\n\n\nQuestion: " + QUERY)
    assert prompt.text.startswith(prompt.prefix) and prompt.prefix == load_format().intro
    wrapped = build_prompt(QUERY, SELECTED, [], now=NOW, style="tinyagent",
                           template=ChatTemplate("<<{{ messages[0]['content'] }}>>", "test"))
    assert wrapped.prefix == "<<" + load_format().intro


def test_a_chat_prompt_is_the_request_turn_of_its_template() -> None:
    plain = build_prompt(QUERY, SELECTED, EXAMPLES, now=NOW, style="chat")
    wrapped = build_prompt(QUERY, SELECTED, EXAMPLES, now=NOW, style="chat",
                           template=ChatTemplate("<user>{{ messages[0]['content'] }}</user>", "test"))
    assert wrapped.text == f"<user>{plain.text}</user>" and wrapped.prefix == "<user>" + plain.prefix
    assert build_prompt(QUERY, SELECTED, EXAMPLES, now=NOW, style="completion",
                        template=ChatTemplate("<user>{{ messages }}", "test")).text.startswith("Write a plan")


def test_rules_come_with_their_tools_and_instructions_last() -> None:
    reminder_only = build_prompt("remind me", [TOOLS["create_reminder"]], [], now=NOW, style="tinyagent").text
    assert "get_phone_number" not in reminder_only and "Zoom" not in reminder_only
    maps = build_prompt("directions to the zoo", [TOOLS["maps_show_directions"]], [], now=NOW, style="tinyagent",
                        instructions=("always walk", "cc Nick")).text
    assert " - To show the way to a place, call maps_show_directions directly" in maps
    # TinyAgent appended its custom instruction after the rules without a newline of its own.
    assert "need not come first.\n - always walk\n - cc Nick\n\nHere are a few examples:" in maps


def test_examples_are_converted_to_its_conventions() -> None:
    tools = [TOOLS[n] for n in ("create_reminder", "get_email_address", "compose_new_email", "get_zoom_meeting_link")]
    reminder = convert_example("remind me to pay rent on friday", '1. create_reminder("pay rent", "friday", "", '
                               '"", 0, True)\n2. join()', tools, NOW)
    assert reminder == ("Question: remind me to pay rent on friday\n"
                        '1. create_reminder("pay rent", "2026-11-27", "", "", 0, True)\n'
                        "2. join()<END_OF_PLAN>\n")
    mail = convert_example("zoom with Ana tomorrow 3pm and email her the link",
                           '1. get_email_address("Ana")\n2. get_zoom_meeting_link("sync", "tomorrow 3pm", 60, ["$1"])\n'
                           '3. compose_new_email(["$1"], [], "sync", "$2", [])\n'
                           'Thought: done\n4. compose_new_email(["$1"], [], "again", "Some words", [])\n5. join()',
                           tools, NOW)
    assert mail.splitlines()[1:] == [
        '1. get_email_address("Ana")',
        '2. get_zoom_meeting_link("sync", "2026-11-22 15:00:00", 60, ["$1"])',
        '3. compose_new_email(["$1"], [], "sync", "$2", [])',  # a result is handed on, as TinyAgent's were
        "Thought: done",
        '4. compose_new_email(["$1"], [], "again", "", [])',  # a body is the writer's
        "5. join()<END_OF_PLAN>",
    ]


def test_a_replan_shows_the_previous_plan_and_what_it_returned() -> None:
    plan = Plan((Task(1, "get_phone_number", ("Omar",)), Task(2, "send_sms", (["$1"], "late"), (1,))))
    results = {1: TaskResult(1, "failed", error="no contact named Omar"), 2: TaskResult(2, "skipped")}
    failure = Failure.tasks(plan, results, ['1. get_phone_number("Omar") failed: no contact named Omar'])
    prompt = build_prompt("text Omar I'm late", SELECTED, EXAMPLES, now=NOW, style="tinyagent", failure=failure).text
    fmt = load_format()
    assert prompt.endswith(
        "Question: text Omar I'm late\nPrevious Plan:\n\n"
        '1. get_phone_number("Omar")\nObservation: no contact named Omar\n'
        '2. send_sms(["$1"], "late")\nObservation: not run\n\n'
        f"Thought: {fmt.thought}\n\nCurrent Plan:\n\n\n")
    assert fmt.replan[0] + "\n" + fmt.replan[1] in prompt and "Question: text Omar that I'm on my way" not in prompt
    assert prompt.count("Current Plan:\n\nThought:") == 2  # the replan examples stand in for the retrieved ones
    invalid = Failure.invalid("1. send_sms(\n", ValueError("line 1: cannot read the arguments"))
    assert invalid.summary == "the plan was invalid (line 1: cannot read the arguments). The model wrote:\n1. send_sms("
    text = build_prompt("x", SELECTED, [], now=NOW, style="tinyagent", failure=invalid).text
    assert "Previous Plan:\n\n1. send_sms(\nObservation: The plan could not be used: line 1: cannot read" in text


def test_the_grammar_holds_tinyagent_planners_to_validity_only() -> None:
    policy = planners.get("tinyagent").policy
    assert not policy.sure_tools and not policy.copies and policy.thoughts
    text = policy.grammar(SELECTED, sure=["send_sms"], given=[QUERY])
    assert text == plan_grammar(SELECTED, thoughts=True, max_string=string_bound([QUERY]))
    assert 'line-1 ::= thought? "1. "' in text and 'join-2 ::= thought? "2. join()" "<END_OF_PLAN>"?' in text
    assert 'thought ::= "Thought: " [^\\n]{1,300} "\\n"' in text
    assert '"send_sms(" (list-1 | "None") ", " (str-1 | "None") ")"' in text
    assert "said" not in text and "quote" not in text  # strings are free
    assert "date-iso" in text  # dates are the date language, ISO with seconds included
    assert "line-1-" not in text  # no tool is required
    assert plan_grammar(SELECTED) == plan_grammar(SELECTED, thoughts=False)  # the others' grammars as they were


@pytest.mark.parametrize("request_, body", [
    ("text Omar that I am late", "I am late"),
    ("Send an email to Amir saying that the meeting is postponed to next week.",
     "The meeting is postponed to next week."),
    ("email Sarah saying the deck is ready and remind me to call her at 5", "The deck is ready"),
    ("shoot Grandma an email: I got the job!", "I got the job!"),
    ('reply "sounds good, see you then"', "sounds good, see you then"),
    ("email the team about the offsite. also book flights", "About the offsite"),
    ("forward this to Tomasz", "Forward this to Tomasz"),  # no message stands out: the whole request
])
def test_the_writer_takes_the_message_from_the_request(request_: str, body: str) -> None:
    assert message_of(request_) == body


def test_only_an_empty_body_is_written() -> None:
    bodies = load_format().bodies
    spec = TOOLS["compose_new_email"]
    empty = Task(2, "compose_new_email", (["$1"], [], "Late", "", []), (1,))
    assert write_body(empty, spec, "email Ana that I am late", bodies).args[3] == "I am late"
    given = Task(2, "compose_new_email", (["$1"], [], "Late", "$1", []), (1,))
    assert write_body(given, spec, "email Ana that I am late", bodies) == given
    sms = Task(2, "send_sms", (["$1"], ""), (1,))
    assert write_body(sms, TOOLS["send_sms"], "text Ana", bodies) == sms  # not a body TinyAgent left to a writer


# ----------------------------------------------------------------- chat templates and models.yaml


def write_gguf(path: Path, template: str | None) -> Path:
    """A GGUF file with only metadata: enough for the header reader (tensors are not read)."""
    gguf = pytest.importorskip("gguf")
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_token_list(["<unk>", "<s>", "</s>", *(f"t{i}" for i in range(300))])  # skipped on the way
    writer.add_token_scores([0.0] * 303)
    writer.add_array("test.lists", [[1, 2], [3]])
    if template is not None:
        writer.add_chat_template(template)
    writer.add_string("general.name", "tiny")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_the_gguf_header_gives_its_chat_template(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "t.gguf", "{{ messages[0]['content'] }}!")
    assert gguf_string(path, "tokenizer.chat_template") == "{{ messages[0]['content'] }}!"
    assert gguf_string(path, "general.name") == "tiny" and gguf_string(path, "missing") is None
    (tmp_path / "not.gguf").write_bytes(b"PK\x03\x04 a zip file")
    with pytest.raises(ModelError, match="not a GGUF file"):
        gguf_string(tmp_path / "not.gguf", "tokenizer.chat_template")
    (tmp_path / "cut.gguf").write_bytes(path.read_bytes()[:200])
    with pytest.raises(ModelError, match="cannot read the metadata"):
        gguf_string(tmp_path / "cut.gguf", "tokenizer.chat_template")


def write_models(settings: Settings, text: str) -> None:
    path = user_models_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")


ENTRY = """\
    models:
      - name: mine
        description: a TinyAgent-style planner on this machine
        backend: llama_cpp
        source: {{path: '{path}'}}
        license: test
        n_ctx: 2048
        prompt_style: tinyagent
"""


def test_the_template_comes_from_the_gguf_unless_models_yaml_overrides_it(settings: Settings, tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "mine.gguf", "[{{ messages[1]['content'] }}]")
    write_models(settings, ENTRY.format(path=path))
    choice = choose_template(load_registry(settings).get("mine"), settings)
    assert choice.template is not None and choice.template.source.startswith("[") and not choice.note
    override = ENTRY.format(path=path) + "        template: \"<{{ messages[1]['content'] }}>\"\n"
    write_models(settings, override)
    choice = choose_template(load_registry(settings).get("mine"), settings)
    assert choice.template is not None and choice.template.render("s", "q") == "<q>"
    write_models(settings, override + "        template_from: gguf\n")
    assert choose_template(load_registry(settings).get("mine"), settings).template.render("s", "q") == "[q]"
    write_gguf(path, None)  # a file without a template: the entry's stands in, without a word
    choice = choose_template(load_registry(settings).get("mine"), settings)
    assert choice.template.render("s", "q") == "<q>" and not choice.note
    path.unlink()
    choice = choose_template(load_registry(settings).get("mine"), settings)
    assert choice.template.render("s", "q") == "<q>" and "not installed" in choice.note


def test_the_shipped_tinyagent_template_and_its_stand_in(settings: Settings) -> None:
    spec = load_registry(settings).get("tinyagent-1.1b")
    assert spec.examples == 6 and spec.template_from == "gguf"
    choice = choose_template(spec, settings)  # not downloaded: models.yaml's, and a note saying so
    assert choice.template is not None and "tinyagent models pull tinyagent-1.1b" in choice.note
    assert choice.template.render("SYSTEM", "Question: q") == (
        "### Instruction:\nSYSTEM\n\n### Input:\nQuestion: q\n\n### Response:\n")
    seven = choose_template(load_registry(settings).get("tinyagent-7b"), settings)
    assert seven.template is None and "shown with no template" in seven.note
    assert choose_template(load_registry(settings).get("gemma3-270m-planner"), settings).template is None


@pytest.mark.parametrize("extra, style, needle, line", [
    ("template: x", "completion", "wraps the chat and tinyagent prompt styles", 9),
    ("template_from: gguf", "tinyagent", "can only be gguf, for a llama_cpp model with a template", 9),
    ("template: x\n        template_from: models", "tinyagent", "can only be gguf", 10),
    ("template: ' '", "tinyagent", "must not be empty", 9),
])
def test_template_keys_are_checked(settings: Settings, extra: str, style: str, needle: str, line: int) -> None:
    write_models(settings, ENTRY.format(path="/nonexistent.gguf").replace("tinyagent\n", f"{style}\n")
                 + f"        {extra}\n")
    with pytest.raises(ModelError, match=needle) as err:
        load_registry(settings)
    assert f"models.yaml:{line}: model 'mine'" in str(err.value)


def test_a_broken_template_is_one_line() -> None:
    with pytest.raises(ModelError, match="not valid Jinja") as err:
        ChatTemplate("{% for %}", "model 'x'").render("s", "q")
    assert "\n" not in str(err.value)
    with pytest.raises(ModelError, match="cannot be rendered"):
        ChatTemplate("{{ raise_exception('no system role') }}", "model 'x'").render("s", "q")


# ----------------------------------------------------------------- the CLI


@pytest.fixture(scope="module")
def toolrag_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ToolRAG for the macOS tools, trained once for this module's CLI runs."""
    from tinyagent_cli.retrieval.toolrag import ToolRAG
    from tinyagent_cli.tools.spec import load_catalog

    root = tmp_path_factory.mktemp("toolrag-home")
    settings = Settings(Paths(root / "config", root / "data", root / "cache"), Config(backend="macos"))
    ToolRAG.load_or_train(load_catalog(settings), settings, progress=lambda _: None)
    return root / "cache"


@pytest.fixture
def cli_home(home: Path, toolrag_cache: Path) -> Path:
    reuse_cache(toolrag_cache, home)
    return home


def test_tinyagent_prompt_shows_the_text_without_loading_the_model(cli_home: Path) -> None:
    out = run_cli(cli_home, "prompt", "--model", "tinyagent-1.1b", "--backend", "macos", "text Omar that I am late")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert text.startswith("### Instruction:\n") and "\n\n### Input:\nQuestion: text Omar that I am late\n\n" in text
    assert text.endswith("### Response:\n")
    assert re.search(r"^1\. get_phone_number\(name: str\) -> str$", text, re.MULTILINE)
    assert re.search(r"^2\. send_sms\(recipients: list\[str\], message: str\) -> str$", text, re.MULTILINE)
    assert "\n3. join():\n" in text and "join()<END_OF_PLAN>\n###\n" in text
    assert text.count("###\nQuestion: ") == 5  # six examples, the first after the header
    assert "not installed" in out.stderr and "models.yaml" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_tinyagent_prompt_never_imports_llama_cpp(cli_home: Path) -> None:
    code = ("import sys; from tinyagent_cli.cli import main\n"
            "try:\n    main(['prompt', '--model', 'tinyagent-1.1b', '--backend', 'macos', 'email Ana'])\n"
            "except SystemExit:\n    pass\nsys.stderr.write('LOADED' if 'llama_cpp' in sys.modules else 'NOT LOADED')\n")
    env = {**os.environ, "TINYAGENT_HOME": str(cli_home)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert out.stderr.endswith("NOT LOADED") and "Question: email Ana" in out.stdout


def test_tinyagent_prompt_refuses_what_run_refuses(cli_home: Path) -> None:
    out = run_cli(cli_home, "prompt", "   ")
    assert out.returncode == 2 and "nothing to show" in out.stderr
    out = run_cli(cli_home, "prompt", "--model", "nope", "hello")
    assert out.returncode == 2 and "unknown model 'nope'" in out.stderr and "Traceback" not in out.stderr


# ----------------------------------------------------------------- plans in TinyAgent's conventions

# What TinyAgent's planners write: thoughts, ISO dates, the body left "" for the writer, None,
# and <END_OF_PLAN> after join().
TINYAGENT_PLAN = (
    "Thought: First I need Ana's email address.\n"
    '1. get_email_address("Ana")\n'
    '2. compose_new_email(["$1"], [], "Running late", "", [])\n'
    '3. create_reminder("Buy milk", "2026-11-22 09:00:00", "", None, 0, False)\n'
    "Thought: I have written the email and made the reminder.\n"
    "4. join()<END_OF_PLAN>"
)
REQUEST = "email Ana that I am late and remind me to buy milk tomorrow at 9"


class TinyAgentLike(LanguageModel):
    """A planner at the LanguageModel boundary that writes ``text`` in small chunks."""

    name = "tinyagent-like"

    def __init__(self, text: str) -> None:
        self.text = text
        self.calls: list[tuple[str, str | None]] = []

    def stream(self, prompt: str, *, grammar: str | None = None, stop=(), max_tokens: int = 256, reject=None, forbid=None):  # type: ignore[no-untyped-def]
        self.calls.append((prompt, grammar))
        for i in range(0, len(self.text), 7):
            yield self.text[i:i + 7]

    def count_tokens(self, text: str) -> int:
        return len(text) // 4


def test_plans_in_tinyagents_conventions_parse_resolve_and_draw(cli_home: Path) -> None:
    import io

    from rich.console import Console

    from tinyagent_cli.agent import Agent
    from tinyagent_cli.tools.spec import load_catalog
    from tinyagent_cli.ui.render import PlanView

    settings = Settings.load(backend="macos", model="tinyagent-1.1b")
    catalog = load_catalog(settings)
    agent = Agent(settings, catalog)
    model = TinyAgentLike(TINYAGENT_PLAN)
    assert isinstance(model, LanguageModel)
    agent._model = model  # the boundary: everything after it is real
    plan, request, trace, error = agent.plan(REQUEST, now=NOW)
    assert error is None and plan is not None, error
    prompt, grammar = model.calls[0]
    assert prompt == request.prompt.text and prompt.startswith("### Instruction:\n")
    assert grammar == request.grammar and "thought ::=" in grammar and request.required == ()
    email, compose, reminder = plan.tasks
    assert email.thought == "First I need Ana's email address."
    assert compose.args[3] == "I am late" and compose.deps == (1,)  # written from the request
    assert reminder.args[1] == "2026-11-22T09:00:00+01:00" and reminder.args[3] == ""  # ISO resolved, None empty
    view = PlanView(catalog)
    for task in plan.tasks:
        view.add(task)
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(view)
    drawn = out.getvalue()
    assert 'context="I am late"' in drawn and 'due_date="2026-11-22T09:00:00+01:00"' in drawn


def _tinyagent_server_entry(home: Path, url: str) -> None:
    template = load_registry(Settings.load()).get("tinyagent-1.1b").template.replace("\\", "\\\\").replace("\n", "\\n")
    (home / "config" / "models.yaml").write_text(
        "models:\n  - name: ta\n    description: a server on loopback that writes TinyAgent-style plans\n"
        "    backend: openai_compatible\n"
        f"    source: {{base_url: '{url}', model: planner}}\n"
        "    license: test\n    n_ctx: 4096\n    stop: ['<END_OF_PLAN>']\n    prompt_style: tinyagent\n"
        f'    template: "{template}"\n',
        encoding="utf-8",
    )


def test_run_shows_the_body_it_will_write_before_anything_runs(cli_home: Path, server) -> None:  # noqa: F811
    _tinyagent_server_entry(cli_home, server.url)
    server.chunks = [TINYAGENT_PLAN[i:i + 9] for i in range(0, len(TINYAGENT_PLAN), 9)]
    out = run_cli(cli_home, "run", "--dry-run", "--backend", "macos", "--model", "ta", REQUEST)
    assert out.returncode == 0, out.stderr
    assert 'context="I am late"' in out.stdout and "create_reminder" in out.stdout
    path, body = next((path, body) for path, body in server.requests if path != "/tokenize")
    assert path == "/v1/completions" and body["prompt"].startswith("### Instruction:\n")
    assert body["prompt"].endswith(f"### Input:\nQuestion: {REQUEST}\n\n### Response:\n")
    assert body["stop"] == ["<END_OF_PLAN>"] and "thought ::=" in body["grammar"]


def test_a_replan_is_asked_in_tinyagents_format(cli_home: Path, server) -> None:  # noqa: F811
    _tinyagent_server_entry(cli_home, server.url)
    server.chunks = ['1. send_sms("Ana")\n', "2. join()"]
    out = run_cli(cli_home, "run", "--dry-run", "--json", "--backend", "macos", "--model", "ta", "text Ana hi")
    assert out.returncode == 3 and "no valid plan after 2 attempt(s)" in out.stdout
    first, second = (body["prompt"] for _, body in server.requests if "prompt" in body)
    assert "Previous Plan:" not in first
    assert ('Question: text Ana hi\nPrevious Plan:\n\n1. send_sms("Ana")\n'  # what it wrote until the error
            "Observation: The plan could not be used: line 1: send_sms takes 2 arguments") in second
    assert second.endswith("Current Plan:\n\n\n\n\n### Response:\n")
