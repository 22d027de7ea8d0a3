"""The splash (`app/splash.py`): its file checked strictly, its key, and no Textual on the way."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from app import splash
from app.store.cache import HeaderCache, cache_main

ROOT = Path(__file__).resolve().parent.parent.parent

#: A frame as Textual writes one: rows placed with CUP, SGR runs, text (box drawing, accents).
GOOD = (
    "\x1b[1;1H\x1b[38;5;252;48;5;16m  \x1b[0m\x1b[1;3;4;38;5;245;48;5;23mINBOX\x1b[0m"
    "\x1b[1;29H\x1b[38;2;10;20;30m│ ●    Nov 28 Victor Müll… Re: Naïve question\x1b[0m"
    "\x1b[2;1H\x1b[7m  \x1b[K\x1b[0m ◌ connecting │ bench │ 2,000 messages (from the cache)"
)

HOSTILE = {
    "OSC 52 clipboard": "\x1b]52;c;cHduZWQ=\x07",
    "OSC 0 title": "\x1b]0;pwned\x07",
    "OSC 8 link": "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\",
    "OSC 22 pointer": "\x1b]22;default\x07",
    "DCS": "\x1bP1$r0m\x1b\\",
    "APC": "\x1b_Gf=100;AAAA\x1b\\",
    "bare CR": "line\roverwritten",
    "LF": "one\ntwo",
    "BEL": "\x07",
    "backspace": "x\x08y",
    "NUL": "\x00",
    "DEL": "\x7f",
    "C1 CSI": "\u009b2J",
    "C1 OSC": "\u009d0;title\u009c",
    "device status report": "\x1b[6n",
    "window report": "\x1b[21t",
    "clear screen": "\x1b[2J",
    "leave alt screen": "\x1b[?1049l",
    "mouse mode": "\x1b[?1000h",
    "full reset": "\x1bc",
    "charset switch": "\x1b(0",
    "keypad": "\x1b=",
    "scroll region": "\x1b[1;5r",
    "bare ESC": "\x1b",
    "unterminated CSI": "\x1b[38;5",
    "bidi override": "abc\u202edef",
    "zero width": "a\u200bb",
    "huge SGR": "\x1b[" + "1;" * 100 + "m",
}


def snapshot(frame: str = GOOD, width: int = 160, height: int = 48) -> splash.Snapshot:
    return splash.Snapshot(width, height, "a" * 64, "b" * 64, "/tmp/x.sqlite3", frame)


def test_a_textual_frame_is_valid() -> None:
    assert splash.valid_frame(GOOD)
    assert splash.decode(splash.encode(snapshot())) == snapshot()


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_sequences_refuse_the_whole_snapshot(name: str) -> None:
    frame = GOOD + HOSTILE[name] + GOOD
    assert not splash.valid_frame(frame)
    assert splash.decode(splash.encode(snapshot(frame))) is None
    with pytest.raises(ValueError):
        splash.save(Path("/nonexistent/never.frame"), snapshot(frame))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"termail-splash 2\nsize 160 48\n",
        splash.encode(snapshot()).replace(b"size 160 48", b"size 160 x"),
        splash.encode(snapshot()).replace(b"size 160 48", b"size 0 48"),
        splash.encode(snapshot()).replace(b"key " + b"a" * 64, b"key zz"),
        splash.encode(snapshot()).replace(b"\n\n", b"\n", 1),
        splash.encode(snapshot()) + b"\xff\xfe",  # not UTF-8
        splash.encode(snapshot(frame="")),
        splash.encode(snapshot()) + b"x" * splash.MAX_BYTES,
    ],
)
def test_a_damaged_file_is_no_snapshot(data: bytes) -> None:
    assert splash.decode(data) is None


def _cache_file(tmp_path: Path, highestmodseq: int = 7) -> Path:
    path = tmp_path / "headers" / "acc.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    with HeaderCache.open(path) as cache:
        cache.save_mailbox_state(
            "INBOX", uidvalidity=1, uidnext=4, highestmodseq=highestmodseq, exists=3, uids=[1, 2, 3]
        )
    return path


def test_load_checks_size_key_and_the_header_cache(tmp_path: Path) -> None:
    cache = _cache_file(tmp_path)
    fingerprint = splash.cache_fingerprint(cache)
    assert fingerprint is not None
    path = tmp_path / "splash" / "s.frame"
    snap = splash.Snapshot(80, 24, "c" * 64, fingerprint, str(cache), GOOD)
    splash.save(path, snap)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["s.frame"]  # no temporary file left
    assert splash.load(path, width=80, height=24, key="c" * 64) == snap
    assert splash.load(path, width=81, height=24, key="c" * 64) is None  # the terminal resized
    assert splash.load(path, width=80, height=25, key="c" * 64) is None
    assert splash.load(path, width=80, height=24, key="d" * 64) is None  # config/account
    with HeaderCache.open(cache) as opened:  # new mail or a flag: the cached start differs
        opened.save_mailbox_state(
            "INBOX", uidvalidity=1, uidnext=5, highestmodseq=8, exists=4, uids=[1, 2, 3, 4]
        )
    assert splash.load(path, width=80, height=24, key="c" * 64) is None
    splash.save(
        path,
        splash.Snapshot(80, 24, "c" * 64, splash.cache_fingerprint(cache) or "", str(cache), GOOD),
    )
    assert splash.load(path, width=80, height=24, key="c" * 64) is not None
    for suffix in ("", "-wal", "-shm"):  # `termail cache clear`: no cache, no splash
        Path(f"{cache}{suffix}").unlink(missing_ok=True)
    assert splash.cache_fingerprint(cache) is None
    assert splash.load(path, width=80, height=24, key="c" * 64) is None


def test_the_key_follows_config_account_terminal_and_ui_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERMAIL_STATE_DIR", str(tmp_path))
    env = {"TERM": "xterm-256color", "COLORTERM": "truecolor"}
    key = splash.config_key(b"[accounts.a]\n", "a", env)
    assert key == splash.config_key(b"[accounts.a]\n", "a", dict(env))
    assert key != splash.config_key(b"[accounts.a]\n#\n", "a", env)
    assert key != splash.config_key(b"[accounts.a]\n", "b", env)
    assert key != splash.config_key(b"[accounts.a]\n", "a", {**env, "COLORTERM": ""})
    assert key != splash.config_key(b"[accounts.a]\n", "a", {**env, "TERM": "screen"})
    (tmp_path / "state.json").write_text(json.dumps({"theme": "nord"}))
    assert key != splash.config_key(b"[accounts.a]\n", "a", env)
    first = splash.snapshot_path(Path("/c/one.toml"), "a")
    assert first.parent == splash.snapshot_dir()
    assert first != splash.snapshot_path(Path("/c/two.toml"), "a")
    assert first != splash.snapshot_path(Path("/c/one.toml"), "b")


def test_an_upgrade_paints_no_frame_an_older_termail_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A frame saved by another version of termail is not painted (the screen may be drawn
    otherwise now), though config, account, terminal and cache are the same."""
    import app

    monkeypatch.setenv("TERMAIL_STATE_DIR", str(tmp_path))
    env = {"TERM": "xterm-256color"}
    cache = _cache_file(tmp_path)
    path = tmp_path / "splash" / "s.frame"
    key = splash.config_key(b"[accounts.a]\n", "a", env)
    fingerprint = splash.cache_fingerprint(cache) or ""
    splash.save(path, splash.Snapshot(80, 24, key, fingerprint, str(cache), GOOD))
    assert splash.load(path, width=80, height=24, key=key) is not None
    monkeypatch.setattr(app, "__version__", app.__version__ + ".post1")
    upgraded = splash.config_key(b"[accounts.a]\n", "a", env)
    assert upgraded != key
    assert splash.load(path, width=80, height=24, key=upgraded) is None


