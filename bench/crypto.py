"""Time to verify and to decrypt a 25 MB PGP/MIME message with the user's gpg (issue 16).

`python -m bench.crypto [--mb 25]`: a throwaway GNUPGHOME, a message with a 25 MB attachment
signed (multipart/signed) and signed + encrypted (multipart/encrypted), each rendered with its
verdict by `app.crypto.view.render_protected`. Prints one JSON object a line.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from app.crypto.engine import Engine
from app.crypto.view import render_protected
from app.crypto.writing import protect_bytes
from app.mime.compose import Draft, Identity, build_message, message_bytes
from app.mime.render import render_message
from tests.gpg_keys import cleanup, make_keyring


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=25)
    args = parser.parse_args()
    ring = make_keyring()
    os.environ["GNUPGHOME"] = str(ring.home)
    try:
        engine = Engine(timeout=120)
        draft = Draft(
            from_=Identity("Alice", "alice@example.org"),
            to=["bob@example.org"],
            subject="big",
            body="see attached\n",
            attachments=[("big.bin", os.urandom(args.mb << 20), "application/octet-stream")],
        )
        data = message_bytes(build_message(draft, message_id_domain="example.org"))
        for name, encrypt in (("verify", False), ("decrypt_verify", True)):
            sealed = protect_bytes(data, draft, sign=True, encrypt=encrypt, engine=engine)
            if not encrypt:  # the same message without gpg, for comparison
                start = time.perf_counter()
                render_message(sealed)
                plain = time.perf_counter() - start
                print(
                    json.dumps(
                        {
                            "figure": f"render_only_{args.mb}mb",
                            "value": round(plain, 2),
                            "unit": "s",
                        }
                    )
                )
            start = time.perf_counter()
            shown = render_protected(sealed, engine=engine)
            took = time.perf_counter() - start
            assert shown.crypto and all(s.level == "good" for s in shown.crypto), shown.crypto
            print(
                json.dumps(
                    {
                        "figure": f"crypto_{name}_{args.mb}mb",
                        "value": round(took, 2),
                        "unit": "s",
                        "message_bytes": len(sealed),
                    }
                )
            )
    finally:
        cleanup(ring)


if __name__ == "__main__":
    main()
