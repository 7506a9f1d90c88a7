"""A planner served by an OpenAI-compatible server on this machine (llama-server, LM Studio, Ollama).

Streams ``/completions`` (or ``/chat/completions`` for chat-style models) as server-sent
events. The plan grammar travels as ``grammar`` in the body: llama-server enforces it,
other servers ignore the key, and the plan parser checks the result either way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..errors import ModelError
from .base import SEED, LanguageModel
from .registry import ModelSpec

_MAX_STOPS = 4  # OpenAI's limit; some compatible servers reject more
_CONNECT_SECONDS = 5.0
_READ_SECONDS = 300.0  # a large model on a slow machine may think a while before its first token


class OpenAICompatibleModel(LanguageModel):
    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.base_url = spec.source.ref.rstrip("/")
        self._tokenize_url: str | None = _server_root(self.base_url) + "/tokenize"

    def stream(
        self, prompt: str, *, grammar: str | None = None, stop: Sequence[str] = (), max_tokens: int = 256,
        # A server can neither take a line back nor be asked about each token.
        reject: Callable[[str], bool] | None = None, forbid: Callable[[str], bool] | None = None,
    ) -> Iterator[str]:
        import httpx

        from .. import planners

        chat = planners.get(self.spec.prompt_style).chat
        body: dict[str, Any] = {
            "model": self.spec.source.model,
            "temperature": 0,
            "seed": SEED,
            "max_tokens": max_tokens,
            "stream": True,
        }
        stops = list(dict.fromkeys([*self.spec.stop, *stop]))[:_MAX_STOPS]
        if stops:
            body["stop"] = stops
        if grammar:
            body["grammar"] = grammar
        if chat:
            body["messages"] = [{"role": "user", "content": prompt}]
        else:
            body["prompt"] = prompt
        url = f"{self.base_url}/{'chat/completions' if chat else 'completions'}"
        timeout = httpx.Timeout(_READ_SECONDS, connect=_CONNECT_SECONDS)
        try:
            with httpx.stream("POST", url, json=body, timeout=timeout) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ModelError(f"{url} answered {response.status_code}: {_error_detail(response.text)}")
                for line in response.iter_lines():
                    text = _sse_text(line, chat, url)
                    if text is None:
                        break
                    if text:
                        yield text
        except httpx.ConnectError:
            raise ModelError(f"cannot reach {self.base_url} (is the server running?)") from None
        except httpx.TimeoutException:
            raise ModelError(f"{self.base_url} did not answer in time") from None
        except httpx.HTTPError as exc:
            raise ModelError(f"{self.base_url}: {exc}".splitlines()[0]) from None

    def count_tokens(self, text: str) -> int:
        """The server's count where it has llama-server's /tokenize, else about 4 characters a token."""
        if self._tokenize_url is not None:
            import httpx

            try:
                response = httpx.post(self._tokenize_url, json={"content": text}, timeout=_CONNECT_SECONDS)
                if response.status_code == 200:
                    return len(response.json()["tokens"])
            except (httpx.HTTPError, ValueError, KeyError, TypeError):
                pass
            self._tokenize_url = None  # not there: do not ask again
        return max(1, len(text) // 4) if text else 0


def _server_root(base_url: str) -> str:
    return base_url[: -len("/v1")] if base_url.endswith("/v1") else base_url


def _sse_text(line: str, chat: bool, url: str) -> str | None:
    """The text in one server-sent-event line: "" for lines without any, None at [DONE]."""
    if not line.startswith("data:"):
        return ""  # blank separators, comments, event: lines
    data = line[len("data:") :].strip()
    if data == "[DONE]":
        return None
    try:
        choice = json.loads(data)["choices"][0]
        text = (choice.get("delta") or {}).get("content") if chat else choice.get("text")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise ModelError(f"{url} sent a stream line that is not a completion chunk: {data[:80]!r}") from None
    return text or ""


def _error_detail(text: str) -> str:
    try:
        error = json.loads(text).get("error")
        message = error.get("message") if isinstance(error, dict) else error
        if message:
            return str(message).splitlines()[0][:200]
    except (ValueError, AttributeError):
        pass
    return text.strip().splitlines()[0][:200] if text.strip() else "no details"
