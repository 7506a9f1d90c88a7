"""Plugins through the ``tinyagent`` entry-point group: the example plugin built as a wheel and
installed into a venv of its own, broken plugins set aside in one line, the hooks' tables."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import sysconfig
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tinyagent_cli import planners, plugins
from tinyagent_cli.errors import ModelError
from tinyagent_cli.settings import Settings

from .conftest import REPO, run_cli, write_config

EXAMPLE = REPO / "examples" / "tinyagent-hello"
ECHO_MODEL = """\
models:
  - name: hello-echo
    description: the example plugin's planner
    backend: echo
    source: {base_url: "echo:", model: hello}
    license: MIT
    n_ctx: 2048
    prompt_style: completion
"""


# --------------------------------------------------------------------------- the example plugin, installed


@pytest.fixture(scope="module")
def hello_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the example plugin's wheel installed, seeing this environment's packages
    (tinyagent-cli among them) through a .pth file: the plugin is found by its real
    entry-point metadata, not by a path into the source tree."""
    root = tmp_path_factory.mktemp("hello-plugin")
    built = subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(root / "dist")],
                           cwd=EXAMPLE, capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next((root / "dist").glob("tinyagent_hello-*.whl"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    outer = dict.fromkeys([sysconfig.get_path("purelib"), *site.getsitepackages()])
    (purelib / "_tinyagent_outer.pth").write_text(
        "".join(f"import site; site.addsitedir({path!r})\n" for path in outer), encoding="utf-8")
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                                "--target", str(purelib), str(wheel)], capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr[-2000:]
    return python


def _home(root: Path, config: str = "") -> Path:
    (root / "config").mkdir(parents=True, exist_ok=True)
    (root / "config" / "models.yaml").write_text(ECHO_MODEL, encoding="utf-8")
    if config:
        write_config(root, config)
    return root


@pytest.fixture(scope="module")
def hello_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The echo planner as the default model, and the plugin's pack alone: with the shipped pack's
    thousands of examples a new ToolRAG fit takes half a minute, with the plugin's a second."""
    return _home(tmp_path_factory.mktemp("home"), "model: hello-echo\ndisabled_packs: [tinyagent]\n")


def run_in(python: Path, home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``tinyagent`` in the plugin's venv, from a folder outside the source tree."""
    full_env = {key: value for key, value in os.environ.items()
                if key not in ("TINYAGENT_MODEL", "TINYAGENT_BACKEND", "TINYAGENT_PLUGINS")}
    full_env.update({"TINYAGENT_HOME": str(home), "XDG_CONFIG_HOME": str(home / "xdg"), "COLUMNS": "200"})
    full_env.update(env or {})
    return subprocess.run([str(python), "-m", "tinyagent_cli", *args], input="", capture_output=True, text=True,
                          timeout=180, env=full_env, cwd=home)


def test_example_plugin_tool_is_planned_by_its_backend_and_run(hello_python: Path, hello_home: Path) -> None:
    out = run_in(hello_python, hello_home, "run", "--yes", "--json", "say hello to Ada")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["model"] == "hello-echo"
    assert [(task["tool"], task["args"]) for task in data["plan"]] == [("say_hello", ["Ada"])]
    assert data["results"][0]["status"] == "done" and data["results"][0]["output"] == "Hello, Ada!"
    assert "failed to load" not in out.stderr
    shown = run_in(hello_python, hello_home, "run", "--yes", "please greet Grace from me")
    assert shown.returncode == 0, shown.stderr
    assert "Hello, Grace!" in shown.stdout


def test_example_plugin_backend_pack_and_command_are_listed(hello_python: Path, tmp_path: Path) -> None:
    home = _home(tmp_path / "home")  # the shipped pack too
    models = run_in(hello_python, home, "models", "list", "--json")
    assert models.returncode == 0, models.stderr
    echo = next(row for row in json.loads(models.stdout) if row["name"] == "hello-echo")
    assert (echo["backend"], echo["kind"]) == ("echo", "planner")

    tools = run_in(hello_python, home, "tools", "list", "--json")
    assert tools.returncode == 0, tools.stderr
    packs = {row["name"]: row["pack"] for row in json.loads(tools.stdout)["tools"]}
    assert packs["say_hello"] == "hello" and packs["create_note"] == "tinyagent"
    assert list(packs)[-1] == "say_hello"  # after the shipped pack

    (home / "plan.txt").write_text('1. say_hello("Ada")\n2. join()\n', encoding="utf-8")
    ran = run_in(hello_python, home, "exec", "--yes", "--json", str(home / "plan.txt"))
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["results"][0]["output"] == "Hello, Ada!"

    helped = run_in(hello_python, home, "--help")
    assert helped.returncode == 0 and "hello" in helped.stdout.split("Commands:")[1]
    hello = run_in(hello_python, home, "hello", "Ada")
    assert hello.returncode == 0 and hello.stdout == "Hello, Ada!\n"


def test_plugins_json_lists_the_builtin_and_the_installed_one(hello_python: Path, tmp_path: Path) -> None:
    out = run_in(hello_python, _home(tmp_path / "home"), "plugins", "--json")
    assert out.returncode == 0, out.stderr
    rows = {row["name"]: row for row in json.loads(out.stdout)}
    assert rows["tinyagent"]["builtin"] is True and rows["tinyagent"]["distribution"] == "tinyagent-cli"
    assert rows["hello"] == {
        "name": "hello", "distribution": "tinyagent-hello", "version": "0.1.0", "builtin": False,
        "hooks": ["register_commands", "register_model_backends", "register_toolpacks"], "error": None,
    }
    table = run_in(hello_python, _home(tmp_path / "home"), "plugins")
    assert table.returncode == 0
    assert table.stdout.splitlines()[1].split("\t")[:4] == ["hello", "tinyagent-hello", "0.1.0", "installed"]
    doctor = run_in(hello_python, _home(tmp_path / "home"), "doctor", "--json")
    row = next(c for c in json.loads(doctor.stdout)["checks"] if c["name"] == "plugin hello")
    assert row == {"name": "plugin hello", "status": "ok", "fix": "",
                   "detail": "tinyagent-hello 0.1.0: adds commands, model_backends, toolpacks"}


def test_plugins_env_leaves_installed_plugins_out(hello_python: Path, tmp_path: Path) -> None:
    home = _home(tmp_path / "home")
    out = run_in(hello_python, home, "plugins", "--json", env={"TINYAGENT_PLUGINS": ""})
    assert [row["name"] for row in json.loads(out.stdout)] == ["tinyagent"]
    out = run_in(hello_python, home, "plugins", "--json", env={"TINYAGENT_PLUGINS": "tinyagent_hello"})
    assert [row["name"] for row in json.loads(out.stdout)] == ["tinyagent", "hello"]


# --------------------------------------------------------------------------- plugins made here


def make_plugin(site_dir: Path, name: str, source: str, dist: str = "") -> Path:
    """A distribution as an installer leaves it: the module and a dist-info with the entry point."""
    dist = dist or f"tinyagent-{name}"
    module = f"tinyagent_test_{name}"
    site_dir.mkdir(parents=True, exist_ok=True)
    (site_dir / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = site_dir / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[tinyagent]\n{name} = {module}\n", encoding="utf-8")
    return site_dir


def test_a_plugin_that_fails_to_import_is_one_line_and_the_rest_works(home: Path, tmp_path: Path) -> None:
    site_dir = make_plugin(tmp_path / "site", "broken", "raise RuntimeError('boom\\nsecond line')\n")
    env = {"PYTHONPATH": str(site_dir)}
    shipped = run_cli(home, "tools", "list", "--json", env={"TINYAGENT_PLUGINS": ""})
    out = run_cli(home, "tools", "list", "--json", env=env)
    assert out.returncode == 0
    assert out.stdout == shipped.stdout  # the shipped tools, all of them
    assert out.stderr == "warning: plugin 'broken' (from tinyagent-broken) failed to load: RuntimeError: boom\n"
    listed = run_cli(home, "plugins", "--json", env=env)
    assert listed.returncode == 0
    broken = next(row for row in json.loads(listed.stdout) if row["name"] == "broken")
    assert broken["error"] == "RuntimeError: boom" and broken["distribution"] == "tinyagent-broken"
    assert run_cli(home, "--help", env=env).returncode == 0
    doctor = run_cli(home, "doctor", "--json", env=env)
    row = next(c for c in json.loads(doctor.stdout)["checks"] if c["name"] == "plugin broken")
    assert row["status"] == "warn" and row["detail"] == "set aside (tinyagent-broken 0.1): RuntimeError: boom"
    assert "uninstall tinyagent-broken" in row["fix"]


@pytest.fixture
def fresh() -> Iterator[None]:
    """Plugins loaded anew for the test, and again after it (for the tests that follow)."""
    plugins.reset()
    yield
    plugins.reset()


def _plugin_here(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, source: str) -> None:
    monkeypatch.syspath_prepend(str(make_plugin(tmp_path / "site", name, source)))
    monkeypatch.delenv(plugins.ENV, raising=False)
    monkeypatch.delitem(sys.modules, f"tinyagent_test_{name}", raising=False)


def _warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("warning: plugin")]


def test_a_hook_that_raises_sets_its_plugin_aside(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str], fresh: None) -> None:
    from tinyagent_cli.llm.registry import load_registry
    from tinyagent_cli.tools.spec import load_catalog

    _plugin_here(monkeypatch, tmp_path, "raiser", """\
        from tinyagent_cli.plugins import hookimpl

        @hookimpl
        def register_model_backends(register):
            register("half", lambda spec, settings, **kw: None)
            raise ValueError("no backends today")

        @hookimpl
        def register_toolpacks(register):
            raise AssertionError("set aside already: never called")
        """)
    settings = Settings.load()
    registry = load_registry(settings)
    assert "gemma3-270m" in registry.models
    from tinyagent_cli.llm.backends import model_backends

    assert set(model_backends()) == {"llama_cpp", "openai_compatible", "faster_whisper"}  # "half" not kept
    assert "create_note" in load_catalog(settings).known
    assert _warnings(capsys.readouterr().err) == [
        "warning: plugin 'raiser' (from tinyagent-raiser) failed to load: "
        "register_model_backends: ValueError: no backends today"]
    raiser = next(p for p in plugins.plugins() if p.name == "raiser")
    assert raiser.error and not raiser.builtin


def test_a_plugin_backend_is_opened_and_validated(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 fresh: None) -> None:
    from tinyagent_cli.llm import registry as reg
    from tinyagent_cli.llm.backends import model_backends, open_model

    _plugin_here(monkeypatch, tmp_path, "canned", """\
        from tinyagent_cli.llm.base import LanguageModel
        from tinyagent_cli.llm.backends import BackendFieldError
        from tinyagent_cli.plugins import hookimpl

        class Canned(LanguageModel):
            def __init__(self, spec):
                self.name = spec.name
            def stream(self, prompt, **options):
                yield "1. join()"
            def count_tokens(self, text):
                return 1

        def check(spec):
            if spec.source.kind != "path":
                raise BackendFieldError("source", "a canned model is a path to its answers")

        @hookimpl
        def register_model_backends(register):
            register("canned", lambda spec, settings, **options: Canned(spec), validate=check)
        """)
    settings = Settings.load()
    path = reg.user_models_file(settings)
    path.write_text(ECHO_MODEL.replace("backend: echo", "backend: canned"), encoding="utf-8")
    with pytest.raises(ModelError) as err:
        reg.load_registry(settings)
    assert str(err.value) == (f"{path}:5: model 'hello-echo'.source: a canned model is a path to its answers")
    path.write_text(ECHO_MODEL.replace("backend: echo", "backend: canned")
                    .replace('{base_url: "echo:", model: hello}', "{path: /answers}"), encoding="utf-8")
    spec = reg.load_registry(settings).get("hello-echo")
    assert spec.kind == "planner" and model_backends()["canned"].plugin == "canned"
    model = open_model(spec, settings)
    assert "".join(model.stream("x")) == "1. join()" and model.trained_toolset() is None  # the defaults
    # a backend no plugin gives any more: said, not a traceback
    path.write_text(ECHO_MODEL, encoding="utf-8")
    with pytest.raises(ModelError, match=r"backend: must be one of llama_cpp, openai_compatible, faster_whisper, "
                                         r"canned, not 'echo'"):
        reg.load_registry(settings)


def test_a_plugin_may_not_take_a_builtin_name(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str], fresh: None) -> None:
    import typer

    from tinyagent_cli.llm.backends import model_backends

    _plugin_here(monkeypatch, tmp_path, "greedy", """\
        from tinyagent_cli.plugins import hookimpl

        @hookimpl
        def register_model_backends(register):
            register("mine", lambda spec, settings, **kw: None)
            register("llama_cpp", lambda spec, settings, **kw: None)
        """)
    _plugin_here(monkeypatch, tmp_path / "other", "shadow", """\
        from tinyagent_cli.plugins import hookimpl

        @hookimpl
        def register_commands(cli):
            @cli.command("run")
            def run():
                '''Not the real run.'''
        """)
    app = typer.Typer()

    @app.command("run")
    def run() -> None:
        """The real run."""

    plugins.register_commands(app)
    assert [info.callback.__doc__ for info in app.registered_commands if info.name == "run"] == ["The real run."]
    assert "plugins" in [info.name for info in app.registered_commands]  # the built-in plugin's command
    backends = model_backends()
    assert backends["llama_cpp"].plugin == "tinyagent" and "mine" not in backends
    assert _warnings(capsys.readouterr().err) == [
        "warning: plugin 'shadow' (from tinyagent-shadow) failed to load: "
        "register_commands: the command 'run' is already taken",
        "warning: plugin 'greedy' (from tinyagent-greedy) failed to load: "
        "register_model_backends: ValueError: 'llama_cpp' is already registered by the plugin 'tinyagent'"]


