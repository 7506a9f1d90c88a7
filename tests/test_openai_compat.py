"""The OpenAI-compatible backend against a real HTTP server on loopback that streams SSE."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tinyagent_cli.errors import ModelError
from tinyagent_cli.llm.base import SEED, LanguageModel
from tinyagent_cli.llm.openai_compat import OpenAICompatibleModel
from tinyagent_cli.llm.registry import ModelSpec, Source

PLAN_CHUNKS = ['1. get_email_address("Sa', 'rah")\n', "2. join()", ""]


class Server:
    """Records each request body and answers with the configured chunks as SSE."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.status = 200
        self.tokenize = False
        self.chunks = list(PLAN_CHUNKS)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append((self.path, body))
                if self.path == "/tokenize":
                    if not outer.tokenize:
                        self.send_error(404)
                        return
                    self._send(200, "application/json", json.dumps({"tokens": list(range(7))}).encode())
                    return
                if outer.status != 200:
                    self._send(outer.status, "application/json", b'{"error": {"message": "model not loaded\\nmore"}}')
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                chat = self.path.endswith("/chat/completions")
                for text in outer.chunks:
                    choice = {"delta": {"content": text}} if chat else {"text": text}
                    self.wfile.write(f"data: {json.dumps({'choices': [choice]})}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b": keep-alive comment\n\ndata: [DONE]\n\n")

            def _send(self, status: int, kind: str, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


def spec_for(url: str, style: str = "completion") -> ModelSpec:
    return ModelSpec(
        name="local-server",
        description="test",
        backend="openai_compatible",
        source=Source(kind="base_url", ref=url, model="planner-x"),
        license="test",
        n_ctx=4096,
        stop=("<END_OF_PLAN>",),
        prompt_style=style,
    )


def test_completion_stream_is_assembled_and_request_is_right(server: Server) -> None:
    model = OpenAICompatibleModel(spec_for(server.url))
    assert isinstance(model, LanguageModel)
    chunks = list(model.stream("Question: mail Sarah\n", grammar='root ::= "x"', stop=["\n\n"], max_tokens=64))
    assert "".join(chunks) == '1. get_email_address("Sarah")\n2. join()'
    assert len(chunks) == 3  # streamed piece by piece, empty chunks dropped
    path, body = server.requests[-1]
    assert path == "/v1/completions"
    assert body == {
        "model": "planner-x",
        "temperature": 0,
        "seed": SEED,
        "max_tokens": 64,
        "stream": True,
        "stop": ["<END_OF_PLAN>", "\n\n"],
        "grammar": 'root ::= "x"',
        "prompt": "Question: mail Sarah\n",
    }


def test_chat_style_uses_chat_completions(server: Server) -> None:
    model = OpenAICompatibleModel(spec_for(server.url, style="chat"))
    assert "".join(model.stream("plan this")) == '1. get_email_address("Sarah")\n2. join()'
    path, body = server.requests[-1]
    assert path == "/v1/chat/completions"
    assert body["messages"] == [{"role": "user", "content": "plan this"}] and "prompt" not in body
    assert "grammar" not in body


def test_server_error_is_one_line(server: Server) -> None:
    server.status = 503
    with pytest.raises(ModelError) as err:
        list(OpenAICompatibleModel(spec_for(server.url)).stream("x"))
    assert "503" in str(err.value) and "model not loaded" in str(err.value) and "\n" not in str(err.value)


def test_connection_refused_names_the_url() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(ModelError, match=f"cannot reach {url}"):
        list(OpenAICompatibleModel(spec_for(url)).stream("x"))


def test_count_tokens_uses_tokenize_when_the_server_has_it(server: Server) -> None:
    server.tokenize = True
    assert OpenAICompatibleModel(spec_for(server.url)).count_tokens("hello world") == 7
    assert server.requests[-1] == ("/tokenize", {"content": "hello world"})


def test_count_tokens_falls_back_to_an_estimate(server: Server) -> None:
    model = OpenAICompatibleModel(spec_for(server.url))
    assert model.count_tokens("x" * 400) == 100
    asked = len(server.requests)
    assert model.count_tokens("x" * 40) == 10
    assert len(server.requests) == asked  # a server without /tokenize is not asked again
    assert model.count_tokens("") == 0


def test_stop_list_is_capped_for_strict_servers(server: Server) -> None:
    spec = replace(spec_for(server.url), stop=("a", "b", "c"))
    list(OpenAICompatibleModel(spec).stream("x", stop=["d", "e", "a"]))
    assert server.requests[-1][1]["stop"] == ["a", "b", "c", "d"]
