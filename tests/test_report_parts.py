"""The report mail's parts that need no server: the PNG charts and the headline formatting."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from datetime import date, timedelta
from pathlib import Path

import pytest

from maild.core.report import Change, DayStat, durations
from maild.service import charts
from maild.service.reports import headline, stamp

PNG = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR, after checking the signature and the chunk CRC."""
    assert data.startswith(PNG)
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    body = data[16:16 + length]
    assert struct.unpack(">I", data[29:33])[0] == zlib.crc32(kind + body)
    width, height = struct.unpack(">II", body[:8])
    return width, height


def month(resolved_hours: list[list[float]]) -> list[DayStat]:
    first = date(2026, 11, 1)
    return [DayStat(first + timedelta(days=i), len(hs) + 1, len(hs),
                    durations([h * 3600 for h in hs]))
            for i, hs in enumerate(resolved_hours)]


@pytest.mark.parametrize("draw", [charts.volume_png, charts.handling_png])
def test_charts_are_pngs_of_the_documented_size_and_the_same_each_time(draw: object) -> None:
    days = month([[1, 2, 8], [], [0.5]] * 10)  # days without resolutions: gaps, not errors
    png = draw(days)  # type: ignore[operator]
    assert png_size(png) == (round(charts.WIDTH_IN * charts.DPI),
                             round(charts.HEIGHT_IN * charts.DPI))
    assert png == draw(days)  # type: ignore[operator]  # no timestamp inside
    assert b"tIME" not in png


def test_charts_of_an_empty_month_and_of_one_day() -> None:
    empty = month([[] for _ in range(28)])
    assert png_size(charts.volume_png(empty))[0] > 0
    assert png_size(charts.handling_png(empty))[0] > 0
    assert png_size(charts.volume_png(month([[3]])))[0] > 0


def test_draw_makes_both_charts_in_a_child_process() -> None:
    days = month([[1, 2, 8], [], [0.5]] * 10)
    code = ("import sys, json; from maild.service import charts; "
            "from test_report_parts import month; "
            "pngs = charts.draw(month([[1, 2, 8], [], [0.5]] * 10)); "
            "print(json.dumps([sorted(pngs), 'matplotlib' in sys.modules, "
            "pngs['volume'].hex()]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parent)
    names, imported, volume = json.loads(out.stdout)
    assert names == ["handling", "volume"] and imported is False
    assert bytes.fromhex(volume) == charts.volume_png(days)  # the same bytes as drawn here


def test_draw_fails_loudly_when_the_child_cannot_draw(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "matplotlib"
    broken.mkdir()
    (broken / "__init__.py").write_text("raise ImportError('no matplotlib here')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    with pytest.raises(subprocess.CalledProcessError) as err:
        charts.draw(month([[1]]))
    assert "no matplotlib here" in err.value.stderr


def test_the_cli_and_the_reports_module_do_not_import_matplotlib() -> None:
    code = ("import sys, maild.cli.main, maild.service.reports, maild.service.charts, "
            "maild.daemon; "
            "print(any(m.split('.')[0] == 'matplotlib' for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(("change", "shown"), [
    (Change("opened", 12, 9, None), ("12", "9", "+3", "none")),
    (Change("resolved", 7, 9, True), ("7", "9", "\u22122", "worse")),
    (Change("open_at_end", 4, 9, False), ("4", "9", "\u22125", "better")),
    (Change("handling_bh", 2.34, 2.0, False), ("2.3 h", "2.0 h", "+0.3 h", "worse")),
    (Change("sla_met_pct", 80.4, 79.4, True), ("80%", "79%", "+1 pt", "better")),
    (Change("sla_met_pct", 79.4, 79.6, True), ("79%", "80%", "\u22121 pt", "worse")),
    (Change("sla_met_pct", 79.4, 79.2, True), ("79%", "79%", "\u00b10 pt", "same")),
    (Change("rating", None, 4.2, True), ("-", "4.2", "", "none")),
    (Change("escalated", 0, 0, False), ("0", "0", "\u00b10", "same")),
])
def test_headline_shows_the_change_of_the_numbers_as_displayed(
        change: Change, shown: tuple[str, str, str, str]) -> None:
    h = headline(change)
    assert (h.value, h.previous, h.delta, h.verdict) == shown


def test_stamp_is_local_time_with_its_offset() -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    moment = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
    assert stamp(moment, ZoneInfo("Asia/Shanghai")) == "2026-11-01 00:00 UTC+08:00"
    assert stamp(moment, ZoneInfo("America/St_Johns")) == "2026-10-31 13:30 UTC-02:30"
    assert stamp(moment.replace(tzinfo=None), ZoneInfo("UTC")) == "2026-10-31 16:00 UTC+00:00"