def test_a_plugin_pack_that_does_not_load_sets_its_plugin_aside(home: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str],
                                                                fresh: None) -> None:
    from tinyagent_cli.tools.spec import load_catalog

    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "pack.yaml").write_text("name: bad\ntools: [{name: create_note, description: x, params: [], "
                                    "side_effects: false}]\n", encoding="utf-8")
    _plugin_here(monkeypatch, tmp_path, "clash", f"""\
        from tinyagent_cli.plugins import hookimpl

        @hookimpl
        def register_toolpacks(register):
            register({str(pack)!r})
        """)
    catalog = load_catalog(Settings.load())
    assert catalog.pack_of("create_note").name == "tinyagent"
    [warning] = _warnings(capsys.readouterr().err)
    assert warning.startswith("warning: plugin 'clash' (from tinyagent-clash) failed to load: ")
    assert "tool 'create_note' is already defined" in warning


def test_unknown_hooks_and_missing_packs_are_refused(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str], fresh: None) -> None:
    from tinyagent_cli.tools.spec import load_catalog

    _plugin_here(monkeypatch, tmp_path, "typo", """\
        from tinyagent_cli.plugins import hookimpl

        @hookimpl
        def register_tools(register):
            pass
        """)
    _plugin_here(monkeypatch, tmp_path / "other", "nopack", f"""\
        from tinyagent_cli.plugins import hookimpl

        @hookimpl
        def register_toolpacks(register):
            register({str(tmp_path / 'nowhere')!r})
        """)
    load_catalog(Settings.load())
    warnings = _warnings(capsys.readouterr().err)
    assert warnings == [  # typo's when the plugins load, nopack's when its hook is first called
        "warning: plugin 'typo' (from tinyagent-typo) failed to load: unknown hook 'register_tools' "
        "(known: register_toolpacks, register_model_backends, register_commands, register_planner_styles)",
        f"warning: plugin 'nopack' (from tinyagent-nopack) failed to load: register_toolpacks: "
        f"ValueError: {tmp_path / 'nowhere'} has no pack.yaml",
    ]


