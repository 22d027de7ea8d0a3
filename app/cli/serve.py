"""`termail serve`: the same termail in a web browser, through textual-serve.

    termail serve [--config PATH] [--account NAME] [--log-protocol FILE] [--host H] [--port N]
                  [--public]
    termail serve --demo        (or `termail demo --serve`): the demo sandbox's accounts

`--log-protocol FILE` is handed to the termail each tab runs (the server itself speaks no IMAP
or SMTP): the dialogue of every tab goes to FILE (appended, 0600, credentials redacted). FILE is
tried here first, so a path that cannot be written is told on this terminal.

An HTTP server of its own (aiohttp, from textual-serve) on 127.0.0.1 runs `termail` with the same
`--config`/`--account` for the browser tab, speaking Textual's web driver over a pipe; the page
draws it with xterm.js.

Everything it serves sits under a random path segment (`secrets.token_urlsafe`), printed once
as part of the address: any other request, the websocket included, gets 403, so another user of
the machine who can reach the port cannot open the session. The websocket also refuses an Origin
other than the page's own (a page elsewhere in the same browser cannot drive it). The page loads
nothing from elsewhere and sends no Referer. A host that is not a loopback address is refused
unless `--public` is given, with a warning (the traffic is plain HTTP).

One session at a time: a second tab (or a reload) takes the session over; the first tab shows
"Session ended." The app processes end with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import ipaddress
import logging
import os
import secrets
import shlex
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from app.mime.termout import say

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
TITLE = "termail"
TEMPLATES = Path(__file__).with_name("templates")
#: Seconds an app process gets to quit when its tab goes (or the server stops) before a kill.
QUIT_GRACE_SECONDS = 5.0

FORBIDDEN_TEXT = (
    "403: this termail session needs the address that `termail serve` printed (with its token).\n"
)


def is_loopback(host: str) -> bool:
    """True for `localhost` and the loopback addresses (127.0.0.0/8, ::1)."""
    name = host.strip().strip("[]").lower()
    if name in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def url_host(host: str) -> str:
    """`host` as it goes into a URL (IPv6 in brackets)."""
    name = host.strip().strip("[]")
    return f"[{name}]" if ":" in name else name


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """--host, --port and --public (shared by `termail serve` and `termail demo --serve`)."""
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})"
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help=f"port to listen on (default {DEFAULT_PORT}; 0: any free port)",
    )
    parser.add_argument(
        "--public",
        action="store_true",
        help="allow a host that is not a loopback address (plain HTTP: read the warning)",
    )


def protocol_log_args(path: Path | None, prog: str) -> list[str] | None:
    """`--log-protocol FILE` for the termail of each tab (FILE made absolute: the tab's
    process may start elsewhere); [] without FILE; None, said on stderr, when FILE cannot be
    opened for appending."""
    if path is None:
        return []
    from app.protolog import LiveFile

    full = path.expanduser().absolute()
    try:
        LiveFile(full).close()
    except OSError as exc:
        say(f"{prog}: cannot write the protocol log {path}: {exc.strerror or exc}", file=sys.stderr)
        return None
    return ["--log-protocol", str(full)]


def check_host(host: str, public: bool, prog: str) -> str | None:
    """None when `host` may be served on; else the sentence that refuses it."""
    if not host.strip():
        return f"{prog}: --host is empty"
    if is_loopback(host) or public:
        return None
    return (
        f"{prog}: {host} is not a loopback address: anyone who can reach it could try the "
        "session. Give --public to serve there anyway, or use --host 127.0.0.1 (and an SSH "
        "tunnel from elsewhere: ssh -L 8000:127.0.0.1:8000 this-machine)."
    )


def warn_public(host: str, prog: str) -> None:
    """The warning for serving on a host that is not a loopback address (`--public`)."""
    say(
        f"{prog}: WARNING: serving on {host}, which is not a loopback address. The traffic is "
        "plain HTTP: the token and all your mail cross the network unencrypted, and whoever "
        "learns the address can read and send mail as you. Prefer an SSH tunnel.",
        file=sys.stderr,
        flush=True,
    )


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535 (0: any free port), not {port}")
    return port


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (raises OSError with the reason)."""
    infos = socket.getaddrinfo(
        host.strip().strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    last: OSError | None = None
    for family, kind, proto, _name, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(16)
            sock.setblocking(False)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise last or OSError(f"no address for {host}")


def termail_command(args: Sequence[str]) -> str:
    """The shell command that runs termail (this Python, this package) with `args`. `-P`:
    not the current folder first on the module path, where another project's `app/` would be
    taken for termail's."""
    return "exec " + shlex.join([sys.executable, "-P", "-m", "app.cli", *args])


SERVED_BY = "TERMAIL_SERVED_BY"
"""Set in the environment of a tab's termail: the pid of the `termail serve` that runs it."""


def follow_server() -> None:
    """In a tab's termail (`python -m app.cli` under `termail serve`): end with the server.
    A server killed outright (SIGKILL) would leave it running with nobody to talk to; the
    kernel sends it SIGHUP instead, as a terminal closing would."""
    served_by = os.environ.pop(SERVED_BY, "")
    if not served_by.isdigit():
        return
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGHUP)  # PR_SET_PDEATHSIG
    if os.getppid() != int(served_by):
        sys.exit(0)  # the server went before the line above: nobody to serve


