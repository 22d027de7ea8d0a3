"""The `@work` every screen uses: Textual's, plus one rule for a worker still running at quit.

A worker waits on the server; the user quits; the server answers while the screen's widgets
are being taken down. Whatever the worker then touches (`query_one(MessageList)`, a status
bar) raises `NoMatches` or worse, and Textual turns a worker's exception into the app's
exit code and a traceback on a terminal the user has just got back (CI, stop 25:
`fetch_summaries` after quit). Guarding each of the ~60 workers by hand missed one each time;
this does it once: an exception raised by a worker whose screen is going is dropped (logged),
any other is raised as before.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar, overload

from textual import work as textual_work
from textual.dom import DOMNode
from textual.screen import Screen
from textual.worker import Worker

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def screen_going(node: object) -> bool:
    """True once `node`'s screen is being closed or removed, or the app is quitting.

    Textual marks a screen it prunes (`display` turns False with `_pruning`) and detaches it;
    a screen is never hidden otherwise, so this cannot mistake a hidden pane for a quit."""
    if not isinstance(node, DOMNode):
        return False
    try:
        screen = node if isinstance(node, Screen) else node.screen
    except Exception:  # no screen any more: removed from the DOM
        return True
    return not screen.is_attached or not screen.display


def _quiet_at_quit(
    method: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R | None]]:
    @functools.wraps(method)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R | None:
        try:
            return await method(*args, **kwargs)
        except Exception:
            if args and screen_going(args[0]):
                log.debug("%s ended with the screen going", method.__qualname__, exc_info=True)
                return None
            raise

    return run


@overload
def work(
    method: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Worker[R | None]]: ...


@overload
def work(
    method: None = None,
    *,
    name: str = "",
    group: str = "default",
    exit_on_error: bool = True,
    exclusive: bool = False,
    description: str | None = None,
) -> Callable[[Callable[P, Coroutine[Any, Any, R]]], Callable[P, Worker[R | None]]]: ...


def work(
    method: Callable[P, Coroutine[Any, Any, R]] | None = None,
    *,
    name: str = "",
    group: str = "default",
    exit_on_error: bool = True,
    exclusive: bool = False,
    description: str | None = None,
) -> Any:
    """Textual's `work` for async methods of a screen or widget (same options; no threads:
    termail's screens do their blocking work in the core's own executors)."""

    def decorate(
        fn: Callable[P, Coroutine[Any, Any, R]],
    ) -> Callable[P, Worker[R | None]]:
        wrapped = textual_work(
            name=name,
            group=group,
            exit_on_error=exit_on_error,
            exclusive=exclusive,
            description=description,
        )(_quiet_at_quit(fn))
        return wrapped  # type: ignore[no-any-return]

    return decorate(method) if method is not None else decorate
