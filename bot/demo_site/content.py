"""Load the demo site's YAML content and check it, reporting every problem at once."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.demo_site import ContentError

FORMATS = frozenset({"rss", "rss-full", "atom-teaser", "atom-full", "jsonfeed", "podcast"})
LANGS = frozenset({"fr", "en"})


@dataclass(frozen=True, slots=True)
class Outlet:
    """One sample outlet: its name, language, feed format and page boilerplate switches."""

    id: str
    name: str
    lang: str
    format: str
    feed_path: str
    tagline: str = ""
    cookie_banner: bool = False
    comments: bool = False
    item_footer: str = ""


@dataclass(frozen=True, slots=True)
class StoryInfo:
    """One event; stories sharing a theme are different events about the same subject."""

    label: str
    theme: str
    summary: str


@dataclass(frozen=True, slots=True)
class Comment:
    """A reader comment shown under an article page."""

    author: str
    text: str


@dataclass(frozen=True, slots=True)
class DemoArticle:
    """One article or podcast episode, with syndicated copies already resolved to their full body."""

    id: str
    outlet: str
    story: str
    title: str
    author: str
    paragraphs: tuple[str, ...]
    lang: str
    release_after_s: float = 0.0
    # Hours from server start; None for items released later, which are dated when they appear.
    published_h: float | None = None
    tags: tuple[str, ...] = ()
    copy_of: str | None = None
    intro: str = ""
    episode: int | None = None
    duration_s: int | None = None

    @property
    def text(self) -> str:
        """Return the body as plain text, one paragraph per line."""
        return "\n".join(self.paragraphs)

    @property
    def word_count(self) -> int:
        """Return the number of words in the body."""
        return sum(len(p.split()) for p in self.paragraphs)

    @property
    def in_backlog(self) -> bool:
        """Return True when the item is present from the start."""
        return self.release_after_s <= 0


@dataclass(frozen=True, slots=True)
class DemoContent:
    """Everything the demo site serves, validated."""

    outlets: dict[str, Outlet]
    stories: dict[str, StoryInfo]
    articles: tuple[DemoArticle, ...]
    comments: dict[str, tuple[Comment, ...]]
    # Hash of the raw files, so validators change whenever the content is edited.
    digest: str

    def article(self, article_id: str) -> DemoArticle:
        """Return the article with this id; raise KeyError naming it otherwise."""
        for article in self.articles:
            if article.id == article_id:
                return article
        raise KeyError(f"no demo article {article_id!r}")

    def story_map(self) -> dict[str, list[str]]:
        """Return story label -> article ids, in content order."""
        groups: dict[str, list[str]] = {label: [] for label in self.stories}
        for article in self.articles:
            groups.setdefault(article.story, []).append(article.id)
        return groups


def default_content_dir() -> Path:
    """Return the folder holding the bundled content."""
    return Path(__file__).resolve().parent / "content"


def load_content(directory: Path | None = None) -> DemoContent:
    """Read outlets.yaml, stories.yaml and articles/*.yaml; raise ContentError listing every problem."""
    root = directory or default_content_dir()
    problems: list[str] = []
    digest = hashlib.sha256()

    def read(path: Path) -> Any:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            problems.append(f"{path.name}: cannot read ({exc.strerror or exc})")
            return None
        digest.update(path.name.encode() + b"\0" + raw)
        try:
            # The C loader is ~10x faster when libyaml is present; both are safe loaders.
            return yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError as exc:
            problems.append(f"{path.name}: not valid YAML ({str(exc).splitlines()[0]})")
            return None

    outlets_doc = read(root / "outlets.yaml")
    stories_doc = read(root / "stories.yaml")
    outlets = _outlets(outlets_doc, problems)
    comments = _comments(outlets_doc, outlets, problems)
    stories = _stories(stories_doc, problems)

    article_files = sorted((root / "articles").glob("*.yaml"))
    if not article_files:
        problems.append(f"articles/: no *.yaml files in {root / 'articles'}")
    raw_articles: list[tuple[str, int, dict[str, Any], str]] = []
    for path in article_files:
        doc = read(path)
        where = f"articles/{path.name}"
        if doc is None:
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("articles"), list):
            problems.append(f"{where}: expected a mapping with an 'articles' list")
            continue
        outlet_id = doc.get("outlet")
        if outlet_id not in outlets:
            problems.append(f"{where}.outlet: unknown outlet {outlet_id!r}")
            continue
        for index, item in enumerate(doc["articles"]):
            if not isinstance(item, dict):
                problems.append(f"{where}[{index}]: expected a mapping")
                continue
            raw_articles.append((f"{where}[{index}]", index, item, str(outlet_id)))

    articles = _articles(raw_articles, outlets, stories, problems)
    if problems:
        raise ContentError(str(root), problems)
    return DemoContent(outlets, stories, articles, comments, digest.hexdigest()[:16])


def _text(item: dict[str, Any], key: str, where: str, problems: list[str], required: bool = True) -> str:
    value = item.get(key)
    if value is None:
        if required:
            problems.append(f"{where}.{key}: missing")
        return ""
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}.{key}: expected non-empty text, got {value!r}")
        return ""
    return " ".join(value.split())


def _number(item: dict[str, Any], key: str, where: str, problems: list[str]) -> float | None:
    value = item.get(key)
    if value is None:
        return None
    # bool is an int subclass; `true` in YAML is never a valid offset.
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.append(f"{where}.{key}: expected a number, got {value!r}")
        return None
    return float(value)


def _outlets(doc: Any, problems: list[str]) -> dict[str, Outlet]:
    if doc is None:
        return {}
    items = doc.get("outlets") if isinstance(doc, dict) else None
    if not isinstance(items, list) or not items:
        problems.append("outlets.yaml.outlets: expected a non-empty list")
        return {}
    outlets: dict[str, Outlet] = {}
    paths: set[str] = set()
    for index, item in enumerate(items):
        where = f"outlets.yaml[{index}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: expected a mapping")
            continue
        before = len(problems)
        outlet_id = _text(item, "id", where, problems)
        name = _text(item, "name", where, problems)
        lang = _text(item, "lang", where, problems)
        fmt = _text(item, "format", where, problems)
        feed_path = _text(item, "feed_path", where, problems)
        if lang and lang not in LANGS:
            problems.append(f"{where}.lang: {lang!r} is not one of {sorted(LANGS)}")
        if fmt and fmt not in FORMATS:
            problems.append(f"{where}.format: {fmt!r} is not one of {sorted(FORMATS)}")
        if feed_path and not feed_path.startswith(f"/{outlet_id}/"):
            problems.append(f"{where}.feed_path: must start with /{outlet_id}/, got {feed_path!r}")
        if outlet_id in outlets:
            problems.append(f"{where}.id: duplicate outlet {outlet_id!r}")
        if feed_path in paths:
            problems.append(f"{where}.feed_path: duplicate path {feed_path!r}")
        if len(problems) > before:
            continue
        paths.add(feed_path)
        outlets[outlet_id] = Outlet(
            id=outlet_id,
            name=name,
            lang=lang,
            format=fmt,
            feed_path=feed_path,
            tagline=_text(item, "tagline", where, problems, required=False),
            cookie_banner=bool(item.get("cookie_banner", False)),
            comments=bool(item.get("comments", False)),
            item_footer=_text(item, "item_footer", where, problems, required=False),
        )
    return outlets


def _comments(doc: Any, outlets: dict[str, Outlet], problems: list[str]) -> dict[str, tuple[Comment, ...]]:
    section = doc.get("comments") if isinstance(doc, dict) else None
    if section is None:
        return {}
    if not isinstance(section, dict):
        problems.append("outlets.yaml.comments: expected a mapping of outlet -> list")
        return {}
    result: dict[str, tuple[Comment, ...]] = {}
    for outlet_id, items in section.items():
        where = f"outlets.yaml.comments.{outlet_id}"
        if outlet_id not in outlets:
            problems.append(f"{where}: unknown outlet")
            continue
        if not isinstance(items, list):
            problems.append(f"{where}: expected a list")
            continue
        found: list[Comment] = []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                problems.append(f"{where}[{index}]: expected a mapping")
                continue
            author = _text(item, "author", f"{where}[{index}]", problems)
            text = _text(item, "text", f"{where}[{index}]", problems)
            if author and text:
                found.append(Comment(author, text))
        result[str(outlet_id)] = tuple(found)
    return result


def _stories(doc: Any, problems: list[str]) -> dict[str, StoryInfo]:
    if doc is None:
        return {}
    items = doc.get("stories") if isinstance(doc, dict) else None
    if not isinstance(items, list) or not items:
        problems.append("stories.yaml.stories: expected a non-empty list")
        return {}
    stories: dict[str, StoryInfo] = {}
    for index, item in enumerate(items):
        where = f"stories.yaml[{index}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: expected a mapping")
            continue
        label = _text(item, "label", where, problems)
        theme = _text(item, "theme", where, problems)
        summary = _text(item, "summary", where, problems)
        if label in stories:
            problems.append(f"{where}.label: duplicate story {label!r}")
        elif label and theme and summary:
            stories[label] = StoryInfo(label, theme, summary)
    return stories


def _articles(
    raw: list[tuple[str, int, dict[str, Any], str]],
    outlets: dict[str, Outlet],
    stories: dict[str, StoryInfo],
    problems: list[str],
) -> tuple[DemoArticle, ...]:
    seen: dict[str, str] = {}
    parsed: list[tuple[str, DemoArticle]] = []
    for where, _index, item, outlet_id in raw:
        before = len(problems)
        article_id = _text(item, "id", where, problems)
        title = _text(item, "title", where, problems)
        story = _text(item, "story", where, problems)
        copy_of = _text(item, "copy_of", where, problems, required=False) or None
        author = _text(item, "author", where, problems, required=copy_of is None)
        if article_id in seen:
            problems.append(f"{where}.id: duplicate id {article_id!r} (first in {seen[article_id]})")
        elif article_id:
            seen[article_id] = where
        if story and stories and story not in stories:
            problems.append(f"{where}.story: unknown story {story!r} (not in stories.yaml)")

        release = _number(item, "release_after_s", where, problems)
        if "release_after_s" not in item:
            problems.append(f"{where}.release_after_s: missing")
        elif release is not None and release < 0:
            problems.append(f"{where}.release_after_s: must be >= 0, got {release}")
        release = release or 0.0
        published_h = _number(item, "published_h", where, problems)
        if release <= 0 and published_h is None and "published_h" not in item:
            problems.append(f"{where}.published_h: missing (required for backlog items)")
        if published_h is not None and published_h > 0:
            problems.append(f"{where}.published_h: backlog items cannot be in the future ({published_h})")

        paragraphs: tuple[str, ...] = ()
        body = item.get("body")
        if copy_of is None:
            if not isinstance(body, list) or not body:
                problems.append(f"{where}.body: expected a non-empty list of paragraphs")
            elif not all(isinstance(p, str) and p.strip() for p in body):
                problems.append(f"{where}.body: every paragraph must be non-empty text")
            else:
                paragraphs = tuple(" ".join(p.split()) for p in body)
        elif body is not None:
            problems.append(f"{where}.body: a copy (copy_of) takes its body from the original")

        episode = _number(item, "episode", where, problems)
        duration = _number(item, "duration_s", where, problems)
        outlet = outlets[outlet_id]
        if outlet.format == "podcast" and (episode is None or duration is None):
            problems.append(f"{where}: podcast episodes need 'episode' and 'duration_s'")
        tags = item.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            problems.append(f"{where}.tags: expected a list of text")
            tags = []
        if len(problems) > before:
            continue
        parsed.append(
            (
                where,
                DemoArticle(
                    id=article_id,
                    outlet=outlet_id,
                    story=story,
                    title=title,
                    author=author,
                    paragraphs=paragraphs,
                    lang=outlet.lang,
                    release_after_s=release,
                    published_h=published_h if release <= 0 else None,
                    tags=tuple(tags),
                    copy_of=copy_of,
                    intro=_text(item, "intro", where, problems, required=False),
                    episode=int(episode) if episode is not None else None,
                    duration_s=int(duration) if duration is not None else None,
                ),
            )
        )
    return _resolve_copies(parsed, problems)


def _resolve_copies(parsed: list[tuple[str, DemoArticle]], problems: list[str]) -> tuple[DemoArticle, ...]:
    by_id = {article.id: article for _where, article in parsed}
    resolved: list[DemoArticle] = []
    for where, article in parsed:
        if article.copy_of is None:
            resolved.append(article)
            continue
        original = by_id.get(article.copy_of)
        if original is None:
            problems.append(f"{where}.copy_of: unknown article {article.copy_of!r}")
            continue
        if original.copy_of is not None:
            problems.append(f"{where}.copy_of: {original.id!r} is itself a copy; point at the original")
            continue
        intro = (article.intro,) if article.intro else ()
        resolved.append(
            DemoArticle(
                id=article.id,
                outlet=article.outlet,
                story=article.story,
                title=article.title,
                author=article.author or original.author,
                paragraphs=intro + original.paragraphs,
                lang=article.lang,
                release_after_s=article.release_after_s,
                published_h=article.published_h,
                tags=article.tags or original.tags,
                copy_of=original.id,
                intro=article.intro,
                episode=article.episode,
                duration_s=article.duration_s,
            )
        )
    return tuple(resolved)
