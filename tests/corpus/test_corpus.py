"""Every file of the robustness corpus through the whole pipeline: served on 127.0.0.1, Pipeline.poll.

No file may crash the poll or end as an "internal error": a feed that cannot be read fails with its reason
(FeedParseError / FetchError text in PollReport.error). Each file's expectation is in manifest.json,
written by generate.py (rerun it after changing the tricks).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.corpus.generate import FEEDS, HERE
from tests.security.harness import pipeline_world

MANIFEST: dict[str, dict[str, object]] = json.loads((HERE / "manifest.json").read_text(encoding="utf-8"))


def test_corpus_is_large_and_matches_the_generator() -> None:
    from tests.corpus.generate import build

    built = build()
    assert len(built) >= 150
    assert sorted(built) == sorted(MANIFEST)
    on_disk = {p.name for p in FEEDS.iterdir()}
    assert on_disk == set(MANIFEST), "rerun: python -m tests.corpus.generate"
    stale = [name for name, (data, _) in built.items() if (FEEDS / name).read_bytes() != data]
    assert not stale, f"rerun the generator, stale files: {stale[:5]}"


@pytest.mark.parametrize("name", sorted(MANIFEST))
async def test_corpus_file_through_the_pipeline(tmp_path: Path, name: str) -> None:
    expect = MANIFEST[name]
    body = (FEEDS / name).read_bytes()
    async with pipeline_world(tmp_path) as world:
        world.serve("/feed", body, str(expect["content_type"]))
        report = await world.poll("/feed")
        stored = world.store.count_articles()
    # Never a crash: either it worked, or it failed with a reason that is not our own bug.
    if not report.ok:
        assert report.error, f"{name}: failed without a reason"
        assert not report.error.startswith("internal error"), f"{name}: {report.error}"
    if expect["ok"] is True:
        assert report.ok, f"{name}: expected success, got: {report.error}"
    elif expect["ok"] is False:
        assert not report.ok, f"{name}: expected a failure with a reason"
    assert len(report.new) == stored
    assert stored >= int(expect["min_new"]), f"{name}: {stored} stored, warnings {report.warnings[:3]}"  # type: ignore[call-overload]
    for article in report.new:
        text = f"{article.title}\n{article.text}\n{article.summary}\n{article.url}"
        for bad in expect["absent"]:  # type: ignore[attr-defined]
            assert bad not in text, f"{name}: {bad!r} leaked into article {article.title[:60]!r}"
        # What chats will show must be free of the characters no platform accepts.
        assert "\x00" not in text
