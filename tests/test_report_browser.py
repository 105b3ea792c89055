"""The report in a real headless Chromium: no console errors, no network, every chart drawn,
headline numbers equal to the mart, data text shown literally. Leaves a screenshot.

Chromium is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: JSON
messages separated by NUL bytes on file descriptors 3 and 4), so no port, no websocket
library and no selenium are needed. Debian's `chromium` package must be installed
(`apt-get install -y chromium`); CI installs it, and there a missing browser fails the test.
"""

import base64
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from mart_fixture import HOSTILE_WORKSPACE, assert_headline_matches, build_mart_fixture, expected_headline

from reporting.report import write_report

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
CHART_COUNT = 7
WIDTH = 1280


def find_browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    reason = "chromium is not installed (apt-get install -y chromium)"
    if os.environ.get("CI"):
        pytest.fail(reason + "; CI must install it in .ci/run")
    pytest.skip(reason)


class DevTools:
    """A minimal Chrome DevTools Protocol client over --remote-debugging-pipe."""

    def __init__(self, browser: str, profile: Path, log_file: Path):
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire_pipes() -> None:  # the browser reads commands on fd 3 and writes replies on fd 4
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self._log = open(log_file, "wb")
        self.process = subprocess.Popen(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-dev-shm-usage",
                "--remote-debugging-pipe",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            pass_fds=(3, 4),
            preexec_fn=wire_pipes,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []
        self.session: str | None = None

    def call(self, method: str, params: dict | None = None, timeout: float = 30, browser_level: bool = False):
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if self.session and not browser_level:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for_event(self, method: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("method") == method:
                    return event
            self.events.append(self._receive(deadline))

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_browser], [], [], max(remaining, 0))
            if not ready:
                raise TimeoutError("the browser did not answer in time")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise EOFError("the browser closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=10, browser_level=True)
        except Exception:
            pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        os.close(self._to_browser)
        os.close(self._from_browser)
        self._log.close()


def problems(events: list[dict]) -> list[str]:
    """Console errors, uncaught exceptions, browser-logged errors (CSP, failed loads), dialogs."""
    found = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            found.append(f"uncaught: {details.get('exception', {}).get('description') or details.get('text')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            found.append(
                "console.error: " + " ".join(str(a.get("value", a.get("description"))) for a in params.get("args", []))
            )
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            found.append(f"browser log: {params['entry'].get('text')} ({params['entry'].get('url', '')})")
        elif method == "Page.javascriptDialogOpening":
            found.append(f"a dialog opened: {params.get('message')}")
    return found


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    browser = find_browser()
    root = tmp_path_factory.mktemp("browser")
    mart = build_mart_fixture(root)
    report = write_report(mart.paths, root / "report.html")
    devtools = DevTools(browser, root / "profile", root / "chromium.log")
    try:
        target = devtools.call("Target.createTarget", {"url": "about:blank"})
        devtools.session = devtools.call(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, browser_level=True
        )["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Network"):
            devtools.call(f"{domain}.enable")
        devtools.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": WIDTH, "height": 900, "deviceScaleFactor": 1, "mobile": False},
        )
        devtools.call("Page.navigate", {"url": report.as_uri()})
        devtools.wait_for_event("Page.loadEventFired")
        deadline = time.monotonic() + 30
        while devtools.evaluate("document.querySelectorAll('[data-chart] svg.main-svg').length") < CHART_COUNT:
            assert time.monotonic() < deadline, "charts never rendered"
            time.sleep(0.2)
        yield {"devtools": devtools, "mart": mart, "report": report, "root": root}
    finally:
        devtools.close()


def test_no_console_errors_and_no_network(page):
    devtools = page["devtools"]
    devtools.evaluate("new Promise(r => setTimeout(r, 300))")  # let late errors surface
    assert problems(devtools.events) == []
    urls = [e["params"]["request"]["url"] for e in devtools.events if e.get("method") == "Network.requestWillBeSent"]
    assert urls and all(url.startswith(("file://", "data:", "blob:")) for url in urls), urls


def test_every_chart_renders(page):
    charts = page["devtools"].evaluate("""
        [...document.querySelectorAll('[data-chart]')].map(figure => {
            const svg = figure.querySelector('svg.main-svg');
            const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
            const marks = [...figure.querySelectorAll('g.trace path, g.trace .point path, g.trace rect')]
                .filter(p => (p.getAttribute('d') || '').length > 4 || p.tagName === 'rect');
            return {id: figure.dataset.chart, width: box.width, height: box.height,
                    traces: figure.querySelectorAll('g.trace').length, marks: marks.length,
                    text: figure.querySelector('.js-plotly-plot').textContent};
        })""")
    assert len(charts) == CHART_COUNT
    for chart in charts:
        assert chart["width"] > 200 and chart["height"] > 200, chart["id"]
        assert chart["traces"] >= 1 and chart["marks"] >= 1, chart["id"]
    # Plotly drew the hostile workspace name as text, not as markup.
    daily = next(c for c in charts if c["id"] == "daily_spend")
    assert HOSTILE_WORKSPACE in daily["text"]


def test_headline_numbers_match_the_mart(page):
    found = page["devtools"].evaluate("""
        Object.fromEntries([...document.querySelectorAll('[data-metric]')].map(el => [el.dataset.metric,
            [el.dataset.value, el.querySelector('.label').innerText, el.querySelector('.value').innerText]]))""")
    mart = page["mart"]
    assert_headline_matches(
        {k: tuple(v) for k, v in found.items()}, expected_headline(mart.paths.mart_db, mart.latest_month)
    )


def test_data_text_is_shown_literally(page):
    devtools = page["devtools"]
    cells = devtools.evaluate("[...document.querySelectorAll('#budgets td')].map(td => td.textContent)")
    assert HOSTILE_WORKSPACE in cells
    assert devtools.evaluate("document.querySelectorAll('script').length") == 1 + CHART_COUNT + 1
    assert devtools.evaluate("document.querySelectorAll('main b, main a').length") == 0


def test_value_section_is_drawn(page):
    devtools = page["devtools"]
    drawn = devtools.evaluate("""
        (() => { const s = document.querySelector('#value'); const r = s.getBoundingClientRect();
                 return {height: r.height, width: r.width,
                         savings: [...s.querySelectorAll('#realised-savings li')].map(li => li.innerText),
                         figures: [...s.querySelectorAll('[data-figure]')].map(el => el.dataset.figure)}; })()""")
    assert drawn["height"] > 0 and drawn["width"] > 0
    assert drawn["savings"][0].startswith("saved $12.40 by switching triage to gpt-4o-mini on the 12th")
    assert drawn["figures"] == ["value_per_dollar", "realised_savings_usd", "potential_savings_usd"]


def test_screenshot_artifact(page):
    devtools = page["devtools"]
    height = devtools.evaluate("Math.ceil(document.documentElement.scrollHeight)")
    devtools.call(
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
    devtools.evaluate("new Promise(r => requestAnimationFrame(() => setTimeout(r, 300)))")
    shot = devtools.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, timeout=60)
    png = base64.b64decode(shot["data"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000
    path = page["root"] / "report.png"
    path.write_bytes(png)
    artifacts = os.environ.get("COSTLINE_TEST_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(artifacts) / "report.png")
        shutil.copy(page["report"], Path(artifacts) / "report.html")
    assert problems(devtools.events) == []