class _CleanStream:
    """sys.stdout/sys.stderr for the server's lifetime: textual-serve writes what the app
    printed on stderr (tracebacks that may quote a server's text) straight to sys.stdout;
    here every write goes through the sanitizer like `say`."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        from app.mime.sanitize import clean

        self._stream.write(clean(text, invisible=True))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _SayHandler(logging.Handler):
    """textual-serve's log lines, through `say` on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            say(f"termail serve: {self.format(record)}", file=sys.__stderr__, flush=True)


def make_server(command: str, token: str, *, title: str = TITLE) -> Any:
    """The textual-serve Server for `command`, everything under /<token>/ (see the module)."""
    import aiohttp_jinja2
    import jinja2
    from aiohttp import WSCloseCode, web
    from textual_serve.app_service import AppService
    from textual_serve.server import Server

    prefix = f"/{token}"

    class TokenServer(Server):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(command, title=title, templates_path=TEMPLATES)
            self.token = token
            self.prefix = prefix
            self._live: web.WebSocketResponse | None = None
            self._session = asyncio.Lock()
            self._services: set[AppService] = set()

        def initialize_logging(self) -> None:
            handler = _SayHandler()
            handler.setFormatter(logging.Formatter("%(message)s"))
            log = logging.getLogger("textual-serve")
            log.handlers[:] = [handler]
            log.setLevel(logging.WARNING)
            log.propagate = False

        def _has_token(self, path: str) -> bool:
            first = path[1:].split("/", 1)[0]
            return hmac.compare_digest(first.encode(), self.token.encode())

        @web.middleware
        async def guard(
            self,
            request: web.Request,
            handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
        ) -> web.StreamResponse:
            if not self._has_token(request.path):
                raise web.HTTPForbidden(text=FORBIDDEN_TEXT)
            origin = request.headers.get("Origin")
            if origin is not None and origin not in (
                f"http://{request.host}",
                f"https://{request.host}",
            ):
                raise web.HTTPForbidden(
                    text="403: another site's page may not open this session.\n"
                )
            response = await handler(request)
            response.headers["Cache-Control"] = "no-store"
            response.headers["Referrer-Policy"] = "no-referrer"
            response.headers["X-Frame-Options"] = "DENY"
            return response

        async def _make_app(self) -> web.Application:
            app = web.Application(middlewares=[self.guard])
            aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path))
            app.add_routes(
                [
                    web.get(prefix, self.handle_bare, name="bare"),
                    web.get(prefix + "/", self.handle_index, name="index"),
                    web.get(prefix + "/ws", self.handle_websocket, name="websocket"),
                    web.static(prefix + "/static", self.statics_path, name="static"),
                ]
            )  # no /download: termail saves files itself, it never hands them to the browser
            app.on_shutdown.append(self.on_shutdown)
            return app

        async def handle_bare(self, request: web.Request) -> web.StreamResponse:
            raise web.HTTPFound(prefix + "/")

        @aiohttp_jinja2.template("app_index.html")
        async def handle_index(self, request: web.Request) -> dict[str, Any]:
            base = f"{request.scheme}://{request.host}"
            font_size = 16
            with contextlib.suppress(ValueError):
                font_size = max(6, min(48, int(request.query.get("fontsize", "16"))))
            return {
                "font_size": font_size,
                "app_websocket_url": "ws" + base[len("http") :] + prefix + "/ws",
                "config": {"static": {"url": base + prefix + "/static/"}},
                "application": {"name": self.title},
            }

        async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
            websocket = web.WebSocketResponse(heartbeat=15)
            width = _int(request.query.get("width"), 80)
            height = _int(request.query.get("height"), 24)
            await websocket.prepare(request)
            previous = self._live
            self._live = websocket
            if previous is not None:  # a reload or a second tab takes the session over
                await previous.close(code=WSCloseCode.GOING_AWAY, message=b"opened elsewhere")
            async with self._session:
                if self._live is not websocket or websocket.closed:
                    await websocket.close(code=WSCloseCode.GOING_AWAY, message=b"opened elsewhere")
                    return websocket  # taken over again before it started
                service = AppService(
                    self.command,
                    write_bytes=websocket.send_bytes,
                    write_str=websocket.send_str,
                    close=websocket.close,  # type: ignore[arg-type]
                    download_manager=self.download_manager,
                    debug=self.debug,
                )
                self._services.add(service)
                watcher: asyncio.Task[None] | None = None
                try:
                    await service.start(width, height)
                    watcher = asyncio.create_task(_close_when_gone(service, websocket))
                    await self._process_messages(websocket, service)
                except asyncio.CancelledError:
                    pass
                except Exception as error:  # a broken message from the page: end this session
                    logging.getLogger("textual-serve").warning("session ended: %s", error)
                finally:
                    if watcher is not None:
                        watcher.cancel()
                    await _stop(service)
                    self._services.discard(service)
                    if self._live is websocket:
                        self._live = None
                    with contextlib.suppress(Exception):
                        await websocket.close()
            return websocket

        async def on_shutdown(self, app: web.Application) -> None:
            live = self._live
            if live is not None:
                with contextlib.suppress(Exception):
                    await live.close(code=WSCloseCode.GOING_AWAY, message=b"server stopped")
            await asyncio.gather(*(_stop(s) for s in list(self._services)))

    return TokenServer()


