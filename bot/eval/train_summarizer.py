"""Retrain the summarizer's sentence scorer on OrangeSum-style jsonl (fields title, article, abstract).

    python -m bot.eval.train_summarizer --data /work/shared/eval/orangesum/train/train.jsonl \
        [--valid .../valid.jsonl] [--out bot/nlp/data/summarizer.json]

The scorer is a listwise logistic model: within one article, the softmax of the sentence scores is fitted
to a softened distribution of each sentence's ROUGE-L against the author's abstract. Then the rule that
decides how many sentences to keep (`SelectionRule`) is chosen by grid search on the training articles.
Only the weights are written; no data leaves the data folder. numpy is needed here, never at run time.

Exceptions: `TrainingError` (no usable article in the data) is the only error raised on purpose.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bot.nlp.boilerplate import BoilerplateMatcher
from bot.nlp.summarize import (
    DEFAULT_WEIGHTS_PATH,
    FEATURES,
    Candidate,
    ScorerWeights,
    SelectionRule,
    prepare,
    select,
)

_TOKEN = re.compile(r"\w+")


class TrainingError(Exception):
    """The data gave nothing to learn from."""


def lcs_length(a: list[str], b: list[str]) -> int:
    """Return the length of the longest common subsequence of two token lists (bit-parallel)."""
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for i, token in enumerate(b):
        masks[token] = masks.get(token, 0) | (1 << i)
    full = (1 << len(b)) - 1
    v = full
    for token in a:
        u = v & masks.get(token, 0)
        v = ((v + u) | (v - u)) & full
    return len(b) - bin(v).count("1")


def rouge_l(candidate: list[str], reference: list[str]) -> float:
    """Return ROUGE-L F1 (0..1) between two token lists."""
    lcs = lcs_length(candidate, reference)
    if lcs == 0:
        return 0.0
    p, r = lcs / len(candidate), lcs / len(reference)
    return 2 * p * r / (p + r)


def load_docs(path: str, limit: int | None) -> list[tuple[list[Candidate], list[str]]]:
    """Read articles and return their candidates with the tokenized reference abstract."""
    matcher = BoilerplateMatcher()
    docs: list[tuple[list[Candidate], list[str]]] = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if limit is not None and len(docs) >= limit:
                break
            try:
                row = json.loads(line)
                article, title, abstract = str(row["article"]), str(row.get("title", "")), str(row["abstract"])
            except (ValueError, KeyError, TypeError):
                continue
            candidates = prepare(article, "fr", title, matcher)
            reference = _TOKEN.findall(abstract.lower())
            if len(candidates) >= 2 and reference:
                docs.append((candidates, reference))
    if not docs:
        raise TrainingError(f"no usable article in {path}")
    return docs


def build_vocab(docs: list[tuple[list[Candidate], list[str]]], size: int) -> list[str]:
    """Return the `size` words found in the most training sentences."""
    counts: Counter[str] = Counter()
    for candidates, _ in docs:
        for c in candidates:
            counts.update(set(c.tokens))
    return [word for word, _ in counts.most_common(size)]


def fit(
    docs: list[tuple[list[Candidate], list[str]]],
    vocab: list[str],
    *,
    temperature: float,
    l2: float,
    l2_words: float,
    epochs: int,
) -> tuple[list[float], dict[str, tuple[float, float]]]:
    """Fit the listwise scorer with Adam; return the dense weights (bias first) and the word weights."""
    import numpy as np

    index = {word: i for i, word in enumerate(vocab)}
    size = len(vocab)
    rows: list[list[float]] = []
    targets: list[float] = []
    groups: list[int] = []
    word_ids: list[int] = []
    word_vals: list[float] = []
    word_rows: list[int] = []
    for g, (candidates, reference) in enumerate(docs):
        gains = np.array([rouge_l(c.tokens, reference) for c in candidates])
        soft = np.exp((gains - gains.max()) / temperature)
        targets.extend((soft / soft.sum()).tolist())
        for c in candidates:
            row = len(rows)
            rows.append([1.0, *c.features])
            groups.append(g)
            distinct = set(c.tokens)
            norm = 1.0 / math.sqrt(len(distinct))
            for token in distinct:
                if token in index:
                    word_ids.append(index[token])
                    word_vals.append(norm)
                    word_rows.append(row)
            for token in c.tokens[:2]:
                if token in index:
                    word_ids.append(size + index[token])
                    word_vals.append(1.0)
                    word_rows.append(row)
    x = np.asarray(rows)
    q = np.asarray(targets)
    grp = np.asarray(groups)
    bi, bv, br = np.asarray(word_ids, dtype=np.intp), np.asarray(word_vals), np.asarray(word_rows, dtype=np.intp)
    n_docs, n_rows, n_dense = len(docs), len(rows), x.shape[1]
    # Standardize for a well-conditioned fit; the weights are mapped back to raw features at the end.
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    mean[0], std[0] = 0.0, 1.0
    std[std == 0] = 1.0
    xs = (x - mean) / std
    params = np.zeros(n_dense + 2 * size)
    m, v = np.zeros_like(params), np.zeros_like(params)
    lr, b1, b2 = 0.05, 0.9, 0.999
    for step in range(1, epochs + 1):
        w, u = params[:n_dense], params[n_dense:]
        s = xs @ w + np.bincount(br, weights=u[bi] * bv, minlength=n_rows)
        gmax = np.full(n_docs, -np.inf)
        np.maximum.at(gmax, grp, s)
        e = np.exp(s - gmax[grp])
        p = e / np.bincount(grp, weights=e, minlength=n_docs)[grp]
        r = (p - q) / n_docs
        grad_w = xs.T @ r + l2 * w
        grad_w[0] = 0.0  # softmax within a document ignores the bias
        grad_u = np.bincount(bi, weights=r[br] * bv, minlength=2 * size) + l2_words * u
        grad = np.concatenate([grad_w, grad_u])
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * grad * grad
        params -= lr * (m / (1 - b1**step)) / (np.sqrt(v / (1 - b2**step)) + 1e-8)
    w, u = params[:n_dense], params[n_dense:]
    raw = w / std
    raw[0] = w[0] - float((mean / std)[1:] @ w[1:])
    words = {word: (float(u[i]), float(u[size + i])) for i, word in enumerate(vocab)}
    return [float(val) for val in raw], words


def evaluate_rule(
    docs: list[tuple[list[Candidate], list[str]]],
    model: ScorerWeights,
    max_sentences: int = 2,
    max_chars: int = 400,
) -> float:
    """Return the mean ROUGE-L (x100) of the summaries chosen with `model`."""
    total = 0.0
    for candidates, reference in docs:
        chosen = sorted(select(candidates, model, max_sentences, max_chars), key=lambda c: c.index)
        tokens = [t for c in chosen for t in c.tokens]
        total += rouge_l(tokens, reference)
    return 100 * total / len(docs)


def main(argv: list[str] | None = None) -> int:
    """Train, tune and write the weights; print train and valid ROUGE-L."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="training jsonl (title, article, abstract)")
    parser.add_argument("--valid", help="validation jsonl, only reported")
    parser.add_argument("--out", default=str(DEFAULT_WEIGHTS_PATH))
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--temperature", type=float, default=0.05)
    parser.add_argument("--l2", type=float, default=1e-4)
    parser.add_argument("--l2-words", type=float, default=1e-4)
    parser.add_argument("--vocab", type=int, default=5000, help="how many words get their own weight")
    parser.add_argument("--epochs", type=int, default=400)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    try:
        docs = load_docs(args.data, args.limit)
        valid = load_docs(args.valid, None) if args.valid else []
    except (OSError, TrainingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"loaded {len(docs)} train docs in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    vocab = build_vocab(docs, args.vocab)
    weights, words = fit(
        docs, vocab, temperature=args.temperature, l2=args.l2, l2_words=args.l2_words, epochs=args.epochs
    )
    bag = {w: pair[0] for w, pair in words.items()}
    opening = {w: pair[1] for w, pair in words.items()}
    tune = docs[: min(len(docs), 6000)]
    best_rule, best = SelectionRule(), -1.0
    for target in (0, 20, 25, 30, 35, 40, 45, 50, 60):
        for margin in (0.3, 0.5, 1.0, 2.0, 100.0):
            rule = SelectionRule(target, margin)
            value = evaluate_rule(tune, ScorerWeights(tuple(weights), rule, bag, opening))
            if value > best:
                best_rule, best = rule, value
    final = ScorerWeights(tuple(weights), best_rule, bag, opening)
    print(f"rule {best_rule}: train R-L {best:.2f}", file=sys.stderr)
    if valid:
        print(f"valid R-L (own scorer) {evaluate_rule(valid, final):.2f}", file=sys.stderr)
    out: dict[str, Any] = {
        "version": 1,
        "trained_on": Path(args.data).name,
        "documents": len(docs),
        "features": list(FEATURES),
        "weights": [round(w, 6) for w in weights],
        "rule": {"target_words": best_rule.target_words, "margin": best_rule.margin},
        "vocab": {w: [round(a, 4), round(b, 4)] for w, (a, b) in words.items() if round(a, 4) or round(b, 4)},
        "objective": "listwise softmax on ROUGE-L / temperature",
        "temperature": args.temperature,
    }
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out} in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return 0 if math.isfinite(best) else 1


if __name__ == "__main__":
    raise SystemExit(main())
