"""A real OpenAI-compatible chat server on 127.0.0.1 for tests: FastAPI app, uvicorn in a background thread.

    calls = [{"name": "final_answer", "arguments": {"answer": 1}}]
    with OpenAICompatServer(canned=["hello", {"tool_calls": calls}]) as server:
        policy = OpenAIChatPolicy(model=server.model_name, base_url=server.base_url)
    with OpenAICompatServer(policy=HFLocalPolicy(model_dir)) as server: ...     # a local model behind HTTP

    python tests/openai_compat_server.py --model DIR [--port 8000]               # the same, by hand

Speaks the protocol's real shapes: POST /v1/chat/completions returns {"id", "object": "chat.completion",
"created", "model", "choices": [{"index", "message": {"role", "content", "tool_calls"?}, "finish_reason"}],
"usage": {"prompt_tokens", "completion_tokens", "total_tokens"}}; GET /v1/models lists the model; errors are
{"error": {"message", "type", "code"}} with the HTTP status.

Test knobs: `fail_next(status, times, retry_after=None)` answers the next requests with that error (429 / 500
for retry tests); `delay_s` sleeps before answering (timeout tests); `omit_usage` drops the usage field.
`requests` records every request body and whether it carried an Authorization header (the key itself is
never kept); `responses` records the successful response bodies.

Replies come from, in order of precedence: the canned queue (str = content; dict with "content" and/or
"tool_calls" [{"name", "arguments"}]), a `responder(body) -> str | dict` callable, or a `policy` (any
copilot Policy). When the request has `tools` and a reply's text (canned, responder or policy) holds hermes
`<tool_call>` blocks, they are
returned as structured `tool_calls` (what vLLM's hermes tool parser does), so clients see native tool calls.

Simplified: canned replies' token usage is a characters/4 estimate; no streaming, no n > 1, no auth check.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import re
import threading
import time
import uuid
from typing import Any, Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from threaded_uvicorn import ThreadedUvicorn

_TOOL_BLOCK = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|\Z)", re.DOTALL)


def _approx_tokens(text: str) -> int:
    return (len(text) + 3) // 4


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    kind = {429: "rate_limit_error", 400: "invalid_request_error"}.get(status, "server_error")
    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status_code=status,
                        headers=headers)


def split_tool_calls(text: str) -> tuple[str | None, list[dict[str, Any]]]:
    """(content before the first block or None, OpenAI tool_calls) from hermes text; unparsable blocks stay text."""
    calls = []
    for block in _TOOL_BLOCK.findall(text):
        try:
            call = json.loads(block)
        except json.JSONDecodeError:
            return text, []  # like vLLM: a malformed call is returned as plain content
        if not isinstance(call, dict) or "name" not in call:
            return text, []
        calls.append({"id": f"call_{uuid.uuid4().hex[:12]}", "type": "function",
                      "function": {"name": call["name"], "arguments": json.dumps(call.get("arguments", {}))}})
    if not calls:
        return text, []
    content = text.split("<tool_call>", 1)[0].strip()
    return content or None, calls


def _decoded_arguments(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tool-call arguments as dicts, as vLLM hands them to chat templates (the protocol sends JSON strings)."""
    out = []
    for message in messages:
        calls = message.get("tool_calls")
        if calls:
            decoded = []
            for call in calls:
                function = dict(call.get("function", {}))
                if isinstance(function.get("arguments"), str):
                    try:
                        function["arguments"] = json.loads(function["arguments"])
                    except json.JSONDecodeError:
                        pass  # left as the string the client sent; the template prints it as is
                decoded.append({**call, "function": function})
            message = {**message, "tool_calls": decoded}
        out.append(message)
    return out


