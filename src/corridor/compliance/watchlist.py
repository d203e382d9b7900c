"""Watch-lists read from files: who a payment must not reach without a person looking first.

A list is a TOML file of `[[entry]]` tables or a CSV file with a header row, as sanctions lists are published and
exported. Each entry has an id (unique in its list), a primary name, and whatever else the publisher gives: aliases
(other spellings, other scripts), a date of birth (a year or a full date), countries, identifiers ("INN:7701234567",
"IMO:9123456"). Reading checks the whole file and names the first wrong field (`entry[3].dob: ...`, `line 7,
countries: ...`), because a list is outside input: a broken one must stop the node starting, not screen against half.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corridor.compliance.names import normalise_identifier, words

MAX_LIST_BYTES = 64 * 1024 * 1024
"""A file larger than this is refused before it is read (the largest public sanctions lists are a few MB)."""
MAX_NAMES_PER_ENTRY = 64
MAX_NAME_CHARS = 256
ENTRY_KEYS = ("id", "name", "aliases", "kind", "dob", "countries", "identifiers", "program")
KINDS = ("person", "entity", "vessel")
_DOB = re.compile(r"^\d{4}(-\d{2}-\d{2})?$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")


class WatchListError(ValueError):
    """A watch-list file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class WatchEntry:
    list_name: str
    id: str
    name: str
    aliases: tuple[str, ...] = ()
    kind: str = "person"
    dob: str | None = None
    """YYYY or YYYY-MM-DD: lists often know only the year."""
    countries: tuple[str, ...] = ()
    identifiers: tuple[str, ...] = ()
    """Normalised (names.normalise_identifier): compared exactly."""
    program: str | None = None
    """The sanctions programme or reason the publisher gives, shown to the reviewer."""

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    @property
    def ref(self) -> str:
        """The entry's reference across lists: `<list>/<id>`."""
        return f"{self.list_name}/{self.id}"


@dataclass(frozen=True, slots=True)
class WatchList:
    name: str
    """The list's name (its file's stem unless the file says otherwise): part of every entry's reference."""
    entries: tuple[WatchEntry, ...]
    source: str
    """Where it was read from, for the audit trail."""
    digest: str
    """SHA-256 of the file's bytes: which version of the list screened a payment."""


