"""A built wheel works anywhere: templates, example rules and config ship inside it.

The wheel is built from this checkout and installed (without its dependencies, which
come from the test environment's site-packages through a path file, so no index is
needed) into a fresh venv; ``maild demo`` and ``maild init`` then run from a directory
that has no ``templates/`` or ``rules/`` in it.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest
from maildenv import REPO


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``maild`` script of a fresh venv holding only the built wheel."""
    root = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                            "-q", "-w", str(root / "dist"), str(REPO)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    wheel = next((root / "dist").glob("maild-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "maild/_shipped/templates/en/ack.txt.j2" in names
    assert "maild/_shipped/rules/staff.toml" in names
    assert "maild/_shipped/rules/lines.toml" in names  # the support lines example
    env = root / "venv"
    venv.create(env, with_pip=False)
    site = next(env.glob("lib/python*/site-packages"))
    # the dependencies, not the editable maild (a path line runs no .pth hooks there)
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    inst = subprocess.run([sys.executable, "-m", "pip", "--python", str(env / "bin" / "python"),
                           "install", "--no-deps", "--no-index", "-q", str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert inst.returncode == 0, inst.stderr
    return env / "bin" / "maild"


def test_wheel_demo_runs_from_any_directory(installed_wheel: Path, tmp_path: Path) -> None:
    where = subprocess.run([installed_wheel.parent / "python", "-c",
                            "import maild; print(maild.__file__)"],
                           capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert str(installed_wheel.parent.parent) in where.stdout, where  # not this checkout
    out = subprocess.run([installed_wheel, "demo"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "All cases resolved and closed." in out.stdout


def test_wheel_init_then_first_mail(installed_wheel: Path, tmp_path: Path) -> None:
    """`maild init`, the customer import and a first mail, as the README shows them."""
    site = tmp_path / "helpdesk"
    env = {"MAILD_SECRET": "s" * 32, "MAILD_IMAP_PASSWORD": "x", "PATH": "/usr/bin:/bin"}

    def maild(*args: str, stdin: bytes | None = None) -> str:
        out = subprocess.run([installed_wheel, *args], cwd=site, input=stdin, env=env,
                             capture_output=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return out.stdout.decode()

    first = subprocess.run([installed_wheel, "init", str(site)], capture_output=True,
                           text=True, timeout=60, cwd=tmp_path)
    assert first.returncode == 0 and "wrote" in first.stdout, first.stderr
    assert not (site / "templates").exists()  # the shipped ones are used
    assert (site / "rules" / "lines.toml").is_file()  # the support lines example too
    maild("db", "upgrade")
    assert maild("customers", "import", "customers.csv").startswith("2 created")
    known = maild("ingest", stdin=b"From: wang.fang@sh.corp.example\r\nTo: helpdesk@corp.example"
                  b"\r\nSubject: printer jams\r\nMessage-ID: <1@sh>\r\n\r\nIt jams.\r\n")
    assert known.startswith("new_case case #1")
    stranger = maild("ingest", stdin=b"From: x@elsewhere.example\r\nTo: helpdesk@corp.example"
                     b"\r\nSubject: help\r\nMessage-ID: <2@x>\r\n\r\nPC broken.\r\n")
    assert stranger.startswith("held")
    again = subprocess.run([installed_wheel, "init", str(site)], capture_output=True,
                           text=True, timeout=60)
    assert again.returncode == 0 and "wrote" not in again.stdout  # never overwrites
