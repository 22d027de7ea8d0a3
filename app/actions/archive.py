"""Archive (aerc's `:archive flat|year|month`): where each message goes, by its date.

The base folder is the one with the \\Archive role (RFC 6154, or the config's `[folders]`),
else a folder named "Archive" (any case), else "Archive" (created on first use). With `year`
or `month` a message goes to `Archive/2026` or `Archive/2026/12` by its Date header, else its
arrival time. UI-free: the screen moves each group with `Account.move`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from app.models import Folder, FolderRole

__all__ = ["GRANULARITIES", "archive_base", "archive_plan"]

GRANULARITIES = ("flat", "year", "month")
DEFAULT_NAME = "Archive"


def archive_base(folders: Iterable[Folder]) -> tuple[str, str | None, bool]:
    """(base folder name, its hierarchy delimiter, whether it exists already)."""
    listed = list(folders)
    for folder in listed:
        if folder.role is FolderRole.ARCHIVE:
            return folder.name, folder.delimiter, True
    for folder in listed:
        if folder.name.lower() == DEFAULT_NAME.lower():
            return folder.name, folder.delimiter, True
    delimiter = next((f.delimiter for f in listed if f.delimiter), "/")
    return DEFAULT_NAME, delimiter, False


def archive_plan(
    dates: Mapping[int, datetime | None],
    base: str,
    delimiter: str | None,
    granularity: str = "flat",
) -> dict[str, list[int]]:
    """Folder name to UIDs; a message without a known date stays in the base folder."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"archive granularity must be one of {', '.join(GRANULARITIES)}")
    sep = delimiter or "/"
    plan: dict[str, list[int]] = {}
    for uid, when in dates.items():
        target = base
        if granularity != "flat" and when is not None:
            target = f"{base}{sep}{when.year:04d}"
            if granularity == "month":
                target += f"{sep}{when.month:02d}"
        plan.setdefault(target, []).append(uid)
    for uids in plan.values():
        uids.sort()
    return dict(sorted(plan.items()))
