"""Generate a deterministic synthetic news archive (French and English) for the search benchmarks.

Words follow a Zipf law over a vocabulary of common words plus a long tail of invented ones; real company
names appear at rates that roughly follow how often the press names them; articles come from a dozen
sources and several of them report the same story. Same --seed, same archive.

    python -m benchmarks.gen_archive --n 100000 --out /tmp/archive.jsonl
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import random
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from bot.models import Article

EPOCH = datetime(2026, 11, 10, tzinfo=UTC)
SPAN_DAYS = 365

def _words(text: str) -> list[str]:
    return text.split()


FR_COMMON = _words(
    "le la les de des du un une et en à au aux pour par sur dans avec que qui ne pas plus est sont a ont "
    "été être fait selon après avant entre contre sans sous cette ces son sa ses leur leurs nous vous "
    "il elle ils elles on mais ou donc car comme aussi très tout tous toute deux trois premier dernier "
    "nouveau "
    "nouvelle grand grande marché gouvernement président entreprise entreprises groupe société prix "
    "milliards millions euros dollars hausse baisse croissance emploi salariés usine production ventes "
    "résultats trimestre annonce accord rachat projet réseau électrique puce puces semi-conducteurs "
    "technologie données intelligence artificielle sécurité énergie pétrole gaz banque bourse action "
    "actions investisseurs ministre économie politique élection élections loi réforme budget dette impôts "
    "santé hôpital école université étudiants grève syndicats police justice tribunal enquête guerre paix "
    "pays France Europe européenne Chine États-Unis Allemagne mondial mondiale ville région climat chaleur"
)
EN_COMMON = _words(
    "the of and to a in for is on that by with as at from it was are be has have said will its this an "
    "not but or more after over new first last year years company companies market government president "
    "shares stock price prices billion million dollars revenue profit growth jobs workers factory sales "
    "quarter deal merger acquisition chip chips semiconductor semiconductors technology data artificial "
    "intelligence security energy oil gas bank investors minister economy policy election law reform "
    "budget debt tax health hospital school university students strike union police court investigation "
    "war peace country China Europe United States Germany global city region climate heat network power"
)
COMPANIES = (
    ("Apple", 0.020), ("Microsoft", 0.018), ("Google", 0.018), ("Amazon", 0.015), ("Nvidia", 0.015),
    ("Meta", 0.012), ("Tesla", 0.012), ("OpenAI", 0.010), ("Samsung", 0.008), ("Intel", 0.008),
    ("TotalEnergies", 0.006), ("LVMH", 0.006), ("Airbus", 0.006), ("Renault", 0.005), ("Stellantis", 0.005),
    ("BNP Paribas", 0.004), ("Sanofi", 0.004), ("AMD", 0.004), ("Qualcomm", 0.003), ("Broadcom", 0.003),
    ("TSMC", 0.003), ("ASML", 0.003), ("Orange", 0.003), ("Danone", 0.002), ("Michelin", 0.002),
    ("STMicroelectronics", 0.0015), ("Capgemini", 0.0015), ("Dassault Systèmes", 0.001), ("Arm", 0.001),
    ("Mistral AI", 0.001), ("Alstom", 0.0008), ("Thales", 0.0008), ("Ubisoft", 0.0006), ("Soitec", 0.0003),
    ("Atos", 0.0003), ("Worldline", 0.0002), ("OVHcloud", 0.0002), ("Kering", 0.0005), ("Hermès", 0.0005),
)  # fmt: skip
# Set phrases, so that phrase queries have something to find: (words, chance an article uses it).
PHRASES = {
    "fr": (("intelligence artificielle", 0.08), ("centre de données", 0.04), ("puce sur mesure", 0.01),
           ("taux d'intérêt", 0.03), ("chaîne d'approvisionnement", 0.02)),
    "en": (("artificial intelligence", 0.08), ("data center", 0.05), ("custom chip", 0.01),
           ("interest rates", 0.03), ("supply chain", 0.03)),
}  # fmt: skip
SOURCES = (
    ("Le Monde", "fr", 0.14), ("Les Echos", "fr", 0.12), ("Le Figaro", "fr", 0.10),
    ("Libération", "fr", 0.06), ("France Info", "fr", 0.08),
    ("L'Usine Nouvelle", "fr", 0.04), ("Reuters", "en", 0.14),
    ("The Verge", "en", 0.06), ("Financial Times", "en", 0.08), ("BBC News", "en", 0.08),
    ("TechCrunch", "en", 0.05), ("Ars Technica", "en", 0.05),
)  # fmt: skip
_SYLLABLES = _words(
    "ba be bi bo bu ca ce ci co cu da de di do du fa fe fi fo ga ge gi lo la le li ma me mi mo na ne ni no "
    "pa pe pi po ra re ri ro sa se si so ta te ti to va ve vi tra tre pro pre con ment tion ique eur ance"
)


def _tail(rng: random.Random, n: int) -> list[str]:
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


class _Zipf:
    def __init__(self, words: list[str], exponent: float = 1.07) -> None:
        self.words = words
        self.cum = list(itertools.accumulate(1.0 / (rank**exponent) for rank in range(1, len(words) + 1)))

    def draw(self, rng: random.Random, k: int) -> list[str]:
        return rng.choices(self.words, cum_weights=self.cum, k=k)


def generate(n: int, seed: int = 42, words_per_article: int = 150) -> Iterator[Article]:
    """Yield `n` articles with ids 1..n, oldest first, the same for the same seed."""
    rng = random.Random(seed)
    vocab = {
        "fr": _Zipf(FR_COMMON + _tail(rng, 30_000)),
        "en": _Zipf(EN_COMMON + _tail(rng, 30_000)),
    }
    source_weights = list(itertools.accumulate(w for _, _, w in SOURCES))
    story_id = 0
    story_left = 0
    story_title: list[str] = []
    story_names: list[str] = []
    for i in range(1, n + 1):
        source, lang, _ = SOURCES[bisect.bisect(source_weights, rng.random() * source_weights[-1])]
        zipf = vocab[lang]
        if story_left == 0:
            story_id += 1
            story_left = min(rng.choices((1, 2, 3, 5, 8), weights=(50, 20, 15, 10, 5))[0], 8)
            story_names = [name for name, rate in COMPANIES if rng.random() < rate * 8]
            story_title = zipf.draw(rng, 6)
        story_left -= 1
        title_words = story_title[:4] + zipf.draw(rng, 3) + story_names[:1]
        body = zipf.draw(rng, rng.randint(words_per_article // 2, words_per_article * 3 // 2))
        for name in story_names:
            for _ in range(rng.randint(1, 3)):
                body.insert(rng.randrange(len(body) + 1), name)
        for name, rate in COMPANIES:
            if rng.random() < rate:
                body.insert(rng.randrange(len(body) + 1), name)
        for phrase, rate in PHRASES[lang]:
            if rng.random() < rate:
                body.insert(rng.randrange(len(body) + 1), phrase)
        text = _sentences(rng, body)
        published = EPOCH - timedelta(days=SPAN_DAYS) + timedelta(seconds=SPAN_DAYS * 86400 * i / max(n, 1))
        yield Article(
            key=f"synthetic:{i}",
            url=f"https://{source.lower().replace(' ', '')}.example/{i}",
            title=" ".join(title_words).capitalize(),
            text=text,
            source=source,
            published=published,
            lang=lang,
            entities=story_names,
            story_id=story_id,
            id=i,
        )


def _sentences(rng: random.Random, words: list[str]) -> str:
    out: list[str] = []
    start = 0
    while start < len(words):
        end = start + rng.randint(8, 20)
        sentence = " ".join(words[start:end])
        out.append(sentence[:1].upper() + sentence[1:] + ".")
        start = end
    return " ".join(out)


def main(argv: list[str] | None = None) -> int:
    """Write the archive as JSON lines (one article per line) to --out or stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default="-")
    args = parser.parse_args(argv)
    handle = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8")  # noqa: SIM115
    try:
        for article in generate(args.n, args.seed):
            record = {
                "id": article.id, "key": article.key, "url": article.url, "title": article.title,
                "text": article.text, "source": article.source, "lang": article.lang,
                "published": article.published.isoformat(), "entities": article.entities,
                "story_id": article.story_id,
            }  # fmt: skip
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    finally:
        if handle is not sys.stdout:
            handle.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
