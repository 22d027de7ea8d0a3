"""rich-pixels against textual-image (issue 18): import time, time to draw the demo PNG, memory.

Each library is measured in a fresh subprocess (so its import is cold): the import time, the
median time to draw the demo PNG (`app.sandbox.demo.png_bytes(256, 192)`, decoded by
`decode_image` to 120 x 80 pixels, i.e. 120 x 40 cells) into a Rich console writing to memory,
the traced peak of that draw and the process's peak RSS. textual-image is drawn in half-cells
(what a terminal without graphics gets) and, for the payload size, as Kitty (TGP) and Sixel.
Prints JSON lines `{"figure", "value", "unit"}`; nothing is asserted.

Run: `.venv/bin/python -m bench.images` (textual-image must be installed to measure it).
"""

from __future__ import annotations

import json
import subprocess
import sys

_CHILD = r"""
import io, json, resource, statistics, sys, time, tracemalloc
lib = sys.argv[1]
t0 = time.perf_counter()
if lib == "rich-pixels":
    from rich_pixels import Pixels as R
    make = R.from_image
else:
    import textual_image.renderable as tr
    kind = {"textual-image": tr.HalfcellImage, "textual-image-kitty": tr.TGPImage,
            "textual-image-sixel": tr.SixelImage}[lib]
    make = lambda im: kind(im, width=im.width, height="auto")
import_s = time.perf_counter() - t0
from rich.console import Console
from app.mime.images import decode_image
from app.sandbox.demo import png_bytes
image = decode_image(png_bytes(256, 192), width=120, height=80)
def draw():
    out = io.StringIO()
    Console(file=out, width=200, color_system="truecolor", force_terminal=True,
            legacy_windows=False).print(make(image))
    return len(out.getvalue())
size = draw()
times = []
for _ in range(7):
    t = time.perf_counter(); draw(); times.append(time.perf_counter() - t)
tracemalloc.start(); draw(); peak = tracemalloc.get_traced_memory()[1]; tracemalloc.stop()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
sys.stderr.write("RESULT " + json.dumps({"import_ms": import_s * 1000, "draw_ms": statistics.median(times) * 1000,
                  "draw_peak_kb": peak / 1024, "rss_mb": rss, "output_kb": size / 1024}) + "\n")
"""

LIBS = ("rich-pixels", "textual-image", "textual-image-kitty", "textual-image-sixel")
UNITS = {
    "import_ms": "ms",
    "draw_ms": "ms",
    "draw_peak_kb": "KB",
    "rss_mb": "MB",
    "output_kb": "KB",
}


def main() -> None:
    for lib in LIBS:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, lib], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            note = (done.stderr.strip().splitlines() or ["failed"])[-1]
            print(json.dumps({"figure": f"images_{lib}", "value": None, "note": note}))
            continue
        for key, value in json.loads(done.stderr.split("RESULT ")[-1]).items():
            print(
                json.dumps(
                    {"figure": f"images_{lib}_{key}", "value": round(value, 2), "unit": UNITS[key]}
                )
            )


if __name__ == "__main__":
    main()
