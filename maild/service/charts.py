"""The monthly report's two charts as PNG bytes: daily volume and daily handling time.

PNG, because mail clients show neither SVG nor scripts, and only images sent
inside the mail (``cid:``): remote ones are blocked. Drawn by matplotlib with
its Agg renderer through the object API (``Figure`` + ``FigureCanvasAgg``,
no pyplot and so no global figure state, no display needed). matplotlib is
imported here, inside the functions, only when a report is built: importing
it costs a few hundred milliseconds and megabytes the CLI and the daemon
should not pay at start-up.

The report's sender calls ``draw``, which runs this module as a child
process (``python -m maild.service.charts``, days in as JSON, PNGs out): matplotlib
left in the daemon after a monthly report would keep about 50 MB resident for
the month until the next one, for a drawing that takes a second.

The charts hold numbers only (day of month, counts, hours), no words: the
titles and the colour key are in the mail's HTML, in the reader's language.
That way no CJK font is needed on the server, and one chart serves both
languages.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from collections.abc import Sequence
from datetime import date
from typing import Any

from maild.core.report import DayStat, Durations

OPENED = "#9ca3af"  # grey: what came in
RESOLVED = "#1f4e79"  # the mails' blue: what was done
MEDIAN = "#1f4e79"
P90 = "#d97706"  # amber: the slow tail
# 1000 x 460 px, shown 592 px wide on a desktop and about 340 on a phone: the
# 10 pt labels read as about 16 and 9.5 px there
WIDTH_IN, HEIGHT_IN, DPI, FONT_PT = 5.0, 2.3, 200, 10.0


def _figure() -> tuple[Any, Any]:
    """A blank figure and axes in the mails' style (lazy matplotlib import)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="y", color="#e5e7eb", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=FONT_PT, colors="#374151")
    return fig, ax


def _png(fig: Any) -> bytes:
    """The figure as a small PNG: 64 colours, no timestamp (the same data, the same bytes).

    Agg draws antialiased RGBA; a chart of a few flat colours loses nothing
    visible as a 64-colour palette without dithering, and the mail a quarter of
    its size (the handling-time chart 60 KB -> 15 KB). Pillow comes with matplotlib."""
    from PIL import Image

    buf = io.BytesIO()
    fig.tight_layout(pad=0.4)
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    image = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    small = image.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    small.save(out, format="png", optimize=True)
    return out.getvalue()


def _day_ticks(ax: Any, days: Sequence[DayStat]) -> None:
    """Days of the month on the x axis: every one for a short period, else 1, 5, 10, ..."""
    n = len(days)
    step = 1 if n <= 10 else 5
    ticks = [i for i in range(n) if i == 0 or (i + 1) % step == 0]
    ax.set_xticks(ticks, [str(days[i].day.day) for i in ticks])
    ax.set_xlim(-0.7, n - 0.3)


def volume_png(days: Sequence[DayStat]) -> bytes:
    """Cases opened (grey) and resolved (blue) each day, side by side."""
    fig, ax = _figure()
    xs = range(len(days))
    ax.bar([x - 0.2 for x in xs], [d.opened for d in days], width=0.4, color=OPENED)
    ax.bar([x + 0.2 for x in xs], [d.resolved for d in days], width=0.4, color=RESOLVED)
    _day_ticks(ax, days)
    ax.yaxis.get_major_locator().set_params(integer=True)
    return _png(fig)


def handling_png(days: Sequence[DayStat]) -> bytes:
    """Median (blue) and 90th percentile (amber) business hours of each day's resolutions.

    A day without resolutions leaves a gap in the lines rather than a zero."""
    fig, ax = _figure()
    xs = list(range(len(days)))

    def hours(v: float | None) -> float:
        return v / 3600 if v is not None else float("nan")

    median = [hours(d.business.median_s) for d in days]
    p90 = [hours(d.business.p90_s) for d in days]
    ax.plot(xs, p90, color=P90, linewidth=1.4, marker="o", markersize=2.5)
    ax.plot(xs, median, color=MEDIAN, linewidth=1.8, marker="o", markersize=2.5)
    _day_ticks(ax, days)
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter("{x:g} h")
    return _png(fig)


def draw(days: Sequence[DayStat], timeout: float = 120.0) -> dict[str, bytes]:
    """Both charts (``volume``, ``handling``), drawn in a child process; raises
    ``subprocess.CalledProcessError`` or ``TimeoutExpired`` if it fails."""
    rows = [[d.day.isoformat(), d.opened, d.resolved, d.business.count, d.business.total_s,
             d.business.mean_s, d.business.median_s, d.business.p90_s] for d in days]
    out = subprocess.run([sys.executable, "-m", "maild.service.charts"], input=json.dumps(rows),
                         capture_output=True, text=True, check=True, timeout=timeout)
    return {name: base64.b64decode(png) for name, png in json.loads(out.stdout).items()}


def _main() -> None:
    """The child of ``draw``: day rows as JSON on stdin, the PNGs in base64 JSON on stdout."""
    days = [DayStat(date.fromisoformat(day), opened, resolved, Durations(*stats))
            for day, opened, resolved, *stats in json.load(sys.stdin)]
    pngs = {"volume": volume_png(days), "handling": handling_png(days)}
    json.dump({name: base64.b64encode(png).decode("ascii") for name, png in pngs.items()},
              sys.stdout)


if __name__ == "__main__":
    _main()
