"""The message list on a big folder, headless: first screen, page-down, jump-to-end, memory.

The functions here run inside the headless termail process that `bench.launch` starts (they
drive the real TermailApp and MainScreen through the pilot and the driver's key events);
`measure` is the parent side, used by `python -m bench` and by this module's own command:

- open_first_screen_s: from asking the screen to open the folder (what selecting it in the
  tree does) until every visible row holds its summary and the frame is drawn
- open_raw_bound_s: a bare TLS socket, logged in, sending SELECT, UID SORT (REVERSE DATE) and
  a FETCH of the visible rows' summaries; open_ratio = the two divided
- page_down_ms: the app's work for one page-down with the rows' summaries already held: from
  the key event entering the app until the new page is drawn (median of 10; max also given)
- jump_end_filled_ms: from the End key until the last page is drawn with every row filled
  (the summaries of the last page come from the server)
- rss_mb: peak RSS (VmHWM) of the app process at the end

Run alone: `.venv/bin/python -m bench.ui_list [--messages N]` (100,000 by default); prints JSON
lines `{"figure", "value", "unit"}` with the prefix `ui_list_`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# -- inside the app process -------------------------------------------------------------------


def time_open_folder(account: Any) -> list[dict[str, Any]]:
    """Record how long each `account.open_folder` takes (the server round of an open: resync)."""
    records: list[dict[str, Any]] = []
    original = account.open_folder

    async def timed(folder: Any) -> Any:
        t0 = time.perf_counter()
        result = await original(folder)
        records.append(
            {"folder": folder.name, "s": time.perf_counter() - t0, "uids": len(result.uids)}
        )
        return result

    account.open_folder = timed
    return records


def message_list(app: Any) -> Any:
    from widgets.message_list import MessageList

    try:
        return app.screen.query_one(MessageList)
    except Exception:
        return None


def filled(ml: Any) -> bool:
    """Every visible row of the list holds its summary."""
    if ml is None or not ml.row_count:
        return False
    height = ml.scrollable_content_region.height
    if height <= 0:
        return False
    top = int(ml.scroll_offset.y)
    rows = ml.uids[top : top + height]
    return bool(rows) and all(ml.summary(uid) is not None for uid in rows)


def draw(app: Any) -> None:
    """Draw what is dirty now, as Textual's update timer would at its next tick."""
    update = getattr(app.screen, "_on_timer_update", None)
    if update is not None:
        update()


def drawn(ml: Any) -> bool:
    """Every visible row is filled and was drawn since it last changed (the list drops a row's
    drawn line from its line cache whenever the row's summary arrives or changes)."""
    if not filled(ml):
        return False
    top = int(ml.scroll_offset.y)
    height = ml.scrollable_content_region.height
    generation = ml._generation
    cache = ml._cache
    return all((row, generation) in cache for row in range(top, min(ml.row_count, top + height)))


async def _until(
    check: Callable[[], bool], timeout: float, what: str, app: Any = None, poll: float = 0.0005
) -> None:
    """Poll `check` (drawing the frame between polls when `app` is given)."""
    deadline = time.perf_counter() + timeout
    while True:
        if app is not None:
            draw(app)
        if check():
            return
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{what}: not reached in {timeout:.0f} s")
        await asyncio.sleep(poll)


async def wait_filled(
    app: Any, timeout: float = 300.0, marks: dict[str, float] | None = None
) -> None:
    """Until the first list on screen has all its visible rows filled and drawn."""
    seen: dict[str, float] = marks if marks is not None else {}

    def check() -> bool:
        ml = message_list(app)
        if ml is not None and ml.row_count:
            seen.setdefault("list_has_rows", time.time())
        if filled(ml):
            seen.setdefault("list_filled", time.time())
        return drawn(ml)

    await _until(check, timeout, "first screen", app)


async def wait_synced(app: Any, account: Any, timeout: float = 300.0) -> None:
    """Until the open folder is the server's (not the cache's) and the IDLE watcher's first
    refresh is done, so nothing in the background disturbs what is timed next."""
    await _until(
        lambda: account.current is not None and not account.current.cached, timeout, "resync"
    )
    screen = app.screen
    deadline = time.perf_counter() + 10
    while getattr(screen, "idle_watcher", None) is None and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    watcher = getattr(screen, "idle_watcher", None)
    if watcher is not None:
        try:
            await asyncio.wait_for(watcher.connected.wait(), 10)
        except TimeoutError:
            pass
    await asyncio.sleep(0.3)
    async with account.lock:  # a refresh in flight ends first
        pass
    await asyncio.sleep(0.05)


async def open_folder(app: Any, account: Any, name: str, timeout: float = 300.0) -> float:
    """Seconds from asking the screen to open `name` to its first screen filled and drawn."""
    folder = account.folder(name)
    if folder is None:
        raise ValueError(f"no folder {name!r}")
    ml = message_list(app)
    epoch = ml.epoch
    t0 = time.perf_counter()
    app.screen.open_folder(folder)

    def ready() -> bool:
        current = account.current
        return (
            current is not None
            and current.folder.name == name
            and not current.cached
            and ml.epoch != epoch
            and drawn(ml)
        )

    await _until(ready, timeout, f"open {name}", app)
    return time.perf_counter() - t0


def _key(app: Any, key: str) -> None:
    from textual import events

    event = events.Key(key, None)
    event.set_sender(app)
    app._driver.send_message(event)


