"""Boilerplate recognition: FR and EN notices that must be caught, and news sentences that must not."""

from __future__ import annotations

import pytest

from bot.nlp.boilerplate import BoilerplateMatcher, Scope, fold, is_boilerplate

BOILERPLATE: list[tuple[str, str]] = [
    ("en", "This episode is brought to you by Squarespace."),
    ("fr", "Cet épisode vous est présenté par Acme Assurances."),
    ("en", "Learn more about your ad choices. Visit megaphone.fm/adchoices"),
    ("fr", "Hébergé par Acast. Visitez acast.com/privacy pour plus d'informations."),
    ("en", "Subscribe to our newsletter to get the best stories every morning."),
    ("fr", "Inscrivez-vous à notre newsletter pour recevoir l'essentiel de l'actualité."),
    ("en", "Jane Doe is a reporter at The Verge covering technology."),
    ("en", "John Smith is a senior writer for Wired."),
    ("fr", "Journaliste spécialisé dans les questions de défense."),
    ("fr", "Marie Dupont est journaliste au service politique."),
    ("en", "Leave a comment below."),
    ("fr", "Réagissez à cet article"),
    ("fr", "Réagissez"),
    ("en", "Share this article on Facebook"),
    ("en", "Follow us on Twitter and Instagram."),
    ("fr", "Suivez-nous sur Twitter et Facebook."),
    ("fr", "Partagez cet article avec vos amis"),
    ("en", "© 2024 Example Media. All rights reserved."),
    ("fr", "Tous droits réservés."),
    ("en", "Copyright (c) 2023 The Daily Example"),
    ("fr", "Lire aussi : La réforme des retraites adoptée"),
    ("fr", "» À lire aussi : le point sur la situation"),
    ("en", "Read more: Apple's new iPhone in pictures"),
    ("en", "The post Ten things to know appeared first on Example Blog."),
    ("fr", "Publicité"),
    ("en", "ADVERTISEMENT"),
]

NEWS: list[tuple[str, str]] = [
    ("fr", "Le gouvernement a annoncé mardi une réforme des retraites."),
    ("fr", "Publicité mensongère : l'entreprise est condamnée à une amende de 2 millions d'euros."),
    ("fr", "Il faut lire aussi le rapport de la Cour des comptes, selon le député."),
    ("en", "Subscribers to the streaming service rose by 8 million in the quarter."),
    ("en", "The company said its share price would be reviewed by the board."),
    ("en", "Shares of the reporter's former employer fell 3% on Monday."),
    ("fr", "Les journalistes ont été retenus pendant trois heures à la frontière."),
    ("en", "Related companies in the sector also fell sharply on Tuesday after the report."),
    ("fr", "Le partage des richesses est au cœur du débat."),
    (
        "en",
        "Smith, who is a reporter at heart and spent decades covering wars across three continents before "
        "turning to politics, told the committee on Thursday that the bill would fail without broad support "
        "from both parties in the Senate and the House.",
    ),
    ("fr", ""),
]


@pytest.mark.parametrize(("lang", "sentence"), BOILERPLATE, ids=[s[:40] for _, s in BOILERPLATE])
def test_boilerplate_is_caught(lang: str, sentence: str) -> None:
    assert is_boilerplate(sentence, lang)


@pytest.mark.parametrize(("lang", "sentence"), NEWS, ids=[s[:40] for _, s in NEWS])
def test_news_is_kept(lang: str, sentence: str) -> None:
    assert not is_boilerplate(sentence, lang)


def test_english_notices_caught_in_french_articles() -> None:
    assert is_boilerplate("Learn more about your ad choices.", "fr")


def test_fold_removes_case_accents_and_punctuation() -> None:
    assert fold("Hébergé par ACAST !") == ["heberge", "par", "acast"]


def test_custom_phrases_and_scopes() -> None:
    matcher = BoilerplateMatcher({Scope.START: ("breaking",), Scope.ANYWHERE: ("sponsored by acme",)})
    assert matcher.matches("Breaking: the market fell")
    assert not matcher.matches("The news was breaking late")
    assert matcher.matches("This hour is sponsored by ACME.")
    assert not matcher.matches("Lire aussi : autre chose")


def test_large_phrase_list() -> None:
    # Matching walks a word trie, so thousands of phrases cost no more per sentence than a few.
    many = BoilerplateMatcher({Scope.ANYWHERE: tuple(f"zz{i} marker phrase" for i in range(5000))})
    assert many.matches("this has zz4321 marker phrase inside")
    assert not many.matches("zz4321 marker alone")
