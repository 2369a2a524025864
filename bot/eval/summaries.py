"""Score summaries against OrangeSum-style references, and the `veille summarize` stream filter.

Scoring follows /work/shared/eval/orangesum/README.md exactly: rouge-score's ROUGE-1, ROUGE-2 and ROUGE-L
F-measure x100, averaged over documents, with a Unicode tokenizer (lower case, ``re.findall(r"\\w+")``,
no stemming). rouge-score is a dev dependency: it is imported only when scoring.

Input files are jsonl with fields ``id``, ``title``, ``article``, ``abstract``; bad lines are skipped and
counted.

Exceptions:
    EvalError                   base of this module's errors
    ├── EvalDependencyError     rouge-score is not installed
    └── EvalDataError           the data file cannot be read or holds no usable article (path, reason)
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO, Any

from bot.nlp.sentences import split_sentences
from bot.nlp.summarize import Summarizer, clean_text

_TOKEN = re.compile(r"\w+")
LANG_CHOICES = ("auto", "fr", "en")


class EvalError(Exception):
    """Base of the evaluation errors."""


class EvalDependencyError(EvalError):
    """A dev-only package needed for scoring is missing."""


class EvalDataError(EvalError):
    """The evaluation data cannot be used."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True, slots=True)
class EvalRow:
    """One system's averaged scores (x100) and its median time per article."""

    system: str
    rouge1: float
    rouge2: float
    rougeL: float  # noqa: N815 - the metric's usual name
    ms_per_article: float
    articles: int
    mean_words: float


@dataclass(frozen=True, slots=True)
class Document:
    """One article with its reference abstract."""

    id: str
    title: str
    article: str
    abstract: str


class _UnicodeTokenizer:
    """rouge-score tokenizer that keeps accented letters (its default drops them)."""

    def tokenize(self, text: str) -> list[str]:
        """Return the lower-cased word tokens of `text`."""
        return _TOKEN.findall(text.lower())


def make_scorer() -> Any:
    """Return a rouge-score scorer set up with the README's protocol; fail clearly without rouge-score."""
    try:
        from rouge_score import rouge_scorer
    except ImportError as exc:
        raise EvalDependencyError(
            "scoring needs the dev dependency rouge-score: pip install 'rouge-score~=0.1.2'"
        ) from exc
    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False, tokenizer=_UnicodeTokenizer())


def read_documents(path: str, *, limit: int | None = None) -> tuple[list[Document], int]:
    """Read an OrangeSum-style jsonl file; return the documents and how many lines were skipped."""
    docs: list[Document] = []
    skipped = 0
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if limit is not None and len(docs) >= limit:
                    break
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    article, abstract = row["article"], row["abstract"]
                    if not isinstance(article, str) or not isinstance(abstract, str) or not abstract.strip():
                        raise TypeError("article and abstract must be non-empty strings")
                    docs.append(Document(str(row.get("id", len(docs))), str(row.get("title") or ""), article, abstract))
                except (ValueError, KeyError, TypeError, AttributeError):
                    skipped += 1
    except OSError as exc:
        raise EvalDataError(path, exc.strerror or str(exc)) from exc
    except UnicodeDecodeError as exc:
        raise EvalDataError(path, f"not UTF-8: {exc}") from exc
    if not docs:
        raise EvalDataError(path, f"no usable article ({skipped} bad lines)")
    return docs, skipped


def lead(k: int) -> Callable[[Document], str]:
    """Return a system that keeps the first `k` sentences of the article."""

    def system(doc: Document) -> str:
        return " ".join(split_sentences(clean_text(doc.article), "fr")[:k])

    return system


def score_system(name: str, system: Callable[[Document], str], docs: list[Document], scorer: Any) -> EvalRow:
    """Run `system` on every document and average its ROUGE scores against the abstracts."""
    totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    times: list[float] = []
    words = 0
    for doc in docs:
        started = time.perf_counter()
        summary = system(doc)
        times.append(time.perf_counter() - started)
        words += len(_TOKEN.findall(summary))
        scores = scorer.score(doc.abstract, summary)
        for key in totals:
            totals[key] += scores[key].fmeasure
    n = len(docs)
    return EvalRow(
        system=name,
        rouge1=100 * totals["rouge1"] / n,
        rouge2=100 * totals["rouge2"] / n,
        rougeL=100 * totals["rougeL"] / n,
        ms_per_article=1000 * statistics.median(times),
        articles=n,
        mean_words=words / n,
    )


