"""Search benchmark: tantivy (bot.search) against a naive SQLite FTS5 baseline on the same archive.

Builds both from a synthetic archive (benchmarks.gen_archive), plus a real Veille SQLite store holding the
same articles, then, each in a fresh child process so memory is that of a serving process, runs a query mix
(rare names, common words, AND, OR, phrases, prefixes, exclusions, filters) and reports p50 / p99 latency:

    tantivy     parsing, the search with its total count, recency re-ranking and snippets (top 5)
    page        what a chat waits for: /search through handlers.router.Router (100 best hits grouped by
                story, the page's articles loaded from the store, snippets, source counts) and the
                Telegram HTML rendering of the reply
    FTS5        `MATCH ... ORDER BY bm25 LIMIT 5` with snippet() plus the `count(*)` a results page needs

    python -m benchmarks.bench_search --n 100000
    python -m benchmarks.bench_search --n 1000000 --dir /tmp/veille-bench-1m   # keeps the build
    python -m benchmarks.bench_search --n 1000000 --dir /tmp/veille-bench-1m --reuse   # queries only
    python -m benchmarks.bench_search --n 1000000 --dir /tmp/veille-bench-1m --reindex  # new index, same archive

--reindex rebuilds only the tantivy index, from the articles in the built store (after an index FORMAT
change), keeping the store and the FTS5 baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from benchmarks.gen_archive import EPOCH, generate
from bot.models import Article

# (category, Veille query, FTS5 MATCH expression, extra SQL condition on the `a` table, its parameters)
QUERIES: Sequence[tuple[str, str, str | None, str, tuple[object, ...]]] = (
    ("rare name", "broadcom", "broadcom", "", ()),
    ("rare name", "soitec", "soitec", "", ()),
    ("rare name", "worldline", "worldline", "", ()),
    ("rare name", "stmicroelectronics", "stmicroelectronics", "", ()),
    ("common word", "marché", "marché", "", ()),
    ("common word", "market", "market", "", ()),
    ("common word", "gouvernement", "gouvernement", "", ()),
    ("common word", "le", "le", "", ()),
    ("two-word AND", "nvidia puces", "nvidia AND puces", "", ()),
    ("two-word AND", "apple market", "apple AND market", "", ()),
    ("two-word AND", "marché croissance", "marché AND croissance", "", ()),
    ("OR", "broadcom OR qualcomm", "broadcom OR qualcomm", "", ()),
    ("OR", "nvidia OR amd OR intel", "nvidia OR amd OR intel", "", ()),
    ("phrase", '"intelligence artificielle"', '"intelligence artificielle"', "", ()),
    ("phrase", '"artificial intelligence"', '"artificial intelligence"', "", ()),
    ("prefix", "semi*", "semi*", "", ()),
    ("prefix", "stell*", "stell*", "", ()),
    ("exclusion", "nvidia -intel", "nvidia NOT intel", "", ()),
    ("filter", "nvidia source:reuters", "nvidia", "AND a.source = ?", ("Reuters",)),
    ("filter", "marché lang:fr since:7d", "marché", "AND a.lang = ? AND a.published >= ?", ("fr", 7)),
    ("filter", "apple since:30d", "apple", "AND a.published >= ?", (30,)),
    ("filter only", 'source:"Le Monde" since:1d', None, "a.source = ? AND a.published >= ?", ("Le Monde", 1)),
    ("misspelt", "broadcomm", "broadcomm", "", ()),
)


def _rss_mb() -> tuple[float, float]:
    fields = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def _du_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 1e6
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def _batches(n: int, seed: int, size: int) -> Iterator[list[Article]]:
    batch: list[Article] = []
    for article in generate(n, seed):
        batch.append(article)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _store_rows(batch: list[Article]) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    articles = [
        (x.id, x.key, x.url, x.title, x.text, x.source, _iso(x.published), _iso(x.published), x.lang,
         f"h{x.id}", "\n".join(x.entities), x.story_id)
        for x in batch
    ]  # fmt: skip
    stories = [(x.story_id, x.title, _iso(x.published), _iso(x.published)) for x in batch]
    return articles, stories


def _iso(moment: object) -> str:
    from datetime import datetime

    assert isinstance(moment, datetime)
    return moment.isoformat(timespec="seconds")


def build(n: int, seed: int, workdir: Path, with_fts: bool) -> dict[str, float]:
    """Build both indexes and the Veille store from one pass over the archive; return times and sizes."""
    from bot.search.index import SearchIndex
    from bot.store.sqlite import SQLiteStore

    index = SearchIndex.open(workdir / "tantivy", heap_bytes=256_000_000, threads=2)
    # The store's own schema (migrations), filled in bulk: add_article's one transaction per article is
    # the pipeline's path, not the subject here.
    SQLiteStore(workdir / "store.db").close()
    store = sqlite3.connect(workdir / "store.db")
    store.execute("PRAGMA synchronous=OFF")
    db = sqlite3.connect(workdir / "fts.db") if with_fts else None
    if db is not None:
        db.executescript(
            """
            PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
            CREATE TABLE a (id INTEGER PRIMARY KEY, source TEXT, lang TEXT, published REAL);
            CREATE VIRTUAL TABLE fts USING fts5(title, text, tokenize='unicode61 remove_diacritics 2');
            """
        )
    t_tantivy = t_fts = t_gen = t_store = 0.0
    since_commit = 0
    started = time.perf_counter()
    for batch in _batches(n, seed, 5000):
        t0 = time.perf_counter()
        articles, stories = _store_rows(batch)
        store.executemany("INSERT OR IGNORE INTO stories (id, title, first_seen, last_seen) VALUES (?, ?, ?, ?)",
                          stories)
        store.executemany(
            "INSERT INTO articles (id, key, url, title, text, source, published, stored_at, lang, content_hash, "
            "entities, story_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            articles,
        )
        store.commit()
        t_store += time.perf_counter() - t0
        t0 = time.perf_counter()
        index.add(batch, replace=False)
        since_commit += len(batch)
        if since_commit >= 100_000:
            index.commit()
            since_commit = 0
        t1 = time.perf_counter()
        t_tantivy += t1 - t0
        if db is not None:
            db.executemany(
                "INSERT INTO a VALUES (?, ?, ?, ?)",
                [(x.id, x.source, x.lang, x.published.timestamp()) for x in batch],
            )
            db.executemany(
                "INSERT INTO fts(rowid, title, text) VALUES (?, ?, ?)",
                [(x.id, x.title, x.text) for x in batch],
            )
            db.commit()
            t_fts += time.perf_counter() - t1
    t0 = time.perf_counter()
    index.commit()
    index.close()
    t_tantivy += time.perf_counter() - t0
    store.close()
    t_gen = time.perf_counter() - started - t_tantivy - t_fts - t_store
    result = {"tantivy_build_s": t_tantivy, "generate_s": t_gen, "tantivy_mb": _du_mb(workdir / "tantivy"),
              "store_build_s": t_store, "store_mb": _du_mb(workdir / "store.db")}
    if db is not None:
        t0 = time.perf_counter()
        db.execute("CREATE INDEX a_published ON a(published)")
        db.execute("INSERT INTO fts(fts) VALUES ('optimize')")
        db.commit()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
        result["fts_build_s"] = t_fts + time.perf_counter() - t0
        result["fts_mb"] = _du_mb(workdir / "fts.db")
    return result


def reindex(workdir: Path) -> dict[str, float]:
    """Rebuild only the tantivy index from the articles of the built store; return its time and size."""
    import shutil
    from datetime import datetime

    from bot.search.index import SearchIndex

    shutil.rmtree(workdir / "tantivy", ignore_errors=True)
    index = SearchIndex.open(workdir / "tantivy", heap_bytes=256_000_000, threads=2)
    # Plain SQL, not SQLiteStore: the bench's store needs no migration to be read.
    db = sqlite3.connect(workdir / "store.db")
    columns = "id, key, url, title, text, source, published, lang, entities, story_id"
    t_read = t_index = 0.0
    last, since_commit = 0, 0
    while True:
        t0 = time.perf_counter()
        rows = db.execute(f"SELECT {columns} FROM articles WHERE id > ? ORDER BY id LIMIT 5000", (last,)).fetchall()
        if not rows:
            break
        batch = [
            Article(id=r[0], key=r[1], url=r[2], title=r[3], text=r[4], source=r[5],
                    published=datetime.fromisoformat(r[6]), lang=r[7],
                    entities=[e for e in r[8].split("\n") if e], story_id=r[9])
            for r in rows
        ]  # fmt: skip
        last = rows[-1][0]
        t1 = time.perf_counter()
        t_read += t1 - t0
        index.add(batch, replace=False)
        since_commit += len(batch)
        if since_commit >= 100_000:
            index.commit()
            since_commit = 0
        t_index += time.perf_counter() - t1
    t0 = time.perf_counter()
    index.commit()
    index.close()
    db.close()
    t_index += time.perf_counter() - t0
    return {"tantivy_build_s": t_index, "store_read_s": t_read, "tantivy_mb": _du_mb(workdir / "tantivy")}


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return {"p50_ms": statistics.median(ordered) * 1e3, "p99_ms": p99 * 1e3, "max_ms": ordered[-1] * 1e3}


def _report(timings: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    out = {category: _percentiles(samples) for category, samples in timings.items()}
    out["ALL"] = _percentiles([s for samples in timings.values() for s in samples])
    return out


def query_tantivy(workdir: Path, repeat: int) -> dict[str, object]:
    """Open the built index and time the query mix (run in a child process)."""
    from bot.search.index import SearchIndex
    from bot.search.query import parse_query

    rss_start = _rss_mb()[0]
    t0 = time.perf_counter()
    index = SearchIndex.open(workdir / "tantivy")
    open_s = time.perf_counter() - t0
    timings: dict[str, list[float]] = {}
    totals: dict[str, str] = {}
    for round_ in range(repeat + 1):
        for category, text, _, _, _ in QUERIES:
            t0 = time.perf_counter()
            results = index.search(parse_query(text, EPOCH, index.analyzers), limit=5, now=EPOCH)
            elapsed = time.perf_counter() - t0
            if round_ > 0:  # the first round warms caches
                timings.setdefault(category, []).append(elapsed)
            totals[text] = f"{results.total}{'' if results.total_exact else '+'}"
    # The pipeline's path: a small batch with replace (upsert) and a commit.
    from benchmarks.gen_archive import generate

    fresh = list(generate(500, seed=7))
    base = index.watermark
    for i, article in enumerate(fresh, start=1):
        article.id = base + i
    t0 = time.perf_counter()
    index.add(fresh)
    index.commit()
    incremental_s = time.perf_counter() - t0
    # Leave the built index as it was, so a --reuse run measures the same archive.
    index.delete(a.id for a in fresh if a.id is not None)
    index.commit()
    index.close()
    rss, hwm = _rss_mb()
    return {
        "open_s": open_s, "latency": _report(timings), "totals": totals, "incremental_500_s": incremental_s,
        "rss_mb": rss, "rss_peak_mb": hwm, "rss_python_mb": rss_start,
    }  # fmt: skip


def query_page(workdir: Path, repeat: int) -> dict[str, object]:
    """Time /search through the Router with a real store, plus Telegram HTML rendering (child process)."""
    import asyncio

    from bot.config import parse_settings
    from bot.messages import Request
    from bot.models import ChatRef
    from bot.platforms.telegram_render import render_reply
    from bot.search.index import SearchIndex
    from bot.search.service import SearchService
    from bot.store.sqlite import SQLiteStore
    from handlers.context import HandlerContext
    from handlers.router import Router

    rss_start = _rss_mb()[0]
    store = SQLiteStore(workdir / "store.db")
    index = SearchIndex.open(workdir / "tantivy")
    service = SearchService(store, index)
    router = Router(HandlerContext(store=store, search=service, settings=parse_settings({}), clock=lambda: EPOCH))
    # The console chat: the router's per-user rate limit does not apply to it (it is the operator's terminal).
    chat = ChatRef("console", "bench")
    # Page 1 of every query, and page 2 of the first of each category (what the Next button sends).
    seen: set[str] = set()
    lines = [(category, text) for category, text, *_ in QUERIES]
    for category, text, *_ in QUERIES:
        if category not in seen:
            seen.add(category)
            lines.append(("page 2", f"#2 {text}"))

    async def run() -> tuple[dict[str, list[float]], dict[str, int]]:
        timings: dict[str, list[float]] = {}
        sizes: dict[str, int] = {}
        for round_ in range(repeat + 1):
            for category, args in lines:
                t0 = time.perf_counter()
                reply = await router.dispatch(Request(chat=chat, user_id="1", command="search", args=args))
                html = render_reply(reply, "en")  # the Telegram HTML, whatever the chat
                elapsed = time.perf_counter() - t0
                if round_ > 0:
                    timings.setdefault(category, []).append(elapsed)
                sizes[args] = len(reply.cards)
                assert html and not reply.is_error, (args, reply.text)
        return timings, sizes

    timings, sizes = asyncio.run(run())
    index.close()
    store.close()
    rss, _ = _rss_mb()
    return {"latency": _report(timings), "cards": sizes, "rss_mb": rss, "rss_python_mb": rss_start}


def query_fts(workdir: Path, repeat: int) -> dict[str, object]:
    """Time the same mix on SQLite FTS5 ordered by bm25 (run in a child process)."""
    rss_start = _rss_mb()[0]
    db = sqlite3.connect(workdir / "fts.db")
    now = EPOCH.timestamp()
    timings: dict[str, list[float]] = {}
    totals: dict[str, int] = {}
    for round_ in range(repeat + 1):
        for category, text, match, condition, params in QUERIES:
            args = [now - p * 86400 if isinstance(p, int) else p for p in params]
            t0 = time.perf_counter()
            if match is None:
                rows = db.execute(
                    f"SELECT a.id FROM a WHERE {condition} ORDER BY a.published DESC LIMIT 5", args
                ).fetchall()
                total = db.execute(f"SELECT count(*) FROM a WHERE {condition}", args).fetchone()[0]
            else:
                rows = db.execute(
                    "SELECT fts.rowid, snippet(fts, 1, '[', ']', '…', 20) FROM fts "
                    f"JOIN a ON a.id = fts.rowid WHERE fts MATCH ? {condition} "
                    "ORDER BY bm25(fts, 2.0, 1.0) LIMIT 5",
                    [match, *args],
                ).fetchall()
                total = db.execute(
                    f"SELECT count(*) FROM fts JOIN a ON a.id = fts.rowid WHERE fts MATCH ? {condition}",
                    [match, *args],
                ).fetchone()[0]
            elapsed = time.perf_counter() - t0
            if round_ > 0:
                timings.setdefault(category, []).append(elapsed)
            totals[text] = int(total)
            assert len(rows) <= 5
    rss, hwm = _rss_mb()
    return {"latency": _report(timings), "totals": totals, "rss_mb": rss, "rss_python_mb": rss_start}


def _child(kind: str, workdir: Path, repeat: int) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_search", "--child", kind, "--dir", str(workdir),
         "--repeat", str(repeat)],
        check=True, capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    result: dict[str, object] = json.loads(out.stdout)
    return result


def _print_table(
    n: int, built: dict[str, float], tv: dict[str, object], fts: dict[str, object] | None,
    page: dict[str, object] | None,
) -> None:
    print(f"\n## Search benchmark, {n:,} articles ({os.cpu_count()} CPUs)\n")
    print("| | tantivy (bot.search) | SQLite FTS5 bm25 |")
    print("|---|---|---|")
    print(f"| archive generation | {built.get('generate_s', 0):.1f} s | |")
    fts_build = f"{built.get('fts_build_s', 0):.1f} s" if fts else "-"
    fts_size = f"{built.get('fts_mb', 0):.0f} MB" if fts else "-"
    print(f"| build | {built['tantivy_build_s']:.1f} s | {fts_build} |")
    print(f"| size on disk | {built['tantivy_mb']:.0f} MB | {fts_size} |")
    fts_rss = f"{fts['rss_mb']:.0f} MB" if fts else "-"
    print(f"| RSS after the query mix | {tv['rss_mb']:.0f} MB (interpreter alone {tv['rss_python_mb']:.0f}) "
          f"| {fts_rss} |")
    latency_tv = tv["latency"]
    latency_fts = fts["latency"] if fts else {}
    assert isinstance(latency_tv, dict) and isinstance(latency_fts, dict)
    for category, stats in latency_tv.items():
        other = latency_fts.get(category)
        right = f"{other['p50_ms']:.2f} / {other['p99_ms']:.2f} ms" if other else "-"
        print(f"| {category} p50 / p99 | {stats['p50_ms']:.2f} / {stats['p99_ms']:.2f} ms | {right} |")
    print(f"| open index | {tv['open_s'] * 1e3:.0f} ms | - |")
    print(f"| add 500 + commit (upsert) | {tv['incremental_500_s'] * 1e3:.0f} ms | - |")
    if page:
        store_build = built.get("store_build_s")
        if store_build is not None:
            print(f"\nVeille store (SQLite, bulk-loaded): {store_build:.1f} s, {built.get('store_mb', 0):.0f} MB.")
        from bot.search.service import MAX_STORY_HITS

        print(f"\n/search page through the Router ({MAX_STORY_HITS} best hits grouped by story, store reads, snippets) "
              "+ Telegram HTML render:\n")
        print("| category | p50 | p99 | max |")
        print("|---|---|---|---|")
        latency_page = page["latency"]
        assert isinstance(latency_page, dict)
        for category, stats in latency_page.items():
            print(f"| {category} | {stats['p50_ms']:.2f} ms | {stats['p99_ms']:.2f} ms | {stats['max_ms']:.2f} ms |")
        print(f"\nRSS of the page process: {page['rss_mb']:.0f} MB (interpreter alone {page['rss_python_mb']:.0f})")
    print("\nTotals (tantivy / FTS5; n+ = at least n, the index stopped counting):")
    totals_fts = fts["totals"] if fts else {}
    assert isinstance(tv["totals"], dict) and isinstance(totals_fts, dict)
    for text, total in tv["totals"].items():
        print(f"  {text!r}: {total} / {totals_fts.get(text, '-')}")


def main(argv: list[str] | None = None) -> int:
    """Build, query in child processes, print a markdown table (and JSON with --json)."""
    parser = argparse.ArgumentParser(description="tantivy vs SQLite FTS5 on a synthetic archive")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: a temporary one)")
    parser.add_argument("--no-fts", action="store_true", help="skip the SQLite FTS5 baseline")
    parser.add_argument("--reuse", action="store_true", help="query the archive already built in --dir")
    parser.add_argument("--build-only", action="store_true", help="build into --dir and stop")
    parser.add_argument("--reindex", action="store_true", help="rebuild only the index of the archive in --dir")
    parser.add_argument("--no-page", action="store_true", help="skip the /search page measurement")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", choices=("tantivy", "fts", "page"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    children = {"tantivy": query_tantivy, "fts": query_fts, "page": query_page}
    if args.child:
        print(json.dumps(children[args.child](args.dir, args.repeat)))
        return 0
    if (args.reuse or args.build_only or args.reindex) and args.dir is None:
        parser.error("--reuse, --reindex and --build-only need --dir")
    with tempfile.TemporaryDirectory(prefix="veille-bench-") as tmp:
        work = args.dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        built_file = work / "built.json"
        if args.reuse or args.reindex:
            built = json.loads(built_file.read_text(encoding="utf-8"))
            if built.get("n") != args.n:
                parser.error(f"{work} holds {built.get('n')} articles, not {args.n}")
            if args.reindex:
                built.update(reindex(work))
                built_file.write_text(json.dumps(built), encoding="utf-8")
        else:
            built = build(args.n, args.seed, work, not args.no_fts)
            built["n"] = args.n
            built_file.write_text(json.dumps(built), encoding="utf-8")
        if args.build_only:
            print(json.dumps(built))
            return 0
        with_fts = not args.no_fts and (work / "fts.db").exists()
        tv = _child("tantivy", work, args.repeat)
        page = None if args.no_page else _child("page", work, args.repeat)
        fts = _child("fts", work, args.repeat) if with_fts else None
    _print_table(args.n, built, tv, fts, page)
    if args.json:
        print(json.dumps({"n": args.n, "build": built, "tantivy": tv, "fts": fts, "page": page}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