def _int(value: str | None, default: int) -> int:
    try:
        return max(10, min(1000, int(value or "")))
    except ValueError:
        return default


async def _close_when_gone(service: Any, websocket: Any) -> None:
    """The app process ended (quit, or failed to start): close the tab's websocket, so the
    page says "Session ended." instead of staying blank."""
    task = getattr(service, "_task", None)
    if task is not None:
        with contextlib.suppress(Exception):
            await asyncio.shield(task)
    with contextlib.suppress(Exception):
        await websocket.close()


async def _stop(service: Any) -> None:
    """Ask the app process to quit; kill it when it does not within the grace time."""
    process = getattr(service, "_process", None)
    try:
        await asyncio.wait_for(service.stop(), QUIT_GRACE_SECONDS)
    except (TimeoutError, Exception):
        pass
    if process is not None and process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(process.wait(), QUIT_GRACE_SECONDS)


def serve(
    command: str,
    *,
    host: str,
    port: int,
    prog: str = "termail serve",
    token: str | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> int:
    """Serve `command` on host:port until SIGINT/SIGTERM/SIGHUP; 0 then, 1 when the port
    cannot be had. Prints the address (with a new token)."""
    from aiohttp import web

    token = token or secrets.token_urlsafe(24)
    if not is_loopback(host):
        warn_public(host, prog)
    try:
        sock = bind(host, port)
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        say(f"{prog}: cannot listen on {host}:{port}: {reason}", file=sys.stderr)
        if port:
            say(f"{prog}: try another --port (0 picks a free one)", file=sys.stderr)
        return 1
    real_port = int(sock.getsockname()[1])
    url = f"http://{url_host(host)}:{real_port}/{token}/"
    # The app runs under Textual's web driver, its stdin and stdout a pipe: never let it guess
    # a graphics terminal from the environment this server was started in.
    os.environ["TERMAIL_IMAGES"] = "halfblocks"
    os.environ[SERVED_BY] = str(os.getpid())
    server = make_server(command, token)
    server.initialize_logging()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, stop.set)
        runner = web.AppRunner(await server._make_app(), access_log=None, shutdown_timeout=5)
        await runner.setup()
        try:
            await web.SockSite(runner, sock).start()
            say(f"termail is served at {url}", flush=True)
            where = "on this machine" if is_loopback(host) else "(it is plain HTTP)"
            if host.strip().strip("[]") in ("0.0.0.0", "::"):
                where = f"with this machine's name or address in place of {host.strip()}"
            say(
                f"Open that address in a browser {where}: it holds the session's token, and "
                "without it every request is refused. Ctrl-C stops the server.",
                flush=True,
            )
            if on_ready is not None:
                on_ready(url)
            await stop.wait()
        finally:
            await runner.cleanup()
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.remove_signal_handler(sig)

    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _CleanStream(stdout), _CleanStream(stderr)  # type: ignore[assignment]
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    finally:
        sys.stdout, sys.stderr = stdout, stderr
        sock.close()
    say(f"{prog}: stopped", flush=True)
    return 0


