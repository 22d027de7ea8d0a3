"""Attachments: safe file names, streaming transfer decoding, saving without clobbering.

A file name in a message is attacker-chosen: it may hold path parts (`../../.bashrc`, `C:\\x`),
control or bidi characters (`invoice\\u202efdp.exe`), reserved device names, or be empty. Names
are reduced to one safe component here, and saving opens the target with O_EXCL inside the
folder the user picked, adding " (1)", " (2)", ... instead of overwriting anything.

The decoder works chunk by chunk (the IMAP layer fetches parts in 64 KB pieces), so a large
attachment is never held in memory whole.

Line ends (RFC 2045 §2.10, RFC 2046 §4.1.1): a text part is sent in canonical form, its line
breaks written as CRLF on the wire. Sent as 7bit, 8bit, binary or quoted-printable, those CRLFs
are the wire's, not the sender's, so a text part is saved with the local LF (as mutt does). A
base64 part is saved exactly as decoded: base64 carries the sender's bytes, CRs included, and a
file that really held CRLF keeps it. A CR the sender encoded as `=0D` in quoted-printable is
also the sender's and kept.
"""

from __future__ import annotations

import binascii
import os
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

#: Longest file name written, in UTF-8 bytes (most filesystems allow 255).
MAX_NAME_BYTES = 200

_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_DELETE = bytes(b for b in range(256) if b not in _B64_ALPHABET)
_UNSAFE_NAME_CHARS = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2028\u2029\u2060-\u2069\ufeff"
    "\ud800-\udfff]"
)
_RESERVED_CHARS = re.compile(r'[<>:"|?*]')
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9]|conin\$|conout\$)$", re.I)


class SaveError(Exception):
    """Saving an attachment failed; the partial file has been removed."""


# --- transfer encodings -----------------------------------------------------------------------


def normalize_transfer_encoding(value: str | None) -> str:
    """One of "base64", "quoted-printable", "x-uuencode" or "7bit" (meaning: as is).

    Misspellings seen in the wild ("7-bit", "8 bit", "Base64 ") read as what they mean;
    unknown encodings (x-gzip64) are passed through as is.
    """
    name = re.sub(r"[\s\"']", "", (value or "")).lower()
    if name in ("base64", "base-64", "b64"):
        return "base64"
    if name in ("quoted-printable", "quotedprintable", "qp", "quoted_printable"):
        return "quoted-printable"
    if name in ("x-uuencode", "uuencode", "x-uue", "uue", "x-uu"):
        return "x-uuencode"
    return "7bit"


def is_text_type(mime_type: str | None) -> bool:
    """True for the types whose canonical form has CRLF line breaks: text/* and message/*."""
    maintype = (mime_type or "").split(";", 1)[0].strip().lower().partition("/")[0]
    return maintype in ("text", "message")


