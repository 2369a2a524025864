"""Summarizer properties: whole input sentences, in order, no boilerplate, within limits, robust input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.nlp.boilerplate import is_boilerplate
from bot.nlp.sentences import split_sentences
from bot.nlp.summarize import FEATURES, Summarizer, SummarizerModelError

ARTICLE_FR = (
    "Sur les réseaux sociaux, les images ont vite circulé. "
    "Dimanche matin, un ferry a heurté le quai du port de Marseille à son arrivée, blessant quatre personnes. "
    "Le navire, qui peut transporter 1.200 passagers, a perdu le contrôle à cause du vent. "
    "Learn more about your ad choices. "
    "Les secours sont intervenus rapidement, selon la préfecture. "
    "Une enquête a été ouverte pour déterminer les causes de l'accident. "
    "Inscrivez-vous à notre newsletter pour recevoir l'essentiel."
)
ARTICLE_EN = (
    "The storm hit the coast overnight. "
    "More than 20,000 homes lost power on Monday as winds reached 120 km/h along the northern coast, officials said. "
    "Schools were closed in three counties. "
    "Jane Doe is a reporter at The Example Times. "
    "Subscribe to our newsletter for the latest updates."
)
SENTENCE_WORDS = ["le", "port", "navire", "quai", "vent", "enquête", "Marseille", "dimanche", "passagers", "1.200"]


@pytest.fixture(scope="module")
def summarizer() -> Summarizer:
    return Summarizer()


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _assert_whole_sentences_in_order(summary: str, text: str, lang: str) -> None:
    """The summary must be input sentences joined by spaces, each used once, in the input's order."""
    rest = _norm(summary)
    for sentence in (_norm(s) for s in split_sentences(text, lang)):
        if rest.startswith(sentence) and (len(rest) == len(sentence) or rest[len(sentence)] == " "):
            rest = rest[len(sentence) :].lstrip()
    assert rest == "", f"not whole sentences in order: {summary!r}"


def test_empty_in_empty_out(summarizer: Summarizer) -> None:
    assert summarizer.summarize("") == ""
    assert summarizer.summarize("   \n\t ") == ""
    assert summarizer.summarize("<p> </p>&nbsp;") == ""


def test_one_word(summarizer: Summarizer) -> None:
    assert summarizer.summarize("Bonjour") == "Bonjour"


def test_french_article(summarizer: Summarizer) -> None:
    summary = summarizer.summarize(ARTICLE_FR, lang="fr", title="Un ferry heurte le quai à Marseille")
    assert "ferry a heurté le quai" in summary
    _assert_whole_sentences_in_order(summary, ARTICLE_FR, "fr")
    assert "ad choices" not in summary and "newsletter" not in summary
    assert len(summary) <= 400


def test_english_article(summarizer: Summarizer) -> None:
    summary = summarizer.summarize(ARTICLE_EN, lang="en", title="Storm leaves 20,000 homes without power")
    assert "20,000 homes lost power" in summary
    _assert_whole_sentences_in_order(summary, ARTICLE_EN, "en")
    assert "reporter" not in summary and "Subscribe" not in summary


def test_language_left_to_the_summarizer(summarizer: Summarizer) -> None:
    summary = summarizer.summarize(ARTICLE_FR)
    _assert_whole_sentences_in_order(summary, ARTICLE_FR, "fr")
    assert summary


def test_boilerplate_never_chosen_even_first() -> None:
    text = "This episode is brought to you by Acme Insurance and its friendly agents. " + ARTICLE_EN
    summary = Summarizer(max_sentences=1).summarize(text, lang="en")
    assert "brought to you" not in summary
    assert summary


def test_headline_repeated_in_body_is_skipped(summarizer: Summarizer) -> None:
    title = "Un ferry heurte le quai à Marseille"
    summary = summarizer.summarize(title + "\n" + ARTICLE_FR, lang="fr", title=title)
    assert not summary.startswith(title)


