"""Texts from Linux: send_sms on the portable backend through KDE Connect.

A fake ``kdeconnect-cli`` (tests/fakebin) records its argv and answers as told: the id
of a paired, reachable device, nothing, or an error. Without it, a request to text is
refused before planning, in one line that says how to get it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tinyagent_cli.commands.doctor import run_checks
from tinyagent_cli.plan.parser import parse_plan
from tinyagent_cli.plan.tasks import Task
from tinyagent_cli.settings import Settings
from tinyagent_cli.tools.spec import Catalog, load_catalog

from .conftest import reuse_cache, run_cli, run_plan, use_local_server, write_config
from .test_openai_compat import Server, server  # noqa: F401  (a fixture)

FAKEBIN = Path(__file__).resolve().parent / "fakebin"
PYTHON_DIR = str(Path(sys.executable).parent)
DEVICE = "a1b2c3d4e5f60718"
NUMBER = "+44 20 7946 0000"
OMAR = """BEGIN:VCARD
VERSION:3.0
FN:Omar Haddad
TEL;TYPE=CELL:+1 555 0100
END:VCARD
"""
TEXT_OMAR = "Text Omar that I am running late\n"
HOSTILE = [
    "--device evil",
    "-e",
    "--destination=+19995550000",
    '"; rm -rf ~; echo "',
    "$(touch pwned) `id` && id || id; id",
    "line one\nline two\r\nthree",
    "\u202eRTL \u0645\u0631\u062d\u0628\u0627 emoji \U0001f44b\U0001f3fd \u00e9\u0301",
    "'single' \"double\" \\backslash",
    "A" * 20_000,
]


class Phone:
    """The fake kdeconnect-cli on PATH: what it answers, and the argv of each call."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.log = root / "fakebin.jsonl"
        self.env = {"PATH": os.pathsep.join([str(FAKEBIN), PYTHON_DIR, os.environ["PATH"]]),
                    "FAKEBIN_LOG": str(self.log), "FAKEBIN_ANSWERS": str(root / "answers.json")}
        for name, value in self.env.items():
            monkeypatch.setenv(name, value)
        self.answer({"out": DEVICE + "\n"})

    def answer(self, *answers: dict[str, Any]) -> None:
        """The Nth call from now gets the Nth answer (the last one again after that)."""
        (self.root / "answers.json").write_text(json.dumps({"kdeconnect-cli": list(answers)}), encoding="utf-8")
        self.log.unlink(missing_ok=True)

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        lines = self.log.read_text(encoding="utf-8").splitlines()
        return [record["argv"] for record in map(json.loads, lines) if record["prog"] == "kdeconnect-cli"]

    def sends(self) -> list[list[str]]:
        return [argv for argv in self.calls() if "--send-sms" in argv]


