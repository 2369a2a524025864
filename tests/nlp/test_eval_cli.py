"""Both eval commands, as CI runs them on small samples, through the real command line entry point."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.cli import main

DOCS = [
    {"id": "1", "title": "Un ferry heurte un quai à Marseille",
     "article": "Les images ont circulé. Un ferry a heurté un quai à Marseille dimanche, blessant quatre personnes. "
                "Une enquête est ouverte.",
     "abstract": "Un ferry a heurté un quai à Marseille dimanche. Quatre personnes ont été blessées."},
    {"id": "2", "title": "La mairie vote un nouveau pont",
     "article": "Le sujet divisait. Le conseil municipal a voté lundi la construction d'un nouveau pont sur la "
                "Loire. Les travaux dureront deux ans.",
     "abstract": "Le conseil municipal a voté la construction d'un pont sur la Loire."},
    {"id": "3", "title": "Nvidia beats forecasts",
     "article": "Markets were calm. Nvidia reported revenue of 71 billion dollars on Wednesday, above forecasts. "
                "Shares rose.",
     "abstract": "Nvidia reported revenue of 71 billion dollars, above forecasts."},
]


def _rows(table: str) -> dict[str, list[str]]:
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and not set(cells[0]) <= {"-"}:
            rows[cells[0]] = cells[1:]
    return rows


def test_eval_summaries_prints_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "tiny.jsonl"
    data.write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in DOCS) + "\n", encoding="utf-8")
    assert main(["eval", "summaries", "--data", str(data)]) == 0
    rows = _rows(capsys.readouterr().out)
    assert rows["system"][:3] == ["R-1", "R-2", "R-L"]
    for system in ("LEAD-1", "LEAD-2", "Veille"):
        r1, r2, rl = (float(x) for x in rows[system][:3])
        assert 0 <= r2 <= r1 <= 100 and 0 <= rl <= 100
    # The first sentences here are throwaway openers: the learned summarizer must beat LEAD-1.
    assert float(rows["Veille"][2]) > float(rows["LEAD-1"][2])


def test_eval_summaries_bad_input_is_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "summaries", "--data", str(tmp_path / "missing.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_eval_stories_on_five_stories(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "stories", "--limit", "5"]) == 0
    out = capsys.readouterr().out
    header = re.search(r"articles: (\d+), gold stories: (\d+), predicted stories: (\d+)", out)
    assert header is not None and int(header.group(2)) == 5 and int(header.group(1)) >= 5 * 7
    rows = _rows(out)
    precision, recall, f1 = (float(rows[f"B-cubed {m}"][0]) for m in ("precision", "recall", "F1"))
    assert 0 < precision <= 1 and 0 < recall <= 1
    assert f1 == pytest.approx(2 * precision * recall / (precision + recall), abs=0.002)
    assert f1 >= 0.9  # the grouping's target, on the sample too


def test_eval_stories_bad_folder_is_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "stories", "--data", str(tmp_path / "nothing")]) == 2
    assert "no such folder" in capsys.readouterr().err
    (tmp_path / "bad.yaml").write_text("story: x\narticles: [{id: 1}]\n", encoding="utf-8")
    assert main(["eval", "stories", "--data", str(tmp_path)]) == 2
    assert "bad.yaml: not a valid story file" in capsys.readouterr().err
