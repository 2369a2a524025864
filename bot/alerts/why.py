"""Explain why an article was or was not alerted to a chat, from what the store records.

The answer is derived, not logged separately: the outbox row of the article's story in this chat says
pending (and why: retrying, chat paused), delivered at T, held for the digest (quiet hours, cap) or
digested at T; an outbox row for the story naming another article means this one joined a story already
alerted; with no row, the chat's subscriptions are matched again against the article to say which did
not match and what was missing, or else that the article was its feed's backlog (stored, not alerted).

Errors: none; an unknown URL is an answer too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.alerts.matcher import DocView, SubscriptionCompiler, compile_test
from bot.ingest.normalize import canonical_url
from bot.models import Article, ChatRef
from bot.search.query import And, DateFilter, FieldFilter, MatchDoc, Node, Not, Phrase, Prefix, Word
from bot.store.base import Store
from handlers.i18n import t

MAX_SUBSCRIPTIONS_SHOWN = 10


@dataclass(slots=True)
class Explanation:
    """What /why answers: a verdict key (for tests and logs) and the lines to show."""

    verdict: str  # unknown_url, no_subscriptions, not_matched, backlog, joined_story, pending, paused,
    # retrying, delivered, held, digested, no_alert
    lines: list[str] = field(default_factory=list)
    article: Article | None = None


def render_node(node: Node) -> str:
    """Write a query tree back as query text (for "missing: ..." lines)."""
    if isinstance(node, Word):
        return node.raw
    if isinstance(node, Prefix):
        return node.plain + "*"
    if isinstance(node, Phrase):
        return '"' + " ".join(node.words) + ('*"' if node.prefix_last else '"')
    if isinstance(node, FieldFilter):
        return f"{node.name}:{node.folded}"
    if isinstance(node, DateFilter):
        return f"{node.name}:{node.at:%Y-%m-%d}"
    if isinstance(node, Not):
        return "-" + render_node(node.child)
    if isinstance(node, And):
        return " ".join(render_node(c) for c in node.children)
    return "(" + " OR ".join(render_node(c) for c in node.children) + ")"


def missing_parts(node: Node, view: DocView) -> list[str]:
    """Return the parts of an AND (or the single condition) that the article fails."""
    parts = node.children if isinstance(node, And) else (node,)
    return [render_node(part) for part in parts if not compile_test(part)(view)]


def find_article(store: Store, url: str) -> Article | None:
    """Find an article by its URL as given or in canonical form."""
    url = url.strip().strip("<>")
    found = store.find_article_by_url(url)
    if found is None:
        try:
            canonical = canonical_url(url)
        except Exception:  # a malformed URL is simply not found
            return None
        if canonical and canonical != url:
            found = store.find_article_by_url(canonical)
    return found


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "?"


def explain(store: Store, compiler: SubscriptionCompiler, chat: ChatRef, url: str, lang: str) -> Explanation:
    """Explain what happened to the article at `url` for `chat`."""
    article = find_article(store, url)
    if article is None or article.id is None:
        return Explanation("unknown_url", [t(lang, "why.unknown_url")])
    head = t(lang, "why.article", title=article.title[:120], source=article.source)
    alert = store.alert_for(chat, article.story_id) if article.story_id is not None else None
    if alert is not None:
        lines = [head]
        verdict = ""
        if alert.article_id != article.id:
            first = store.get_article(alert.article_id)
            lines.append(t(lang, "why.joined_story", story=alert.story_id,
                           title=(first.title if first else "?")[:120]))
            verdict = "joined_story"
        own = store.get_chat_settings(chat)
        if alert.state == "pending":
            if own.paused_reason:
                verdict = verdict or "paused"
                lines.append(t(lang, "why.paused", reason=own.paused_reason))
            elif alert.attempts:
                verdict = verdict or "retrying"
                lines.append(t(lang, "why.retrying", n=alert.attempts, error=alert.last_error or "?",
                               when=_when(alert.next_attempt_at)))
            else:
                verdict = verdict or "pending"
                lines.append(t(lang, "why.pending", query=alert.query))
        elif alert.state == "sent":
            verdict = verdict or "delivered"
            lines.append(t(lang, "why.delivered", when=_when(alert.sent_at), query=alert.query))
            if alert.edit_pending:
                lines.append(t(lang, "why.edit_pending"))
        elif alert.state == "held":
            verdict = verdict or "held"
            lines.append(t(lang, f"why.held.{alert.held_reason or 'quiet'}", query=alert.query,
                           until=_when(alert.held_until)))
        else:
            verdict = verdict or "digested"
            lines.append(t(lang, "why.digested", when=_when(alert.digested_at),
                           reason=t(lang, f"digest.reason.{alert.held_reason or 'quiet'}")))
        return Explanation(verdict, lines, article)

    subscriptions = store.list_subscriptions(chat)
    if not subscriptions:
        return Explanation("no_subscriptions", [head, t(lang, "why.no_subscriptions")], article)
    view = DocView(MatchDoc.from_article(article, compiler.analyzers))
    matched, missed = [], []
    for sub in subscriptions:
        parsed = compiler.parse(sub.query)
        if parsed.root is not None and compile_test(parsed.root)(view):
            matched.append(sub)
        else:
            missing = missing_parts(parsed.root, view) if parsed.root is not None else []
            missed.append((sub, missing))
    if not matched:
        lines = [head, t(lang, "why.not_matched")]
        for sub, missing in missed[:MAX_SUBSCRIPTIONS_SHOWN]:
            lines.append(t(lang, "why.not_matched_one", id=sub.id, query=sub.query,
                           missing=", ".join(missing) or "?"))
        return Explanation("not_matched", lines, article)
    if store.is_backlog(article.id):
        return Explanation("backlog", [head, t(lang, "why.backlog", query=matched[0].query)], article)
    return Explanation("no_alert", [head, t(lang, "why.no_alert", query=matched[0].query,
                                              created=_when(matched[0].created_at))], article)