@pytest.fixture
def phone(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Phone:
    """A paired, reachable phone."""
    return Phone(tmp_path, monkeypatch)


@pytest.fixture
def no_kdeconnect(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A PATH without kdeconnect-cli (Python's own folder only)."""
    monkeypatch.setenv("PATH", PYTHON_DIR)
    return {"PATH": PYTHON_DIR}


def portable() -> tuple[Settings, Catalog]:
    settings = Settings.load(backend="portable")
    return settings, load_catalog(settings)


def texting_check(settings: Settings, catalog: Catalog) -> dict[str, str]:
    check = next(c for c in run_checks(settings, catalog, model_rows=lambda s: []) if c.name == "texting")
    return {"status": check.status, "detail": check.detail, "fix": check.fix}


# --------------------------------------------------------------------------- is it here?


def test_without_kdeconnect_there_is_no_send_sms_and_doctor_says_how(no_kdeconnect: dict[str, str]) -> None:
    settings, catalog = portable()
    assert "send_sms" not in catalog.tools and "send_sms" in catalog.known
    why = catalog.why_unavailable("send_sms")
    assert why == ("tool 'send_sms' cannot run on the portable backend here: kdeconnect-cli is not on PATH; "
                   "install KDE Connect and pair your phone to send texts from this machine")
    assert texting_check(settings, catalog) == {
        "status": "warn", "detail": "no send_sms: kdeconnect-cli is not on PATH",
        "fix": "install KDE Connect and pair your phone to send texts from this machine"}


def test_a_paired_reachable_phone_brings_send_sms(phone: Phone) -> None:
    settings, catalog = portable()
    assert "send_sms" in catalog.tools and catalog.missing == {}
    check = texting_check(settings, catalog)
    assert check["status"] == "ok" and DEVICE in check["detail"] and str(FAKEBIN) in check["detail"]
    assert phone.calls() == [["--list-available", "--id-only"]] * 2  # the catalog asked once, doctor once
    assert "send_sms" not in load_catalog(Settings.load(backend="macos")).missing  # macOS never asks


@pytest.mark.parametrize(("answer", "detail", "fix"), [
    ({"out": ""}, "KDE Connect has no paired phone within reach", "pair your phone"),
    ({"out": "\n\n"}, "KDE Connect has no paired phone within reach", "keep it on the same network"),
    ({"err": "error: No such object path '/modules/kdeconnect'\n", "rc": 1},
     "kdeconnect-cli --list-available failed (error: No such object path '/modules/kdeconnect')",
     "start KDE Connect (kdeconnectd)"),
])
def test_no_phone_to_text_through(phone: Phone, answer: dict[str, Any], detail: str, fix: str) -> None:
    phone.answer(answer)
    settings, catalog = portable()
    assert "send_sms" not in catalog.tools and detail in catalog.why_unavailable("send_sms")
    check = texting_check(settings, catalog)
    assert check["status"] == "warn" and check["detail"] == f"no send_sms: {detail}" and fix in check["fix"]


# --------------------------------------------------------------------------- sending


def send(catalog: Catalog, settings: Settings, recipients: list[str], message: str) -> Any:
    plan = parse_plan("1. " + Task(1, "send_sms", (recipients, message)).call_text() + "\n2. join()", catalog)
    return run_plan(plan, catalog, settings)[1]


@pytest.mark.parametrize("message", HOSTILE, ids=range(len(HOSTILE)))
def test_a_hostile_message_arrives_intact_as_one_argument(phone: Phone, message: str) -> None:
    settings, catalog = portable()
    phone.answer({"out": DEVICE + "\n"})
    result = send(catalog, settings, [NUMBER], message)
    assert result.status == "done", result.error
    assert phone.sends() == [["--send-sms", message, "--destination", "+442079460000", "--device", DEVICE]]
    assert not Path("pwned").exists()


def test_recipients_must_be_phone_numbers(phone: Phone) -> None:
    settings, catalog = portable()
    phone.answer({"out": DEVICE + "\n"})
    for recipients in (["Omar"], ["--device=evil"], ["-1"], [" "]):
        result = send(catalog, settings, recipients, "hi")
        assert result.status == "failed"
    assert "not a phone number: 'Omar' (look it up with get_phone_number first)" in send(
        catalog, settings, ["Omar"], "hi").error
    assert send(catalog, settings, [NUMBER], "  ").error == "the message is empty"
    assert phone.sends() == []


def test_each_number_gets_its_text_and_a_partial_send_is_not_a_failure(phone: Phone) -> None:
    settings, catalog = portable()
    phone.answer({"out": DEVICE + "\n"})
    result = send(catalog, settings, [NUMBER, "(555) 010-0199"], "on my way")
    assert result.status == "done"
    assert result.output == f"Sent to +442079460000, 5550100199 through KDE Connect (device {DEVICE})"
    assert [argv[3] for argv in phone.sends()] == ["+442079460000", "5550100199"]

    # the device list, the first text, then the second fails: the first went, so no failure (a replan could resend)
    phone.answer({"out": DEVICE + "\n"}, {"out": ""}, {"err": "error: device went away\n", "rc": 1})
    result = send(catalog, settings, [NUMBER, "+1 555 0100"], "on my way")
    assert result.status == "done" and "NOT sent to +15550100 (error: device went away)" in result.output
    phone.answer({"out": DEVICE + "\n"}, {"err": "error: device went away\n", "rc": 1})
    result = send(catalog, settings, [NUMBER], "on my way")
    assert result.status == "failed" and "could not send to +442079460000: error: device went away" in result.error


def test_a_phone_that_answers_late_may_have_sent_and_is_not_asked_again(
        phone: Phone, monkeypatch: pytest.MonkeyPatch) -> None:
    from tinyagent_cli.tools import portable as backend

    monkeypatch.setattr(backend, "_KDECONNECT_TIMEOUT", 2.0)  # the fake's own start takes ~0.1 s, more under load
    settings, catalog = portable()
    assert "send_sms" in catalog.tools  # asks for the phone now, not on the first send
    phone.answer({"out": DEVICE + "\n"}, {"sleep": 8})  # the send itself does not answer in time
    result = send(catalog, settings, [NUMBER], "on my way")
    assert result.status == "unknown", result.error  # not "failed": the text may have gone, so no replan resends it
    assert "the text to +442079460000 may have gone" in result.error and "check before doing it again" in result.error
    assert len(phone.sends()) == 1
    phone.answer({"sleep": 8})  # only the list of phones is slow: nothing was sent, a plain failure
    result = send(catalog, settings, [NUMBER], "on my way")
    assert result.status == "failed" and phone.sends() == []


def test_exec_sends_only_with_yes(phone: Phone, home: Path) -> None:
    plan = "1. " + Task(1, "send_sms", ([NUMBER], HOSTILE[3])).call_text() + "\n2. join()\n"
    out = run_cli(home, "exec", "--backend", "portable", "-", input=plan, env=phone.env)
    assert out.returncode == 4, out.stderr
    assert "refusing to run 1 action that changes things without a terminal to confirm: rerun with --yes" in out.stderr
    assert phone.sends() == []
    out = run_cli(home, "exec", "--backend", "portable", "--yes", "-", input=plan, env=phone.env)
    assert out.returncode == 0, out.stderr
    assert phone.sends() == [["--send-sms", HOSTILE[3], "--destination", "+442079460000", "--device", DEVICE]]


# --------------------------------------------------------------------------- run



@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache with the portable classifier trained both ways: without a phone and with one."""
    from tinyagent_cli.retrieval.toolrag import ToolRAG

    root = tmp_path_factory.mktemp("trained-kdeconnect")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TINYAGENT_HOME", str(root))
        env.setenv("PATH", PYTHON_DIR)
        ToolRAG.load_or_train(*reversed(portable()))
        Phone(root, env)
        ToolRAG.load_or_train(*reversed(portable()))
    return root


@pytest.fixture
def trained_home(home: Path, trained: Path) -> Path:
    reuse_cache(trained / "cache", home)
    (home / "data" / "contacts").mkdir(parents=True)
    (home / "data" / "contacts" / "omar.vcf").write_text(OMAR, encoding="utf-8")
    return home


def use_server(home: Path, server: Server, plan: str) -> None:  # noqa: F811
    use_local_server(home, server.url)
    write_config(home, "model: local\n")
    server.chunks = [plan]


def test_a_text_without_kdeconnect_is_refused_before_planning(trained_home: Path, no_kdeconnect: dict[str, str],
                                                              server: Server) -> None:  # noqa: F811
    use_server(trained_home, server, '1. get_email_address("Omar")\n2. join()')
    for extra in ((), ("--json",)):
        out = run_cli(trained_home, "run", "--backend", "portable", "--dry-run", *extra, "-", input=TEXT_OMAR,
                      env=no_kdeconnect)
        assert out.returncode == 2
        if extra:  # the documented object, with the request and the error
            assert json.loads(out.stdout)["query"] == TEXT_OMAR.strip() and json.loads(out.stdout)["exit_code"] == 2
        else:
            assert out.stdout == ""
        assert out.stderr.splitlines() == [
            "tinyagent: this request needs send_sms, which cannot run on the portable backend here: kdeconnect-cli "
            "is not on PATH; install KDE Connect and pair your phone to send texts from this machine"]
    assert [path for path, _ in server.requests if path != "/tokenize"] == []  # nothing was planned


def test_run_yes_sends_through_the_phone(trained_home: Path, phone: Phone, server: Server) -> None:  # noqa: F811
    use_server(trained_home, server, '1. get_phone_number("Omar")\n2. send_sms(["$1"], "I am running late")\n3. join()')
    out = run_cli(trained_home, "run", "--backend", "portable", "--dry-run", "-", input=TEXT_OMAR, env=phone.env)
    assert out.returncode == 0 and "send_sms" in out.stdout and phone.sends() == []
    out = run_cli(trained_home, "run", "--backend", "portable", "-", input=TEXT_OMAR, env=phone.env)
    assert out.returncode == 4 and phone.sends() == []  # no terminal, no --yes: refused
    out = run_cli(trained_home, "run", "--backend", "portable", "--yes", "--json", "-", input=TEXT_OMAR, env=phone.env)
    assert out.returncode == 0, out.stderr
    assert phone.sends() == [["--send-sms", "I am running late", "--destination", "+15550100", "--device", DEVICE]]
    assert json.loads(out.stdout)["results"][1]["output"].startswith("Sent to +15550100 through KDE Connect")


@pytest.fixture
def gemma_home(trained_home: Path, trained: Path) -> Iterator[Path]:
    """The trained home with the embedded planner assembled (once, in the shared root)."""
    from tinyagent_cli.llm.files import ensure_installed
    from tinyagent_cli.llm.registry import load_registry

    with pytest.MonkeyPatch.context() as env:
        env.setenv("TINYAGENT_HOME", str(trained))
        settings = Settings.load()
        ensure_installed(load_registry(settings).get("gemma3-270m"), settings)
    (trained_home / "data" / "models").symlink_to(trained / "data" / "models", target_is_directory=True)
    yield trained_home


@pytest.mark.slow
def test_real_model_text_omar_with_and_without_a_phone(gemma_home: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The command of the issue, with the embedded planner. Without kdeconnect-cli: one line,
    exit 2. With a phone, ToolRAG is sure the request needs send_sms, so the grammar makes
    the plan call it; whether the model passes $1 on is its own choice, so with --yes only
    what was sent is checked against what ran."""
    out = run_cli(gemma_home, "run", "--backend", "portable", "--dry-run", "-", input=TEXT_OMAR,
                  env={"PATH": PYTHON_DIR}, timeout=300)
    assert out.returncode == 2 and len(out.stderr.splitlines()) == 1 and "needs send_sms" in out.stderr

    phone = Phone(tmp_path, monkeypatch)
    out = run_cli(gemma_home, "run", "--backend", "portable", "--dry-run", "--json", "-", input=TEXT_OMAR,
                  env=phone.env, timeout=300)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert "send_sms" in data["selected_tools"] and "send_sms" in [t["tool"] for t in data["plan"]]

    out = run_cli(gemma_home, "run", "--backend", "portable", "--yes", "--json", "-", input=TEXT_OMAR,
                  env=phone.env, timeout=300)
    data = json.loads(out.stdout)
    tools = {t["id"]: t["tool"] for t in data["plan"]}
    sent = [r for r in data["results"] if tools[r["id"]] == "send_sms" and r["status"] == "done"]
    assert bool(sent) == bool(phone.sends())
    assert all(argv[0] == "--send-sms" and argv[2] == "--destination" and argv[4:] == ["--device", DEVICE]
               for argv in phone.sends())
