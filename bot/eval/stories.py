"""`veille eval stories`: B-cubed precision, recall and F1 of story grouping on a labelled set.

The set is a folder of YAML files, one per story (see eval/stories/): each article carries its gold story
label. Articles are fed to the same incremental StoryGrouper the pipeline uses, oldest first, and the
predicted clusters are compared with the gold ones (Bagga & Baldwin's B-cubed, averaged over articles).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import count
from pathlib import Path

import yaml

from bot.models import Article
from bot.nlp.stories import StoryGrouper


class StorySetError(Exception):
    """The labelled set cannot be read; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class LabelledArticle:
    article: Article
    story: str
    theme: str
    kind: str


@dataclass(frozen=True, slots=True)
class StoryScores:
    articles: int
    stories: int
    predicted: int
    precision: float
    recall: float
    f1: float
    ms_per_article: float
    recall_by_kind: dict[str, float]
    theme_merges: int  # predicted clusters that mix two stories of the same theme


def load_story_set(folder: Path, limit_stories: int | None = None) -> list[LabelledArticle]:
    """Read every `*.yaml` story file in `folder` (the first `limit_stories` by name when given)."""
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise StorySetError(f"{folder}: no story files (*.yaml)")
    if limit_stories is not None:
        files = files[:limit_stories]
    ids = count(1)
    items: list[LabelledArticle] = []
    for path in files:
        try:
            doc = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
            story = str(doc["story"])
            theme = str(doc.get("theme") or story)
            for raw in doc["articles"]:
                n = next(ids)
                published = datetime.fromisoformat(str(raw["published"]).replace("Z", "+00:00"))
                article = Article(
                    key=str(raw["id"]), url=f"https://eval.example/{raw['id']}", title=str(raw["title"]),
                    text=str(raw["text"]).strip(), source=str(raw["source"]), published=published,
                    lang=str(raw.get("lang", "und")), content_hash=str(raw["id"]), id=n,
                )
                items.append(LabelledArticle(article, story, theme, str(raw.get("kind", "original"))))
        except (KeyError, TypeError, ValueError, yaml.YAMLError) as exc:
            raise StorySetError(f"{path}: not a valid story file ({type(exc).__name__}: {exc})") from None
    return items


def b_cubed(gold: Sequence[str], predicted: Sequence[int]) -> tuple[float, float, list[float]]:
    """Return B-cubed (precision, recall, per-item recall) of `predicted` clusters against `gold` labels."""
    by_gold: dict[str, set[int]] = defaultdict(set)
    by_pred: dict[int, set[int]] = defaultdict(set)
    for i, (g, p) in enumerate(zip(gold, predicted, strict=True)):
        by_gold[g].add(i)
        by_pred[p].add(i)
    precisions, recalls = [], []
    for g, p in zip(gold, predicted, strict=True):
        common = len(by_gold[g] & by_pred[p])
        precisions.append(common / len(by_pred[p]))
        recalls.append(common / len(by_gold[g]))
    n = len(gold) or 1
    return sum(precisions) / n, sum(recalls) / n, recalls


def evaluate_stories(
    items: Iterable[LabelledArticle], window_hours: int = 72, grouper: StoryGrouper | None = None
) -> StoryScores:
    """Group the articles incrementally, as the pipeline does, and score the grouping."""
    ordered = sorted(items, key=lambda item: (item.article.published, item.article.id))
    grouper = grouper or StoryGrouper(window=timedelta(hours=window_hours))
    new_story = count(1)
    predicted: list[int] = []
    started = time.perf_counter()
    for item in ordered:
        article = item.article
        story = grouper.assign(article)
        article.story_id = story if story is not None else next(new_story)
        grouper.remember(article)
        predicted.append(article.story_id)
    elapsed = time.perf_counter() - started
    gold = [item.story for item in ordered]
    precision, recall, recalls = b_cubed(gold, predicted)
    by_kind: dict[str, list[float]] = defaultdict(list)
    for item, r in zip(ordered, recalls, strict=True):
        by_kind[item.kind].append(r)
    clusters: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for item, p in zip(ordered, predicted, strict=True):
        clusters[p].add((item.theme, item.story))
    theme_merges = sum(
        1 for members in clusters.values() if any(n > 1 for n in Counter(t for t, _ in members).values())
    )
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return StoryScores(
        articles=len(ordered), stories=len(set(gold)), predicted=len(set(predicted)),
        precision=precision, recall=recall, f1=f1,
        ms_per_article=1000 * elapsed / max(1, len(ordered)),
        recall_by_kind={k: sum(v) / len(v) for k, v in sorted(by_kind.items())},
        theme_merges=theme_merges,
    )


def format_scores(scores: StoryScores) -> str:
    """Render the scores as the table `veille eval stories` prints."""
    lines = [
        f"articles: {scores.articles}, gold stories: {scores.stories}, predicted stories: {scores.predicted}",
        "",
        "| metric | value |",
        "|---|---|",
        f"| B-cubed precision | {scores.precision:.3f} |",
        f"| B-cubed recall | {scores.recall:.3f} |",
        f"| B-cubed F1 | {scores.f1:.3f} |",
        f"| ms per article | {scores.ms_per_article:.2f} |",
        f"| clusters mixing two stories of one theme | {scores.theme_merges} |",
    ]
    lines += [f"| recall, {kind} articles | {value:.3f} |" for kind, value in scores.recall_by_kind.items()]
    return "\n".join(lines)
