"""Matching cost per article at 1k, 10k and 100k subscriptions: the index against testing every query.

Subscriptions are generated the way chats write them: names (companies, products, people) from a universe
of --names (Zipf popularity, so "nvidia" is far more common than a small fab), alone or with a topic word,
OR lists, phrases, exclusions, `lang:`, `source:` and `entity:` filters; topics come from a vocabulary of
--topics words, also Zipf-distributed. Each chat holds up to five subscriptions. Articles are ~300 words
in French or English naming one to four names. Each article is timed as the bot handles it: analysed,
then matched at once (Pipeline calls SubscriptionMatcher.match right after the analysis), over --rounds
passes. Reported per article, medians over the articles and passes:

    analyse     building the MatchDoc (same cost whatever the number of subscriptions)
    index       deciding the queries' leaves, then their conjunctions, then gathering the chats (the
                matcher's work, SubscriptionIndex.match_chats)
    naive       Query.matches for every subscription, on fewer articles
    candidates  distinct queries the article's terms lead to before their other clauses are checked
    chats       how many chats an article alerts (the output, which no index can avoid)
    find / out  the index time split: finding the matching subscriptions, then picking one per chat and
                building the (chat, query) list
    subscribe   compiling one new query and adding it to the live index (LiveSubscriptionIndex.add), median
                of --changes; unsubscribe: removing one; rebuild: what one change cost before, a full build

With `--baseline FILE` (a copy of an earlier bot/alerts/matcher.py), the same subscriptions are also
compiled and indexed by that matcher and timed on the same articles: the `before µs` and `before / index`
columns. Each pass times one matcher over every article, and the passes alternate (current first, then
the baseline first), so that machine load falls on both alike while neither's tables take the other's
cache between two articles: the bot holds one index. (Alternating article by article, as earlier
versions of this benchmark did, put two 100k indexes through the cache at once and made both look slower.)

Times are the CPU time of the benchmark's thread by default (`--clock cpu`), so that other work on a
shared machine does not count; `--clock wall` measures elapsed time instead.

    .venv/bin/python -m benchmarks.bench_alerts [--sizes 1000,10000,100000] [--articles 300] [--names 20000]
                                                [--zipf 1.0] [--clock cpu|wall] [--changes 21] [--rounds 3]
                                                [--baseline FILE]
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

from bot.alerts.matcher import (
    CompiledSubscription,
    DocView,
    LiveSubscriptionIndex,
    SubscriptionCompiler,
    SubscriptionIndex,
)
from bot.models import Article, ChatRef
from bot.search.analysis import Analyzers
from bot.search.query import MatchDoc

SYLLABLES = ["ra", "no", "vi", "ta", "lum", "cor", "sil", "tek", "qua", "zen", "mar", "dia", "fab", "ion", "ex"]
# Topic words are built from other syllables, so an invented topic never spells an invented company.
TOPIC_SYLLABLES = ["bo", "ke", "pu", "gri", "sto", "fle", "dru", "mo", "ka", "pe", "li", "su", "hu", "we", "ju"]
TOPICS_EN = ["chip", "asic", "foundry", "datacenter", "inference", "training", "memory", "export", "earnings",
             "lawsuit", "merger", "acquisition", "startup", "funding", "gpu", "tpu", "wafer", "packaging",
             "supply", "shortage", "tariff", "regulation", "benchmark", "model", "cloud", "network", "switch",
             "optical", "power", "cooling", "layoffs", "partnership", "contract", "launch", "roadmap"]
TOPICS_FR = ["puce", "fonderie", "centre", "données", "inférence", "entraînement", "mémoire", "exportation",
             "résultats", "procès", "fusion", "rachat", "levée", "fonds", "réseau", "optique", "énergie",
             "refroidissement", "licenciements", "partenariat", "contrat", "lancement", "feuille", "route"]
FILLER = ["the", "a", "of", "and", "to", "in", "for", "on", "with", "said", "new", "year", "market", "company",
          "le", "la", "les", "de", "des", "et", "un", "une", "pour", "sur", "avec", "selon", "nouveau", "marché"]
SOURCES = ["Le Silicium", "Chip Wire", "Reuters", "Les Échos", "The Register", "EE Times", "Usine Digitale"]


def company_names(rng: random.Random, n: int) -> list[str]:
    """Return n distinct invented company names (the first few are real watchlist names)."""
    names = ["Nvidia", "Broadcom", "OpenAI", "AMD", "Intel", "TSMC", "Samsung", "Google", "Rain AI", "Cerebras"]
    while len(names) < n:
        name = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()
        if name not in names:
            names.append(name)
    return names


_CUMULATIVE: dict[int, list[float]] = {}
ZIPF = {"s": 1.0}  # set from --zipf: 1.0 is classic Zipf, 0 is uniform popularity


def zipf_pick(rng: random.Random, items: list[str]) -> str:
    """Pick with probability falling as 1/rank**s."""
    cumulative = _CUMULATIVE.get(id(items))
    if cumulative is None:
        total, cumulative = 0.0, []
        for rank in range(len(items)):
            total += 1.0 / (rank + 1) ** ZIPF["s"]
            cumulative.append(total)
        _CUMULATIVE[id(items)] = cumulative
    return rng.choices(items, cum_weights=cumulative)[0]


def topic_words(rng: random.Random, n: int) -> list[str]:
    """Return n topic words: the real ones first, then invented ones."""
    words = list(dict.fromkeys(TOPICS_EN + TOPICS_FR))
    seen = set(words)
    while len(words) < n:
        word = "".join(rng.choice(TOPIC_SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def subscription_text(rng: random.Random, companies: list[str], topics: list[str]) -> str:
    """Return one realistic subscription query."""
    company = zipf_pick(rng, companies)
    quoted = f'"{company}"' if " " in company else company.lower()
    roll = rng.random()
    if roll < 0.35:
        return quoted
    if roll < 0.55:
        return f"{quoted} {zipf_pick(rng, topics)}"
    if roll < 0.68:
        others = {zipf_pick(rng, companies) for _ in range(rng.randint(1, 3))}
        return " OR ".join(f'"{c}"' if " " in c else c.lower() for c in {company, *others})
    if roll < 0.76:
        return f'"{zipf_pick(rng, topics)} {zipf_pick(rng, topics)}"'
    if roll < 0.84:
        return f"{quoted} -{zipf_pick(rng, topics)}"
    if roll < 0.90:
        return f"{quoted} lang:{rng.choice(['fr', 'en'])}"
    if roll < 0.95:
        return f'{quoted} source:"{rng.choice(SOURCES)}"'
    return f"entity:{company.lower().replace(' ', '')} {zipf_pick(rng, topics)[:5]}*"


def make_article(rng: random.Random, companies: list[str], topics: list[str], n: int) -> Article:
    """Return a ~300-word article naming one to four companies."""
    lang = rng.choice(["fr", "en"])
    named = [zipf_pick(rng, companies) for _ in range(rng.randint(1, 4))]
    words = [rng.choice(FILLER) if rng.random() < 0.6 else zipf_pick(rng, topics) for _ in range(300)]
    for name in named:
        for _ in range(rng.randint(1, 3)):
            words.insert(rng.randrange(len(words)), name)
    title = f"{named[0]} {zipf_pick(rng, topics)} {zipf_pick(rng, topics)}"
    return Article(key=f"a{n}", url=f"https://news.example/{n}", title=title, text=" ".join(words),
                   source=rng.choice(SOURCES), published=datetime.now(UTC), lang=lang,
                   entities=[name for name in dict.fromkeys(named) if name in companies[:10]])


def compile_all(texts: list[str], compiler: SubscriptionCompiler) -> list[CompiledSubscription]:
    """Compile subscriptions, five to a chat."""
    return [compiler.compile(i, ChatRef("telegram", str(i // 5)), text) for i, text in enumerate(texts)]


def load_baseline(path: str) -> ModuleType:
    """Load an earlier copy of the matcher module from a file, under its own name."""
    spec = importlib.util.spec_from_file_location("baseline_matcher", Path(path))
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def change_costs(
    rng: random.Random, subs: list[CompiledSubscription], texts: list[str], compiler: SubscriptionCompiler,
    changes: int, timer: Callable[[], float],
) -> tuple[float, float, float]:
    """Return the median seconds of one subscribe and one unsubscribe on a live index, and of one full build."""
    live = LiveSubscriptionIndex(subs, merge_after=10 * changes + 1, background=False)
    added, removed = [], []
    for n in range(changes):
        query = texts[rng.randrange(len(texts))]
        started = timer()
        live.add(compiler.compile(len(subs) + n, ChatRef("telegram", f"new{n}"), query))
        added.append(timer() - started)
    for victim in (sub.id for sub in rng.sample(subs, min(changes, len(subs)))):
        started = timer()
        live.remove(victim)
        removed.append(timer() - started)
    builds = []
    for _ in range(1 if len(subs) >= 50_000 else 3):
        started = timer()
        SubscriptionIndex(subs)
        builds.append(timer() - started)
    return statistics.median(added), statistics.median(removed), statistics.median(builds)


def median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def main() -> None:
    """Run the benchmark and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--naive-articles", type=int, default=20)
    parser.add_argument("--names", type=int, default=20000)
    parser.add_argument("--topics", type=int, default=5000)
    parser.add_argument("--zipf", type=float, default=1.0, help="popularity skew of names and topics (0: uniform)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--clock", choices=["cpu", "wall"], default="cpu")
    parser.add_argument("--changes", type=int, default=21, help="subscribes and unsubscribes timed per size")
    parser.add_argument("--baseline", help="an earlier matcher.py to time side by side")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes over the articles, per matcher")
    args = parser.parse_args()
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    rng = random.Random(args.seed)
    ZIPF["s"] = args.zipf
    companies = company_names(rng, args.names)
    topics = topic_words(rng, args.topics)
    entities = {name: [name] for name in companies[:10]}
    analyzers = Analyzers()
    compiler = SubscriptionCompiler(entities, analyzers)
    baseline = load_baseline(args.baseline) if args.baseline else None
    old_compiler = baseline.SubscriptionCompiler(entities, analyzers) if baseline else None
    articles = [make_article(rng, companies, topics, n) for n in range(args.articles)]
    docs = [MatchDoc.from_article(article, analyzers) for article in articles]  # for the untimed checks

    print(f"articles: {len(articles)} (~300 words), names: {len(companies)}, topics: {len(topics)}, "
          f"zipf s={args.zipf}, seed {args.seed}, {args.clock} time, {args.rounds} rounds")
    print()
    extra = " before µs | before / index |" if baseline else ""
    print("| subscriptions | distinct queries | compile s | analyse µs | index µs | find µs | out µs "
          "| analyse+index µs | p95 index µs | naive µs | naive / index | candidates | chats alerted "
          "| subscribe µs | unsubscribe µs | rebuild ms |" + extra)
    print("|---:" * 16 + "|" + ("---:|---:|" if baseline else ""))
    for size in (int(s) for s in args.sizes.split(",")):
        texts = [subscription_text(rng, companies, topics) for _ in range(size)]
        started = time.perf_counter()
        subs = compile_all(texts, compiler)
        index = SubscriptionIndex(subs)
        compile_s = time.perf_counter() - started
        old_index = None
        if baseline is not None:
            old_subs = [old_compiler.compile(i, ChatRef("telegram", str(i // 5)), t) for i, t in enumerate(texts)]
            old_index = baseline.SubscriptionIndex(old_subs)
        # Untimed: the index answers what testing every query answers, and what the baseline answers.
        candidates: list[int] = []
        alerted: list[int] = []
        for one in docs:
            found = index.match_chats(one)
            if old_index is not None:
                assert sorted(old_index.match_chats(one), key=str) == sorted(found, key=str), "baseline disagrees"
            alerted.append(len(found))
            candidates.append(len(index.candidates(one)))
        # Timed as the bot works: each article analysed, then matched at once. One index per pass, so that
        # the other one's tables do not take the cache between two articles; the passes alternate, so that
        # machine load falls on both alike.
        analyse: list[float] = []
        timings: list[float] = []
        finding: list[float] = []
        before: list[float] = []
        for round_number in range(args.rounds):
            order = ("index", "baseline") if round_number % 2 == 0 else ("baseline", "index")
            for which in order:
                if which == "baseline" and old_index is None:
                    continue
                for article in articles:
                    started = clock()
                    one = MatchDoc.from_article(article, analyzers)
                    analysed_at = clock()
                    if which == "baseline":
                        old_index.match_chats(one)  # type: ignore[union-attr]
                        before.append(clock() - analysed_at)
                        continue
                    # match_chats in its two steps, timed apart: finding the subscriptions, then one per chat.
                    positions = index.matching_positions(DocView(one), ordered=False)
                    found_at = clock()
                    index.chats_of(positions)
                    timings.append(clock() - analysed_at)
                    finding.append(found_at - analysed_at)
                    analyse.append(analysed_at - started)
        naive: list[float] = []
        for one in docs[: args.naive_articles]:
            started = clock()
            chats: dict[ChatRef, str] = {}
            for sub in subs:
                if sub.chat not in chats and sub.parsed.matches(one):
                    chats[sub.chat] = sub.query
            naive.append(clock() - started)
            # The index must find what testing everything finds: the same chats, each named by its oldest
            # matching subscription (subs are in id order).
            assert dict(index.match_chats(one)) == chats, "index and naive disagree"
        subscribe, unsubscribe, rebuild = change_costs(rng, subs, texts, compiler, args.changes, clock)
        p95 = sorted(timings)[int(len(timings) * 0.95)] * 1e6
        index_us, find_us = median_us(timings), median_us(finding)
        out_us = median_us([t - f for t, f in zip(timings, finding, strict=True)])
        print(
            f"| {size:,} | {index.distinct_queries:,} | {compile_s:.1f} | {median_us(analyse):.0f} "
            f"| {index_us:.0f} | {find_us:.0f} | {out_us:.0f} "
            f"| {median_us([a + b for a, b in zip(analyse, timings, strict=True)]):.0f} | {p95:.0f} "
            f"| {median_us(naive):.0f} | {statistics.median(naive) / statistics.median(timings):.0f}× "
            f"| {statistics.median(candidates):.0f} | {statistics.median(alerted):.0f} "
            f"| {subscribe * 1e6:.0f} | {unsubscribe * 1e6:.0f} | {rebuild * 1e3:.0f} |"
            + (f" {median_us(before):.0f} | {statistics.median(before) / statistics.median(timings):.2f}× |"
               if before else ""),
            flush=True,
        )


if __name__ == "__main__":
    main()
