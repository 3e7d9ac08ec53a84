"""The IMAP edge against a real Dovecot: prefetching batches, and mail announced mid-drain."""

from __future__ import annotations

import asyncio

from maildenv import Maild, new_mail
from servers import Dovecot

from maild.db.models import utcnow
from maild.edges import imap
from maild.service.intake import ingest

CUSTOMER = "wang.fang@sh.corp.example"


async def test_mail_announced_inside_another_answer_is_not_lost_to_idle(
        maild: Maild, dovecot: Dovecot) -> None:
    """An EXISTS that comes with a MOVE answer sets ``news``: the daemon drains again
    instead of idling until the timeout; the next search clears it and sees the mail."""
    await asyncio.to_thread(dovecot.deliver, new_mail(CUSTOMER, "one", "first"))
    box = imap.Mailbox(maild.settings.imap)
    await box.connect()
    try:
        first = await box.uids()
        assert len(first) == 1 and not box.news
        await asyncio.to_thread(dovecot.deliver, new_mail(CUSTOMER, "two", "second"))
        await box.move(first, maild.settings.imap.processed_folder)
        assert box.news
        assert len(await box.uids()) == 1 and not box.news
    finally:
        await box.close()


async def test_drain_over_several_prefetched_batches_moves_everything(
        maild: Maild, dovecot: Dovecot) -> None:
    """More than two fetch batches: each message is ingested once and moved after its commit."""
    count = imap.FETCH_BATCH * 2 + 3
    raws = [new_mail(f"stranger{i}@example.org", f"hello {i}", "help") for i in range(count)]
    await asyncio.to_thread(lambda: [dovecot.deliver(raw) for raw in raws])
    box = imap.Mailbox(maild.settings.imap)
    await box.connect()
    try:
        stats = await imap.drain(maild.rt, box, ingest, utcnow)
    finally:
        await box.close()
    assert stats.processed == count and stats.by_disposition == {"held": count}
    assert await asyncio.to_thread(dovecot.count, "INBOX") == 0
    assert await asyncio.to_thread(dovecot.count, "Processed") == count
