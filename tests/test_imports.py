"""Pipe mode (issue 17): an MTA starts ``maild ingest`` once per message, so what a
command imports is behaviour. The CLI and the ingest path load no Alembic, Mako,
Pygments, PostgreSQL driver or dialect, nor matplotlib; the commands that need them
still work, and compiled templates are cached without ever serving a stale one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest
from maildenv import Maild, new_mail, write_config
from sqlalchemy import func
from sqlmodel import Session, select

from maild.db import migrate
from maild.db.models import InboundMessage
from maild.templating import make_envs

UNWANTED = ("alembic", "mako", "pygments", "psycopg", "sqlalchemy.dialects.postgresql",
            "matplotlib")
CUSTOMER = "wang.fang@sh.corp.example"


def loaded_after(code: str) -> tuple[list[str], str]:
    """The modules a fresh interpreter holds after running ``code`` (which may print)."""
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"],
        capture_output=True, text=True, timeout=60, check=True)
    *printed, modules = out.stdout.splitlines()
    return json.loads(modules), "\n".join(printed)


def unwanted(modules: list[str]) -> list[str]:
    return [m for m in modules if m.startswith(UNWANTED) or m.split(".")[0] in UNWANTED]


def test_importing_the_cli_loads_no_database_library() -> None:
    modules, _ = loaded_after("import maild.cli")
    assert "maild.cli.main" in modules
    assert unwanted(modules) == []
    assert not [m for m in modules if m.startswith(("sqlalchemy", "sqlmodel", "jinja2"))]


@pytest.mark.sqlite_only
def test_ingest_on_sqlite_loads_neither_alembic_nor_postgresql(tmp_path: Path) -> None:
    """The whole ``maild ingest`` path, run in a fresh interpreter: a new case is opened
    and mailed (templates rendered), and none of the unwanted modules was imported."""
    installed = Maild(write_config(tmp_path, 1, 1))
    installed.add_customer(CUSTOMER, "王芳")
    mail = tmp_path / "new.eml"
    mail.write_bytes(new_mail(CUSTOMER, "printer", "The printer on floor 3 jams."))
    modules, printed = loaded_after(
        "import gc, sys\n"
        f"sys.argv = ['maild', 'ingest', {str(mail)!r}, '--config', {str(installed.config)!r}]\n"
        "from maild.cli import entry\n"
        "assert entry() == 0\n"
        "print('collector on:', gc.isenabled())")
    assert printed.startswith("new_case case #1"), printed
    assert printed.endswith("collector on: True")  # paused only while starting (entry)
    assert "maild.service.intake" in modules and "jinja2" in modules
    assert unwanted(modules) == []


def test_db_upgrade_still_migrates_an_empty_database(tmp_path: Path) -> None:
    """``maild db upgrade`` needs Alembic and still has it; then ``ingest`` works."""
    config = write_config(tmp_path, 1, 1, empty_db=True)
    out = subprocess.run([sys.executable, "-m", "maild", "db", "upgrade", "--config",
                          str(config)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.rstrip().endswith(f": empty → {migrate.head()}")
    ingest = subprocess.run([sys.executable, "-m", "maild", "ingest", "--config", str(config)],
                            input=new_mail("a@b.example", "x", "y"), capture_output=True,
                            timeout=60)
    assert ingest.returncode == 0, ingest.stderr


def test_ingest_still_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    """The schema check without Alembic: exit 75 (the MTA keeps the mail and retries),
    the fix named, nothing written."""
    config = write_config(tmp_path, 1, 1, empty_db=True)
    out = subprocess.run([sys.executable, "-m", "maild", "ingest", "--config", str(config)],
                         input=new_mail("a@b.example", "x", "y"), capture_output=True,
                         timeout=60)
    assert out.returncode == 75, out.stderr
    assert "maild db upgrade" in out.stderr.decode() and "schema is at nothing" in (
        out.stderr.decode())
    installed = Maild(config)  # migrates now: the refused mail left no row behind
    with Session(installed.rt.engine) as s:
        assert s.exec(select(func.count()).select_from(InboundMessage)).one() == 0


def test_the_head_read_from_the_files_is_alembics() -> None:
    from alembic.script import ScriptDirectory

    assert migrate.head() == ScriptDirectory.from_config(migrate._config()).get_current_head()


def test_a_database_one_migration_behind_is_refused(tmp_path: Path) -> None:
    from maild.config import read_config
    from maild.runtime import database

    engine = database(read_config(write_config(tmp_path, 1, 1, empty_db=True)))
    from alembic.script import ScriptDirectory

    head = migrate.head()
    assert head is not None
    # the revision before head by the chain, not by number (a merge may leave gaps)
    before = ScriptDirectory.from_config(migrate._config()).get_revision(head).down_revision
    assert isinstance(before, str)
    migrate.upgrade(engine, before)
    with pytest.raises(migrate.SchemaError, match=f"at {before}, this maild needs"):
        migrate.check(engine)
    migrate.upgrade(engine)
    migrate.check(engine)


def _render(envs: dict[str, jinja2.Environment], name: str) -> str:
    return envs["en"].get_template(name).render(case={"subject": "jam"})


def test_compiled_templates_follow_edits_and_never_cross_directories(tmp_path: Path) -> None:
    """A template edited after it was cached renders the new text; two template
    directories with a file of the same name each get their own."""
    cache = tmp_path / "cache"
    one, two = tmp_path / "one", tmp_path / "two"
    for d, text in ((one, "one: {{ case.subject }}\n"), (two, "two: {{ case.subject }}\n")):
        (d / "en").mkdir(parents=True)
        (d / "en" / "ack.subject.j2").write_text(text, encoding="utf-8")
    assert _render(make_envs(one, cache=cache), "ack.subject.j2") == "one: jam\n"
    assert _render(make_envs(two, cache=cache), "ack.subject.j2") == "two: jam\n"
    assert _render(make_envs(one, cache=cache), "ack.subject.j2") == "one: jam\n"  # from cache
    (one / "en" / "ack.subject.j2").write_text("edited: {{ case.subject }}\n", encoding="utf-8")
    assert _render(make_envs(one, cache=cache), "ack.subject.j2") == "edited: jam\n"
    folders = {p.parent for p in cache.rglob("*.cache")}
    assert len(folders) == 2  # one per set of directories (en of one, en of two)


def test_a_cache_that_cannot_be_made_is_no_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.write_text("a file where the folder should be", encoding="utf-8")
    (tmp_path / "own" / "en").mkdir(parents=True)
    (tmp_path / "own" / "en" / "ack.subject.j2").write_text("{{ case.subject }}",
                                                           encoding="utf-8")
    envs = make_envs(tmp_path / "own", cache=cache)
    assert envs["en"].bytecode_cache is None
    assert _render(envs, "ack.subject.j2") == "jam"