class StreamDecoder:
    """Incremental base64 / quoted-printable / uuencode decoder: `feed` chunks, then `finish`.

    Lenient: junk characters in base64 are skipped, a truncated last group is decoded as far
    as it goes (`truncated` is then set), invalid quoted-printable escapes are kept as written.
    With `text` (a text/* or message/* part), the wire's CRLF line ends of a 7bit, 8bit,
    binary or quoted-printable part become LF; base64 and uuencode are never touched.
    """

    def __init__(self, encoding: str | None, *, text: bool = False) -> None:
        self.encoding = normalize_transfer_encoding(encoding)
        self.text = text and self.encoding in ("7bit", "quoted-printable")
        self.truncated = False
        self._buf = b""
        self._uu_state = "before"  # before | inside | done

    def feed(self, chunk: bytes) -> bytes:
        """Decode what can be decoded of `chunk` now; keep the rest for the next call."""
        chunk = bytes(chunk)
        if self.encoding == "base64":
            data = self._buf + chunk.translate(None, _B64_DELETE)
            usable = len(data) - len(data) % 4
            self._buf = data[usable:]
            return binascii.a2b_base64(data[:usable]) if usable else b""
        if self.encoding in ("quoted-printable", "x-uuencode"):
            data = self._buf + chunk
            cut = data.rfind(b"\n") + 1
            self._buf = data[cut:]
            return self._lines(data[:cut]) if cut else b""
        if self.text:
            data = self._buf + chunk
            # A CR at the end may be the first half of a CRLF cut by the chunk boundary.
            keep = 1 if data.endswith(b"\r") else 0
            self._buf = data[len(data) - keep :]
            return data[: len(data) - keep].replace(b"\r\n", b"\n")
        return chunk

    def finish(self) -> bytes:
        """Decode whatever is left; after this the decoder is spent."""
        data, self._buf = self._buf, b""
        if self.encoding == "base64":
            if len(data) % 4 == 1:
                self.truncated = True
                data = data[:-1]
            if not data:
                return b""
            if len(data) % 4:
                data += b"=" * (-len(data) % 4)
            try:
                return binascii.a2b_base64(data)
            except (binascii.Error, ValueError):
                self.truncated = True
                return b""
        if self.encoding in ("quoted-printable", "x-uuencode"):
            return self._lines(data) if data else b""
        return data

    def _lines(self, data: bytes) -> bytes:
        if self.encoding == "quoted-printable":
            if self.text:  # wire line ends only: an encoded =0D=0A is the sender's and stays
                data = data.replace(b"\r\n", b"\n")
            try:
                return binascii.a2b_qp(data)
            except (binascii.Error, ValueError):
                return data
        out: list[bytes] = []
        for line in data.splitlines():
            if self._uu_state == "before":
                if line.startswith(b"begin"):
                    self._uu_state = "inside"
                continue
            if self._uu_state == "done":
                continue
            stripped = line.rstrip(b"\r\n")
            if stripped.strip() == b"end":
                self._uu_state = "done"
                continue
            if not stripped:
                continue
            try:
                out.append(binascii.a2b_uu(stripped))
            except (binascii.Error, ValueError):
                # Workaround for broken uuencoders (as the stdlib does): trust the length byte.
                count = (((stripped[0] - 32) & 63) * 4 + 5) // 3
                try:
                    out.append(binascii.a2b_uu(stripped[:count]))
                except (binascii.Error, ValueError):
                    self.truncated = True
        return b"".join(out)


def decode_transfer(data: bytes, encoding: str | None, *, text: bool = False) -> tuple[bytes, bool]:
    """Decode a whole transfer-encoded body; returns (bytes, truncated)."""
    decoder = StreamDecoder(encoding, text=text)
    out = decoder.feed(data) + decoder.finish()
    return out, decoder.truncated


def decoded_size(data: bytes, encoding: str | None, *, text: bool = False) -> int:
    """Size in bytes `data` decodes to (as saved), without keeping the decoded copy for long."""
    decoder = StreamDecoder(encoding, text=text)
    total = 0
    step = 1 << 20
    for start in range(0, len(data), step):
        total += len(decoder.feed(data[start : start + step]))
    return total + len(decoder.finish())


