"""``maild init DIR``: a starter installation to edit, from the files shipped in the package.

It writes ``config.toml`` (the example, which leaves the templates to the shipped ones),
``rules/`` (the example staff, sites and SLA), a ``customers.csv`` template whose
comments explain the columns, and an empty ``store/``. It never overwrites a file:
running it twice, or into a directory already in use, changes nothing there.
"""

from __future__ import annotations

from pathlib import Path

from maild.resources import shipped_dir

CUSTOMERS_CSV = """\
# Customers: the people who may write to the helpdesk. Import this file with
#   maild customers import customers.csv
# Every row is checked first; if one is wrong nothing is written and each error names
# its line (fix it and import again; importing again updates, it never duplicates).
# Columns:
#   employee_id  optional, unique: how operators find a caller on the phone
#   name         required
#   company      picks the site and so the engineer: a name listed in rules/sites.toml
#                "companies" (else the customer's mail domain is matched to "domains")
#   phone, address  shown to the engineer in the dispatch mail
#   email        how maild recognises the customer's mail (a sender not listed here is a
#                stranger: see [helpdesk] unknown_senders in config.toml)
#   vip          yes/no: VIPs get vip_priority from rules/sla.toml
# Lines starting with # at the top are comments. Replace the two example rows.
employee_id,name,company,phone,address,email,vip
E1001,Wang Fang,Shanghai Branch,+86 21 5555 01,"301, 100 Century Ave",wang.fang@sh.corp.example,no
E2001,Alice Brown,London Office,+44 20 7946 0000,"1 King St",alice.brown@uk.corp.example,yes
"""

def starter_config() -> str:
    """The shipped example config (it leaves ``[paths] templates`` to the shipped ones)."""
    return shipped_dir("config.example.toml").read_text(encoding="utf-8")


def init(directory: Path) -> list[tuple[Path, bool]]:
    """Write the starter files into ``directory``; (path, written) for each, False when the
    file was already there and was left alone."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "store").mkdir(exist_ok=True)
    files: dict[Path, str] = {
        directory / "config.toml": starter_config(),
        directory / "customers.csv": CUSTOMERS_CSV,
    }
    for rules_file in sorted(shipped_dir("rules").glob("*.toml")):
        files[directory / "rules" / rules_file.name] = rules_file.read_text(encoding="utf-8")
    done = []
    for path, text in files.items():
        if path.exists():
            done.append((path, False))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        done.append((path, True))
    return done

