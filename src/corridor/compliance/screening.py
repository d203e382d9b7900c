"""Screening a payment's parties against the watch-lists: which entries a name could be, and how sure that is.

A name is scored against every name and alias of every entry, word by word, on skeletons (names.py): the words of
both are paired by rapidfuzz's ratio, best pairs first, and the pairs' mean is the score, less a few points for
each word either name has that the other lacks: "Vasiliy Petrovich Zhestokov" (with a patronymic the list does not
have) scores high against "Vasily Zhestokov", "Ramon Tenebroso Ruiz" against "Ramón Ezequiel Tenebroso Ruiz", and
"Vasily Orlov" does not. Word order does not matter.

Then the secondary attributes: an identifier both sides give matches outright (score 100); dates of birth that
disagree (at the precision both know) rule the entry out; a party whose country is known and is not among the
entry's loses `country_penalty` points. What remains at or above `threshold` is a hit, for a reviewer to clear or
confirm (desk.py).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from corridor.compliance.names import normalise_identifier, skeleton_word, words
from corridor.compliance.watchlist import WatchEntry, WatchList

ENTRY_WORD_MISSING = 10
"""Points off for each word of the entry's name the party's name lacks (a middle name the payment leaves out)."""
QUERY_WORD_EXTRA = 2
"""Points off for each word of the party's name the entry's lacks (a patronymic the list leaves out)."""
PARTIAL_CAP = 50
WORD_CUTOFF = 60
"""A word pair scoring less than this counts as no match at all (and is not looked at further)."""
NAME_CACHE = 4096
"""Party names whose scores are remembered: a bank's payers and payees repeat."""


@dataclass(frozen=True, slots=True)
class ScreeningPolicy:
    threshold: int = 85
    """Score (0-100) at or above which a name is a hit."""
    country_penalty: int = 10
    """Points taken off when the party's country is known and is none of the entry's."""

    def __post_init__(self) -> None:
        assert 50 <= self.threshold <= 100, "a threshold below 50 would hold every payment"
        assert 0 <= self.country_penalty <= 50


@dataclass(frozen=True, slots=True)
class Party:
    """One side of a payment as screened: its role in the payment (debtor, creditor, cardholder, merchant...)."""

    role: str
    name: str
    country: str | None = None
    dob: str | None = None
    identifiers: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The party as decisions remember it: its name's skeleton (a cleared hit stays cleared for that name)."""
        return " ".join(sorted(_skeleton_words(self.name)))


@dataclass(frozen=True, slots=True)
class Hit:
    party: Party
    entry: WatchEntry
    score: int
    matched: str
    """The entry's name or alias that scored best, or the identifier that matched."""
    basis: str
    """"name" or "identifier"."""
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        """What a reviewer reads: who, which entry, how sure, and why."""
        extra = f"; {'; '.join(self.notes)}" if self.notes else ""
        return (
            f"{self.party.role} {self.party.name!r} ~ {self.entry.ref} {self.matched!r} "
            f"({self.basis}, score {self.score}){extra}"
        )