def test_the_version_in_the_key_is_the_installed_one() -> None:
    """pyproject reads `app.__version__`: the splash key (which cannot afford importlib.metadata
    at start) names the release that is installed."""
    from importlib.metadata import version

    import app

    assert app.__version__ == version("termail")


def test_cache_clear_removes_the_snapshots(tmp_path: Path) -> None:
    folder = tmp_path / "splash"
    splash.save(folder / "x.frame", snapshot())
    _cache_file(tmp_path)
    assert cache_main(["clear", "--cache-dir", str(tmp_path)]) == 0
    assert list(folder.iterdir()) == []


def test_the_early_start_imports_no_textual_or_rich(tmp_path: Path) -> None:
    """The whole path before the paint (arguments, config, key, snapshot check, paint attempt)
    in a fresh interpreter: neither Textual nor Rich may be imported by then."""
    config = tmp_path / "config.toml"
    config.write_text(
        '[accounts.a]\naddress = "a@example.org"\n[accounts.a.imap]\nhost = "127.0.0.1"\n'
        'user = "a"\npassword_env = "X"\n[accounts.a.smtp]\nhost = "127.0.0.1"\n'
    )
    code = (
        "import sys\n"
        "from app.cli import _early_splash\n"
        "from app import splash\n"
        f"painted, config = _early_splash(['--config', {str(config)!r}])\n"
        "assert painted is False and config is not None\n"
        "splash.valid_frame('x'); splash.restore()\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print('UI:', bad)\n"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "UI: []" in out.stdout, out.stdout


def test_the_tree_counts_shown_count_and_recent_does_not(tmp_path: Path) -> None:
    """RECENT falls to 0 once a session saw the mail (Dovecot), \\Marked comes and goes: neither
    is drawn, so neither may refuse the splash; a new unseen count is drawn, and does."""
    from app.models import Folder, FolderStatus

    cache = _cache_file(tmp_path)
    inbox = Folder("INBOX", "INBOX", "/", frozenset({"\\Marked"}))

    def saved(status: FolderStatus, folder: Folder = inbox) -> str | None:
        with HeaderCache.open(cache) as opened:
            opened.save_folder_list([folder], {"INBOX": status})
        return splash.cache_fingerprint(cache)

    first = saved(FolderStatus(messages=3, unseen=1, recent=3, uidnext=4, highestmodseq=7))
    unmarked = Folder("INBOX", "INBOX", "/", frozenset({"\\UnMarked"}))
    assert saved(FolderStatus(messages=3, unseen=1, recent=0, uidnext=4, highestmodseq=9)) == first
    assert saved(FolderStatus(messages=3, unseen=1, recent=0), unmarked) == first
    assert saved(FolderStatus(messages=3, unseen=2, recent=0)) != first
    assert saved(FolderStatus(messages=4, unseen=1, recent=0)) != first


def test_the_order_folders_were_listed_in_does_not_refuse_the_splash(tmp_path: Path) -> None:
    from app.models import Folder

    cache = _cache_file(tmp_path)
    folders = [Folder(n, n, "/") for n in ("INBOX", "Sent", "Trash")]
    with HeaderCache.open(cache) as opened:
        opened.save_folder_list(folders, {})
    first = splash.cache_fingerprint(cache)
    with HeaderCache.open(cache) as opened:
        opened.save_folder_list(folders[::-1], {})
    assert splash.cache_fingerprint(cache) == first
