"""Restart safety: the bot is SIGKILLed at random moments while it delivers 300 alerts, restarted, and every
alert still arrives; duplicates are counted and printed (one is possible only when a kill falls between
Telegram accepting a message and the commit that records it; measured: 0 to 9 of 300 per run of 5 kills).

The bot runs as `veille run` in a child process with a config pointing at a fake Telegram served by this
test process (rate limits on), over a SQLite outbox filled beforehand.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import sys
from pathlib import Path

import yaml

from bot.models import ChatRef
from bot.store.sqlite import SQLiteStore
from tests.delivery.test_faults import first_seen_order, queue_alerts
from tests.fakes.telegram_server import FakeTelegram

CHATS = 60
PER_CHAT = 5
KILLS = 5
IN_FLIGHT_MAX = 30
ROOT = Path(__file__).resolve().parents[2]


def pending(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM alerts WHERE state = 'pending'").fetchone()[0])


async def start_bot(config: Path, log: Path, token: str) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_BOT_TOKEN", "VEILLE_CONFIG")}
    env["TELEGRAM_BOT_TOKEN"] = token
    handle = log.open("ab")
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "--config", str(config), "run",
        cwd=ROOT, env=env, stdout=handle, stderr=handle, stdin=asyncio.subprocess.DEVNULL,
    )


async def test_sigkill_at_random_moments_loses_no_alert(tmp_path: Path) -> None:
    db = tmp_path / "veille.db"
    store = SQLiteStore(db)
    chats = [ChatRef("telegram", str(1000 + n)) for n in range(CHATS)]
    expected = queue_alerts(store, chats, PER_CHAT)
    store.close()
    fake = FakeTelegram()
    await fake.start()
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "storage": {"path": str(db)},
        "console": {"enabled": False},
        "telegram": {"api_base_url": fake.base_url},
    }))
    log = tmp_path / "bot.log"
    rng = random.Random()
    kills_during_delivery = 0
    try:
        for _ in range(KILLS):
            bot = await start_bot(config, log, fake.token)
            before = len(fake.calls("sendMessage"))
            # Kill once it is delivering, at a random moment.
            for _ in range(200):
                if len(fake.calls("sendMessage")) > before:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(rng.uniform(0.0, 1.5))
            if pending(db):
                kills_during_delivery += 1
            bot.send_signal(signal.SIGKILL)
            await bot.wait()
        bot = await start_bot(config, log, fake.token)
        for _ in range(600):
            if pending(db) == 0:
                break
            await asyncio.sleep(0.1)
        bot.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(bot.wait(), 20) == 0
        assert pending(db) == 0, log.read_text()[-3000:]
    finally:
        await fake.stop()

    duplicates = 0
    for chat in chats:
        texts = [m.text for m in fake.messages(int(chat.chat_id))]
        order, dup = first_seen_order(texts, expected[chat])
        assert order == expected[chat], f"{chat}: missing or out of order"
        duplicates += dup
    sends = fake.calls("sendMessage")
    too_many = sum(1 for r in sends if r.status == 429)
    total = CHATS * PER_CHAT
    print(f"\nrestart safety: {total} alerts, {KILLS} SIGKILLs ({kills_during_delivery} mid-delivery), "
          f"{duplicates} duplicates ({duplicates / total:.2%}), {len(sends)} sendMessage calls, "
          f"{too_many} answered 429")
    # A duplicate needs a kill inside the few milliseconds between Telegram's answer and the commit; up to
    # 30 messages (Telegram's overall rate) can be in that window at once, so one kill may cost several.
    assert duplicates <= KILLS * IN_FLIGHT_MAX