async def page_downs(pilot: Any, app: Any, account: Any, count: int) -> list[float]:
    """Seconds per page-down (key in to frame drawn), the summaries of those pages held."""
    ml = message_list(app)
    page = ml.scrollable_content_region.height
    want = list(ml.uids[: (count + 3) * page])
    ml.update_summaries(await account.summaries_for(want))
    await pilot.pause()
    times: list[float] = []
    for _ in range(count):
        before = ml.cursor_row
        rendered = ml.render_count
        t0 = time.perf_counter()
        _key(app, "pagedown")
        # the screen picks up the list's refresh from its message queue, then draws
        moved = partial(_moved_and_drawn, ml, before)
        await _until(moved, 10, "page down", app, poll=0)
        times.append(time.perf_counter() - t0)
        if ml.render_count - rendered < page:
            raise RuntimeError(f"page-down drew {ml.render_count - rendered} rows of {page}")
        await pilot.pause()  # let the request for the next screen's summaries settle
    return times


def _moved_and_drawn(ml: Any, before: int) -> bool:
    return bool(ml.cursor_row != before and drawn(ml))


async def jump_end(pilot: Any, app: Any, timeout: float = 60.0) -> float:
    """Seconds from the End key until the last page is drawn with every row filled."""
    ml = message_list(app)
    await pilot.pause()
    last = ml.row_count - 1
    t0 = time.perf_counter()
    _key(app, "end")
    await _until(lambda: ml.cursor_row == last and drawn(ml), timeout, "jump to end", app)
    return time.perf_counter() - t0


async def run_step(pilot: Any, app: Any, account: Any, step: dict[str, Any]) -> Any:
    """One named step of a launch spec (see `bench.launch.LaunchSpec.steps`)."""
    kind = step["kind"]
    if kind == "open":
        seconds = await open_folder(app, account, step["folder"])
        await wait_synced(app, account)
        return seconds
    if kind == "page_down":
        return await page_downs(pilot, app, account, int(step.get("count", 10)))
    if kind == "jump_end":
        return await jump_end(pilot, app)
    if kind == "sleep":
        await asyncio.sleep(float(step.get("seconds", 1)))
        return None
    raise ValueError(f"unknown step {kind!r}")


# -- the parent side --------------------------------------------------------------------------


def visible_rows(size: tuple[int, int]) -> int:
    """Rows of the message list at this terminal size (status bar, query bar, footer aside)."""
    return max(1, size[1] - 3)


def measure(
    sb: Any,
    user: Any,
    folder: str,
    work: Path,
    *,
    start_folder: str = "INBOX",
    runs: int = 1,
    page_count: int = 10,
) -> dict[str, float]:
    """Open `folder` from inside the app (launched on `start_folder`): the figures above."""
    from bench.launch import SIZE, LaunchSpec, launch, raw_open

    figures: dict[str, list[float]] = {}
    for run in range(runs):
        home = work / f"ui-{run}"
        spec = LaunchSpec(
            host=sb.host,
            port=sb.imaps_port,
            user=user.name,
            password=user.password,
            ca_file=str(sb.ca_file),
            cache_path=str(home / "headers.sqlite3"),
            home=str(home),
            steps=[
                {"name": "open", "kind": "open", "folder": folder},
                {"name": "page_down", "kind": "page_down", "count": page_count},
                {"name": "jump_end", "kind": "jump_end"},
            ],
        )
        result = launch(spec)
        raw = raw_open(sb, user, folder, result.steps.get("rows", visible_rows(SIZE)))
        steps = result.steps
        figures.setdefault("open_first_screen_s", []).append(steps["open"])
        figures.setdefault("open_raw_bound_s", []).append(raw)
        figures.setdefault("page_down_ms", []).append(statistics.median(steps["page_down"]) * 1e3)
        figures.setdefault("page_down_max_ms", []).append(max(steps["page_down"]) * 1e3)
        figures.setdefault("jump_end_filled_ms", []).append(steps["jump_end"] * 1e3)
        figures.setdefault("rss_mb", []).append(result.vm_hwm_mb)
    out = {k: statistics.median(v) for k, v in figures.items()}
    out["open_ratio"] = out["open_first_screen_s"] / out["open_raw_bound_s"]
    return out


def _emit(figure: str, value: float, unit: str) -> None:
    print(json.dumps({"figure": figure, "value": value, "unit": unit}), flush=True)


UNITS = {"_s": "s", "_ms": "ms", "_mb": "MB", "ratio": "x"}


def unit_of(name: str) -> str:
    for suffix, unit in UNITS.items():
        if name.endswith(suffix):
            return unit
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ui_list", description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    import os
    import shutil

    from app.sandbox import Sandbox
    from bench.launch import warm_server

    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()
    root = Path(tempfile.mkdtemp(prefix="termail-uibench-", dir=base))
    os.chmod(root, 0o755)  # Dovecot's unprivileged processes must reach the sandbox inside
    (root / "sandbox").mkdir()
    sb = Sandbox(root / "sandbox")
    try:
        sb.start()
        user = sb.add_user("uilist")
        sb.seed_generated(user.name, 50)
        sb.seed_generated(user.name, args.messages, mailbox="Big", seed=1)
        warm_server(sb, user, ["INBOX", "Big"])
        figures = measure(sb, user, "Big", root / "work", runs=args.runs)
        for name, value in figures.items():
            _emit(f"ui_list_{name}", round(value, 4), unit_of(name))
    finally:
        sb.stop(remove=True)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
