"""Chat templates: how a model wraps a system text and a request, as it was tuned to read them.

A model fine-tuned from an instruction model reads its prompts inside that model's template
(TinyAgent-1.1B: ``### Instruction:`` / ``### Input:`` / ``### Response:``); sent raw text,
it plans markedly worse. A GGUF file may carry its tokenizer's template
(``tokenizer.chat_template``, Jinja) and models.yaml may give one (``template``). The GGUF's
metadata is read from the file's header, without loading the model, so ``tinyagent prompt``
can show the exact text a planner would receive.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ..errors import ModelError

if TYPE_CHECKING:
    from ..settings import Settings
    from .registry import ModelSpec

CHAT_TEMPLATE_KEY = "tokenizer.chat_template"
_MAGIC = b"GGUF"
# GGUF value types: fixed-size scalars by their struct format; 8 is a string, 9 an array.
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


def gguf_string(path: Path, key: str) -> str | None:
    """The string ``key`` of a GGUF file's metadata, None where the file has no such string.

    Only the header is read (the tokenizer's arrays are skipped, not decoded), so this takes
    milliseconds where loading the model takes seconds. A file that is not GGUF is a ModelError.
    """
    try:
        with path.open("rb") as f:
            if f.read(4) != _MAGIC:
                raise ModelError(f"{path} is not a GGUF file")
            (version,) = struct.unpack("<I", f.read(4))
            length = "<I" if version == 1 else "<Q"  # version 1 counted in 32 bits
            f.seek(struct.calcsize(length), 1)  # the tensor count
            (count,) = struct.unpack(length, f.read(struct.calcsize(length)))
            for _ in range(count):
                name = _read_text(f, length)
                (kind,) = struct.unpack("<I", f.read(4))
                if name == key and kind == _STRING:
                    return _read_text(f, length)
                _skip(f, kind, length)
    except (OSError, struct.error, UnicodeDecodeError, ValueError) as exc:
        raise ModelError(f"cannot read the metadata of {path} ({exc})") from None
    return None


def _read_text(f: BinaryIO, length: str) -> str:
    (size,) = struct.unpack(length, f.read(struct.calcsize(length)))
    return f.read(size).decode("utf-8")


def _skip(f: BinaryIO, kind: int, length: str) -> None:
    if kind in _SCALARS:
        f.seek(struct.calcsize(_SCALARS[kind]), 1)
    elif kind == _STRING:
        (size,) = struct.unpack(length, f.read(struct.calcsize(length)))
        f.seek(size, 1)
    elif kind == _ARRAY:
        (item,) = struct.unpack("<I", f.read(4))
        (count,) = struct.unpack(length, f.read(struct.calcsize(length)))
        if item in _SCALARS:
            f.seek(struct.calcsize(_SCALARS[item]) * count, 1)
        else:
            for _ in range(count):
                _skip(f, item, length)
    else:
        raise ValueError(f"unknown metadata type {kind}")


@dataclass(frozen=True)
class ChatTemplate:
    """A Jinja chat template and where it came from (for messages)."""

    source: str
    origin: str

    @cached_property
    def _compiled(self) -> Any:
        # Sandboxed as transformers and llama.cpp render them: a template comes with a
        # downloaded file, and must not reach anything but the messages it is given.
        from jinja2 import TemplateError
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        def raise_exception(message: str) -> None:
            raise TemplateError(message)

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.globals["raise_exception"] = raise_exception
        try:
            return env.from_string(self.source)
        except TemplateError as exc:
            raise ModelError(f"the chat template of {self.origin} is not valid Jinja ({exc})".splitlines()[0]) from None

    def render(self, system: str, user: str) -> str:
        """The text for a system message (none if empty) and a user turn, ready for the reply.

        The BOS and EOS tokens render as nothing: llama.cpp puts BOS before the text when it
        tokenizes it, and the text ends before any EOS."""
        from jinja2 import TemplateError

        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
        try:
            return str(self._compiled.render(messages=messages, add_generation_prompt=True, bos_token="",
                                             eos_token=""))
        except (TemplateError, TypeError, ValueError) as exc:
            raise ModelError(f"the chat template of {self.origin} cannot be rendered ({exc})".splitlines()[0]) from None

    def wrap(self, system: str, user: str, prefix: str) -> tuple[str, str]:
        """The rendered text, and its start up to the end of ``prefix``, the fixed start of the
        first message (or "" when the template changes that message's text)."""
        text = self.render(system, user)
        at = text.find(system or user)
        return text, (text[:at] + prefix if at >= 0 else "")


@dataclass(frozen=True)
class TemplateChoice:
    template: ChatTemplate | None
    note: str = ""  # when the template is not the model file's own: which one is used, and why


def choose_template(spec: ModelSpec, settings: Settings) -> TemplateChoice:
    """The chat template a planner's prompt is wrapped in: models.yaml's ``template``, or the
    GGUF's own (the default, and with ``template_from: gguf``), which stands in for it while
    the file is not on this machine."""
    from .. import planners
    from .files import installed_path

    if not planners.get(spec.prompt_style).template:
        return TemplateChoice(None)
    entry = ChatTemplate(spec.template, f"model {spec.name!r} ({spec.origin})") if spec.template else None
    if spec.backend != "llama_cpp" or (entry is not None and spec.template_from != "gguf"):
        return TemplateChoice(entry)
    path = installed_path(spec, settings)
    if path is None:
        instead = "the template models.yaml gives" if entry is not None else "no template"
        return TemplateChoice(entry, f"{spec.name} is not installed, so its chat template cannot be read from its "
                                     f"GGUF file: shown with {instead} (tinyagent models pull {spec.base or spec.name})")
    text = gguf_string(path, CHAT_TEMPLATE_KEY)
    return TemplateChoice(ChatTemplate(text, str(path)) if text else entry)
