"""Watchlist entities: find the configured names and their aliases in an article.

Aliases come from the operator's config (`entities: {Broadcom: [Broadcom, AVGO]}`), never from chat
users, so they are compiled once into one alternation; matching is on word boundaries, case- and
accent-insensitive, and costs one pass over the text whatever the size of the watchlist.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache


def fold(text: str) -> str:
    """Lower-case and strip accents: "Réseau NVIDIA" -> "reseau nvidia"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


class EntityMatcher:
    """Finds watchlist entities in text."""

    def __init__(self, entities: Mapping[str, Sequence[str]]) -> None:
        self._by_alias: dict[str, str] = {}
        for name, aliases in entities.items():
            for alias in (name, *aliases):
                folded = fold(alias).strip()
                if folded:
                    self._by_alias.setdefault(folded, name)
        if self._by_alias:
            # Longest first, so "Rain AI" wins over "Rain" when both are aliases.
            alternation = "|".join(re.escape(a) for a in sorted(self._by_alias, key=len, reverse=True))
            self._pattern: re.Pattern[str] | None = re.compile(rf"(?<!\w)(?:{alternation})(?!\w)")
        else:
            self._pattern = None

    @property
    def names(self) -> list[str]:
        """Return the canonical entity names."""
        return sorted(set(self._by_alias.values()))

    def find(self, *texts: str) -> list[str]:
        """Return the canonical names of the entities mentioned in `texts`, in first-mention order."""
        if self._pattern is None:
            return []
        found: dict[str, None] = {}
        for text in texts:
            for match in self._pattern.finditer(fold(text)):
                found.setdefault(self._by_alias[match.group(0)], None)
        return list(found)

    def count(self, text: str) -> dict[str, int]:
        """Return how many times each entity is mentioned in `text`."""
        counts: dict[str, int] = {}
        if self._pattern is None:
            return counts
        for match in self._pattern.finditer(fold(text)):
            name = self._by_alias[match.group(0)]
            counts[name] = counts.get(name, 0) + 1
        return counts


# -- automatic extraction --------------------------------------------------------------------------------------

_WORDS = re.compile(r"\w+")
# Folding runs per word; news repeats its words, so a bounded memo saves most of the cost.
_fold = lru_cache(maxsize=50_000)(fold)

