"""Shared fixtures: the sandbox mail servers, per-test users, hypothesis profiles, paths."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "long",
    max_examples=100_000,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Keep tests away from the user's own termail state, data and cache.
_ISOLATED = tempfile.mkdtemp(
    prefix="termail-home-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None
)
atexit.register(shutil.rmtree, _ISOLATED, ignore_errors=True)  # one a run, gone with it
os.environ.setdefault("TERMAIL_STATE_DIR", _ISOLATED + "/state")
os.environ["XDG_DATA_HOME"] = _ISOLATED + "/data"
os.environ["XDG_CACHE_HOME"] = _ISOLATED + "/cache"
os.environ["MAILCAPS"] = ""  # never the machine's mailcap (Debian's /etc/mailcap runs less)
os.environ["TEXTUAL_ANIMATIONS"] = "none"

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SHARED = ROOT.parent / "shared"


def _tmp_base() -> str:
    """tmpfs where it exists: the disk here is slow for many small files."""
    return (
        "/dev/shm"
        if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK)
        else tempfile.gettempdir()
    )


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the project root; tests that need it skip where it is absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared is absent (a user's fresh clone has none)")
    return SHARED


@pytest.fixture(scope="session")
def sandbox() -> Iterator[object]:
    """One Dovecot + SMTP pair for the whole session, stopped even when tests fail."""
    from app.sandbox import Sandbox

    root = Path(tempfile.mkdtemp(prefix="termail-test-", dir=_tmp_base()))
    sb = Sandbox(root)
    sb.start()
    try:
        yield sb
    finally:
        sb.stop(remove=True)


@pytest.fixture(scope="module")
def minimal() -> Iterator[object]:
    """A second sandbox Dovecot whose CAPABILITY after login is cut to `IMAP4rev1 CHILDREN
    NAMESPACE` (`Sandbox(profile="minimal")`): no SORT, THREAD, ESEARCH, UIDPLUS, IDLE,
    CONDSTORE. Unlike the interop suite's `minimal` kind it has the sandbox's own `deliver`
    (tests/integration/test_sort_threads.py, test_newest_first.py, tests/ui)."""
    from app.sandbox import Sandbox

    root = Path(tempfile.mkdtemp(prefix="termail-minimal-", dir=_tmp_base()))
    sb = Sandbox(root, profile="minimal")
    sb.start()
    try:
        yield sb
    finally:
        sb.stop(remove=True)


_user_counter = 0


@pytest.fixture
def mail_user(sandbox: object) -> object:
    """A new mail user of its own for each test, so tests never see each other's mail."""
    global _user_counter
    _user_counter += 1
    name = f"u{os.getpid()}x{_user_counter}"
    return sandbox.add_user(name)  # type: ignore[attr-defined]


@pytest.fixture
def tmp_path_fast() -> Iterator[Path]:
    """A temporary folder on tmpfs."""
    path = Path(tempfile.mkdtemp(prefix="termail-tmp-", dir=_tmp_base()))
    try:
        yield path
    finally:
        import shutil

        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def no_automatic_gc() -> Iterator[None]:
    """CPython's own collections off for the test, so only what the test calls frees a cycle
    (tests/unit/test_memory.py, tests/ui/test_textual_fixes.py)."""
    import gc

    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@pytest.fixture(scope="session")
def gpg_keyring() -> Iterator[object]:
    """Throwaway OpenPGP keys in a private GNUPGHOME (tests/gpg_keys.py)."""
    from tests.gpg_keys import keyring_fixture

    yield from keyring_fixture()


# -- the summary of the server kinds started (tests/integration), also under pytest-xdist --------


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On a pytest-xdist worker: hand this worker's kind starts to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        from tests.integration.kinds import STARTED

        workeroutput["termail_kinds"] = [list(pair) for pair in STARTED]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """On the controller (pytest-xdist): a worker's kind starts, for the summary."""
    from tests.integration.kinds import STARTED

    STARTED.extend((kind, note) for kind, note in node.workeroutput.get("termail_kinds", []))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    import sys

    kinds = sys.modules.get("tests.integration.kinds")
    started = getattr(kinds, "STARTED", None)
    if started:
        terminalreporter.section("server kinds")
        for kind, note in started:
            terminalreporter.write_line(f"{kind}: {note}")