class OpenAICompatServer:
    """See module docstring. Start with `start()` or a `with` block; `base_url` ends in /v1."""

    def __init__(self, *, canned: list[str | dict[str, Any]] | None = None,
                 responder: Callable[[dict[str, Any]], str | dict[str, Any]] | None = None,
                 policy: Any = None, model_name: str = "test-model", host: str = "127.0.0.1", port: int = 0):
        self.canned: collections.deque = collections.deque(canned or [])
        self.responder, self.policy, self.model_name = responder, policy, model_name
        self.host, self.port = host, port
        self.delay_s = 0.0
        self.omit_usage = False  # some servers send no usage; clients must cope
        self.requests: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []
        self._failures: collections.deque = collections.deque()
        self._lock = threading.Lock()
        self._runner: ThreadedUvicorn | None = None
        self.app = self._build_app()

    # ---- knobs ----

    def fail_next(self, status: int, times: int = 1, retry_after: float | None = None) -> None:
        with self._lock:
            self._failures.extend([(status, retry_after)] * times)

    def add_canned(self, *replies: str | dict[str, Any]) -> None:
        with self._lock:
            self.canned.extend(replies)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # ---- the app ----

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="OpenAI-compatible test server")

        @app.get("/v1/models")
        async def models() -> dict[str, Any]:
            return {"object": "list", "data": [{"id": self.model_name, "object": "model", "created": 0,
                                                "owned_by": "tests"}]}

        @app.post("/v1/chat/completions")
        async def chat(request: Request):
            try:
                body = await request.json()
            except ValueError:
                return _error(400, "request body is not JSON")
            with self._lock:
                self.requests.append({"body": body, "authorized": "authorization" in request.headers})
                failure = self._failures.popleft() if self._failures else None
            if failure is not None:
                status, retry_after = failure
                headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
                return _error(status, f"forced {status} by the test server", headers)
            if not isinstance(body.get("messages"), list) or not body["messages"]:
                return _error(400, "'messages' must be a non-empty list")
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            try:
                reply = await run_in_threadpool(self._reply, body)
            except LookupError as err:
                return _error(400, str(err))
            with self._lock:
                self.responses.append(reply)
            return reply

        return app

    def _reply(self, body: dict[str, Any]) -> dict[str, Any]:
        prompt_text = "".join(str(m.get("content") or "") for m in body["messages"])
        usage = None
        with self._lock:
            canned = self.canned.popleft() if self.canned else None
        if canned is None and self.responder is not None:
            canned = self.responder(body)
        if canned is not None:
            item = {"content": canned} if isinstance(canned, str) else dict(canned)
            content = item.get("content")
            calls = [{"id": f"call_{uuid.uuid4().hex[:12]}", "type": "function",
                      "function": {"name": c["name"], "arguments": json.dumps(c.get("arguments", {}))}}
                     for c in item.get("tool_calls", [])]
            if not calls and body.get("tools") and content:
                content, calls = split_tool_calls(content)
            completion = (content or "") + "".join(c["function"]["arguments"] for c in calls)
            usage = (_approx_tokens(prompt_text), _approx_tokens(completion))
        elif self.policy is not None:
            reply = self.policy.generate(_decoded_arguments(body["messages"]),
                                         temperature=float(body.get("temperature", 1.0)),
                                         max_new_tokens=body.get("max_tokens"), tools=body.get("tools"))
            content, calls = split_tool_calls(reply.text) if body.get("tools") else (reply.text, [])
            usage = (reply.prompt_tokens, reply.completion_tokens)
        else:
            raise LookupError("the test server has no canned reply left and no responder or policy")
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if calls:
            message["tool_calls"] = calls
        response = {"id": f"chatcmpl-{uuid.uuid4().hex[:16]}", "object": "chat.completion",
                    "created": int(time.time()), "model": body.get("model", self.model_name),
                    "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
                    "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1],
                              "total_tokens": usage[0] + usage[1]}}
        if self.omit_usage:
            del response["usage"]
        return response

    # ---- lifecycle ----

    def start(self) -> "OpenAICompatServer":
        self._runner = ThreadedUvicorn(self.app, self.host, self.port, name="OpenAI-compatible").start()
        self.port = self._runner.port
        return self

    def stop(self) -> None:
        if self._runner is not None:
            self._runner.stop()
            self._runner = None

    def __enter__(self) -> "OpenAICompatServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a local HF model over the OpenAI chat protocol.")
    parser.add_argument("--model", required=True, help="a local transformers model directory")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    from copilot.policies.hf_local_policy import HFLocalPolicy

    server = OpenAICompatServer(policy=HFLocalPolicy(args.model), model_name=args.model, port=args.port).start()
    print(f"serving {args.model} at {server.base_url} (Ctrl-C stops)", flush=True)
    try:
        server._thread.join()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
