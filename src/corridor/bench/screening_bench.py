"""`corridor bench screening`: how fast parties are screened against a watch-list of realistic size, how many of the
listed names written another way are still found, and what a whole compliance check per payment costs.

The list is synthetic and seeded: person and company names built from Russian and Spanish name parts, half of them
listed in Cyrillic, each with a Latin alias. The queries are names not on the list, and planted ones: a listed name
written in another transliteration (ICAO, German, scholarly), with its words swapped or a patronymic added. Beside the
figures, the baseline measured in the same run: rapidfuzz's own WRatio over the raw names (what one would write
first), its speed and what it finds of the planted names at the same threshold.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from corridor.bench.common import Progress, machine
from corridor.compliance import CompliancePolicy, Party
from corridor.compliance.desk import ComplianceDesk, open_records
from corridor.compliance.screening import Screener, ScreeningPolicy
from corridor.compliance.watchlist import WatchEntry, WatchList

GIVEN = ["Vasily", "Ivan", "Sergei", "Dmitry", "Alexei", "Yevgeny", "Mikhail", "Nikolai", "Pavel", "Yuri",
         "Carlos", "Jose", "Luis", "Ramon", "Miguel", "Rafael", "Andres", "Jorge", "Ricardo", "Eduardo"]  # fmt: skip
SURNAME_ROOTS = ["Zhest", "Kuzn", "Vorob", "Shchuk", "Khrust", "Tsvet", "Morozh", "Sokol", "Lebed", "Kozl",
                 "Orl", "Belk", "Gusev", "Zhuk", "Chern", "Pesh", "Yablok", "Grom", "Medved", "Volkh"]  # fmt: skip
SURNAME_ENDS = ["ov", "in", "sky", "enko", "ovich", "ev", "ykh", "ets"]
SPANISH = ["Tenebroso", "Oscuro", "Guacharo", "Rojas", "Mendoza", "Castillo", "Figueroa", "Zambrano", "Urdaneta",
           "Briceno", "Quintero", "Villalobos", "Echeverria", "Landaeta", "Marcano", "Salazar"]  # fmt: skip
CLEAN_GIVEN = ["Oleg", "Anton", "Boris", "Fyodor", "Gleb", "Timur", "Hector", "Julio", "Pedro", "Mario", "Arkady",
               "Stepan", "Tomas", "Felipe", "Gustavo", "Ignacio"]  # fmt: skip
CLEAN_SURNAMES = ["Bykov", "Gorbunov", "Ryabinin", "Zaitsev", "Pronin", "Sychev", "Tikhonov", "Fomin", "Nazarov",
                  "Ulyanov", "Aguilar", "Bermudez", "Cabrera", "Delgado", "Espinoza", "Fuentes", "Guzman",
                  "Herrera"]  # fmt: skip
"""The names screened that are not on the list: parts the list's names are not built from, so a hit among them is a
false one."""
COMPANY = ["Trans", "Neft", "Agro", "Metal", "Logistik", "Tranzit", "Invest", "Energo", "Stroi", "Khim"]
LATIN_TO_CYRILLIC = [("shch", "щ"), ("zh", "ж"), ("kh", "х"), ("ts", "ц"), ("ch", "ч"), ("sh", "ш"), ("yu", "ю"),
                     ("ya", "я"), ("ye", "е"), ("yo", "ё"), ("a", "а"), ("b", "б"), ("v", "в"), ("g", "г"), ("d", "д"),
                     ("e", "е"), ("z", "з"), ("i", "и"), ("y", "й"), ("k", "к"), ("l", "л"), ("m", "м"), ("n", "н"),
                     ("o", "о"), ("p", "п"), ("r", "р"), ("s", "с"), ("t", "т"), ("u", "у"), ("f", "ф"), ("c", "к"),
                     ("j", "х"), ("h", "х"), ("x", "кс"), ("w", "в")]  # fmt: skip
GERMAN = [("shch", "schtsch"), ("zh", "sch"), ("kh", "ch"), ("ch", "tsch"), ("sh", "sch"), ("v", "w"), ("y", "j")]
SCHOLARLY = [("shch", "šč"), ("zh", "ž"), ("kh", "ch"), ("ch", "č"), ("sh", "š"), ("ts", "c"), ("y", "j")]
THRESHOLD = 85


@dataclass(frozen=True, slots=True)
class ScreeningBenchConfig:
    entries: int = 10_000
    queries: int = 2_000
    planted_share_pct: int = 20
    checks: int = 5_000
    seed: int = 7


def run_screening(cfg: ScreeningBenchConfig, progress: Progress) -> dict[str, Any]:
    rng = random.Random(cfg.seed)
    progress.phase("building the list", None)
    entries, latin_names = _entries(rng, cfg.entries)
    listed = WatchList("bench", tuple(entries), "synthetic", "0" * 64)
    started = time.perf_counter()
    screener = Screener([listed], ScreeningPolicy(threshold=THRESHOLD, country_penalty=0))
    index_s = time.perf_counter() - started
    planted_count = cfg.queries * cfg.planted_share_pct // 100
    planted = [(_variant(rng, latin_names[i]), entries[i].ref) for i in rng.sample(range(len(entries)), planted_count)]
    clean = [
        f"{rng.choice(CLEAN_GIVEN)} {rng.choice(CLEAN_SURNAMES)} {rng.choice(CLEAN_SURNAMES)}"
        for _ in range(cfg.queries - planted_count)
    ]
    queries = [name for name, _ in planted] + clean
    progress.phase("screening", len(queries))
    started = time.perf_counter()
    found: dict[str, set[str]] = {}
    for name in queries:
        found[name] = {hit.entry.ref for hit in screener.screen(Party("creditor", name))}
        progress.advance()
    screen_s = time.perf_counter() - started
    progress.phase("baseline: rapidfuzz WRatio over the raw names", len(queries))
    raw = [name for entry in entries for name in entry.names]
    owner = [entry.ref for entry in entries for _ in entry.names]
    started = time.perf_counter()
    baseline_found: dict[str, set[str]] = {}
    for name in queries:
        hits = process.extract(name, raw, scorer=fuzz.WRatio, score_cutoff=THRESHOLD, limit=None)
        baseline_found[name] = {owner[index] for _, _, index in hits}
        progress.advance()
    baseline_s = time.perf_counter() - started
    desk_rate = asyncio.run(_desk_checks(listed, cfg.checks, clean, progress))
    recall = sum(1 for name, ref in planted if ref in found[name]) / max(1, len(planted))
    baseline_recall = sum(1 for name, ref in planted if ref in baseline_found[name]) / max(1, len(planted))
    false_hits = sum(1 for name in clean if found[name]) / max(1, len(clean))
    baseline_false = sum(1 for name in clean if baseline_found[name]) / max(1, len(clean))
    return {
        "benchmark": "screening",
        "entries": len(entries),
        "names_listed": len(raw),
        "queries": len(queries),
        "planted": len(planted),
        "threshold": THRESHOLD,
        "index_s": round(index_s, 3),
        "screened_per_s": round(len(queries) / screen_s, 1),
        "recall_planted": round(recall, 3),
        "false_hit_rate": round(false_hits, 4),
        "baseline_per_s": round(len(queries) / baseline_s, 1),
        "baseline_recall_planted": round(baseline_recall, 3),
        "baseline_false_hit_rate": round(baseline_false, 4),
        "ratio": round(baseline_s / screen_s, 2),
        "desk_checks_per_s": desk_rate,
        "machine": machine(),
    }


async def _desk_checks(listed: WatchList, count: int, names: list[str], progress: Progress) -> float:
    """Whole checks (screening both parties, the AML rules, the verdict kept durably, group-committed) of `count`
    payments in flight together, as a busy bank's payments arrive."""
    progress.phase("desk checks (durable)", count)
    with tempfile.TemporaryDirectory() as folder:
        db, audit = open_records(Path(folder) / "compliance.db")
        desk = ComplianceDesk(
            "BENCHRUMM", CompliancePolicy((listed,)), db, audit, clock=time.time_ns, at=lambda ns: str(ns)
        )
        try:
            started = time.perf_counter()

            async def one(i: int) -> None:
                parties = (Party("debtor", names[i % len(names)], "RU"), Party("creditor", names[-1 - i % len(names)]))
                await desk.check(
                    rail="bench", subject=f"p{i}", account=f"A{i % 500}", tier=None, amount=10_000, currency="RUB",
                    parties=parties,
                )  # fmt: skip
                progress.advance()

            await asyncio.gather(*(one(i) for i in range(count)))
            return round(count / (time.perf_counter() - started), 1)
        finally:
            db.close()