def estimate_decoded_size(
    encoded_size: int, encoding: str | None, *, text: bool = False, lines: int | None = None
) -> tuple[int, bool]:
    """(size the part will have once saved, whether that is an estimate) from the encoded size.

    BODYSTRUCTURE gives only the encoded size: base64 is 3 bytes per 4 characters once its line
    breaks (CRLF every 76) are taken out, padding unknown; quoted-printable is guessed at 90% of
    its size. A text part in 7bit/8bit is exact where the server gave its line count (one CR
    dropped per line), else counted with about one CR per 60 bytes.
    """
    size = max(int(encoded_size or 0), 0)
    name = normalize_transfer_encoding(encoding)
    if name == "base64":
        chars = size - 2 * (size // 78)  # CRLF after every 76 characters
        return max(chars * 3 // 4, 0), True
    if name == "quoted-printable":
        return size * 9 // 10, True
    if name == "x-uuencode":
        return size * 45 // 62, True
    if text:
        if lines is not None:
            return max(size - lines, 0), False
        return size - size // 61, True
    return size, False


# --- file names -------------------------------------------------------------------------------


def _split_ext(name: str) -> tuple[str, str]:
    stem, dot, ext = name.rpartition(".")
    if dot and stem and 0 < len(ext) <= 16 and " " not in ext:
        return stem, "." + ext
    return name, ""


def _fit(name: str, limit: int = MAX_NAME_BYTES) -> str:
    if len(name.encode("utf-8")) <= limit:
        return name
    stem, ext = _split_ext(name)
    budget = max(limit - len(ext.encode("utf-8")), 16)
    cut = stem.encode("utf-8")[:budget].decode("utf-8", "ignore").rstrip()
    return (cut or "attachment") + ext


def _safe(name: str | None) -> str:
    if not name:
        return ""
    text = unicodedata.normalize("NFC", str(name)[:4096])
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = _UNSAFE_NAME_CHARS.sub("", text)
    text = _RESERVED_CHARS.sub("_", text)
    text = re.sub(r"\s+", " ", text).strip(" .")
    if not text or set(text) <= {".", " "}:
        return ""
    stem, ext = _split_ext(text)
    if _WINDOWS_RESERVED.match(stem):
        text = "_" + text
    return _fit(text)


def safe_filename(name: str | None, fallback: str) -> str:
    """One safe file name component for `name`: no path part, control, bidi or reserved char.

    Keeps the name recognisable (letters in any script, spaces, the extension); `fallback` (made
    safe the same way) is used when nothing is left, and "attachment" when that fails too.
    """
    return _safe(name) or _safe(fallback) or "attachment"


# --- saving -----------------------------------------------------------------------------------


def _open_exclusive(folder: Path, name: str) -> tuple[int, Path]:
    stem, ext = _split_ext(name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    for number in range(10_000):
        candidate = name if number == 0 else _fit(f"{stem} ({number}){ext}")
        path = folder / candidate
        if path.parent != folder:  # cannot happen with a safe name; checked anyway
            raise SaveError(f"refusing to write outside {folder}")
        try:
            return os.open(path, flags, 0o600), path
        except FileExistsError:
            continue
        except OSError as exc:
            raise SaveError(f"cannot create {candidate}: {exc.strerror or exc}") from exc
    raise SaveError(f"too many files named like {name} in {folder}")


class PartWriter:
    """Writes one attachment to a new file in `folder` as its encoded chunks arrive.

    Usage: `with PartWriter(folder, name, encoding) as w: w.write(chunk) ...; path = w.path`.
    Leaving the block by an exception (or calling `abort`) removes the partial file.
    """

    def __init__(
        self, folder: Path | str, filename: str, encoding: str | None, *, text: bool = False
    ) -> None:
        self.folder = Path(folder).resolve()
        if not self.folder.is_dir():
            raise SaveError(f"not a folder: {self.folder}")
        fd, self.path = _open_exclusive(self.folder, safe_filename(filename, "attachment"))
        self._file = os.fdopen(fd, "wb")
        self._decoder = StreamDecoder(encoding, text=text)
        self.bytes_written = 0
        self.closed = False

    def write(self, chunk: bytes) -> None:
        """Decode `chunk` and append it to the file."""
        try:
            data = self._decoder.feed(chunk)
            self._file.write(data)
        except OSError as exc:
            self.abort()
            raise SaveError(f"writing {self.path.name} failed: {exc.strerror or exc}") from exc
        self.bytes_written += len(data)

    def close(self) -> Path:
        """Flush the decoder's tail and close; returns the path written."""
        if self.closed:
            return self.path
        try:
            data = self._decoder.finish()
            self._file.write(data)
            self.bytes_written += len(data)
            self._file.close()
        except OSError as exc:
            self.abort()
            raise SaveError(f"writing {self.path.name} failed: {exc.strerror or exc}") from exc
        self.closed = True
        return self.path

    def abort(self) -> None:
        """Close and remove the partial file."""
        if self.closed:
            return
        self.closed = True
        try:
            self._file.close()
        finally:
            try:
                self.path.unlink()
            except OSError:
                pass

    def __enter__(self) -> PartWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()


def save_part(
    encoded_chunks: Iterable[bytes] | bytes,
    encoding: str | None,
    folder: Path | str,
    filename: str,
    *,
    text: bool = False,
) -> Path:
    """Decode `encoded_chunks` (transfer-encoded as `encoding`) into a new file in `folder`.

    The name is made safe and never clobbers: "a.pdf" exists -> "a (1).pdf". Returns the path
    written. Raises `SaveError` (and leaves no partial file) when anything goes wrong. `text`
    (see `is_text_type`) saves a text part's wire CRLF line ends as LF.
    """
    chunks: Iterable[bytes] = (
        [bytes(encoded_chunks)]
        if isinstance(encoded_chunks, (bytes, bytearray, memoryview))
        else encoded_chunks
    )
    writer = PartWriter(folder, filename, encoding, text=text)
    try:
        for chunk in chunks:
            writer.write(chunk)
    except SaveError:
        raise
    except BaseException:
        writer.abort()
        raise
    return writer.close()


# --- executable types -------------------------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Extensions a desktop may run, install or hand to an interpreter when "opened".
EXECUTABLE_EXTENSIONS = _words(
    """
    .desktop .sh .bash .zsh .ksh .csh .tcsh .fish .command .run .bin .out .elf .so .appimage
    .exe .com .bat .cmd .msi .msp .msc .ps1 .psm1 .vbs .vbe .js .jse .wsf .wsh .ws .scr .pif
    .cpl .hta .jar .jnlp .py .pyc .pyo .pyw .pyz .pl .rb .php .lua .tcl .deb .rpm .apk .snap
    .flatpakref .dll .app .dmg .pkg .reg .lnk .inf .scf .sct .gadget .application .xbap .kdelnk
    .service .action .workflow .applescript .scpt
    """
)

#: MIME types of programs and scripts (the sender's word; the name is checked as well).
EXECUTABLE_TYPES = _words(
    """
    application/x-executable application/x-sharedlib application/x-pie-executable
    application/x-elf application/x-mach-binary application/x-msdownload
    application/x-msdos-program application/x-ms-dos-executable application/x-dosexec
    application/vnd.microsoft.portable-executable application/x-msi application/x-ms-installer
    application/x-bat application/x-sh application/x-shellscript text/x-shellscript text/x-sh
    application/x-csh application/x-desktop application/x-java-archive application/java-archive
    application/x-java-jnlp-file application/x-python text/x-python text/x-python3
    application/x-python-code application/x-perl text/x-perl application/x-ruby text/x-ruby
    application/x-php application/x-appimage application/vnd.debian.binary-package
    application/x-rpm application/x-redhat-package-manager application/vnd.android.package-archive
    application/x-ms-shortcut application/hta application/x-javascript application/javascript
    text/javascript application/x-powershell
    """
)

_EXECUTABLE_MAGIC = (
    (b"\x7fELF", "a Linux program"),
    (b"MZ", "a Windows program"),
    (b"#!", "a script"),
    (b"[Desktop Entry]", "a desktop launcher"),
    (b"\xcf\xfa\xed\xfe", "a macOS program"),
    (b"\xca\xfe\xba\xbe", "a macOS or Java program"),
)


def executable_reason(
    filename: str, mime_type: str | None = None, head: bytes | None = None
) -> str | None:
    """Why opening this attachment may run it ("the name ends in .sh"), else None.

    Checks the name's extension (every one: `x.pdf.desktop`, `x.sh.txt` is left to its last),
    the declared type, and, when given, the first bytes of the file (an ELF or PE header, a
    shebang, a desktop entry), since a viewer may go by content as well.
    """
    name = (filename or "").strip().lower()
    suffix = "." + name.rsplit(".", 1)[1] if "." in name else ""
    if suffix in EXECUTABLE_EXTENSIONS:
        return f"the name ends in {suffix}"
    mime = (mime_type or "").split(";", 1)[0].strip().lower()
    if mime in EXECUTABLE_TYPES:
        return f"its type is {mime}"
    if head:
        for magic, what in _EXECUTABLE_MAGIC:
            if head.startswith(magic):
                return f"its content is {what}"
    return None
