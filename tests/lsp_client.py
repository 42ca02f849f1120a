"""A minimal LSP client for the tests: the server (``python -m specc lsp``) in a
subprocess, Content-Length framed JSON-RPC over its pipes, as an editor speaks it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Client:
    """A minimal LSP client: Content-Length framed JSON-RPC over the server's pipes."""

    def __init__(self):
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen([sys.executable, "-m", "specc", "lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.next_id = 0
        self.messages: list[dict] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            headers = {}
            while True:
                line = out.readline()
                if not line:
                    return
                line = line.decode().strip()
                if not line:
                    break
                k, v = line.split(":", 1)
                headers[k.lower()] = v.strip()
            body = json.loads(out.read(int(headers["content-length"])))
            with self.cond:
                self.messages.append(body)
                self.cond.notify_all()

    def send(self, msg: dict) -> None:
        data = json.dumps({"jsonrpc": "2.0", **msg}).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(data) + data)
        self.proc.stdin.flush()

    def wait(self, match, timeout=120) -> dict:
        with self.cond:
            ok = self.cond.wait_for(lambda: any(match(m) for m in self.messages), timeout=timeout)
            assert ok, f"no matching message; got {self.messages}"
            m = next(m for m in self.messages if match(m))
            self.messages.remove(m)
            return m

    def request(self, method: str, params: dict) -> dict:
        self.next_id += 1
        rid = self.next_id
        self.send({"id": rid, "method": method, "params": params})
        reply = self.wait(lambda m: m.get("id") == rid)
        assert "error" not in reply, reply
        return reply["result"]

    def notify(self, method: str, params: dict) -> None:
        self.send({"method": method, "params": params})

    def diagnostics(self, uri: str, version: int) -> list[dict]:
        m = self.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri and m["params"].get("version") == version)
        return m["params"]["diagnostics"]

    def open(self, uri: str, text: str, version: int = 1) -> list[dict]:
        """Open (or replace) a document; its diagnostics."""
        self.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "specc", "version": version, "text": text}})
        return self.diagnostics(uri, version)

    def change(self, uri: str, text: str, version: int) -> list[dict]:
        self.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]})
        return self.diagnostics(uri, version)

    def hover(self, uri: str, line: int, character: int) -> str | None:
        h = self.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}})
        return None if h is None else h["contents"]["value"]

    def completion(self, uri: str, line: int, character: int) -> set[str]:
        r = self.request("textDocument/completion", {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}})
        return {i["label"] for i in r["items"]}

    def close(self) -> None:
        try:
            self.request("shutdown", None)
            self.notify("exit", None)
            self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


def start(capabilities: dict | None = None) -> tuple[Client, dict]:
    """A started, initialised client and the server's capabilities."""
    c = Client()
    result = c.request("initialize", {"processId": os.getpid(), "rootUri": None, "capabilities": capabilities or {}})
    c.notify("initialized", {})
    return c, result["capabilities"]
