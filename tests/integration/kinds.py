"""Parametrizing a test over the server kinds (app/sandbox/kinds.py), with per-kind xfails.

`@over_kinds()` runs a test once per kind through the session-scoped `server_kind` fixture
(each kind's servers start once and stop when the suite moves on to the next kind; under
`pytest -n N --dist loadgroup`, as `make test` runs, a kind's tests all run on one worker).
`@over_kinds(xfail={"courier": "fixed on branch h2: ..."})` marks the kinds where the test
fails today for a reason another branch fixes: strict, so the fix shows up as XPASS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pytest

from app.account import Account
from app.sandbox.kinds import KINDS, KindUser

F = TypeVar("F", bound=Callable[..., Any])

#: Each start of a kind this session, for the summary at the end (one line per start; under
#: pytest-xdist each worker's reach the controller's summary, tests/conftest.py).
STARTED: list[tuple[str, str]] = []


def over_kinds(
    xfail: Mapping[str, str] | None = None,
    only: Iterable[str] | None = None,
) -> Callable[[F], F]:
    xfail = dict(xfail or {})
    kinds = tuple(only) if only is not None else KINDS
    unknown = (set(xfail) | set(kinds)) - set(KINDS)
    assert not unknown, f"no such kinds: {unknown}"
    # `xdist_group`: under `pytest -n` (make test) all the tests of one kind go to one worker,
    # so each kind's servers still start once in the whole run (cyrus ~3 s, courier ~5 s).
    params = [
        pytest.param(
            kind,
            id=kind,
            marks=[pytest.mark.xdist_group(f"kind-{kind}")]
            + ([pytest.mark.xfail(strict=True, reason=xfail[kind])] if kind in xfail else []),
        )
        for kind in kinds
    ]
    mark = pytest.mark.parametrize("server_kind", params, indirect=True, scope="session")

    def decorate(fn: F) -> F:
        return mark(pytest.mark.interop(fn))  # type: ignore[no-any-return]

    return decorate


def make_kind_account(user: KindUser, cache_path: Path | None, **kwargs: Any) -> Account:
    creds, smtp_creds = user.credentials(), user.smtp_credentials()
    smtp = user.smtp_settings() if user.server.smtp_port else None
    return Account(
        user.name,
        user.imap_settings(),
        lambda: creds,
        smtp=smtp,
        smtp_credentials=lambda: smtp_creds,
        addresses=[user.address],
        cache_path=cache_path,
        **kwargs,
    )