# Words that are capitalised at the start of a sentence, or always, without naming an organisation or a person.
_COMMON_WORDS = (
    # English function words and frequent sentence openers
    "the a an this that these those there here in on at to for with by from as of into onto about after before "
    "during since until under over between among against without within while when where whereas why how what "
    "who whom which whose if but and or nor so yet also although though because however meanwhile moreover "
    "still then thus instead indeed it its he she they we you i me him her them his their our your my one two "
    "three four five six seven eight nine ten first second third last next new all both each every many most "
    "some several such no not only other another more less few around nearly almost just even "
    "according analysts financial shares sales "
    "revenue investors people officials executives company companies government chief mr mrs ms dr sir st "
    "yes no inc corp ltd co "
    # French function words and frequent sentence openers
    "le la les l un une des du de d au aux ce cet cette ces c ça il elle ils elles on nous vous je j tu "
    "son sa ses leur leurs notre nos votre vos mon ma mes qui que qu quoi dont où quand comme si mais et ou "
    "donc or ni car pour par sur sous dans en avec sans chez entre vers depuis pendant avant après selon "
    "lors dès contre malgré outre ainsi alors aussi enfin encore déjà toutefois cependant pourtant néanmoins "
    "désormais aujourd hier demain plusieurs certains certaines chaque tout tous toute toutes autre autres "
    "même mêmes aucun aucune premier première dernier dernière nouveau nouvelle nouveaux deux trois quatre "
    "cinq six sept huit neuf dix m mme mlle me dr pr côté face faute grâce quant reste "
    # months and days
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec "
    "janvier février mars avril mai juin juillet août septembre octobre novembre décembre "
    "monday tuesday wednesday thursday friday saturday sunday "
    "lundi mardi mercredi jeudi vendredi samedi dimanche "
    # capitalised acronyms and titles that are not names
    "ai ia ceo cfo cto coo pdg dg gpu gpus cpu cpus tpu tpus npu hbm asic asics ram dram nand ssd pc pcs "
    "api sdk ipo ia q t s h r d usd eur gw mw kw tw pdf faq tv ok "
)
# Places are capitalised and frequent but are not what a subscription to "entity:" is after.
_PLACES = (
    "us usa u.s uk eu ue europe european européen européenne america american américain américaine amérique "
    "china chinese chine chinois chinoise taiwan taïwan taiwanese taïwanais japan japanese japon japonais "
    "korea korean corée coréen india inde germany german allemagne allemand france french français française "
    "britain british britannique netherlands dutch néerlandais pays-bas asia asie africa afrique "
    "texas arizona california californie oregon ohio new york paris london londres washington tokyo beijing "
    "pékin shanghai seoul séoul taipei hsinchu brussels bruxelles berlin singapore singapour israel israël "
    "saudi arabia arabie dubai riyadh ryad abu dhabi canada canadian mexico mexique ireland irlande "
)
_MULTIWORD_PLACES = frozenset(
    ("new york", "silicon valley", "wall street", "united states", "etats-unis", "royaume-uni", "united kingdom",
     "middle east", "moyen-orient", "hong kong", "saudi arabia", "arabie saoudite", "abu dhabi", "south korea",
     "coree du sud", "white house", "maison blanche")
)
_STOP_WORDS = frozenset(_fold(w) for w in _COMMON_WORDS.split())
_PLACE_WORDS = frozenset(_fold(w) for w in _PLACES.split())
# Organisation suffixes: they mark a name as a company and are dropped from its canonical form.
_ORG_SUFFIXES = frozenset(
    ("inc", "corp", "corporation", "ltd", "limited", "llc", "plc", "sa", "sas", "sarl", "ag", "gmbh", "se",
     "nv", "bv", "spa", "co", "kk", "holdings")
)
# "Bank of America", "Banque de France": connectors kept inside a name only after these heads (French)
# or always (English "of", "&"), since "OpenAI de Sam Altman" is two names.
_FR_ORG_HEADS = frozenset(
    _fold(w) for w in "banque caisse société crédit ministère commission agence université institut autorité "
    "conseil cour fonds groupe office direction haute".split()
)
_ABBREVIATIONS = frozenset(("inc", "corp", "ltd", "co", "mr", "mrs", "ms", "dr", "st", "m", "mme", "jr", "sr", "pr"))

_TOKEN = re.compile(r"[^\W\d_][\w&'’.-]*[\w]|[^\W\d_]|\d[\w.,]*|[.,!?;:()\[\]«»\"“”—–&/]")
_ELISION = re.compile(r"^(?:[dlsjmntc]|qu|jusqu|lorsqu|puisqu)['’](?=\w)", re.IGNORECASE)
_POSSESSIVE_END = re.compile(r"['’]s?$")
_LOWER_SUFFIX = re.compile(r"-[a-zà-ÿ]+$")  # "Toronto-based", "Paris-born": descriptions, not names


@dataclass(slots=True)
class _Candidate:
    forms: Counter[str]
    mentions: int = 0
    organisation: bool = False
    in_title: bool = False


