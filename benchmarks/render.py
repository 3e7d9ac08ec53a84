"""CPU of producing one notification's bytes: the acknowledgement and the dispatch of a
new case, in English and Chinese, with and without a 50 KB attachment on the dispatch.

    .venv/bin/python benchmarks/render.py [--repeat 7] [--loops 200]

Each figure is the minimum over ``--repeat`` runs of the mean CPU time
(time.process_time) of ``--loops`` iterations: ``context`` is the case's template
context (``case_context`` + ``base_context``, shared by every notice of the case),
``ack`` and ``dispatch`` are ``notices._rendered`` (three template renders and
``core.mime.build``). No database writes, no SMTP.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "benchmarks")]

from maildenv import Maild, feed, write_config  # noqa: E402
from mailgen import _mail  # noqa: E402
from sqlmodel import Session  # noqa: E402

from maild.core.notify import CUSTOMER, ENGINEER, Notice, Recipient  # noqa: E402
from maild.db.models import Case  # noqa: E402
from maild.service.notices import _rendered, audiences, base_context, case_context  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--loops", type=int, default=200)
    args = ap.parse_args()
    attachment = random.Random(1).randbytes(50_000)
    with tempfile.TemporaryDirectory() as tmp:
        m = Maild(write_config(Path(tmp), 1, 1))
        m.add_customer("user1@uk.corp.example", "User 1", "London Office")
        m.add_customer("user1@sh.corp.example", "用户1", "上海分公司")
        cases = {
            "en": feed(m, _mail("user1@uk.corp.example", "User 1", "Printer jams on floor 3",
                                "The printer on floor 3 jams on every page. Please help."))[1],
            "zh": feed(m, _mail("user1@sh.corp.example", "用户1", "打印机卡纸 3楼",
                                "3楼的打印机一直卡纸，硒鼓也快没了，麻烦尽快处理。"))[1],
        }
        print(f"{'CPU µs':<26}{'context':>9}{'ack':>9}{'dispatch':>9}{'per notice':>12}")
        for lang, case_id in cases.items():
            for files in ((), (("screenshot.png", "image/png", attachment),)):
                with Session(m.rt.engine) as s:
                    case = s.get(Case, case_id)
                    assert case is not None
                    who = audiences(s, m.rt, case)
                    cust, eng = who[CUSTOMER][0], who[ENGINEER][0]
                    ack = Notice("ack", Recipient(cust.email, cust.name, lang))
                    dispatch = Notice("dispatch", Recipient(eng.email, eng.name, lang))
                    best = [float("inf")] * 3
                    for _ in range(args.repeat):
                        took = [0.0, 0.0, 0.0]
                        for _ in range(args.loops):
                            t0 = time.process_time()
                            ctx = base_context(m.rt, case_context(s, m.rt, case))
                            t1 = time.process_time()
                            _rendered(m.rt, ack, ctx, case.updated_at, case, None, None, ())
                            t2 = time.process_time()
                            _rendered(m.rt, dispatch, ctx, case.updated_at, case, None, None,
                                      files)
                            t3 = time.process_time()
                            took[0] += t1 - t0
                            took[1] += t2 - t1
                            took[2] += t3 - t2
                        best = [min(b, t / args.loops) for b, t in zip(best, took, strict=True)]
                label = f"{lang}, {'50 KB attachment' if files else 'no attachment'}"
                c, a, d = (x * 1e6 for x in best)
                print(f"{label:<26}{c:>9.0f}{a:>9.0f}{d:>9.0f}{(c + a + d) / 2:>12.0f}")


if __name__ == "__main__":
    main()
