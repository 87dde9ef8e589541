"""A real browser for the tests that use a web page as a person does: Debian's ``chromium``,
headless, driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON messages
ended by a NUL byte on file descriptors 3 and 4), so that nothing beyond the standard library is
needed. It opens pages, types into fields (real key input, which the pages' scripts see), clicks,
reads what the page shows and takes screenshots. Every wait has a bound and says what it waited for.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, NoReturn

from llmobs.waiting import wait_until


class BrowserError(RuntimeError):
    pass


class Browser:
    def __init__(self, chromium: str = "chromium", width: int = 1400, height: int = 1000) -> None:
        binary = shutil.which(chromium)
        if not binary:
            raise BrowserError(f"no {chromium} on the PATH (Debian: apt-get install chromium)")
        # ignore_cleanup_errors: a leftover folder in /tmp is no reason to fail what the browser showed
        self._profile = tempfile.TemporaryDirectory(prefix="llmobs-browser-", ignore_cleanup_errors=True)
        to_browser, self._commands = os.pipe()
        self._replies, from_browser = os.pipe()

        def descriptors() -> None:  # in the child: its end of each pipe as fd 3 and fd 4
            high_in, high_out = os.dup(to_browser), os.dup(from_browser)
            os.dup2(high_in, 3)
            os.dup2(high_out, 4)

        command = [
            binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--remote-debugging-pipe", f"--user-data-dir={self._profile.name}",
            f"--window-size={width},{height}", "about:blank",
        ]  # fmt: skip
        self._process = subprocess.Popen(
            command,
            pass_fds=(3, 4),
            preexec_fn=descriptors,
            start_new_session=True,  # its helpers (zygote, renderers, storage) are one process group
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next_id = 0
        self._session = ""
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        attached = self.call("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)
        self._session = attached["sessionId"]
        self.call("Page.enable")

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Chromium ends cleanly (its helpers with it, the profile flushed), or is stopped; then no
        process of its group is left writing into the profile while that is removed (a helper
        still writing made the removal fail, 'Directory not empty', under stress-ng)."""
        with contextlib.suppress(BrowserError, OSError):
            self.call("Browser.close", session=False, timeout=5)
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(10)
        self._end_group(self._process.pid, grace_s=10)
        for fd in (self._commands, self._replies):
            os.close(fd)
        self._profile.cleanup()

    @staticmethod
    def _end_group(group: int, grace_s: float) -> None:
        """TERM what is left of the process group, KILL it after grace_s; give up 2 s later (an
        unreaped zombie still counts as a member and cannot write)."""
        deadline = time.monotonic() + grace_s
        signal_to_send = signal.SIGTERM
        while time.monotonic() < deadline + 2:
            try:
                os.killpg(group, signal_to_send)
            except (ProcessLookupError, PermissionError):
                return
            if time.monotonic() >= deadline:
                signal_to_send = signal.SIGKILL
            time.sleep(0.05)

    def call(
        self, method: str, params: dict[str, Any] | None = None, session: bool = True, timeout: float = 30
    ) -> Any:
        """One DevTools command and its result; BrowserError with the browser's message."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self._session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline, method)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})

    def _read(self, deadline: float, waiting_for: str) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._replies], [], [], left)[0]:
                raise BrowserError(f"no answer from the browser to {waiting_for}")
            chunk = os.read(self._replies, 1 << 20)
            if not chunk:
                raise BrowserError(f"the browser closed while waiting for {waiting_for}")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def open(self, url: str, timeout: float = 30) -> None:
        """Load ``url`` and wait for the document to be complete."""
        self.call("Page.navigate", {"url": url})
        self.wait_for("document.readyState === 'complete' && location.href !== 'about:blank'", timeout, url)

    def evaluate(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:80]}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float, what: str) -> Any:
        """The value of ``expression`` once it is truthy; TimeoutError saying ``what`` otherwise.
        While the page is being replaced (a redirect, a form sent) an error counts as not yet."""
        guarded = f"(() => {{ try {{ return ({expression}); }} catch (error) {{ return null; }} }})()"
        return wait_until(lambda: self.evaluate(guarded), timeout, what, every=0.2)

    def text(self) -> str:
        """What the page shows, as a person reads it."""
        return self.evaluate("document.body ? document.body.innerText : ''") or ""

    def type(self, selector: str, text: str) -> None:
        """Focus the field and type into it as a keyboard does (the page's scripts see input), in
        place of what it held; then the field holds ``text``. A field the page hides (in a closed
        section) cannot take the focus, and keys typed then land in whatever field still has it:
        so the focus is waited for, and the value checked, each with a bound."""
        field = f"document.querySelector({json.dumps(selector)})"
        self.wait_for(
            f"(e => !!e && (e.focus(), document.activeElement === e))({field})",
            20,
            f"the field {selector} to take the focus (a hidden field never does)",
        )
        self.evaluate(f"(e => e.select && e.select())({field})")
        self.call("Input.insertText", {"text": text})
        try:
            self.wait_for(
                f"{field}.value === {json.dumps(text)}", 10, f"the field {selector} to hold {text!r}"
            )
        except TimeoutError:
            raise BrowserError(
                f"the field {selector} holds {self.evaluate(f'{field}.value')!r} after typing {text!r}"
            ) from None

    def click(self, selector: str) -> None:
        self.wait_for(f"!!document.querySelector({json.dumps(selector)})", 20, f"{selector} to click")
        self.evaluate(f"document.querySelector({json.dumps(selector)}).click()")

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path


def locust_swarm(
    page: Browser,
    url: str,
    account: tuple[str, str] | None,
    users: int,
    run_time: str,
    filled: Path | None = None,
) -> int:
    """Locust's web UI used as a person does: log in when it asks, start a swarm of ``users``
    (started ``users`` a second) for ``run_time``, and wait until its statistics count at least
    ``users`` requests; that count. ``filled``: a screenshot of the form as it was sent.

    Locust's page asks for its statistics once as it loads, then every 2 s while it believes a
    swarm runs, and takes the state each answer carries as its own. An answer that says "ready"
    read after the swarm started (the first one, slow on a busy machine and handled after the
    start; or Locust's 2 s cache of it, which grows when one answer took longer than that) sends
    the page back to its start form for good, asking nothing more while Locust runs on: the form
    is sent only once that first answer is in, and a page that falls back all the same is opened
    again, as a person would reload it."""
    page.open(url)
    if account:
        page.wait_for("location.pathname.endsWith('/login')", 20, "the login page")
        page.type("input[name=username]", account[0])
        page.type("input[name=password]", account[1])
        page.click("button[type=submit]")
    page.wait_for("!!document.querySelector('input[name=userCount]')", 20, "the form that starts a swarm")
    page.wait_for(
        "performance.getEntriesByType('resource')"
        ".some(e => e.name.endsWith('/stats/requests') && e.responseEnd > 0)",
        30,
        "the page's first statistics from Locust",
    )
    page.type("input[name=userCount]", str(users))
    page.type("input[name=spawnRate]", str(users))
    # Locust (2.47) keeps the run time in the form's "Advanced options", a section that starts
    # closed: its field is in the page but hidden, and keys typed for it went to the ramp-up field.
    advanced = (
        "[...document.querySelectorAll('form button[aria-expanded]')]"
        ".find(b => b.innerText.trim() === 'Advanced options')"
    )
    page.wait_for(f"!!{advanced}", 20, "the form's Advanced options")
    page.evaluate(f"(b => b.getAttribute('aria-expanded') === 'true' || b.click())({advanced})")
    opened = "(b => b.getAttribute('aria-expanded') === 'true' && !!b.closest('.MuiAccordion-root')"
    opened += ".querySelector('.MuiCollapse-entered'))"  # MUI's mark of the section fully open
    page.wait_for(f"{opened}({advanced})", 20, "the Advanced options to open")
    page.type("input[name=runTime]", run_time)
    if filled:
        page.screenshot(filled)
    page.click("button[type=submit]")
    try:
        page.wait_for("!document.querySelector('input[name=runTime]')", 30, "Locust to take the form")
    except TimeoutError as error:
        _said(page, error)
    # the statistics table as a person reads it: the Aggregated row's request count
    shown = (
        "({form: /Status\\s+READY/.test(document.body.innerText)"
        " && !!document.querySelector('input[name=runTime]'),"
        " count: Number((document.body.innerText.match(/Aggregated\\s+(\\d+)/) || [0, 0])[1])})"
    )

    def counted() -> int:
        now = page.evaluate(shown)
        if now["form"]:  # back on the start form while the swarm runs: see above
            print(f"locust_swarm: the page went back to its start form after the start; opening {url} again")
            page.open(url)
            return 0
        return now["count"] if now["count"] >= users else 0

    try:
        return wait_until(counted, 90, f"the UI to count {users} requests", every=0.5)
    except TimeoutError as error:
        _said(page, error)


def _said(page: Browser, error: TimeoutError) -> NoReturn:
    """What the page showed instead, for the person who reads the failure."""
    shot = page.screenshot(Path(tempfile.gettempdir()) / "locust-swarm-timeout.png")
    raise TimeoutError(f"{error}; the page said: {page.text()[:1500]!r}; screenshot {shot}") from None


def locust_stopped(page: Browser, url: str, timeout: float) -> None:
    """Wait until Locust says its swarm has stopped (its statistics, asked from the page, with the
    page's login), then until its page shows STOPPED. The page asks for statistics only while it
    believes a swarm spawns or runs: an answer read while Locust stops its users says "cleanup",
    and the page shows CLEANUP for good (5 runs of 7 under stress-ng, where stopping the users takes
    longer). So a page that has stopped asking before Locust stopped is opened again, as a person
    would reload it. From then on every answer says "stopped" (Locust's 2 s cache of its answer is
    only ever replaced by a newer one)."""
    state = "fetch('stats/requests').then(r => r.json()).then(s => s.state)"
    wait_until(lambda: page.evaluate(state), timeout, "Locust to stop the swarm", lambda s: s == "stopped")
    status = "(document.body.innerText.match(/Status\\s+(\\w+)/) || [])[1]"
    shown = page.evaluate(status)
    if shown not in ("STOPPED", "RUNNING", "SPAWNING"):  # RUNNING: it still asks, and will be told
        print(f"locust_stopped: the page shows {shown} while Locust has stopped; opening {url} again")
        page.open(url)
    try:
        wait_until(lambda: page.evaluate(status), 30, "the page to show STOPPED", lambda s: s == "STOPPED")
    except TimeoutError as error:
        _said(page, error)
