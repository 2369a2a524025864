"""Watchlist entities and incremental story grouping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from bot.models import Article
from bot.nlp.entities import EntityMatcher, fold
from bot.nlp.stories import StoryGrouper

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
_ids = count(1)


def test_fold_removes_case_and_accents() -> None:
    assert fold("Réseau NVIDIA Élysée") == "reseau nvidia elysee"


def test_entities_match_aliases_on_word_boundaries() -> None:
    matcher = EntityMatcher({"Nvidia": ("Nvidia", "NVDA"), "Broadcom": ("Broadcom", "AVGO"), "Rain AI": ("Rain AI",)})
    assert matcher.find("NVDA shares rose; nvidia said", "Broadcom (AVGO) too") == ["Nvidia", "Broadcom"]
    assert matcher.find("Rain AI raises money") == ["Rain AI"]
    assert matcher.find("Nvidias? no: SNVDA and Broadcomm are not names") == []
    assert matcher.find("La pluie (rain) et l'IA") == []
    assert matcher.count("Nvidia, NVDA, nvidia") == {"Nvidia": 3}
    assert EntityMatcher({}).find("anything") == []


def art(title: str, text: str, hours: float = 0, source: str = "A") -> Article:
    n = next(_ids)
    return Article(key=f"k{n}", url=f"https://{source}.example/{n}", title=title, text=text, source=source,
                   published=T0 + timedelta(hours=hours), content_hash=f"h{n}", id=n)


class Grouping:
    def __init__(self) -> None:
        self.grouper = StoryGrouper(window=timedelta(hours=72))
        self.next_story = count(100)

    def add(self, article: Article) -> int:
        story = self.grouper.assign(article)
        article.story_id = story if story is not None else next(self.next_story)
        self.grouper.remember(article)
        return article.story_id


BROADCOM_EN = (
    "Broadcom and OpenAI sign a 10 GW custom accelerator deal",
    "Broadcom will design and build custom AI accelerators for OpenAI under a deal covering 10 gigawatts "
    "of capacity, the companies said on Monday. Deployment starts in the second half of 2026 and runs to 2029. "
    "Hock Tan, Broadcom's chief executive, called it a defining moment for custom silicon.",
)
BROADCOM_FR = (
    "OpenAI et Broadcom signent un accord de 10 GW pour des puces sur mesure",
    "OpenAI a confié à Broadcom la conception d'accélérateurs d'IA sur mesure représentant 10 gigawatts, "
    "ont annoncé lundi les deux entreprises. Les déploiements commenceront au second semestre 2026 et "
    "s'étaleront jusqu'en 2029, selon Hock Tan, le patron de Broadcom.",
)
NVIDIA_EARNINGS = (
    "Nvidia beats forecasts with $57 billion quarterly revenue",
    "Nvidia reported third-quarter revenue of $57 billion, above analyst estimates, driven by Blackwell "
    "data-center demand. Jensen Huang said sales of Blackwell GPUs were off the charts.",
)
NVIDIA_OTHER = (
    "Nvidia unveils Rubin CPX chip for long-context inference",
    "Nvidia introduced Rubin CPX, a GPU designed for million-token context windows, at its AI Infra Summit. "
    "The part ships at the end of 2026 in the Vera Rubin NVL144 platform.",
)


def test_the_same_event_in_french_and_english_is_one_story() -> None:
    g = Grouping()
    first = g.add(art(*BROADCOM_EN, source="Wire"))
    assert g.add(art(*BROADCOM_FR, hours=2, source="Quotidien")) == first


def test_a_syndicated_copy_with_new_title_intro_and_footer_joins_its_story() -> None:
    g = Grouping()
    first = g.add(art(*NVIDIA_EARNINGS, source="Wire"))
    title, text = NVIDIA_EARNINGS
    copy = art("Earnings: Nvidia tops estimates again", "(Syndicated) " + text + " Follow us for more.", 1, "Copy")
    assert g.add(copy) == first


def test_same_company_different_events_stay_apart() -> None:
    g = Grouping()
    earnings = g.add(art(*NVIDIA_EARNINGS))
    launch = g.add(art(*NVIDIA_OTHER, hours=30, source="B"))
    deal = g.add(art(*BROADCOM_EN, hours=31, source="C"))
    assert len({earnings, launch, deal}) == 3


def test_articles_outside_the_window_start_a_new_story() -> None:
    g = Grouping()
    first = g.add(art(*BROADCOM_EN))
    assert g.add(art(*BROADCOM_FR, hours=100)) != first


def test_forgetting_old_articles_bounds_memory() -> None:
    g = Grouping()
    for hours in range(10):
        g.add(art(*NVIDIA_OTHER, hours=hours))
    g.grouper.forget_older_than(T0 + timedelta(hours=100))
    assert g.grouper._recent == {} and not g.grouper._by_anchor and not g.grouper._by_shingle
