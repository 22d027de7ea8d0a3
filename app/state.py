"""Small UI choices remembered between runs (the theme), kept apart from the user's config.

The config file is the user's: termail never rewrites it. Choices made in the app go to a JSON
file in the data folder, written atomically.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def state_file() -> Path:
    base = os.environ.get("TERMAIL_STATE_DIR")
    if base:
        return Path(base) / "state.json"
    from platformdirs import user_data_dir

    return Path(user_data_dir("termail")) / "state.json"


def load_state() -> dict[str, Any]:
    try:
        data = json.loads(state_file().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def remember(key: str, value: Any) -> None:
    path = state_file()
    state = load_state()
    if state.get(key) == value:
        return
    state[key] = value
    from app.paths import private_dir

    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state-")
    with os.fdopen(fd, "w") as f:
        json.dump(state, f)
    os.replace(tmp, path)


def recall(key: str, default: Any = None) -> Any:
    return load_state().get(key, default)
