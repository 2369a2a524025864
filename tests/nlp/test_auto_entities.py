"""Automatic extraction of the organisations and people an article is about, in French and English."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.nlp.entities import EntityExtractor, EntityMatcher

WATCHLIST = EntityMatcher({"Nvidia": ("Nvidia", "NVDA"), "TSMC": ("TSMC", "Taiwan Semiconductor")})

EN_TITLE = "Cerebras signs $1.4 billion inference deal with Najd Sovereign Fund"
EN_TEXT = (
    "Cerebras Systems Inc. said on Monday it had signed a five-year inference deal with Saudi Arabia's Najd "
    "Sovereign Fund. The Najd Sovereign Fund will host a 150 MW cloud in Riyadh. Andrew Feldman, the chief "
    "executive, said the chips would be made by Taiwan Semiconductor. Feldman added that Nvidia remained the "
    "company's main rival in January. In September, Cerebras filed for an IPO. Analysts at Collingwood Research "
    "called the deal large. Collingwood Research expects more such contracts. The Cerebras deal follows others."
)
FR_TITLE = "Rapidus et Tenstorrent s'allient à Tokyo"
FR_TEXT = (
    "Tenstorrent, la société dirigée par Jim Keller, a ouvert lundi un centre de conception à Tokyo. "
    "Selon Jim Keller, l'équipe travaillera avec Rapidus sur des puces gravées en 2 nm. Le gouvernement "
    "japonais soutient Rapidus depuis 2022. Mardi, la Banque de France a publié une note sans rapport. "
    "En janvier, Tenstorrent avait levé des fonds auprès de Samsung. Keller estime que le Japon est une "
    "deuxième maison pour l'entreprise. Les ingénieurs de Rapidus rejoindront le projet en mars."
)


def test_english_names_organisations_and_people() -> None:
    found = EntityExtractor(WATCHLIST).find(EN_TITLE, EN_TEXT)
    # Watchlist first under canonical names (an alias matched), then the others by mentions.
    assert set(found[:2]) == {"Nvidia", "TSMC"}
    auto = found[2:]
    assert "Cerebras Systems" in auto  # given in full with a suffix, then shortened: one name, suffix dropped
    assert "Najd Sovereign Fund" in auto and "Collingwood Research" in auto
    assert "Andrew Feldman" in auto  # the surname alone later counts as a second mention
    for not_a_name in ("Monday", "January", "September", "The", "In", "Analysts", "Saudi Arabia", "Riyadh",
                       "IPO", "Cerebras", "Feldman", "Taiwan Semiconductor"):
        assert not_a_name not in found


def test_french_names_skip_openers_months_and_places() -> None:
    found = EntityExtractor(WATCHLIST).find(FR_TITLE, FR_TEXT)
    assert found[0] in ("Rapidus", "Tenstorrent") and {"Rapidus", "Tenstorrent", "Jim Keller"} <= set(found)
    for not_a_name in ("Selon", "Le", "Mardi", "En", "Les", "Tokyo", "Japon", "Keller", "Banque"):
        assert not_a_name not in found
    # Mentioned once and not in the title: not what the article is about.
    assert "Samsung" not in found and "Banque de France" not in found


def test_mentioned_once_needs_title_or_suffix() -> None:
    extractor = EntityExtractor()
    assert extractor.find("Orbital Foundry opens a lab", "The lab was opened by Orbital Foundry in Lyon.") == [
        "Orbital Foundry"
    ]
    assert extractor.find("A deal", "Kestrel Micro AG signed a deal on Friday.") == ["Kestrel Micro"]
    assert extractor.find("A deal", "The deal was signed with Kestrel Micro on Friday.") == []
    assert extractor.find("", "") == []


def test_products_of_a_named_company_are_not_new_names() -> None:
    text = ("Nvidia showed the Nvidia Blackwell Ultra on Tuesday. Nvidia said Nvidia Blackwell Ultra ships soon. "
            "Nvidia also thanked Foxconn, and Foxconn confirmed.")
    assert EntityExtractor(WATCHLIST).find("Nvidia news", text) == ["Nvidia", "Foxconn"]
    assert EntityExtractor().find("Nvidia news", text)[:1] == ["Nvidia"]


def test_capitals_and_possessives_fold_to_one_name() -> None:
    text = "ACME Robotics unveiled a robot. ACME Robotics's rival, Zenith Labs, said Zenith Labs would reply."
    found = EntityExtractor().find("Acme Robotics news", text)
    assert found == ["ACME Robotics", "Zenith Labs"] or found == ["Zenith Labs", "ACME Robotics"]


def test_eval_set_articles_get_names() -> None:
    folder = Path(__file__).resolve().parents[2] / "eval" / "stories"
    articles = [a for f in sorted(folder.glob("*.yaml"))[:10] for a in yaml.safe_load(f.read_text())["articles"]]
    extractor = EntityExtractor(WATCHLIST)
    # The cost per article is measured by benchmarks/bench_pipeline.py; here, sanity on real-looking articles.
    results = [extractor.find(a["title"], a["text"]) for a in articles]
    assert all(len(r) == len(set(r)) and len(r) <= 2 + extractor.max_auto for r in results)
    assert sum(1 for r in results if r) >= 0.9 * len(results)