def test_limits(summarizer: Summarizer) -> None:
    one = Summarizer(max_sentences=1).summarize(ARTICLE_FR, lang="fr")
    assert len(split_sentences(one, "fr")) == 1
    small = Summarizer(max_chars=120).summarize(ARTICLE_FR, lang="fr")
    assert 0 < len(small) <= 120
    with pytest.raises(ValueError):
        Summarizer(max_sentences=0)
    with pytest.raises(ValueError):
        Summarizer(max_chars=5)


def test_text_without_punctuation_is_cut_at_a_word(summarizer: Summarizer) -> None:
    text = " ".join(["actualité"] * 200)
    summary = summarizer.summarize(text, lang="fr")
    assert len(summary) <= 400
    assert summary.endswith("…")
    assert text.startswith(summary[:-1])


def test_html_leftovers(summarizer: Summarizer) -> None:
    html = (
        "<div><p>Le conseil municipal a voté <b>lundi</b> la construction d&#39;un nouveau pont.</p>"
        "<script>var x = '<p>piège</p>';</script><style>p{color:red}</style>"
        "<p>Les travaux dureront deux ans &amp; coûteront 30 millions d&rsquo;euros.</p></div>"
    )
    summary = summarizer.summarize(html, lang="fr")
    assert "<" not in summary and "&amp;" not in summary and "&#39;" not in summary
    assert "piège" not in summary and "color" not in summary
    assert "d'un nouveau pont" in summary


def test_enormous_text_is_capped(summarizer: Summarizer) -> None:
    text = ARTICLE_FR + " " + ("Une phrase de remplissage sans intérêt particulier. " * 100_000)
    summary = summarizer.summarize(text, lang="fr")
    assert 0 < len(summary) <= 400


def test_non_string_is_a_type_error(summarizer: Summarizer) -> None:
    with pytest.raises(TypeError):
        summarizer.summarize(None)  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(
    sentences=st.lists(
        st.lists(st.sampled_from(SENTENCE_WORDS), min_size=1, max_size=30).map(
            lambda ws: ws[0].capitalize() + " " + " ".join(ws[1:]) + "."
        ),
        min_size=0,
        max_size=25,
    ),
    ads=st.lists(st.sampled_from(["Learn more about your ad choices.", "Hébergé par Acast."]), max_size=3),
    max_sentences=st.integers(min_value=1, max_value=4),
    max_chars=st.integers(min_value=40, max_value=600),
)
def test_summary_properties(sentences: list[str], ads: list[str], max_sentences: int, max_chars: int) -> None:
    text = " ".join(ads + sentences)
    summary = Summarizer(max_sentences=max_sentences, max_chars=max_chars).summarize(text, lang="fr")
    assert len(summary) <= max_chars
    if not sentences:
        assert summary == ""
        return
    if summary.endswith("…"):
        assert _norm(text).find(summary[:-1].rstrip()) >= 0
        return
    _assert_whole_sentences_in_order(summary, text, "fr")
    assert len(split_sentences(summary, "fr")) <= max_sentences
    assert not any(is_boilerplate(s, "fr") for s in split_sentences(summary, "fr"))


def test_weights_file_errors(tmp_path: Path) -> None:
    with pytest.raises(SummarizerModelError, match="missing.json"):
        Summarizer(weights_path=tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(SummarizerModelError):
        Summarizer(weights_path=bad)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"features": ["x"], "weights": [0, 1]}), encoding="utf-8")
    with pytest.raises(SummarizerModelError, match="features"):
        Summarizer(weights_path=wrong)


def test_handmade_weights_drive_the_choice(tmp_path: Path) -> None:
    # A model that only likes the third position must pick the third sentence.
    weights = [0.0] * (len(FEATURES) + 1)
    weights[1 + FEATURES.index("pos2")] = 5.0
    path = tmp_path / "w.json"
    path.write_text(json.dumps({"features": list(FEATURES), "weights": weights, "rule": {"target_words": 0}}))
    summary = Summarizer(weights_path=path).summarize("Un chat dort. Un chien court. Un oiseau chante. Fin.", lang="fr")
    assert summary == "Un oiseau chante."
