"""Quiet hours, the hourly cap, digests and /why: held alerts are never lost, and every outcome is explained."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.alerts.digest import DigestService, build_digest
from bot.alerts.matcher import SubscriptionCompiler
from bot.alerts.policy import (
    AlertDefaults,
    ChatPolicy,
    PolicyError,
    parse_digest,
    parse_quiet_hours,
)
from bot.alerts.why import explain
from bot.config import parse_settings
from bot.delivery.errors import TransientError
from bot.delivery.ratelimit import NoLimits
from bot.delivery.sender import Sender
from bot.messages import Reply, Request
from bot.models import Article, ChatRef
from bot.store.sqlite import SQLiteStore
from handlers.context import HandlerContext
from handlers.router import Router
from tests.delivery.test_sender import Clock, ScriptedPlatform

CHAT = ChatRef("telegram", "-100")
# 00:30 in Paris, two days from now (alerts become due when stored, in real time).
PARIS_NIGHT = datetime.combine(
    (datetime.now(UTC) + timedelta(days=2)).date(), time(0, 30), tzinfo=ZoneInfo("Europe/Paris")
).astimezone(UTC)


def article(n: int, source: str = "A", **extra: object) -> Article:
    return Article(key=f"k{n}", url=f"https://x.example/{n}", title=f"Broadcom story {n}",
                   text="Broadcom ships a custom ASIC.", source=source, lang="en",
                   published=datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=n), content_hash=f"h{n}",
                   **extra)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path):
    s = SQLiteStore(tmp_path / "p.db")
    yield s
    s.close()


def test_policy_texts_read_in_english_and_french() -> None:
    assert parse_quiet_hours("22:00-07:00").contains(time(23, 0))
    assert not parse_quiet_hours("22:00-07:00").contains(time(12, 0))
    assert parse_quiet_hours("off") is None
    assert parse_digest("daily 8h").text() == "daily 08:00"
    assert parse_digest("hebdo lundi 8h30").text() == "weekly mon 08:30"
    for bad in ("25:00-07:00", "22:00", "22:00-22:00"):
        with pytest.raises(PolicyError):
            parse_quiet_hours(bad)
    with pytest.raises(PolicyError):
        parse_digest("hourly")


def test_digest_schedule_follows_the_chat_timezone() -> None:
    schedule = parse_digest("weekly mon 08:00")
    after = schedule.next_after(datetime(2026, 11, 20, 12, 0, tzinfo=UTC), ZoneInfo("Europe/Paris"))
    assert after == datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # Monday 08:00 in Paris (UTC+1)


def test_cap_counts_a_sliding_hour_and_says_when_it_frees() -> None:
    policy = ChatPolicy.resolve(AlertDefaults(max_alerts_per_hour=2), None)
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert policy.hold_reason(now, [now - timedelta(minutes=50)]) is None
    reason, until = policy.hold_reason(now, [now - timedelta(minutes=50), now - timedelta(minutes=10)])
    assert reason == "cap" and until == now + timedelta(minutes=10)


async def test_alerts_in_quiet_hours_are_held_then_sent_in_a_catch_up_digest(store: SQLiteStore) -> None:
    store.set_chat_setting(CHAT, "timezone", "Europe/Paris")
    store.set_chat_setting(CHAT, "quiet_hours", "23:00-07:00")
    for n in range(3):
        store.add_article(article(n), new_story_title=f"S{n}", alerts=[(CHAT, "broadcom")])
    platform, clock = ScriptedPlatform(), Clock()
    clock.now = PARIS_NIGHT
    sender = Sender(store, {"telegram": platform}, clock=clock, limiter=NoLimits())
    assert await sender.drain_once() == 0
    assert platform.sent == [] and len(store.held_alerts(CHAT)) == 3 and sender.held == 3
    replies: list[tuple[ChatRef, Reply]] = []

    async def send(chat: ChatRef, reply: Reply) -> str:
        replies.append((chat, reply))
        return "d1"

    digests = DigestService(store, AlertDefaults(), send, clock=clock)
    assert await digests.run_due() == 0  # still quiet: nothing yet
    clock.now = PARIS_NIGHT + timedelta(hours=6, minutes=31)  # 07:01 in Paris
    assert await digests.run_due() == 1
    [(chat, reply)] = replies
    assert chat == CHAT and len(reply.cards) == 3 and "quiet hours" in reply.text
    assert store.held_alerts(CHAT) == []
    assert await digests.run_due() == 0


async def test_over_the_cap_alerts_wait_for_the_scheduled_digest(store: SQLiteStore) -> None:
    store.set_chat_setting(CHAT, "max_per_hour", 2)
    store.set_chat_setting(CHAT, "digest", "daily 08:00")
    for n in range(5):
        store.add_article(article(n, source=f"S{n}"), new_story_title=f"S{n}", alerts=[(CHAT, "broadcom")])
    platform, clock = ScriptedPlatform(), Clock()
    sender = Sender(store, {"telegram": platform}, clock=clock, limiter=NoLimits())
    assert await sender.drain_once() == 2
    assert len(store.held_alerts(CHAT)) == 3 and store.alert_for(CHAT, 3).held_reason == "cap"
    sent: list[Reply] = []

    async def send(chat: ChatRef, reply: Reply) -> str:
        sent.append(reply)
        return "d"

    clock.now += timedelta(days=1, hours=1)
    digests = DigestService(store, AlertDefaults(), send, clock=clock)
    assert await digests.run_due() == 1
    assert len(sent[0].cards) == 5  # the three held ones and the two sent since the last digest
    assert store.held_alerts(CHAT) == []


async def test_a_failed_digest_keeps_the_held_alerts(store: SQLiteStore) -> None:
    store.add_article(article(1), new_story_title="S", alerts=[(CHAT, "broadcom")])
    alert = store.due_alerts_for(CHAT, datetime.now(UTC) + timedelta(days=1))[0]
    store.hold_alert(alert.id, "cap", datetime.now(UTC), datetime.now(UTC))

    async def send(chat: ChatRef, reply: Reply) -> str:
        raise TransientError(str(chat), "HTTP 502")

    digests = DigestService(store, AlertDefaults(), send, clock=lambda: datetime.now(UTC) + timedelta(minutes=1))
    assert await digests.run_due() == 0
    assert len(store.held_alerts(CHAT)) == 1


def test_a_digest_groups_stories_by_subscription_with_sources(store: SQLiteStore) -> None:
    first = store.add_article(article(1, "Outlet A"), new_story_title="S1", alerts=[(CHAT, "broadcom")])
    joined = article(2, "Outlet B")
    joined.story_id = first.story_id
    store.add_article(joined, alerts=[(CHAT, "broadcom")])
    store.add_article(article(3), new_story_title="S3", alerts=[(CHAT, "nvidia")])
    digest = build_digest(store, AlertDefaults(), CHAT, datetime.now(UTC), "fr")
    assert digest is not None and len(digest.reply.cards) == 2
    assert "« broadcom » : 1" in digest.reply.text and "« nvidia » : 1" in digest.reply.text
    assert digest.reply.cards[0].sources == (("Outlet B", "https://x.example/2"),)


def _why(store: SQLiteStore, url: str, lang: str = "en") -> tuple[str, str]:
    found = explain(store, SubscriptionCompiler({"Broadcom": ["AVGO"]}), CHAT, url, lang)
    return found.verdict, "\n".join(found.lines)


async def test_why_explains_each_outcome(store: SQLiteStore) -> None:
    feed = store.sync_feeds([("https://x.example/feed", "A", 60)])[0]
    backlog = store.add_article(article(1, feed_id=feed.id), new_story_title="S1")
    store.mark_primed(feed.id)
    store.add_subscription(CHAT, "broadcom -rumeur", datetime.now(UTC))
    store.add_subscription(CHAT, "nvidia", datetime.now(UTC))
    assert _why(store, "https://nowhere.example/x")[0] == "unknown_url"
    verdict, text = _why(store, backlog.url)
    assert verdict == "backlog" and "backlog" in text
    other = store.add_article(Article(key="o", url="https://x.example/o", title="Weather", text="Sunny.",
                                      source="A", published=datetime.now(UTC), content_hash="o", feed_id=feed.id))
    verdict, text = _why(store, other.url)
    assert verdict == "not_matched" and "missing broadcom" in text and "missing nvidia" in text
    news = store.add_article(article(2, feed_id=feed.id), new_story_title="S2", alerts=[(CHAT, "broadcom -rumeur")])
    assert _why(store, news.url)[0] == "pending"
    joined = article(3, "Outlet B", feed_id=feed.id)
    joined.story_id = news.story_id
    store.add_article(joined, alerts=[(CHAT, "broadcom -rumeur")])
    verdict, text = _why(store, joined.url, "fr")
    assert verdict == "joined_story" and "Même actualité" in text
    platform, clock = ScriptedPlatform(), Clock()
    await Sender(store, {"telegram": platform}, clock=clock, limiter=NoLimits()).drain_once()
    verdict, text = _why(store, news.url)
    assert verdict == "delivered" and "Delivered at" in text
    late = store.add_article(article(4, feed_id=feed.id), new_story_title="S4", alerts=[(CHAT, "broadcom")])
    alert = store.alert_for(CHAT, late.story_id)
    store.mark_alert_retry(alert.id, "HTTP 502", datetime.now(UTC) + timedelta(minutes=5))
    assert _why(store, late.url)[0] == "retrying"
    store.pause_chat(CHAT, "bot was kicked", datetime.now(UTC))
    verdict, text = _why(store, late.url)
    assert verdict == "paused" and "bot was kicked" in text
    quiet = store.add_article(article(5, feed_id=feed.id), new_story_title="S5", alerts=[(CHAT, "broadcom")])
    store.hold_alert(store.alert_for(CHAT, quiet.story_id).id, "quiet", datetime.now(UTC), datetime.now(UTC))
    assert _why(store, quiet.url)[0] == "held"


async def test_the_commands_through_the_router(store: SQLiteStore, tmp_path: Path) -> None:
    settings = parse_settings({"storage": {"path": str(tmp_path / "x.db")}, "alerts": {"max_alerts_per_hour": 20},
                               "commands": {"rate_limit": 1000}})
    router = Router(HandlerContext(store=store, search=None, settings=settings))  # type: ignore[arg-type]

    async def say(line: str, lang: str = "en") -> Reply:
        command, _, args = line.partition(" ")
        return await router.dispatch(Request(chat=CHAT, user_id="1", command=command, args=args, lang=lang,
                                             is_admin=True))

    shown = await say("settings")
    assert "max alerts per hour: 20 (default)" in shown.text and "quiet hours: none" in shown.text
    assert not (await say("settings timezone Europe/Paris")).is_error
    assert not (await say("settings quiet 22h-7h")).is_error
    assert not (await say("settings cap 5")).is_error
    shown = await say("settings")
    assert "Europe/Paris" in shown.text and "22:00-07:00" in shown.text and "per hour: 5" in shown.text
    bad = await say("settings timezone Mars/Olympus")
    assert bad.is_error and "unknown timezone" in bad.text
    assert (await say("settings volume 11")).is_error
    assert "Résumé programmé : weekly mon 08:00 (Europe/Paris)" in (await say("digest hebdo lundi 8h", "fr")).text
    assert (await say("digest every hour")).is_error
    assert "Nothing new" in (await say("digest now")).text
    store.add_article(article(1), new_story_title="S", alerts=[(CHAT, "broadcom")])
    now_digest = await say("digest now")
    assert len(now_digest.cards) == 1
    assert (await say("why")).is_error
    assert "not seen" in (await say("why https://nowhere.example/")).text
    store.pause_chat(CHAT, "bot was kicked", datetime.now(UTC))
    assert "PAUSED: bot was kicked" in (await say("settings")).text
