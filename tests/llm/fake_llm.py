"""A tiny OpenAI-protocol server for the LLM stage's tests, run as its own process:
``python -m tests.llm.fake_llm --port P --mode MODE [--delay S] [--log FILE]``.

Modes: ``good`` answers each schema (a ranking that reverses the candidates, leaves the
first out and adds an id that is no candidate; an explanation; themes; an enrichment from
the prompt's title); ``slow`` answers as ``good`` after ``--delay`` seconds; ``garbage``
answers 200 with a message that is not JSON; ``broken`` answers a body that is not JSON;
``error`` answers 500. Every request body is appended to ``--log`` as one JSON line, with
``authorization`` set to whether a bearer token came.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OUTSIDE = "not-a-candidate"


def _enum(schema: dict[str, Any], *path: str) -> list[str]:
    node: Any = schema
    for key in path:
        node = node[key]
    return list(node["enum"])


def answer_for(request: dict[str, Any]) -> dict[str, Any]:
    """A valid answer to the schema asked for (in either response_format form)."""
    fmt = request["response_format"]
    schema = fmt["json_schema"]["schema"] if fmt["type"] == "json_schema" else fmt["schema"]
    asked = schema["properties"]
    prompt = "\n".join(m["content"] for m in request["messages"])
    if "ranking" in asked:
        ids = _enum(asked, "ranking", "items")
        return {"ranking": [OUTSIDE, *reversed(ids[1:]), ids[-1]]}
    if "reasons" in asked:
        ids = _enum(asked, "reasons", "items", "properties", "item_id")
        return {
            "summary": "Picked for a reader of the books above.",
            "reasons": [{"item_id": i, "why": f"like your books ({i})"} for i in ids],
        }
    if "themes" in asked:
        return {"themes": ["Cosy winter mysteries", "Space adventures"]}
    title = re.search(r"^Title: (.*)$", prompt, re.M)
    return {"summary": f"About {title.group(1) if title else 'it'}.", "tags": ["llm-tag"]}


class Handler(BaseHTTPRequestHandler):
    mode = "good"
    delay = 0.0
    log_path: str | None = None
    lock = threading.Lock()

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length", "0")))
        request = json.loads(raw)
        if self.log_path:
            line = {**request, "authorization": self.headers.get("authorization", "")}
            with self.lock, open(self.log_path, "a") as out:
                out.write(json.dumps(line) + "\n")
        if self.mode == "slow":
            time.sleep(self.delay)
        if self.mode == "error":
            self._send(500, b'{"error": "boom"}')
            return
        if self.mode == "broken":
            self._send(200, b"<html>not json</html>")
            return
        if self.mode == "garbage":
            content = "Sure! Here is my ranking: the second one, then the first."
        else:
            content = json.dumps(answer_for(request))
        body = {
            "id": "fake",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": len(raw) // 4, "completion_tokens": len(content) // 4},
        }
        self._send(200, json.dumps(body).encode())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", default="good")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--log")
    args = parser.parse_args()
    Handler.mode, Handler.delay, Handler.log_path = args.mode, args.delay, args.log
    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
