"""Fixtures of the interop suite: `server_kind` (one running kind per session and kind) and
`kind_account` (a fresh user of that kind, as a connected Account with a header cache)."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from app.account import Account
from app.sandbox.kinds import KINDS, KindServer, KindUser, start_kind
from app.sandbox.server import SandboxError
from tests.integration.kinds import STARTED as _STARTED
from tests.integration.kinds import make_kind_account


def _tmp_base() -> str:
    return "/dev/shm" if os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()


@pytest.fixture(scope="session")
def server_kind(request: pytest.FixtureRequest) -> Iterator[KindServer]:
    """The servers of one kind (`request.param`, default dovecot), started once per session.

    A kind that cannot be set up (packages not downloadable, no mount namespaces) is skipped
    with the reason."""
    kind = getattr(request, "param", "dovecot")
    t0 = time.monotonic()
    # Twice before skipping: on a loaded machine a start can miss its 20 s (Cyrus, load 12,
    # "no greeting ... Connection refused"), and a second try has new ports.
    for attempt in (1, 2):
        # Not pytest's tmp_path: the servers' own uids must reach the folder.
        root = Path(tempfile.mkdtemp(prefix=f"termail-{kind}-", dir=_tmp_base()))
        os.chmod(root, 0o755)
        try:
            server = start_kind(kind, root)
            break
        except SandboxError as exc:
            shutil.rmtree(root, ignore_errors=True)
            if attempt == 2:
                _STARTED.append((kind, f"SKIPPED: {exc}"))
                pytest.skip(f"server kind {kind} could not be started: {exc}")
            _STARTED.append((kind, f"first start failed, trying again: {exc}"))
    _STARTED.append((kind, f"started in {time.monotonic() - t0:.1f} s"))
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def kind_user(server_kind: KindServer) -> KindUser:
    """A new user of the kind's servers, so tests never see each other's mail."""
    return server_kind.new_user()


@pytest.fixture
async def kind_account(kind_user: KindUser, tmp_path_fast: Path) -> AsyncIterator[Account]:
    """`kind_user` as termail sees it: connected, folders loaded, a header cache of its own."""
    account = make_kind_account(kind_user, tmp_path_fast / "headers.sqlite3")
    await account.connect()
    await account.load_folders()
    try:
        yield account
    finally:
        await account.close()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests over the kinds last, grouped by kind (in KINDS order), so each kind's servers
    start once and only one kind runs at a time; the other tests keep their order."""

    def kind_of(item: pytest.Item) -> str | None:
        callspec = getattr(item, "callspec", None)
        return callspec.params.get("server_kind") if callspec is not None else None

    over = [item for item in items if kind_of(item) is not None]
    if not over:
        return
    rest = [item for item in items if kind_of(item) is None]
    order = {kind: i for i, kind in enumerate(KINDS)}
    over.sort(key=lambda item: order.get(str(kind_of(item)), len(order)))  # stable
    items[:] = rest + over


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "interop: runs against every server kind")
    config.addinivalue_line("markers", "xdist_group(name): run on one pytest-xdist worker")
