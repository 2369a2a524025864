"""The ROUGE evaluation on a tiny hand-made file, the summarize stream filter, and OrangeSum when present."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot.eval.summaries import EvalDataError, evaluate_summaries, format_table, read_documents, summarize_stream
from bot.nlp.summarize import Summarizer

VALID = Path(__file__).resolve().parents[2].parent / "shared" / "eval" / "orangesum" / "valid" / "valid.jsonl"

DOCS = [
    {
        "id": "1",
        "title": "Un ferry heurte un quai à Marseille",
        "article": "Les images ont circulé. Un ferry a heurté un quai à Marseille dimanche, blessant quatre "
        "personnes. Une enquête est ouverte.",
        "abstract": "Un ferry a heurté un quai à Marseille dimanche. Quatre personnes ont été blessées.",
    },
    {
        "id": "2",
        "title": "La mairie vote un nouveau pont",
        "article": "Le sujet divisait. Le conseil municipal a voté lundi la construction d'un nouveau pont "
        "sur la Loire. Les travaux dureront deux ans.",
        "abstract": "Le conseil municipal a voté la construction d'un pont sur la Loire.",
    },
]


@pytest.fixture(scope="module")
def summarizer() -> Summarizer:
    return Summarizer()


def _write(tmp_path: Path, lines: list[str]) -> str:
    path = tmp_path / "sample.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_evaluate_tiny_file(tmp_path: Path, summarizer: Summarizer) -> None:
    path = _write(tmp_path, [json.dumps(d, ensure_ascii=False) for d in DOCS] + ["not json", '{"id": 3}'])
    docs, skipped = read_documents(path)
    assert [d.id for d in docs] == ["1", "2"] and skipped == 2
    rows = evaluate_summaries(path, summarizer=summarizer, with_oracle=True)
    by_name = {r.system: r for r in rows}
    assert set(by_name) == {"LEAD-1", "LEAD-2", "Veille", "Oracle (best sentence)"}
    # LEAD-1 picks the throwaway first sentences; the summarizer and the oracle find the informative ones.
    assert by_name["Veille"].rougeL > by_name["LEAD-1"].rougeL
    assert by_name["Oracle (best sentence)"].rougeL >= by_name["LEAD-1"].rougeL
    assert all(0 <= r.rouge2 <= r.rouge1 <= 100 and r.articles == 2 for r in rows)
    table = format_table(rows)
    assert table.splitlines()[0].startswith("| system | R-1 | R-2 | R-L | ms/article")
    assert "| Veille |" in table and "| LEAD-2 |" in table


def test_accented_words_are_scored(tmp_path: Path, summarizer: Summarizer) -> None:
    # rouge-score's default tokenizer drops accented letters; ours must count "été" and "à" as matches.
    doc = {"id": "x", "title": "", "article": "Été à Noël.", "abstract": "Été à Noël."}
    rows = evaluate_summaries(_write(tmp_path, [json.dumps(doc)]), summarizer=summarizer)
    assert {r.system: r.rougeL for r in rows}["LEAD-1"] == pytest.approx(100.0)


def test_missing_or_empty_data(tmp_path: Path) -> None:
    with pytest.raises(EvalDataError, match="nope.jsonl"):
        evaluate_summaries(str(tmp_path / "nope.jsonl"))
    with pytest.raises(EvalDataError, match="no usable article"):
        evaluate_summaries(_write(tmp_path, ["{}", "garbage"]))


def test_stream_plain_text(summarizer: Summarizer) -> None:
    out = io.StringIO()
    status = summarize_stream(io.StringIO(DOCS[0]["article"]), out, "fr", False, summarizer=summarizer)
    assert status == 0
    assert out.getvalue().endswith("\n")
    assert "ferry a heurté un quai" in out.getvalue()


def test_stream_jsonl_goes_on_after_bad_lines(summarizer: Summarizer) -> None:
    lines = [
        json.dumps({"id": 1, "text": DOCS[0]["article"]}),
        "{broken json",
        json.dumps({"id": "b", "text": 42}),
        "",
        json.dumps(["not", "an", "object"]),
        json.dumps({"id": 5, "text": "", "lang": "en"}),
        json.dumps({"id": 6, "text": DOCS[1]["article"], "title": DOCS[1]["title"]}),
    ]
    out = io.StringIO()
    status = summarize_stream(io.StringIO("\n".join(lines)), out, "auto", True, summarizer=summarizer)
    results = [json.loads(line) for line in out.getvalue().splitlines()]
    assert status == 1
    assert [r["id"] for r in results] == [1, None, "b", None, 5, 6]
    assert "ferry" in results[0]["summary"]
    assert "error" in results[1] and "line 2" in results[1]["error"]
    assert "text" in results[2]["error"]
    assert "error" in results[3]
    assert results[4] == {"id": 5, "summary": ""}
    assert "pont" in results[5]["summary"]


def test_stream_refuses_unknown_lang() -> None:
    with pytest.raises(ValueError, match="lang"):
        summarize_stream(io.StringIO(""), io.StringIO(), "de", False)


def test_stream_auto_builds_its_own_summarizer() -> None:
    out = io.StringIO()
    assert summarize_stream(io.StringIO(DOCS[1]["article"]), out, "auto", False) == 0
    assert "pont" in out.getvalue()


@pytest.mark.skipif(not VALID.exists(), reason=f"OrangeSum valid split not found at {VALID}")
def test_orangesum_valid_beats_lead1(summarizer: Summarizer) -> None:
    rows = {r.system: r for r in evaluate_summaries(str(VALID), limit=200, summarizer=summarizer)}
    assert rows["Veille"].articles == 200
    assert rows["Veille"].rougeL > rows["LEAD-1"].rougeL
    assert rows["Veille"].rougeL > rows["LEAD-2"].rougeL