def oracle_row(docs: list[Document], scorer: Any) -> EvalRow:
    """Score the single article sentence with the best ROUGE-L against the reference (a ceiling)."""
    # Keyed by object identity: ids in a data file need not be unique.
    best: dict[int, str] = {}
    for doc in docs:
        sentences = split_sentences(clean_text(doc.article), "fr")[:60] or [""]
        gains = [scorer.score(doc.abstract, s)["rougeL"].fmeasure for s in sentences]
        best[id(doc)] = sentences[gains.index(max(gains))]
    row = score_system("Oracle (best sentence)", lambda d: best[id(d)], docs, scorer)
    return EvalRow(row.system, row.rouge1, row.rouge2, row.rougeL, float("nan"), row.articles, row.mean_words)


def evaluate_summaries(
    path: str,
    *,
    limit: int | None = None,
    summarizer: Summarizer | None = None,
    with_oracle: bool = False,
) -> list[EvalRow]:
    """Score LEAD-1, LEAD-2 and Veille's summarizer on a jsonl file (optionally the oracle sentence too)."""
    docs, _ = read_documents(path, limit=limit)
    scorer = make_scorer()
    veille = summarizer or Summarizer()
    rows = [
        score_system("LEAD-1", lead(1), docs, scorer),
        score_system("LEAD-2", lead(2), docs, scorer),
        score_system("Veille", lambda d: veille.summarize(d.article, lang="fr", title=d.title), docs, scorer),
    ]
    if with_oracle:
        rows.append(oracle_row(docs, scorer))
    return rows


def format_table(rows: Iterable[EvalRow]) -> str:
    """Render rows as a Markdown table: system, R-1, R-2, R-L, ms/article, words."""
    lines = [
        "| system | R-1 | R-2 | R-L | ms/article | words |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        ms = "-" if row.ms_per_article != row.ms_per_article else f"{row.ms_per_article:.2f}"
        lines.append(
            f"| {row.system} | {row.rouge1:.2f} | {row.rouge2:.2f} | {row.rougeL:.2f} | {ms} | {row.mean_words:.1f} |"
        )
    return "\n".join(lines)


def summarize_stream(
    stdin: IO[str],
    stdout: IO[str],
    lang: str = "auto",
    jsonl: bool = False,
    *,
    summarizer: Summarizer | None = None,
) -> int:
    """Summarize stdin to stdout (`veille summarize`); return 0, or 1 when some jsonl lines failed.

    Plain mode reads the whole input as one text. With `jsonl`, each line {"id": ..., "text": ...}
    (optionally "title", "lang") gives {"id": ..., "summary": ...}; a bad line gives {"id": ..., "error": ...}
    and the next lines go on.
    """
    if lang not in LANG_CHOICES:
        raise ValueError(f"lang must be one of {LANG_CHOICES}, got {lang!r}")
    if summarizer is None:
        from bot.nlp.language import LanguageDetector

        summarizer = Summarizer(detector=LanguageDetector() if lang == "auto" else None)
    fixed_lang = None if lang == "auto" else lang
    if not jsonl:
        summary = summarizer.summarize(stdin.read(), lang=fixed_lang)
        stdout.write(summary + "\n")
        return 0
    failures = 0
    for number, line in enumerate(stdin, start=1):
        if not line.strip():
            continue
        out: dict[str, Any] = {"id": None}
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise ValueError("expected a JSON object")
            out["id"] = item.get("id")
            text = item.get("text")
            if not isinstance(text, str):
                raise ValueError('missing or non-string "text"')
            title = item.get("title") or ""
            line_lang = item.get("lang") if item.get("lang") in ("fr", "en") else fixed_lang
            out["summary"] = summarizer.summarize(text, lang=line_lang, title=str(title))
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            failures += 1
            out["error"] = f"line {number}: {exc}"
        stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    return 1 if failures else 0