def load_watchlist(path: Path) -> WatchList:
    """Read a `.toml` or `.csv` watch-list; WatchListError names what is wrong."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise WatchListError(f"{path}: cannot read: {exc.strerror}") from None
    if size > MAX_LIST_BYTES:
        raise WatchListError(f"{path}: larger than {MAX_LIST_BYTES} bytes")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise WatchListError(f"{path}: not UTF-8 text") from None
    suffix = path.suffix.lower()
    if suffix == ".toml":
        name, raw = _read_toml(text, path)
    elif suffix == ".csv":
        name, raw = path.stem, _read_csv(text, path)
    else:
        raise WatchListError(f"{path}: a watch-list is a .toml or .csv file")
    entries = tuple(_entry(fields, where, name, path) for where, fields in raw)
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            raise WatchListError(f"{path}: entry id {entry.id!r} appears twice")
        seen.add(entry.id)
    return WatchList(name=name, entries=entries, source=str(path), digest=digest)


def _read_toml(text: str, path: Path) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WatchListError(f"{path}: not valid TOML: {exc}") from None
    unknown = set(data) - {"list", "entry"}
    if unknown:
        raise WatchListError(f"{path}: unknown table(s) {', '.join(sorted(unknown))}; expected [list] and [[entry]]")
    head = data.get("list", {})
    if not isinstance(head, dict):
        raise WatchListError(f'{path}: list: a table such as [list] name = "..."')
    name = head.get("name", path.stem)
    if not isinstance(name, str) or not _ID.match(name):
        raise WatchListError(f"{path}: list.name: letters, digits and ._:/- only, got {name!r}")
    rows = data.get("entry", [])
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise WatchListError(f"{path}: entry: write each entry as an [[entry]] table")
    return name, [(f"entry[{index}]", row) for index, row in enumerate(rows)]


def _read_csv(text: str, path: Path) -> list[tuple[str, dict[str, Any]]]:
    """Columns by header; several values in one cell (aliases, countries, identifiers) separated by `;`."""
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = reader.fieldnames
        if not header:
            raise WatchListError(f"{path}: empty: a CSV watch-list starts with a header row (id,name,...)")
        unknown = [column for column in header if column not in ENTRY_KEYS]
        if unknown:
            raise WatchListError(f"{path}: unknown column(s) {', '.join(map(repr, unknown))}")
        rows: list[tuple[str, dict[str, Any]]] = []
        for row in reader:
            where = f"line {reader.line_num}"
            if None in row:
                raise WatchListError(f"{path}: {where}: more cells than the header has columns")
            fields: dict[str, Any] = {}
            for key, value in row.items():
                if value is None or value == "":
                    continue
                if key in ("aliases", "countries", "identifiers"):
                    fields[key] = [part.strip() for part in value.split(";") if part.strip()]
                else:
                    fields[key] = value.strip()
            rows.append((where, fields))
    except csv.Error as exc:
        raise WatchListError(f"{path}: not valid CSV: {exc}") from None
    return rows


def _entry(fields: dict[str, Any], where: str, list_name: str, path: Path) -> WatchEntry:
    def fail(key: str, why: str) -> WatchListError:
        return WatchListError(f"{path}: {where}.{key}: {why}")

    unknown = set(fields) - set(ENTRY_KEYS)
    if unknown:
        raise fail(sorted(unknown)[0], f"unknown field; expected {', '.join(ENTRY_KEYS)}")
    entry_id = fields.get("id")
    if not isinstance(entry_id, str) or not _ID.match(entry_id):
        raise fail("id", f"letters, digits and ._:/- (up to 64), got {entry_id!r}")
    name = fields.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_CHARS:
        raise fail("name", f"a name of 1 to {MAX_NAME_CHARS} characters, got {name!r}")
    if not words(name):
        raise fail("name", f"{name!r} has no letters or digits to match on")
    aliases = _strings(fields.get("aliases", []), lambda why: fail("aliases", why))
    if len(aliases) >= MAX_NAMES_PER_ENTRY:
        raise fail("aliases", f"at most {MAX_NAMES_PER_ENTRY - 1} aliases")
    for alias in aliases:
        if len(alias) > MAX_NAME_CHARS or not words(alias):
            raise fail("aliases", f"{alias[:40]!r} is not a name of 1 to {MAX_NAME_CHARS} characters with letters")
    kind = fields.get("kind", "person")
    if kind not in KINDS:
        raise fail("kind", f"one of {', '.join(KINDS)}, got {kind!r}")
    dob = fields.get("dob")
    if dob is not None:
        dob = str(dob)  # TOML reads 1970-01-01 as a date
        if not _DOB.match(dob):
            raise fail("dob", f"YYYY or YYYY-MM-DD, got {dob!r}")
    countries = _strings(fields.get("countries", []), lambda why: fail("countries", why))
    for country in countries:
        if not _COUNTRY.match(country):
            raise fail("countries", f"ISO 3166 alpha-2 codes such as RU, got {country!r}")
    identifiers = _strings(fields.get("identifiers", []), lambda why: fail("identifiers", why))
    normalised = tuple(normalise_identifier(identifier) for identifier in identifiers)
    if any(len(identifier) < 4 for identifier in normalised):
        raise fail("identifiers", "each at least 4 letters or digits once spaces and punctuation are dropped")
    program = fields.get("program")
    if program is not None and (not isinstance(program, str) or len(program) > MAX_NAME_CHARS):
        raise fail("program", f"a text of up to {MAX_NAME_CHARS} characters")
    return WatchEntry(list_name, entry_id, name.strip(), aliases, kind, dob, countries, normalised, program)


def _strings(value: object, fail: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise fail("a list of strings")
    return tuple(item.strip() for item in value if item.strip())
