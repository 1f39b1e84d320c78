"""Headless Chromium driven through the DevTools protocol, for tests and layout screenshots.

Playwright's browser download needs the internet; the system Chromium does not. `Browser` starts
it with a free debugging port (``--remote-debugging-port=0``, read back from the profile's
``DevToolsActivePort``), attaches to its page over a websocket (``websocket-client``, in the
``dev`` extra) and offers the few commands the tests need: open a URL and wait for the page's
script, evaluate an expression, click, screenshot an element. `CHROMIUM` is None where no
Chromium is installed: tests skip then.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def shrink_png(path: Path, colours: int = 96) -> Path:
    """Rewrite a screenshot with a small palette (a page has few colours), a fraction of the
    size, for the PNGs kept in experiments/."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colours, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)
    return path


class BrowserError(RuntimeError):
    """A DevTools command failed, or the page did not get ready in time."""


class Browser:
    """One headless Chromium with one page; use as a context manager."""

    def __init__(self, width: int = 1400, height: int = 1000) -> None:
        import websocket  # websocket-client

        if CHROMIUM is None:
            raise BrowserError("Chromium is not installed")
        self._profile = tempfile.TemporaryDirectory()
        self._process = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
                f"--user-data-dir={self._profile.name}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            port = self._port()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            if not pages:
                raise BrowserError("Chromium opened no page")
            self._ws = websocket.create_connection(
                pages[0]["webSocketDebuggerUrl"], timeout=60, suppress_origin=True
            )
        except BaseException:
            self.close()
            raise
        self._next = 0
        self.console: list[str] = []
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send("Log.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def _port(self) -> int:
        marker = Path(self._profile.name) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if marker.is_file() and marker.read_text().strip():
                return int(marker.read_text().splitlines()[0])
            if self._process.poll() is not None:
                raise BrowserError(f"Chromium exited with {self._process.returncode}")
            time.sleep(0.1)
        raise BrowserError("Chromium did not open its debugging port in 30 s")

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """One DevTools command; its result (events that arrive meanwhile are kept in
        ``console`` when they are console messages, log entries such as a Content-Security-
        Policy violation, or exceptions; dropped otherwise)."""
        self._next += 1
        self._ws.send(json.dumps({"id": self._next, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv())
            if message.get("id") == self._next:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
            if message.get("method") == "Runtime.consoleAPICalled":
                args = message["params"].get("args", [])
                self.console.append(
                    " ".join(str(a.get("value", a.get("description"))) for a in args)
                )
            elif message.get("method") == "Runtime.exceptionThrown":
                self.console.append(str(message["params"]["exceptionDetails"]))
            elif message.get("method") == "Log.entryAdded":  # CSP violations, network errors
                entry = message["params"]["entry"]
                self.console.append(f"{entry.get('level')}: {entry.get('text')}")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        """Poll until ``expression`` is truthy; its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except BrowserError:
                value = None  # the page is navigating
            if value:
                return value
            time.sleep(0.1)
        raise BrowserError(f"timed out waiting for {expression}")

    def open(self, url: str, ready: str = "true") -> None:
        """Navigate and wait until the new page has loaded and ``ready`` holds."""
        self.evaluate("window.__ggOld = true")
        self.send("Page.navigate", url=url)
        self.wait_for(f"!window.__ggOld && document.readyState === 'complete' && ({ready})")

    def follow(self, selector: str, ready: str = "true") -> None:
        """Click ``selector`` (a link, a submit button) and wait for the page it leads to."""
        self.evaluate("window.__ggOld = true")
        self.click(selector)
        self.wait_for(f"!window.__ggOld && document.readyState === 'complete' && ({ready})")

    def click(self, selector: str) -> None:
        """Click the first element matching ``selector`` (through the DOM)."""
        found = self.evaluate(
            f"(function () {{ var e = document.querySelector({json.dumps(selector)});"
            " if (!e) return false; e.click(); return true; })()"
        )
        if not found:
            raise BrowserError(f"nothing matches {selector}")

    def screenshot(self, path: Path, selector: str | None = None, scale: float = 1.0) -> Path:
        """A PNG of the page's viewport, or of one element (scrolled into view)."""
        params: dict[str, Any] = {"format": "png"}
        if selector is not None:
            box = self.evaluate(
                f"(function () {{ var e = document.querySelector({json.dumps(selector)});"
                " e.scrollIntoView(); var r = e.getBoundingClientRect();"
                " return [r.x + scrollX, r.y + scrollY, r.width, r.height]; })()"
            )
            x, y, w, h = box
            params["clip"] = {"x": x, "y": y, "width": w, "height": h, "scale": scale}
        data = self.send("Page.captureScreenshot", **params)["data"]
        path.write_bytes(base64.b64decode(data))
        return shrink_png(path)

    def close(self) -> None:
        ws = getattr(self, "_ws", None)
        if ws is not None:
            ws.close()
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
