"""The bundled demo content loads, validates, and has the shape the demo and other tests rely on."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from bot.demo_site import ContentError
from bot.demo_site.content import DemoContent, default_content_dir, load_content

REQUIRED_FORMATS = {"rss", "atom-teaser", "jsonfeed", "podcast", "rss-full"}


def test_bundled_content_has_the_planned_size(content: DemoContent) -> None:
    assert 5 <= len(content.outlets) <= 6
    assert 35 <= len(content.articles) <= 45
    assert 8 <= len(content.stories) <= 12
    assert {o.lang for o in content.outlets.values()} == {"fr", "en"}
    assert {o.format for o in content.outlets.values()} >= REQUIRED_FORMATS


def test_every_article_has_required_fields_and_known_references(content: DemoContent) -> None:
    ids = [a.id for a in content.articles]
    assert len(ids) == len(set(ids))
    for article in content.articles:
        assert article.outlet in content.outlets, article.id
        assert article.story in content.stories, article.id
        assert article.title and article.author and article.paragraphs, article.id
        assert article.lang == content.outlets[article.outlet].lang
        if article.in_backlog:
            assert article.published_h is not None and article.published_h <= 0, article.id


def test_every_story_is_covered_by_several_outlets(content: DemoContent) -> None:
    groups = content.story_map()
    assert set(groups) == set(content.stories)
    for label, ids in groups.items():
        outlets = {content.article(i).outlet for i in ids}
        assert 2 <= len(ids) <= 5, label
        assert len(outlets) == len(ids), f"{label}: one outlet reports a story once"


def test_some_stories_are_told_in_both_languages(content: DemoContent) -> None:
    bilingual = [
        label
        for label, ids in content.story_map().items()
        if {content.article(i).lang for i in ids} == {"fr", "en"}
    ]
    assert len(bilingual) >= 5


def test_same_theme_different_event_pairs_exist(content: DemoContent) -> None:
    themes = Counter(story.theme for story in content.stories.values())
    paired = {theme for theme, count in themes.items() if count >= 2}
    assert {"nvidia", "broadcom", "tsmc"} <= paired


def test_bodies_are_news_length(content: DemoContent) -> None:
    for article in content.articles:
        assert 120 <= article.word_count <= 400, (article.id, article.word_count)


def test_items_arrive_during_the_demo(content: DemoContent) -> None:
    later = [a for a in content.articles if not a.in_backlog]
    assert 6 <= len(later) <= 10
    assert all(3 <= a.release_after_s <= 40 for a in later)
    # A whole new story arrives, not only extra sources for old ones.
    backlog_stories = {a.story for a in content.articles if a.in_backlog}
    assert {a.story for a in later} - backlog_stories


def test_broadcom_is_searchable_at_once_and_arrives_again_later(content: DemoContent) -> None:
    def mentions(article_id: str) -> bool:
        article = content.article(article_id)
        return "broadcom" in (article.title + article.text).lower()

    assert any(mentions(a.id) for a in content.articles if a.in_backlog)
    assert any(mentions(a.id) for a in content.articles if not a.in_backlog)


def test_tricky_but_legal_text_is_present(content: DemoContent) -> None:
    titles = [a.title for a in content.articles]
    everything = " ".join(titles + [a.text for a in content.articles])
    assert any("@everyone" in t for t in titles)
    assert any(len(t) >= 200 for t in titles)
    assert any("&" in t for t in titles)
    assert any("<" in t for t in titles)
    assert any("«" in t and "»" in t for t in titles)
    assert '"' in everything and "'" in everything
    for accented in ("é", "è", "à", "ç", "€"):
        assert accented in everything


def test_syndicated_copies_reuse_the_original_body(content: DemoContent) -> None:
    copies = [a for a in content.articles if a.copy_of]
    assert len(copies) >= 2
    for copy in copies:
        original = content.article(copy.copy_of or "")
        assert copy.title != original.title
        assert copy.paragraphs == (copy.intro, *original.paragraphs)
        assert copy.story == original.story


def test_podcast_notes_carry_ad_notices(content: DemoContent) -> None:
    episodes = [a for a in content.articles if content.outlets[a.outlet].format == "podcast"]
    assert len(episodes) >= 3
    for episode in episodes:
        assert "This episode is brought to you by" in episode.text
        assert "Learn more about your ad choices" in episode.text
        assert episode.episode and episode.duration_s


def test_content_stays_small_and_says_it_is_invented() -> None:
    root = default_content_dir()
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert size < 300_000
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "Sample content written for the Veille demo; not real news." in readme


def _copy_content(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(default_content_dir(), target)
    return target


def test_invalid_content_lists_every_problem(tmp_path: Path) -> None:
    root = _copy_content(tmp_path)
    (root / "articles" / "zz-broken.yaml").write_text(
        """
outlet: ledger
articles:
  - id: l-rain-ai
    story: rain-ai-test-chip
    title: Duplicate id
    author: A
    published_h: -1
    release_after_s: 0
    body: [one paragraph]
  - id: no-title
    story: no-such-story
    author: A
    published_h: -1
    release_after_s: -5
    body: [text]
  - id: bad-copy
    copy_of: missing-original
    story: rain-ai-test-chip
    title: A copy of nothing
    release_after_s: 4
""",
        encoding="utf-8",
    )
    (root / "articles" / "zz-unknown.yaml").write_text("outlet: nobody\narticles: []\n", encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        load_content(root)
    problems = "\n".join(caught.value.problems)
    assert "zz-broken.yaml[0].id: duplicate id 'l-rain-ai'" in problems
    assert "zz-broken.yaml[1].title: missing" in problems
    assert "zz-broken.yaml[1].story: unknown story 'no-such-story'" in problems
    assert "zz-broken.yaml[1].release_after_s: must be >= 0" in problems
    assert "zz-broken.yaml[2].copy_of: unknown article 'missing-original'" in problems
    assert "zz-unknown.yaml.outlet: unknown outlet 'nobody'" in problems
    assert len(caught.value.problems) == 6
    assert str(root) in str(caught.value)


def test_broken_yaml_and_bad_outlets_are_content_errors(tmp_path: Path) -> None:
    root = _copy_content(tmp_path)
    (root / "stories.yaml").write_text("stories: [unclosed\n", encoding="utf-8")
    (root / "outlets.yaml").write_text(
        "outlets:\n  - {id: x, name: X, lang: de, format: gopher, feed_path: /y/feed}\n", encoding="utf-8"
    )
    with pytest.raises(ContentError) as caught:
        load_content(root)
    problems = caught.value.problems
    assert any(p.startswith("stories.yaml: not valid YAML") for p in problems)
    assert any("lang: 'de' is not one of" in p for p in problems)
    assert any("format: 'gopher' is not one of" in p for p in problems)
    assert any("feed_path: must start with /x/" in p for p in problems)


def test_missing_content_folder_is_a_content_error(tmp_path: Path) -> None:
    with pytest.raises(ContentError) as caught:
        load_content(tmp_path / "nowhere")
    assert any("outlets.yaml: cannot read" in p for p in caught.value.problems)
