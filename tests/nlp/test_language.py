"""Language detection on short and long French and English samples written for these tests."""

from __future__ import annotations

import pytest

from bot.nlp.language import LanguageDetector, LanguageError


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector()


SAMPLES: list[tuple[str, str]] = [
    ("fr", "Le gouvernement a annoncé mardi une nouvelle réforme des retraites, critiquée par les syndicats."),
    ("fr", "La grève des cheminots"),
    ("fr", "Coronavirus : le point sur la situation"),
    ("fr", "Les pompiers ont maîtrisé l'incendie qui s'était déclaré dans la nuit près de Marseille."),
    ("en", "The government announced on Tuesday a new pension reform, criticised by the unions."),
    ("en", "Brexit: what happens next"),
    ("en", "Bitcoin hits record high as investors pile in"),
    ("en", "Firefighters brought the blaze under control early on Sunday after evacuating two villages."),
    ("de", "Der Bundestag hat heute ein neues Gesetz beschlossen, das die Rente der Arbeitnehmer betrifft."),
    ("es", "El gobierno anunció el martes una nueva reforma de las pensiones que los sindicatos rechazan."),
    ("und", ""),
    ("und", "ok"),
    ("und", "12345 678 !!"),
    ("und", "Nvidia"),
]


@pytest.mark.parametrize(("expected", "text"), SAMPLES, ids=[t[:30] or "empty" for _, t in SAMPLES])
def test_detect(detector: LanguageDetector, expected: str, text: str) -> None:
    assert detector.detect(text) == expected


def test_non_string_is_undetermined(detector: LanguageDetector) -> None:
    assert detector.detect(None) == "und"  # type: ignore[arg-type]


def test_bad_candidates_are_refused() -> None:
    with pytest.raises(LanguageError):
        LanguageDetector([])
    with pytest.raises(LanguageError):
        LanguageDetector(["french"])
    with pytest.raises(LanguageError, match="xq"):
        LanguageDetector(["fr", "xq"]).detect(
            "Un texte assez long pour que le détecteur consulte son modèle de n-grammes de caractères."
        )


def test_candidates_limit_the_answer() -> None:
    only = LanguageDetector(["fr", "en"])
    assert only.detect("Der Bundestag hat heute ein neues Gesetz beschlossen.") in {"fr", "en", "und"}
