"""Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``): a real
browser for tests of the pages the project writes, with no webdriver and no extra package.

Messages are JSON, each ended by a NUL byte; Chromium reads them on its fd 3 and answers on fd 4.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--mute-audio", "--remote-debugging-pipe"]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class BrowserError(RuntimeError):
    pass


class Browser:
    """One headless Chromium with a fresh profile in ``profile``; ``open(url)`` gives a Page."""

    def __init__(self, executable: str, profile: Path, timeout: float = 30.0):
        self.timeout = timeout
        commands_read, self._commands = os.pipe()
        self._answers, answers_write = os.pipe()

        def onto_3_and_4():  # in the child: the pipe ends where Chromium looks for them
            r = fcntl.fcntl(commands_read, fcntl.F_DUPFD, 10)
            w = fcntl.fcntl(answers_write, fcntl.F_DUPFD, 10)
            os.dup2(r, 3)
            os.dup2(w, 4)

        self.process = subprocess.Popen([executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                        close_fds=False, preexec_fn=onto_3_and_4, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(commands_read)
        os.close(answers_write)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        answer = self.wait(lambda m: m.get("id") == message["id"])
        if "error" in answer:
            raise BrowserError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    def wait(self, matches, timeout: float | None = None) -> dict:
        """The first message (answer or event) for which ``matches`` is true; events seen meanwhile are
        kept in ``events``."""
        deadline = time.monotonic() + (timeout or self.timeout)
        for event in self.events:
            if matches(event):
                return event
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "id" not in message:
                    self.events.append(message)
                if matches(message):
                    return message
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._answers], [], [], left)[0]:
                raise BrowserError("no answer from Chromium in time")
            chunk = os.read(self._answers, 1 << 20)
            if not chunk:
                raise BrowserError(f"Chromium exited (status {self.process.poll()})")
            self._buffer += chunk

    def open(self, url: str, width: int = 1280, height: int = 900) -> Page:
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.call(f"{domain}.enable")
        page.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        page.call("Page.navigate", {"url": url})
        self.wait(lambda m: m.get("method") == "Page.loadEventFired" and m.get("sessionId") == session)
        return page

    def close(self) -> None:
        for fd in (self._commands, self._answers):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Page:
    def __init__(self, browser: Browser, session: str):
        self.browser, self.session = browser, session

    def call(self, method: str, params: dict | None = None) -> dict:
        return self.browser.call(method, params, self.session)

    def evaluate(self, expression: str):
        """The value of a JavaScript expression (a promise is awaited)."""
        result = self.call("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                "returnByValue": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def events(self, method: str) -> list[dict]:
        return [e["params"] for e in self.browser.events if e.get("method") == method
                and e.get("sessionId") == self.session]

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions and failed loads, as lines."""
        lines = [f"console.{p['type']}: {p.get('args')}" for p in self.events("Runtime.consoleAPICalled")
                 if p["type"] in ("error", "warning", "assert")]
        lines += [f"exception: {p['exceptionDetails']}" for p in self.events("Runtime.exceptionThrown")]
        lines += [f"log {p['entry']['level']}: {p['entry'].get('text')} {p['entry'].get('url', '')}"
                  for p in self.events("Log.entryAdded") if p["entry"]["level"] in ("error", "warning")]
        urls = {p["requestId"]: p["request"]["url"] for p in self.events("Network.requestWillBeSent")}
        lines += [f"failed to load {urls.get(p['requestId'], '?')}: {p.get('errorText')}"
                  for p in self.events("Network.loadingFailed") if not p.get("canceled")]
        return lines

    def requested_urls(self) -> list[str]:
        return [p["request"]["url"] for p in self.events("Network.requestWillBeSent")]

    def screenshot(self, path: Path, width: int = 1280) -> Path:
        """A PNG of the whole page at ``width`` CSS pixels."""
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        height = int(min(size["height"], 16000))
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        path.write_bytes(base64.b64decode(data))
        return path