def _entries(rng: random.Random, count: int) -> tuple[list[WatchEntry], list[str]]:
    entries: list[WatchEntry] = []
    latin: list[str] = []
    for i in range(count):
        if i % 5 == 4:
            name = f"{rng.choice(COMPANY)}{rng.choice(COMPANY).lower()} {rng.choice(SPANISH)} LLC"
            kind = "entity"
        else:
            name = _person(rng)
            kind = "person"
        cyrillic = _cyrillic(name) if i % 2 == 0 and kind == "person" else None
        primary = cyrillic or name
        aliases = (name,) if cyrillic else ()
        entries.append(WatchEntry("bench", f"B-{i:06d}", primary, aliases, kind))
        latin.append(name)
    return entries, latin


def _person(rng: random.Random) -> str:
    return f"{rng.choice(GIVEN)} {rng.choice(SURNAME_ROOTS)}{rng.choice(SURNAME_ENDS)}"


def _cyrillic(name: str) -> str:
    text = name.lower()
    out = ""
    i = 0
    while i < len(text):
        for latin, cyr in LATIN_TO_CYRILLIC:
            if text.startswith(latin, i):
                out += cyr
                i += len(latin)
                break
        else:
            out += text[i]
            i += 1
    return " ".join(word.capitalize() for word in out.split())


def _variant(rng: random.Random, name: str) -> str:
    """The name as another bank would write it: another transliteration, words swapped or a patronymic added."""
    text = name.lower()
    for spelling, other in rng.choice([GERMAN, SCHOLARLY, [("y", "i"), ("ks", "x")]]):
        text = text.replace(spelling, other)
    words = text.split()
    change = rng.randrange(3)
    if change == 0 and len(words) > 1:
        words = [words[-1], *words[:-1]]
    elif change == 1 and len(words) > 1:
        words.insert(1, rng.choice(GIVEN).lower() + "ovich")
    return " ".join(word.capitalize() for word in words)
