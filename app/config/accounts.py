"""From the configuration to live accounts: credentials are resolved once, at first use."""

from __future__ import annotations

import getpass
import sys
from functools import cache
from typing import Any

from app.account import Account
from app.config.credentials import resolve_credentials
from app.models import Credentials
from app.store.cache import account_cache_path


def _prompt(label: str) -> str:
    if not sys.stdin.isatty():
        raise RuntimeError(f"no password source for {label} and no terminal to ask on")
    return getpass.getpass(f"{label}: ")


def accounts_from_config(config: Any, only: str | None = None) -> list[Account]:
    """One `Account` per configured account (the default first), or just `only`."""
    names = list(config.accounts)
    default = config.default_account.name
    names.sort(key=lambda n: n != default)
    if only is not None:
        if only not in config.accounts:
            raise SystemExit(f"termail: no account named {only!r} in the configuration")
        names = [only]
    accounts = []
    for name in names:
        acc = config.accounts[name]

        @cache
        def imap_creds(acc: Any = acc) -> Credentials:
            return resolve_credentials(acc, "imap", prompt=_prompt)  # type: ignore[no-any-return]

        @cache
        def smtp_creds(acc: Any = acc) -> Credentials:
            return resolve_credentials(acc, "smtp", prompt=_prompt)  # type: ignore[no-any-return]

        identities = list(acc.identities)
        first = identities[0] if identities else None
        account = Account(
            name,
            acc.imap_settings(),
            imap_creds,
            smtp=acc.smtp_settings(),
            smtp_credentials=smtp_creds,
            addresses=[i.address for i in identities],
            folder_roles=dict(acc.folders),
            display_name=first.name if first else "",
            signature=(first.signature or "") if first else "",
            identities=identities,
            cache_path=account_cache_path(name),
        )
        account.send_delay = acc.send_delay
        accounts.append(account)
    return accounts