class EntityExtractor:
    """Watchlist entities plus the organisations and people an article is about, found without a model.

    A name is a run of capitalised words (with "of" / "&" inside, and French "de" after heads like
    "Banque"), not counting a sentence's first word unless that word is capitalised elsewhere too; runs are
    split at common words (a stop list of French and English openers, months and days) and places are left
    out. Names mentioned once are kept only when the title names them too or a suffix (Inc, SA, AG...) marks
    them as companies; a lone surname counts as a mention of the full name seen earlier ("Tan" -> "Hock Tan").
    Watchlist aliases come back under their canonical name; names that merely extend one ("Nvidia Blackwell")
    are products of it and are dropped.
    """

    def __init__(self, matcher: EntityMatcher | None = None, *, max_auto: int = 6, max_chars: int = 6000) -> None:
        self.matcher = matcher or EntityMatcher({})
        self.max_auto = max_auto
        self.max_chars = max_chars

    def find(self, title: str, text: str) -> list[str]:
        """Return watchlist names, then the automatically found names, most mentioned first."""
        found = self.matcher.find(title, text)
        seen = {_fold(name) for name in found}
        for name in self.extract(title, text):
            key = _fold(name)
            if key not in seen:
                seen.add(key)
                found.append(name)
        return found

    def extract(self, title: str, text: str) -> list[str]:
        """Return the organisations and people named in the article, most mentioned first (watchlist aside)."""
        body = text[: self.max_chars]
        runs = _capitalised_runs(body)
        # A sentence's first word is capitalised anyway: it counts as a name when the article also capitalises
        # it mid-sentence, or the title has it, or it opens several sentences and never appears in lower case.
        mid_sentence = {_fold(word) for run, _ in runs for i, word in enumerate(run) if i > 0 or not run.initial}
        openers = Counter(_fold(run[0]) for run, initial in runs if initial)
        capitalised = Counter(_fold(word) for run, _ in runs for word in run)
        title_words = set(_WORDS.findall(_fold(title)))
        lower = {w for w in _WORDS.findall(f"{title} {body}") if w[:1].islower()}
        candidates: dict[str, _Candidate] = {}
        for run, initial in runs:
            words = list(run)
            if initial and words and not _is_acronym(words[0]):
                first = _fold(words[0])
                suffixed = any(_fold(w) in _ORG_SUFFIXES for w in words[1:])
                # "Andrew Feldman, the chief executive, ... Feldman added": a full name whose last word recurs.
                person = len(words) == 2 and capitalised[_fold(words[1])] >= 2
                named = suffixed or person or first in mid_sentence or first in title_words or openers[first] >= 2
                if not named or first in _STOP_WORDS or words[0].lower() in lower:
                    words = words[1:]
            for name, organisation in _split_run(words):
                key = _fold(name)
                cand = candidates.get(key)
                if cand is None:
                    cand = candidates[key] = _Candidate(Counter())
                cand.forms[name] += 1
                cand.mentions += 1
                cand.organisation = cand.organisation or organisation
        if not candidates:
            return []
        self._merge_short_forms(candidates)
        self._merge_surnames(candidates)
        folded_title = f" {' '.join(_WORDS.findall(_fold(title)))} "
        watch = self.matcher
        scored: list[tuple[int, str]] = []
        single = {key: cand.mentions for key, cand in candidates.items() if " " not in key}
        for key, cand in candidates.items():
            if cand.mentions == 0:
                continue
            name = _display(cand.forms)
            if watch.find(name):  # a watchlist alias, or a product named after one: listed by the watchlist
                continue
            head = key.split(" ", 1)[0]
            if " " in key and single.get(head, 0) > cand.mentions and not cand.organisation:
                continue  # "Intel Foundry" after "Intel": a known company's division or product line
            cand.in_title = f" {key} " in folded_title
            score = cand.mentions + cand.in_title + cand.organisation
            if score >= 2:
                scored.append((score, name))
        scored.sort(key=lambda item: -item[0])
        return [name for _, name in scored[: self.max_auto]]

    @staticmethod
    def _merge_short_forms(candidates: dict[str, _Candidate]) -> None:
        # "Cerebras Systems ... Cerebras said": a name given in full first, then shortened to its first word.
        # Candidates are in first-mention order; a short form seen before the long one is the company and
        # the long one its product ("Nvidia ... Nvidia Blackwell"), handled when scoring.
        order = {key: i for i, key in enumerate(candidates)}
        for key, cand in candidates.items():
            parts = key.split(" ")
            if len(parts) < 2:
                continue
            short = candidates.get(parts[0])
            if short and short.mentions and order[parts[0]] > order[key] and short.mentions <= 2 * cand.mentions + 1:
                cand.mentions += short.mentions
                short.mentions = 0

    @staticmethod
    def _merge_surnames(candidates: dict[str, _Candidate]) -> None:
        # "Hock Tan ... Tan said": the lone surname is the person named in full earlier.
        full_by_last: dict[str, list[str]] = {}
        for key in candidates:
            parts = key.split(" ")
            if 2 <= len(parts) <= 3:
                full_by_last.setdefault(parts[-1], []).append(key)
        for last, fulls in full_by_last.items():
            lone = candidates.get(last)
            if lone is not None and len(fulls) == 1 and not lone.organisation:
                candidates[fulls[0]].mentions += lone.mentions
                lone.mentions = 0




