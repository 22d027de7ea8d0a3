"""`termail serve --demo` in a real browser: Debian's chromium, headless, driven by selenium
with the system chromedriver (nothing downloaded). And the token: without it, every request and
the websocket are refused, by a plain HTTP client and by the browser alike.

The screenshots are kept in $TERMAIL_ARTIFACTS, else tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.ui]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
#: As root, chromium needs --no-sandbox; without the background-networking flags it stalls
#: on a closed network.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,900",
)
#: Before textual.js runs: keep the xterm.js Terminal it makes (`this.terminal = new Terminal`)
#: in window.__term, so the test reads the screen from the terminal's buffer (the page draws it
#: on a canvas: there is no text in the DOM).
TERMINAL_HOOK = """
Object.defineProperty(Object.prototype, 'terminal', {
  configurable: true,
  set(value) {
    if (value && value.buffer && value.onData && !window.__term) window.__term = value;
    Object.defineProperty(this, 'terminal',
      {value: value, writable: true, configurable: true, enumerable: true});
  },
});
"""
SCREEN_TEXT = """
const t = window.__term;
if (!t) return '';
const b = t.buffer.active, rows = [];
for (let i = 0; i < t.rows; i++) {
  const line = b.getLine(b.viewportY + i);
  rows.push(line ? line.translateToString(true) : '');
}
return rows.join('\\n');
"""


def artifacts_dir() -> Path:
    folder = Path(os.environ.get("TERMAIL_ARTIFACTS") or ROOT / "tests" / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Served:
    url: str  # http://127.0.0.1:PORT/TOKEN/
    base: str  # http://127.0.0.1:PORT
    token: str
    process: subprocess.Popen[str]


def _read_url(process: subprocess.Popen[str], timeout: float) -> tuple[str, str]:
    """The address `termail serve` prints, and all it printed up to it."""
    assert process.stdout is not None
    seen = ""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=0.5):
                if process.poll() is not None:
                    break
                continue
            line = process.stdout.readline()
            if not line:
                break
            seen += line
            found = re.search(r"http://\S+/", line)
            if found:
                return found.group(0), seen
    raise AssertionError(f"termail serve printed no address; it printed:\n{seen}")


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """`termail serve --demo --port 0` running for the module; stopped with SIGTERM after."""
    if not shutil.which("dovecot") and not Path("/usr/sbin/dovecot").exists():
        pytest.skip("Dovecot is not installed (make test installs it)")
    home = tempfile.mkdtemp(prefix="termail-serve-test-")
    env = dict(
        os.environ,
        XDG_DATA_HOME=f"{home}/data",
        TERMAIL_STATE_DIR=f"{home}/state",
        TEXTUAL_ANIMATIONS="none",
        PYTHONUNBUFFERED="1",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--demo", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        url, _ = _read_url(process, timeout=60)
        base, token = url.rstrip("/").rsplit("/", 1)
        yield Served(url, base, token, process)
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=30)
        assert process.returncode == 0, out
        assert "stopped" in out
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        shutil.rmtree(home, ignore_errors=True)


# -- the token, by a plain HTTP client ---------------------------------------------------------


async def _status(url: str, **headers: str) -> int:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as resp:
        return resp.status


async def _ws_refused(url: str, **headers: str) -> int:
    """The HTTP status that refused the websocket handshake (fails when it is accepted)."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(url, headers=headers):
                pass
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status
    raise AssertionError(f"the websocket {url} was accepted")


async def test_every_request_without_the_token_is_refused(served: Served) -> None:
    base, token = served.base, served.token
    assert len(token) >= 32 and re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert await _status(served.url) == 200
    assert await _status(f"{served.url}static/js/textual.js") == 200
    for path in ("/", "/ws", "/static/js/textual.js", "/download/x", f"/{token[:-1]}/",
                 f"/{token}x/", f"/{token.upper()}/", "/favicon.ico"):  # fmt: skip
        assert await _status(base + path) == 403, path
    ws = "ws" + base[len("http") :]
    assert await _ws_refused(f"{ws}/ws?width=80&height=24") == 403
    assert await _ws_refused(f"{ws}/{token[:-2]}/ws") == 403
    # With the token but from another site's page (cross-site websocket hijacking): refused.
    assert await _ws_refused(f"{ws}/{token}/ws", Origin="http://evil.example") == 403


async def test_the_page_loads_nothing_from_elsewhere(served: Served) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(served.url) as resp:
        page = await resp.text()
        assert resp.headers["Cache-Control"] == "no-store"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
    page = page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # a name, not a fetch
    urls = re.findall(r"""(?:https?|wss?)://[^"'\s)]+""", page)
    assert urls, page
    assert all(u.split("://", 1)[1].startswith(served.base.split("://", 1)[1]) for u in urls), urls
    assert f"{served.token}/ws" in page


async def test_a_second_session_takes_over_the_first(served: Served) -> None:
    """One termail at a time on the same data: a new tab (or a reload) ends the old one."""
    import aiohttp

    ws_url = "ws" + served.url[len("http") :] + "ws?width=100&height=30"

    async def first_bytes(ws: aiohttp.ClientWebSocketResponse) -> bytes:
        while True:
            message = await ws.receive()
            if message.type == aiohttp.WSMsgType.BINARY and len(message.data) > 10:
                return bytes(message.data)
            assert message.type not in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)

    async with aiohttp.ClientSession() as session:
        first = await session.ws_connect(ws_url)
        await asyncio.wait_for(first_bytes(first), 40)  # the app draws: it started
        second = await session.ws_connect(ws_url)
        closing = await asyncio.wait_for(first.receive(), 40)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        await asyncio.wait_for(first_bytes(second), 40)  # and the new one has its own app
        await second.close()
        await first.close()


