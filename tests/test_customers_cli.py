"""`maild customers`: the directory from the command line, on a real SQLite file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from maildenv import Maild, new_mail, write_config
from test_cli import maild_cli

from maild.db.models import utcnow
from maild.service.intake import ingest


@pytest.fixture
def m(tmp_path: Path) -> Maild:
    return Maild(write_config(tmp_path, 1, 1))


def test_add_update_list_delete(m: Maild) -> None:
    out = maild_cli("customers", "add", "--name", "王芳", "--email", "wang.fang@sh.corp.example",
                    "--employee-id", "E1", "--company", "上海分公司", "--json", config=m.config)
    assert out.returncode == 0, out.stderr
    created = json.loads(out.stdout)
    assert created["name"] == "王芳" and created["vip"] is False
    dup = maild_cli("customers", "add", "--name", "X", "--email", "wang.fang@sh.corp.example",
                    config=m.config)
    assert dup.returncode == 1 and b"already belongs to customer" in dup.stderr
    upd = maild_cli("customers", "update", "E1", "--vip", "yes", "--phone", "021-1234",
                    "--json", config=m.config)
    assert json.loads(upd.stdout)["vip"] is True and json.loads(upd.stdout)["phone"] == "021-1234"
    listed = json.loads(maild_cli("customers", "list", "--vip", "--json",
                                  config=m.config).stdout)
    assert [c["employee_id"] for c in listed] == ["E1"]
    gone = maild_cli("customers", "delete", "wang.fang@sh.corp.example", config=m.config)
    assert gone.returncode == 0
    assert json.loads(maild_cli("customers", "list", "--json", config=m.config).stdout) == []


def test_delete_refused_with_open_cases(m: Maild) -> None:
    m.add_customer("wang.fang@sh.corp.example", "王芳", company="上海分公司")
    ingest(m.rt, new_mail("wang.fang@sh.corp.example", "Printer", "Jams"), utcnow())
    out = maild_cli("customers", "delete", "wang.fang@sh.corp.example", config=m.config)
    assert out.returncode == 1 and b"1 open case(s)" in out.stderr
    forced = maild_cli("customers", "delete", "wang.fang@sh.corp.example", "--force",
                       config=m.config)
    assert forced.returncode == 0
    assert m.case(1)["customer"]["email"] is None and m.case(1)["log"]  # history kept


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["employee_id", "name", "company", "phone",
                                                "address", "email", "vip"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_import_is_all_or_nothing(m: Maild, tmp_path: Path) -> None:
    path = _write(tmp_path / "c.csv", [
        {"employee_id": "E1", "name": "A", "email": "a@corp.example", "vip": "no"},
        {"employee_id": "E2", "name": "B", "email": "broken", "vip": "no"},
        {"employee_id": "E1", "name": "C", "email": "c@corp.example", "vip": "maybe"},
    ])
    out = maild_cli("customers", "import", str(path), config=m.config)
    assert out.returncode == 1
    err = out.stderr.decode()
    assert "line 3: email 'broken'" in err and "line 4:" in err and "nothing imported" in err
    assert json.loads(maild_cli("customers", "list", "--json", config=m.config).stdout) == []
    skip = maild_cli("customers", "import", str(path), "--skip-invalid", config=m.config)
    assert skip.returncode == 0 and b"1 created, 0 updated, 2 bad row(s) skipped" in skip.stdout


def test_large_import_shows_progress_and_round_trips(m: Maild, tmp_path: Path) -> None:
    rows = [{"employee_id": f"E{i:05d}", "name": f"用户{i}", "company": "上海分公司",
             "phone": "", "address": "", "email": f"u{i}@sh.corp.example",
             "vip": "yes" if i % 10 == 0 else "no"} for i in range(3000)]
    out = maild_cli("customers", "import", str(_write(tmp_path / "big.csv", rows)),
                    config=m.config)
    assert out.returncode == 0 and b"3000 created" in out.stdout
    assert b"importing 3,000/3,000 (100%)" in out.stderr
    again = maild_cli("customers", "import", str(tmp_path / "big.csv"), config=m.config)
    assert b"0 created, 3000 updated" in again.stdout
    exported = tmp_path / "out.csv"
    assert maild_cli("customers", "export", str(exported), config=m.config).returncode == 0
    with exported.open(encoding="utf-8") as fh:
        back = list(csv.DictReader(fh))
    assert len(back) == 3000 and back[0]["name"] == "用户0" and back[0]["vip"] == "yes"


def test_the_init_template_imports_and_its_comments_count_as_lines(m: Maild,
                                                                    tmp_path: Path) -> None:
    """The commented customers.csv that `maild init` writes imports as it stands; an error
    below the comments names the line a text editor shows."""
    from maild.cli.starter import CUSTOMERS_CSV

    path = tmp_path / "customers.csv"
    path.write_text(CUSTOMERS_CSV, encoding="utf-8")
    out = maild_cli("customers", "import", str(path), config=m.config)
    assert out.returncode == 0 and out.stdout.startswith(b"2 created"), out.stderr
    lines = CUSTOMERS_CSV.splitlines()
    broken = len(lines) + 1  # the line of the row appended below
    path.write_text(CUSTOMERS_CSV + "E3,Bad Row,,,,not-an-address,no\n", encoding="utf-8")
    out = maild_cli("customers", "import", str(path), config=m.config)
    assert out.returncode == 1
    assert f"line {broken}: email 'not-an-address'".encode() in out.stderr, out.stderr