def test_builtins_come_through_the_hooks(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from tinyagent_cli.llm.backends import model_backends
    from tinyagent_cli.tools.spec import shipped_packs_dir

    monkeypatch.setenv(plugins.ENV, "")
    backends = model_backends()
    assert {name: (b.kind, b.plugin) for name, b in backends.items()} == {
        "llama_cpp": ("planner", "tinyagent"), "openai_compatible": ("planner", "tinyagent"),
        "faster_whisper": ("speech", "tinyagent")}
    [(plugin, pack_dir)] = plugins.registrations("register_toolpacks", Path)
    assert plugin.builtin and pack_dir == shipped_packs_dir() / "tinyagent"
    [builtin] = plugins.plugins()
    assert builtin.hooks == ("register_commands", "register_model_backends", "register_planner_styles",
                             "register_toolpacks")
    assert set(planners.styles()) == {"completion", "chat", "trained", "tinyagent"}


def test_help_loads_no_plugin_hook_but_commands() -> None:
    """`tinyagent --help` imports the plugins (for their commands) and nothing their other hooks need."""
    code = ("import sys\nfrom tinyagent_cli.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(' '.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    loaded = set(out.stdout.split("\n")[-2].split())
    assert "tinyagent_cli.plugins.default" in loaded
    assert not loaded & {"yaml", "rich", "tinyagent_cli.tools.spec", "tinyagent_cli.llm.registry"}


def test_a_plugin_planner_style_is_prompted_and_held_by_its_own_rules(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fresh: None
) -> None:
    from tinyagent_cli.agent import Agent
    from tinyagent_cli.llm.registry import load_registry, user_models_file
    from tinyagent_cli.tools.spec import load_catalog

    _plugin_here(monkeypatch, tmp_path, "terse", """\
        from tinyagent_cli.plan.grammar import GrammarPolicy
        from tinyagent_cli.plan.prompt import Prompt
        from tinyagent_cli.planners import PlannerStyle
        from tinyagent_cli.plugins import hookimpl

        def prompt(query, tools, examples, *, now, instructions=(), failure=None, template=None):
            text = "TOOLS " + " ".join(t.name for t in tools) + "\\nASK " + query + "\\n"
            return Prompt(text, "TOOLS ", "terse")

        @hookimpl
        def register_planner_styles(register):
            register(PlannerStyle("terse", prompt, GrammarPolicy(sure_tools=False, copies=False), examples=0))
            register("not a style")
        """)
    settings = Settings.load(backend="portable")
    user_models_file(settings).write_text(ECHO_MODEL.replace("backend: echo", "backend: openai_compatible")
                                          .replace('"echo:"', '"http://127.0.0.1:9/v1"')
                                          .replace("prompt_style: completion", "prompt_style: terse"), encoding="utf-8")
    # the plugin also registered something that is no style: set aside whole, in one line
    with pytest.raises(ModelError, match="prompt_style: must be one of completion, chat, trained, tinyagent, not 'terse'"):
        load_registry(settings)
    assert _warnings(capsys.readouterr().err) == [
        "warning: plugin 'terse' (from tinyagent-terse) failed to load: register_planner_styles: TypeError: a planner style must be "
        "a tinyagent_cli.planners.PlannerStyle, not str"]

    plugins.reset()
    _plugin_here(monkeypatch, tmp_path / "again", "terse", (tmp_path / "site" / "tinyagent_test_terse.py").read_text()
                 .replace('    register("not a style")\n', ""))
    settings = Settings.load(backend="portable", model="hello-echo")
    request = Agent(settings, load_catalog(settings)).prepare("text Omar that I am late")
    assert request.prompt.text.startswith("TOOLS ") and "\nASK text Omar that I am late\n" in request.prompt.text
    assert request.examples == () and request.required == ()  # its examples: 0, its policy's no sure tools