# -- in a real browser --------------------------------------------------------------------------


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless chromium through selenium and Debian's chromedriver."""
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.skip(
            "no chromium: apt-get install chromium chromium-driver (make test tries it, "
            "and skips this when apt cannot)"
        )
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="termail-chromium-")
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        driver.set_page_load_timeout(30)
        driver.set_script_timeout(20)
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": TERMINAL_HOOK})
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_screen(driver: Any, *texts: str, timeout: float = 40.0) -> str:
    """The terminal's text once every one of `texts` is on it."""
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = driver.execute_script(SCREEN_TEXT) or ""
        if all(t in screen for t in texts):
            return str(screen)
        time.sleep(0.2)
    raise AssertionError(f"{texts!r} never all appeared; the screen was:\n{screen}")


def press(driver: Any, *keys: str) -> None:
    """Type into the terminal, as a person would (xterm.js's hidden textarea has the focus)."""
    from selenium.webdriver.common.by import By

    field = driver.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea")
    for key in keys:
        field.send_keys(key)
        time.sleep(0.15)


def test_the_demo_in_a_browser(served: Served, browser: Any) -> None:
    from selenium.webdriver.common.keys import Keys

    artifacts = artifacts_dir()
    browser.get(served.url)
    # The folder tree and the message list.
    screen = wait_screen(browser, "INBOX", "Drafts", "Projects", "Café opening", "connected")
    assert "messages" in screen
    list_shot = artifacts / "serve-browser-message-list.png"
    assert browser.save_screenshot(str(list_shot)), list_shot
    # Find the café message on the server and open it by keys.
    press(browser, "/")
    # The query bar's placeholder, not "Search": the footer always says "/ Search", and an `s`
    # typed before the bar is up went to the list (seen under load: "ubject:café").
    wait_screen(browser, "since:2026-01-01")
    press(browser, *"subject:café", Keys.ENTER)
    wait_screen(browser, "match")
    press(browser, "g", Keys.ENTER)
    screen = wait_screen(browser, "From:", "Chloé Dubois", "The café opens on Friday.")
    message_shot = artifacts / "serve-browser-message.png"
    assert browser.save_screenshot(str(message_shot)), message_shot
    assert list_shot.stat().st_size > 10_000 and message_shot.stat().st_size > 10_000

    # The same address without the token: refused, in the browser too.
    browser.get(served.base + "/")
    assert "403" in browser.find_element("tag name", "body").text
    # And a websocket without the token, opened by a page of the session's own origin.
    result = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const ws = new WebSocket(arguments[0]);
        ws.onopen = () => done('open');
        ws.onerror = () => done('error');
        ws.onclose = () => done('closed');
        """,
        "ws" + served.base[len("http") :] + "/ws?width=80&height=24",
    )
    assert result in ("error", "closed")
    with contextlib.suppress(Exception):
        browser.get("about:blank")


def _serve_unreachable_account(tmp_path: Path) -> tuple[Path, subprocess.Popen[str]]:
    """`termail serve --config` on an account whose servers do not answer (port 9): its
    termail starts and stays, saying it cannot connect."""
    config = tmp_path / "config.toml"
    config.write_text(
        'default_account = "a"\n[accounts.a]\naddress = "a@example.org"\n'
        '[accounts.a.imap]\nhost = "127.0.0.1"\nport = 9\nuser = "a"\n'
        'password_command = "echo x"\n'
        '[accounts.a.smtp]\nhost = "127.0.0.1"\nport = 9\nuser = "a"\n'
    )
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"), PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--config", str(config), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    return config, process


async def test_a_tab_whose_termail_cannot_start_is_closed(tmp_path: Path) -> None:
    """The configuration broken after `termail serve` started: the tab's termail exits at once;
    the page is told the session ended (it does not stay blank), and the server says why."""
    import aiohttp

    config, process = _serve_unreachable_account(tmp_path)
    try:
        url, _ = _read_url(process, timeout=30)
        config.write_text("this is [not toml\n")
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect("ws" + url[len("http") :] + "ws?width=80&height=24")
            message = await asyncio.wait_for(ws.receive(), 30)
            while message.type not in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                message = await asyncio.wait_for(ws.receive(), 30)
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=30)
        assert process.returncode == 0, out
        assert "config.toml" in out  # termail's own sentence about the broken file
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


async def test_a_tabs_termail_ends_when_the_server_is_killed(tmp_path: Path) -> None:
    """SIGKILL to `termail serve` (no cleanup runs): the tab's termail goes too, not left
    running with nobody to talk to."""
    import aiohttp

    _, process = _serve_unreachable_account(tmp_path)
    app_pid = 0
    try:
        url, _ = _read_url(process, timeout=30)
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect("ws" + url[len("http") :] + "ws?width=80&height=24")
            message = await asyncio.wait_for(ws.receive(), 30)
            assert message.type == aiohttp.WSMsgType.BINARY  # the tab's termail draws
            children = _children(process.pid)
            assert len(children) == 1, children
            app_pid = children[0]
            assert "app.cli" in Path(f"/proc/{app_pid}/cmdline").read_text()
            process.kill()
            process.wait()
            deadline = time.monotonic() + 20
            while Path(f"/proc/{app_pid}").exists() and time.monotonic() < deadline:
                # Re-parented to us or to init; reaped there. A zombie counts as gone.
                with contextlib.suppress(OSError):
                    if (
                        Path(f"/proc/{app_pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
                        in "ZX"
                    ):
                        break
                await asyncio.sleep(0.1)
            else:
                if Path(f"/proc/{app_pid}").exists():
                    raise AssertionError("the tab's termail outlived the killed server")
            app_pid = 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if app_pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(app_pid, signal.SIGKILL)
