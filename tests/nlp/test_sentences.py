"""Sentence splitting: one table of inputs and the exact sentences expected."""

from __future__ import annotations

import pytest

from bot.nlp.sentences import sentence_spans, split_sentences

CASES: list[tuple[str, str, list[str]]] = [
    ("fr", "M. Dupont est arrivé. Mme Durand aussi.", ["M. Dupont est arrivé.", "Mme Durand aussi."]),
    ("fr", "Mme. Durand parle. Le Dr. Martin répond.", ["Mme. Durand parle.", "Le Dr. Martin répond."]),
    ("en", "Mr. Smith met Dr. Jones. They talked.", ["Mr. Smith met Dr. Jones.", "They talked."]),
    ("en", "The U.S. economy grew. It was 3.5 percent.", ["The U.S. economy grew.", "It was 3.5 percent."]),
    ("en", "He lives in the U.S. The company said so.", ["He lives in the U.S.", "The company said so."]),
    (
        "fr",
        "Le prix est de 1.000 euros. Il y a 10 000 personnes.",
        ["Le prix est de 1.000 euros.", "Il y a 10 000 personnes."],
    ),
    (
        "fr",
        "Il aime les fruits, p. ex. les pommes. Cf. le rapport.",
        ["Il aime les fruits, p. ex. les pommes.", "Cf. le rapport."],
    ),
    ("fr", "Voir p. 12 et l'art. 3 du code. Fin.", ["Voir p. 12 et l'art. 3 du code.", "Fin."]),
    ("en", "J. K. Rowling wrote it. George W. Bush agreed.", ["J. K. Rowling wrote it.", "George W. Bush agreed."]),
    ("en", "St. Louis is big. Apple Inc. The firm grew.", ["St. Louis is big.", "Apple Inc.", "The firm grew."]),
    ("fr", "Il hésite... Puis il part. Alors… Rien.", ["Il hésite...", "Puis il part.", "Alors…", "Rien."]),
    ("fr", "Il hésite... et repart.", ["Il hésite... et repart."]),
    ("fr", "« C'est fini. » Il est parti.", ["« C'est fini. »", "Il est parti."]),
    ("fr", "« Pourquoi ? » demande-t-il. Personne ne sait.", ["« Pourquoi ? » demande-t-il.", "Personne ne sait."]),
    ("en", 'He said "it is over." Then he left.', ['He said "it is over."', "Then he left."]),
    ("en", "Is it? Yes! Fine.", ["Is it?", "Yes!", "Fine."]),
    (
        "fr",
        "Ils parlent de violence domestique.Consternant, le verdict tombe.",
        ["Ils parlent de violence domestique.", "Consternant, le verdict tombe."],
    ),
    ("fr", "Quoi?Non.Bien sûr!Oui.", ["Quoi?", "Non.", "Bien sûr!", "Oui."]),
    ("en", "Visit Nvidia.com for details. Shares rose.", ["Visit Nvidia.com for details.", "Shares rose."]),
    ("fr", "La version 3.5 sort en 2020.Elle plaît.", ["La version 3.5 sort en 2020.", "Elle plaît."]),
    ("en", "The U.S.A. and the U.K. agreed.", ["The U.S.A. and the U.K. agreed."]),
    (
        "fr",
        "Le 14 juil. 2020, il pleut. Le 3 sept. Macron parle.",
        ["Le 14 juil. 2020, il pleut.", "Le 3 sept. Macron parle."],
    ),
    (
        "fr",
        "Titre sans point\nLe texte commence ici. Et continue.",
        ["Titre sans point", "Le texte commence ici.", "Et continue."],
    ),
    ("en", "a line that was\nwrapped in the middle. Yes.", ["a line that was\nwrapped in the middle.", "Yes."]),
    ("fr", "Premier paragraphe\n\nsecond paragraphe", ["Premier paragraphe", "second paragraphe"]),
    ("fr", "texte sans ponctuation aucune", ["texte sans ponctuation aucune"]),
    ("fr", "mot", ["mot"]),
    ("fr", "", []),
    ("fr", "   \n  ", []),
    ("und", "M. Dupont met Mr. Smith. They agreed.", ["M. Dupont met Mr. Smith.", "They agreed."]),
]


@pytest.mark.parametrize(("lang", "text", "expected"), CASES, ids=[c[1][:40] for c in CASES])
def test_split_sentences(lang: str, text: str, expected: list[str]) -> None:
    assert split_sentences(text, lang) == expected


@pytest.mark.parametrize(("lang", "text", "expected"), CASES, ids=[c[1][:40] for c in CASES])
def test_spans_are_slices_of_the_input(lang: str, text: str, expected: list[str]) -> None:
    spans = sentence_spans(text, lang)
    assert [text[a:b] for a, b in spans] == expected
    assert all(a < b for a, b in spans)
    assert all(prev[1] <= nxt[0] for prev, nxt in zip(spans, spans[1:], strict=False))