class Screener:
    """The watch-lists, indexed once: every distinct word of every name is scored against a party's words in one
    rapidfuzz pass per word, and only names sharing a plausible word are scored in full."""

    def __init__(self, lists: Sequence[WatchList], policy: ScreeningPolicy | None = None) -> None:
        self.lists = tuple(lists)
        self.policy = policy or ScreeningPolicy()
        self._entries: list[WatchEntry] = []
        self._vocabulary: list[str] = []
        word_ids: dict[str, int] = {}
        self._names: list[tuple[int, str, tuple[int, ...]]] = []
        """(entry index, the name as listed, its distinct words' ids)."""
        self._names_of_word: list[list[int]] = []
        self._by_identifier: dict[str, list[int]] = {}
        for watchlist in self.lists:
            for entry in watchlist.entries:
                index = len(self._entries)
                self._entries.append(entry)
                for identifier in entry.identifiers:
                    self._by_identifier.setdefault(identifier, []).append(index)
                for name in entry.names:
                    ids: list[int] = []
                    for word in dict.fromkeys(_skeleton_words(name)):
                        if word not in word_ids:
                            word_ids[word] = len(self._vocabulary)
                            self._vocabulary.append(word)
                            self._names_of_word.append([])
                        ids.append(word_ids[word])
                    if not ids:
                        continue
                    name_index = len(self._names)
                    self._names.append((index, name, tuple(ids)))
                    for word_id in ids:
                        self._names_of_word[word_id].append(name_index)
        self._scores = functools.lru_cache(maxsize=NAME_CACHE)(self._name_scores)

    @property
    def entries(self) -> int:
        return len(self._entries)

    def screen(self, party: Party) -> list[Hit]:
        """The entries `party` could be, best first; empty when none reaches the threshold."""
        found: dict[int, Hit] = {}
        for identifier in party.identifiers:
            for index in self._by_identifier.get(normalise_identifier(identifier), ()):
                found[index] = Hit(party, self._entries[index], 100, identifier, "identifier")
        for index, score, matched in self._scores(tuple(dict.fromkeys(_skeleton_words(party.name)))):
            if index in found:
                continue
            entry = self._entries[index]
            if _dates_disagree(party.dob, entry.dob):
                continue
            notes: tuple[str, ...] = ()
            if party.country and entry.countries and party.country not in entry.countries:
                score -= self.policy.country_penalty
                notes = (f"country {party.country} is not the entry's ({', '.join(entry.countries)})",)
            if score >= self.policy.threshold:
                found[index] = Hit(party, entry, score, matched, "name", notes)
        return sorted(found.values(), key=lambda hit: (-hit.score, hit.entry.ref))

    def screen_all(self, parties: Iterable[Party]) -> list[Hit]:
        return [hit for party in parties for hit in self.screen(party)]

    def _name_scores(self, query: tuple[str, ...]) -> list[tuple[int, int, str]]:
        """(entry index, best score over its names, that name) for each entry sharing a plausible word with the
        query's words; scores before the secondary attributes."""
        if not query or not self._vocabulary:
            return []
        per_word: list[dict[int, float]] = []
        pairs: dict[int, int] = {}
        """Name -> how many (query word, name word) pairs could match: at least the pairs its alignment will use."""
        for word in query:
            found = process.extract(word, self._vocabulary, scorer=fuzz.ratio, score_cutoff=WORD_CUTOFF, limit=None)
            scores = {word_id: score for _, score, word_id in found}
            per_word.append(scores)
            for word_id in scores:
                for name_index in self._names_of_word[word_id]:
                    pairs[name_index] = pairs.get(name_index, 0) + 1
        prune = self.policy.threshold > PARTIAL_CAP
        best: dict[int, tuple[int, str]] = {}
        for name_index, count in pairs.items():
            entry_index, name, ids = self._names[name_index]
            if prune and count < min(2, len(ids)):
                continue  # one word of a longer name: capped at PARTIAL_CAP, below any threshold
            score = _aligned_score(per_word, ids)
            if score > best.get(entry_index, (-1, ""))[0]:
                best[entry_index] = (score, name)
        return [(index, score, name) for index, (score, name) in best.items()]


def _aligned_score(per_word: list[dict[int, float]], ids: tuple[int, ...]) -> int:
    """Pair the query's words with the entry name's, best pairs first, each word used once; the score is the mean
    over as many pairs as the shorter name has words (a word left without a plausible partner scores 0), less
    ENTRY_WORD_MISSING for each of the entry's words left over and QUERY_WORD_EXTRA for each of the query's. A
    name matching fewer than two of a longer entry name's words scores at most PARTIAL_CAP: a first name alone is
    no hit."""
    pairs = sorted(
        ((scores[word_id], i, word_id) for i, scores in enumerate(per_word) for word_id in ids if word_id in scores),
        reverse=True,
    )
    used_query: set[int] = set()
    used_entry: set[int] = set()
    total = 0.0
    for score, i, word_id in pairs:
        if i in used_query or word_id in used_entry:
            continue
        used_query.add(i)
        used_entry.add(word_id)
        total += score
    matched = len(used_entry)
    shorter = min(len(per_word), len(ids))
    score = total / shorter - ENTRY_WORD_MISSING * (len(ids) - matched) - QUERY_WORD_EXTRA * (len(per_word) - matched)
    if matched < min(2, len(ids)):
        score = min(score, PARTIAL_CAP)
    return max(0, math.floor(score))


@functools.lru_cache(maxsize=NAME_CACHE)
def _skeleton_words(name: str) -> tuple[str, ...]:
    return tuple(skeleton_word(word) for word in words(name))


def _dates_disagree(party: str | None, entry: str | None) -> bool:
    """Both known and different at the precision both have (a year against a full date compares the years)."""
    if not party or not entry:
        return False
    shared = min(len(party), len(entry))
    return party[:shared] != entry[:shared]