class _Run(list[str]):
    """Capitalised words in a row, and whether the first one opens a sentence."""

    initial: bool = False


def _is_acronym(word: str) -> bool:
    letters = [ch for ch in word if ch.isalpha()]
    return len(letters) >= 2 and all(ch.isupper() for ch in letters)


def _capitalised_runs(text: str) -> list[tuple[_Run, bool]]:
    """Return the runs of capitalised words of `text`, each with whether it starts a sentence."""
    runs: list[tuple[_Run, bool]] = []
    run = _Run()
    pending: list[str] = []  # connectors waiting for the next capitalised word
    sentence_start = True
    previous = ""

    def flush() -> None:
        nonlocal run
        if run:
            runs.append((run, run.initial))
        run = _Run()
        pending.clear()

    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if len(token) == 1 and not token.isalnum():
            if token == "&" and run:
                pending.append(token)
                continue
            flush()
            if token in ".!?":
                # "Inc." and "M." do not end sentences; "Broadcom." does.
                sentence_start = _fold(previous) not in _ABBREVIATIONS or sentence_start
            elif token in ':«"“—–(':
                sentence_start = True
            previous = token
            continue
        word = token
        elided = _ELISION.match(word)
        if elided:
            word = word[elided.end():]
        possessive = bool(_POSSESSIVE_END.search(word)) and word[-2:] in ("'s", "’s")
        if possessive:
            word = word[:-2]
        if word[:1].isupper() and not _LOWER_SUFFIX.search(word):
            if not run:
                run.initial = sentence_start and not elided
            elif pending:
                run.extend(pending)
            pending.clear()
            run.append(word)
            if possessive:
                flush()
        elif run and not pending and _connects(_fold(word), run):
            pending.append(word)
        else:
            flush()
        sentence_start = False
        previous = word
    flush()
    return runs


def _connects(word: str, run: list[str]) -> bool:
    """Tell whether a lower-case word may join two capitalised ones into one name."""
    if word == "of":
        return True
    return word in ("de", "du", "des") and len(run) == 1 and _fold(run[0]) in _FR_ORG_HEADS


def _split_run(words: list[str]) -> list[tuple[str, bool]]:
    """Cut a run at common words; return each name with whether an organisation suffix marked it."""
    names: list[tuple[str, bool]] = []
    current: list[str] = []
    organisation = False

    def close() -> None:
        nonlocal current, organisation
        while current and _fold(current[-1]) in ("of", "&", "de", "du", "des"):
            current.pop()
        if current:
            name = " ".join(current)
            key = _fold(name)
            digits = any(ch.isdigit() for ch in name)
            alone_generic = len(current) == 1 and (key in _STOP_WORDS or key in _PLACE_WORDS)
            if not digits and not alone_generic and key not in _MULTIWORD_PLACES and len(name) > 1:
                names.append((name, organisation))
        current = []
        organisation = False

    for word in words:
        key = _fold(word)
        if key in _ORG_SUFFIXES and current:
            organisation = True
            close()
            continue
        if key in _STOP_WORDS and not (current and _is_acronym(word)):
            # "Rain AI", "Mistral AI": an acronym after a name belongs to it; a common word ends the name.
            close()
            continue
        if key in _PLACE_WORDS and not current:
            close()
            continue
        current.append(word)
    close()
    return names


def _display(forms: Counter[str]) -> str:
    """Choose how to write a name: its most frequent form, mixed case preferred over capitals."""
    ranked = sorted(forms.items(), key=lambda item: (not any(ch.islower() for ch in item[0]), -item[1]))
    return ranked[0][0]
