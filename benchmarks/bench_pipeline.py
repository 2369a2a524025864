"""Benchmark the per-article NLP cost of the pipeline: language, summary, entities, story assignment.

.venv/bin/python -m benchmarks.bench_pipeline [--repeat 3]

Two corpora: the bundled demo site's articles (bot/demo_site/content) and the labelled story set
(eval/stories). Each stage is timed per article, as the pipeline runs it (entities on title + text,
story assignment against every earlier article of the corpus, oldest first); the best of `--repeat`
passes is kept per article, then the median and 95th percentile over articles are printed in ms.
The LLM backend is not timed: it is network-bound and optional.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

from bot.demo_site.content import load_content
from bot.eval.stories import load_story_set
from bot.models import Article
from bot.nlp.entities import EntityExtractor, EntityMatcher
from bot.nlp.language import LanguageDetector
from bot.nlp.stories import StoryGrouper
from bot.nlp.summarize import Summarizer

WATCHLIST = {
    "Broadcom": ("Broadcom", "AVGO"),
    "Nvidia": ("Nvidia", "NVDA"),
    "OpenAI": ("OpenAI",),
    "Rain AI": ("Rain AI",),
    "TSMC": ("TSMC", "Taiwan Semiconductor"),
    "AMD": ("AMD",),
    "Google TPU": ("TPU", "TPUs"),
}
STAGES = ("language", "summary", "entities (watchlist)", "entities (automatic)", "story assignment", "total")


def demo_articles() -> list[Article]:
    """Return the demo site's articles as the pipeline would see them."""
    content = load_content()
    start = datetime(2026, 11, 20, tzinfo=UTC)
    ids = count(1)
    return [
        Article(key=a.id, url=f"https://demo.example/{a.id}", title=a.title, text=a.text, source=a.outlet,
                published=start + timedelta(hours=a.published_h or 0.0), content_hash=a.id, id=next(ids))
        for a in content.articles
    ]


def eval_articles() -> list[Article]:
    """Return the labelled story set's articles."""
    folder = Path(__file__).resolve().parents[1] / "eval" / "stories"
    return [item.article for item in load_story_set(folder)]


def measure(articles: list[Article], repeat: int) -> dict[str, list[float]]:
    """Time every stage on every article; keep each article's best of `repeat` passes (seconds)."""
    detector = LanguageDetector()
    summarizer = Summarizer()
    matcher = EntityMatcher(WATCHLIST)
    extractor = EntityExtractor(matcher)
    detector.detect("warm up the model before timing")
    ordered = sorted(articles, key=lambda a: a.published)
    best: dict[str, list[float]] = {stage: [float("inf")] * len(ordered) for stage in STAGES}
    for _ in range(repeat):
        grouper = StoryGrouper()
        stories = count(1)
        for i, article in enumerate(ordered):
            marks = [time.perf_counter()]
            lang = detector.detect(f"{article.title}\n{article.text[:2000]}")
            marks.append(time.perf_counter())
            summarizer.summarize(article.text, lang=lang, title=article.title)
            marks.append(time.perf_counter())
            matcher.find(article.title, article.text)
            marks.append(time.perf_counter())
            extractor.extract(article.title, article.text)
            marks.append(time.perf_counter())
            story = grouper.assign(article)
            marks.append(time.perf_counter())
            article.story_id = story if story is not None else next(stories)
            grouper.remember(article)
            spent = {stage: marks[k + 1] - marks[k] for k, stage in enumerate(STAGES[:-1])}
            spent["total"] = sum(spent.values())
            for stage, seconds in spent.items():
                best[stage][i] = min(best[stage][i], seconds)
    return best


def table(results: dict[str, dict[str, list[float]]]) -> str:
    """Render medians and 95th percentiles (ms per article) side by side for each corpus."""
    names = list(results)
    header = "| stage | " + " | ".join(f"{n}: median ms | {n}: p95 ms" for n in names) + " |"
    lines = [header, "|---|" + "---:|---:|" * len(names)]
    for stage in STAGES:
        cells = []
        for name in names:
            values = sorted(results[name][stage])
            p95 = values[int(0.95 * (len(values) - 1))]
            cells += [f"{1000 * statistics.median(values):.3f}", f"{1000 * p95:.3f}"]
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure both corpora and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="passes per article; the best is kept")
    args = parser.parse_args(argv)
    corpora = {"demo": demo_articles(), "eval": eval_articles()}
    results = {name: measure(articles, max(1, args.repeat)) for name, articles in corpora.items()}
    sizes = ", ".join(f"{name} {len(articles)} articles" for name, articles in corpora.items())
    print(f"per-article cost, best of {args.repeat} passes ({sizes})\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
