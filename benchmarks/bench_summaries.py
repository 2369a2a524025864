"""Benchmark the summarizer on OrangeSum: ROUGE table and time per article.

.venv/bin/python -m benchmarks.bench_summaries --data /work/shared/eval/orangesum/valid/valid.jsonl
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from bot.eval.summaries import EvalError, evaluate_summaries, format_table, read_documents
from bot.nlp.summarize import Summarizer


def main(argv: list[str] | None = None) -> int:
    """Print the valid-split table, then the median and 95th-percentile summarizer time per article."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--no-oracle", action="store_true", help="skip the (slow) oracle row")
    args = parser.parse_args(argv)
    summarizer = Summarizer()
    try:
        rows = evaluate_summaries(args.data, limit=args.limit, summarizer=summarizer, with_oracle=not args.no_oracle)
        docs, skipped = read_documents(args.data, limit=args.limit)
    except EvalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.data}: {len(docs)} articles ({skipped} bad lines skipped)\n")
    print(format_table(rows))

    times = []
    for _ in range(3):  # best of three passes per article, to read the code's cost rather than the machine's
        for i, doc in enumerate(docs):
            started = time.perf_counter()
            summarizer.summarize(doc.article, lang="fr", title=doc.title)
            elapsed = time.perf_counter() - started
            if len(times) <= i:
                times.append(elapsed)
            else:
                times[i] = min(times[i], elapsed)
    times.sort()
    p95 = times[int(0.95 * (len(times) - 1))]
    print(f"\nVeille summarizer: median {1000 * statistics.median(times):.2f} ms/article, p95 {1000 * p95:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