def serve_main(argv: list[str], demo: Callable[[list[str]], int] | None = None) -> int:
    """`termail serve`: see the module's docstring. `demo` is `termail demo`'s main, which
    `--demo` hands over to (with `--serve`); given by the caller, as app.cli.demo imports this."""
    parser = argparse.ArgumentParser(
        prog="termail serve", description="termail in a web browser (textual-serve)"
    )
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--account", default=None)
    parser.add_argument(
        "--log-protocol",
        type=Path,
        default=None,
        metavar="FILE",
        help="each tab's IMAP and SMTP dialogue appended to FILE (credentials redacted)",
    )
    parser.add_argument("--demo", action="store_true", help="the demo sandbox's accounts")
    parser.add_argument(
        "--messages", type=int, default=0, help="with --demo: also seed N messages in 'Bulk'"
    )
    add_serve_arguments(parser)
    args = parser.parse_args(argv)
    if args.demo:
        if args.config is not None or args.account is not None:
            say("termail serve: --demo takes no --config or --account", file=sys.stderr)
            return 2
        if demo is None:
            say("termail serve: --demo: use termail demo --serve", file=sys.stderr)
            return 2
        rest = ["--serve", "--host", args.host, "--port", str(args.port)]
        if args.public:
            rest.append("--public")
        if args.messages:
            rest += ["--messages", str(args.messages)]
        if args.log_protocol is not None:
            rest += ["--log-protocol", str(args.log_protocol)]
        return demo(rest)
    refused = check_host(args.host, args.public, "termail serve")
    if refused is not None:
        say(refused, file=sys.stderr)
        return 2
    # The configuration is read here first, so a mistake is told on this terminal, not in a tab.
    from app.config.model import load_or_exit

    config = load_or_exit(args.config)
    if args.account is not None and args.account not in config.accounts:
        say(
            f"termail serve: no account named {args.account!r} in the configuration",
            file=sys.stderr,
        )
        return 2
    command_args = protocol_log_args(args.log_protocol, "termail serve")
    if command_args is None:
        return 2
    if args.config is not None:
        command_args += ["--config", str(args.config.resolve())]
    if args.account is not None:
        command_args += ["--account", args.account]
    return serve(termail_command(command_args), host=args.host, port=args.port)
