"""The `veille` command. Every subcommand reports bad input as a message and an exit code, never a traceback.

Exit codes: 0 success, 1 failure at run time, 2 bad input (config, arguments, query), 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bot import __version__
from bot.config import ConfigError, Settings, load_settings, resolve_config_path

log = logging.getLogger("veille")

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """The command line or its input cannot be used; the message says why."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="veille", description="Veille: a news-watch bot for Telegram and Discord.")
    parser.add_argument("--config", metavar="PATH", help="config file (default: $VEILLE_CONFIG, else ./config.yaml)")
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING (default) or ERROR")
    parser.add_argument("--log-json", action="store_true", help="log one JSON object per line")
    parser.add_argument("--version", action="version", version=f"veille {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("check-config", help="validate the config and list every problem")
    ingest = sub.add_parser("ingest", help="fetch every feed through the whole pipeline")
    ingest.add_argument("--once", action="store_true", required=True, help="one pass over every feed, then exit")

    search = sub.add_parser("search", help="search the archive")
    search.add_argument("query", nargs="+", help="words, \"phrases\", OR, -word, source:, lang:, since: ...")
    search.add_argument("--limit", type=int, default=10, help="how many articles (1-100, default 10)")
    search.add_argument("--json", action="store_true", help="a JSON array, best first, one object per article")

    sub.add_parser("run", help="run the bot: scheduler plus every configured platform")
    demo = sub.add_parser("demo", help="run the bot on a bundled sample news site, in this terminal")
    demo.add_argument("--lang", choices=("en", "fr"), default="en", help="the console chat's language")

    summarize = sub.add_parser("summarize", help="summarize text from stdin")
    summarize.add_argument("--lang", choices=("auto", "fr", "en"), default="auto")
    summarize.add_argument("--jsonl", action="store_true", help='lines of {"id", "text"} in, {"id", "summary"} out')

    evaluate = sub.add_parser("eval", help="measure summaries or story grouping")
    what = evaluate.add_subparsers(dest="what", metavar="WHAT")
    eval_summaries = what.add_parser("summaries", help="ROUGE on a jsonl of {article, abstract}")
    eval_summaries.add_argument("--data", required=True, metavar="PATH.jsonl")
    eval_summaries.add_argument("--limit", type=int, default=None)
    eval_stories = what.add_parser("stories", help="B-cubed precision/recall/F1 of story grouping")
    eval_stories.add_argument("--data", default=None, metavar="DIR",
                              help="folder of labelled story files (default: eval/stories of this checkout)")
    eval_stories.add_argument("--limit", type=int, default=None, help="use only the first N stories")

    sub.add_parser("reindex", help="rebuild the search index from the store")
    migrate = sub.add_parser("migrate", help="copy a SQLite archive into an empty PostgreSQL database")
    migrate.add_argument("--from", dest="source", required=True, metavar="URL", help="sqlite:///path/to/veille.db")
    migrate.add_argument("--to", dest="target", required=True, metavar="URL", help="postgresql://user@host/database")
    trend = sub.add_parser("trend", help="chart daily mentions of names as a PNG")
    trend.add_argument("names", nargs="+", metavar="NAME", help="up to 5 names (quote a name of several words)")
    trend.add_argument("--since", default=None, help="30d (default), 12w, or a date such as 2026-10-01")
    trend.add_argument("--out", required=True, metavar="FILE.png", help="where to write the chart")

    feeds = sub.add_parser("feeds", help="import or export the feed list as OPML")
    feeds_what = feeds.add_subparsers(dest="feeds_command", metavar="ACTION")
    feeds_import = feeds_what.add_parser("import", help="add the feeds of an OPML file (polled at the next start "
                                         "or within seconds by a running bot)")
    feeds_import.add_argument("file", metavar="FILE.opml")
    feeds_import.add_argument("--interval", default="10m", help="polling interval of the new feeds (default 10m)")
    feeds_export = feeds_what.add_parser("export", help="write the polled feeds as OPML")
    feeds_export.add_argument("--out", metavar="FILE.opml", default=None, help="write here instead of stdout")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(resolve_config_path(args.config))


def _secrets(settings: Settings | None) -> list[str]:
    names = ["TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN"]
    if settings is not None:
        names += [settings.telegram.token_env, settings.discord.token_env, settings.telegram.webhook.secret_token_env]
        if settings.summarizer.llm:
            names.append(settings.summarizer.llm.api_key_env)
    return [os.environ.get(name, "") for name in names]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_BAD_INPUT
    level = args.log_level or ("INFO" if args.command in ("run", "demo") else "WARNING")
    from bot.logs import setup_logging

    setup_logging(level.upper(), as_json=args.log_json, secrets=_secrets(None))
    try:
        return _dispatch(args)
    except ConfigError as exc:
        count = len(exc.problems)
        print(f"veille: the configuration has {count} problem{'s' if count != 1 else ''}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except UsageError as exc:
        print(f"veille: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # the last net: log the details, tell the user in one line
        log.debug("unexpected failure", exc_info=True)
        print(f"veille: {args.command} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def _dispatch(args: argparse.Namespace) -> int:
    command = args.command
    if command == "check-config":
        settings = _settings(args)
        print(f"{settings.source_path}: OK ({len(settings.feeds)} feeds, {len(settings.subscriptions)} subscriptions)")
        return EXIT_OK
    if command == "ingest":
        return asyncio.run(_ingest_once(_settings(args)))
    if command == "search":
        return _search(_settings(args), " ".join(args.query), args.limit, args.json)
    if command == "migrate":
        from bot.migrate import MigrateError, migrate

        try:
            print(migrate(args.source, args.target).line())
        except MigrateError as exc:
            print(f"veille migrate: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        return EXIT_OK
    if command == "run":
        settings = _settings(args)
        from bot.logs import setup_logging

        setup_logging((args.log_level or "INFO").upper(), as_json=args.log_json, secrets=_secrets(settings))
        return asyncio.run(_run(settings))
    if command == "demo":
        from bot.demo import run_demo

        return asyncio.run(run_demo(lang=args.lang))
    if command == "summarize":
        from bot.eval.summaries import summarize_stream

        return summarize_stream(sys.stdin, sys.stdout, lang=args.lang, jsonl=args.jsonl)
    if command == "eval":
        return _eval(args)
    if command == "reindex":
        return _reindex(_settings(args))
    if command == "trend":
        return _trend(_settings(args), args.names, args.since, Path(args.out))
    if command == "feeds":
        if args.feeds_command == "import":
            return _feeds_import(_settings(args), Path(args.file), args.interval)
        if args.feeds_command == "export":
            return _feeds_export(_settings(args), Path(args.out) if args.out else None)
        raise UsageError("say what to do: veille feeds import FILE.opml, or veille feeds export [--out FILE.opml]")
    raise UsageError(f"unknown command {command!r}")


async def _ingest_once(settings: Settings) -> int:
    from bot.app import App

    if not settings.feeds:
        print("no feeds configured: add some under `feeds:` in the config", file=sys.stderr)
    async with App(settings) as app:
        summary = await app.ingest_once()
    for report in summary.reports:
        if not report.ok:
            print(f"  failed: {report.feed.name} ({report.feed.url}): {report.error}", file=sys.stderr)
        for warning in report.warnings[:5]:
            print(f"  warning: {report.feed.name}: {warning}", file=sys.stderr)
    print(summary.line())
    return EXIT_OK


def _search(settings: Settings, query: str, limit: int, as_json: bool) -> int:
    from bot.app import index_path
    from bot.messages import HIGHLIGHT_END, HIGHLIGHT_START
    from bot.search.index import SearchIndex
    from bot.search.service import SearchService
    from bot.store import open_store

    if not query.strip():
        raise UsageError("empty query: say what to search for, e.g. veille search broadcom")
    if not 1 <= limit <= 100:
        raise UsageError("--limit must be between 1 and 100")
    store = open_store(settings.storage)
    index = SearchIndex.open(index_path(settings))
    try:
        service = SearchService(store, index)
        service.catch_up()
        results = service.search(query, limit=limit, offset=0, now=datetime.now(UTC))
    finally:
        index.close()
        store.close()
    for notice in results.notices:
        print(f"note: {notice}", file=sys.stderr)
    if results.query.is_empty:
        raise UsageError(
            f"nothing left to search for in {query!r}: give at least one word, e.g. veille search broadcom"
        )
    plain = str.maketrans("", "", HIGHLIGHT_START + HIGHLIGHT_END)
    if as_json:
        rows = [
            {
                "title": hit.article.title,
                "url": hit.article.url,
                "source": hit.article.source,
                "published": hit.article.published.isoformat(),
                "lang": hit.article.lang,
                "summary": hit.article.summary,
                "snippet": hit.snippet.translate(plain),
                "score": round(hit.score, 6),
                "story_id": hit.article.story_id,
                "entities": hit.article.entities,
            }
            for hit in results.hits
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        if not results.hits:
            hint = f"; did you mean {results.suggestion!r}?" if results.suggestion else ""
            print(f"nothing found for {query!r}{hint}")
        for rank, hit in enumerate(results.hits, 1):
            date = hit.article.published.strftime("%Y-%m-%d")
            print(f"{rank}. {hit.article.title} — {hit.article.source}, {date}\n   {hit.article.url}")
            print(f"   {hit.snippet.translate(plain)}")
    # A query that had to be repaired is bad input: say so with the exit code, after the best-effort answer.
    return EXIT_BAD_INPUT if results.notices else EXIT_OK


async def _run(settings: Settings) -> int:
    from bot.app import App, stop_on_signals

    stop = stop_on_signals()
    async with App(settings) as app:
        await app.run(stop)
    return EXIT_OK


def _eval(args: argparse.Namespace) -> int:
    if args.what == "summaries":
        from bot.eval.summaries import EvalError, evaluate_summaries, format_table

        path = Path(args.data)
        if not path.is_file():
            raise UsageError(f"{path}: no such file")
        try:
            print(format_table(evaluate_summaries(str(path), limit=args.limit)))
        except EvalError as exc:
            raise UsageError(str(exc)) from None
        return EXIT_OK
    if args.what == "stories":
        from bot.eval.stories import StorySetError, evaluate_stories, format_scores, load_story_set

        folder = Path(args.data) if args.data else Path(__file__).resolve().parents[1] / "eval" / "stories"
        if not folder.is_dir():
            raise UsageError(f"{folder}: no such folder of story files")
        try:
            items = load_story_set(folder, args.limit)
        except StorySetError as exc:
            raise UsageError(str(exc)) from None
        print(format_scores(evaluate_stories(items)))
        return EXIT_OK
    raise UsageError("say what to evaluate: veille eval summaries --data PATH.jsonl, or veille eval stories")


def _reindex(settings: Settings) -> int:
    from bot.app import index_path
    from bot.progress import ProgressBar
    from bot.search.index import SearchIndex
    from bot.store import open_store

    store = open_store(settings.storage)
    index = SearchIndex.open(index_path(settings))
    try:
        bar = ProgressBar(total=store.count_articles(), label="reindex")
        count = index.rebuild(store, progress=bar.update)
        bar.finish()
    finally:
        index.close()
        store.close()
    print(f"reindexed {count} articles")
    return EXIT_OK



def _trend(settings: Settings, names: list[str], since: str | None, out: Path) -> int:
    from bot.app import index_path
    from bot.charts import render_trend_png
    from bot.search.index import SearchIndex
    from bot.search.service import SearchService
    from bot.search.trend import TrendInputError, trend_for
    from bot.store import open_store

    if out.suffix.lower() != ".png":
        raise UsageError(f"--out {out}: the chart is a PNG, give a file name ending in .png")
    if not out.parent.is_dir():
        raise UsageError(f"--out {out}: no such folder {out.parent}")
    store = open_store(settings.storage)
    index = SearchIndex.open(index_path(settings))
    try:
        service = SearchService(store, index)
        service.catch_up()
        trend = trend_for(service, names, since, entities=settings.entities, now=datetime.now(UTC))
    except TrendInputError as exc:
        raise UsageError(str(exc)) from None
    finally:
        index.close()
        store.close()
    out.write_bytes(render_trend_png(trend, " / ".join(s.name for s in trend.series)))
    totals = ", ".join(f"{s.name} {s.total}" for s in trend.series)
    print(f"{out}: {len(trend.days)} days from {trend.since:%Y-%m-%d}: {totals}")
    return EXIT_OK

def _feeds_import(settings: Settings, path: Path, interval: str) -> int:
    from bot.config import parse_duration
    from bot.opml import OPMLError, parse_opml
    from bot.progress import ProgressBar
    from bot.store import open_store

    try:
        interval_s = parse_duration(interval)
    except ValueError as exc:
        raise UsageError(f"--interval: {exc}") from None
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        found = parse_opml(data)
    except OPMLError as exc:
        raise UsageError(f"{path}: {exc}") from None
    skipped = list(found.skipped)
    added = 0
    store = open_store(settings.storage)
    try:
        bar = ProgressBar(total=len(found.feeds), label="import")
        for done, entry in enumerate(found.feeds, 1):
            feed, created = store.add_feed(entry.url, entry.title[:200], interval_s, "opml")
            if created:
                added += 1
            else:
                skipped.append(f"{entry.title}: already polled as {feed.name!r} ({entry.url})")
            bar.update(done)
        bar.finish()
    finally:
        store.close()
    for reason in skipped:
        print(f"  skipped: {reason}", file=sys.stderr)
    print(f"{path}: {added} feeds added, {len(skipped)} skipped")
    return EXIT_OK


def _feeds_export(settings: Settings, out: Path | None) -> int:
    from bot.opml import export_opml
    from bot.store import open_store

    if out is not None and not out.parent.is_dir():
        raise UsageError(f"--out {out}: no such folder {out.parent}")
    store = open_store(settings.storage)
    try:
        store.sync_feeds([(f.url, f.name, f.interval_s) for f in settings.feeds])
        configured = {f.url for f in settings.feeds}
        states = store.feed_states()
        feeds = [
            (feed.name, feed.url)
            for feed in store.list_feeds()
            if feed.url in configured or (feed.id in states and states[feed.id].origin != "config")
        ]
    finally:
        store.close()
    document = export_opml(feeds)
    if out is None:
        sys.stdout.buffer.write(document)
        sys.stdout.flush()
    else:
        out.write_bytes(document)
        print(f"{out}: {len(feeds)} feeds")
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
