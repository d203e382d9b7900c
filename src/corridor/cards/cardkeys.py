"""An issuer's card key file: its key generations (CVK, PVK and PVKI, ZPK, and the PAN vault's data key) and the
lookup key, kept in one JSON file readable by its owner only, and rotated in place.

    {
      "format": 2,
      "current": "k2",
      "lookup": "<64 hex digits: the PAN lookup HMAC key>",
      "generations": {
        "k1": {"cvk": "<32 hex>", "pvk": "<32 hex>", "pvki": "1", "zpk": "<32 hex>", "data": "<64 hex>"},
        "k2": {"cvk": "...", "pvk": "...", "pvki": "2", "zpk": "...", "data": "..."}
      }
    }

One key id names a generation of both the card keys (cards/security.py `IssuerKeys`) and the PAN vault's data key
(cards/pan.py `PanVault`): a card sealed under `k1` had its CVV2 and PVV made with `k1`'s CVK and PVK, so the
generation a card needs is the one its stored row names. Rotating (`rotate_card_keys`) adds a fresh generation and
makes it current: the issuer (once it has read the file again) issues and seals new cards under it, and still
verifies and opens the cards of every generation the file keeps, until `retire_card_keys` drops one whose cards
are all re-issued. The lookup key is not rotated: every stored lookup is a hash under it.

The first format (`{"cvk", "pvk", "zpk", "lookup", "data"}`, before generations) is read as generation `k1` with
PVKI 1, which is what it always was; the first rotation writes it in this format.

The file is written whole (a 0600 temporary file renamed over it), so a reader sees the old keys or the new ones.
Nothing here logs, prints or raises with a key: messages name key ids and the file only.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corridor.cards.pan import KEY_BYTES, PanVault
from corridor.cards.security import TDES_DOUBLE_LENGTH, IssuerKeys

FORMAT = 2
FIRST_KEY_ID = "k1"
LEGACY_PVKI = "1"


class CardKeysError(ValueError):
    """The key file cannot be used; the message names the file and the field, never a key."""


@dataclass(frozen=True)
class _Generation:
    cvk: str
    pvk: str
    pvki: str
    zpk: str
    data: str


def _fresh(pvki: str) -> _Generation:
    return _Generation(
        os.urandom(TDES_DOUBLE_LENGTH).hex(),
        os.urandom(TDES_DOUBLE_LENGTH).hex(),
        pvki,
        os.urandom(TDES_DOUBLE_LENGTH).hex(),
        os.urandom(KEY_BYTES).hex(),
    )


def _write(path: Path, document: dict[str, Any], *, exclusive: bool = False) -> None:
    """Write the file 0600, whole: `exclusive` creates it (failing if it exists), else a temporary file replaces it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    target = path if exclusive else path.with_name(f".{path.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(target, flags, 0o600)
    os.fchmod(fd, 0o600)  # a leftover temporary file keeps its mode through O_CREAT: narrow it
    with os.fdopen(fd, "w") as out:
        json.dump(document, out, indent=2, sort_keys=True)
    if not exclusive:
        os.replace(target, path)


def _document(current: str, lookup: str, generations: dict[str, _Generation]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "current": current,
        "lookup": lookup,
        "generations": {key_id: vars(g) for key_id, g in generations.items()},
    }


def create_card_keys(path: Path) -> None:
    """Make a new key file with one generation, `k1` (0600); FileExistsError if there is one."""
    _write(path, _document(FIRST_KEY_ID, os.urandom(KEY_BYTES).hex(), {FIRST_KEY_ID: _fresh("1")}), exclusive=True)


def _read(path: Path) -> tuple[str, str, dict[str, _Generation]]:
    """(current key id, lookup key hex, generations by key id, oldest first) of the file at `path`."""
    try:
        data = json.loads(path.read_text())
    except (ValueError, RecursionError) as exc:
        raise CardKeysError(f"{path}: not a card key file ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise CardKeysError(f"{path}: not a card key file (not a JSON object)")
    try:
        if "generations" not in data:  # the first format: one generation, PVKI 1
            legacy = _Generation(str(data["cvk"]), str(data["pvk"]), LEGACY_PVKI, str(data["zpk"]), str(data["data"]))
            return FIRST_KEY_ID, str(data["lookup"]), {FIRST_KEY_ID: legacy}
        if data.get("format") != FORMAT:
            raise CardKeysError(f"{path}: format {data.get('format')!r} is not {FORMAT}")
        generations = {
            str(key_id): _Generation(str(g["cvk"]), str(g["pvk"]), str(g["pvki"]), str(g["zpk"]), str(g["data"]))
            for key_id, g in dict(data["generations"]).items()
        }
        return str(data["current"]), str(data["lookup"]), generations
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, CardKeysError):
            raise
        raise CardKeysError(f"{path}: malformed card key file (missing or wrong field {exc})") from None


def read_card_keys(path: Path) -> tuple[IssuerKeys, PanVault]:
    """The issuer's card keys (current generation first, every kept one after) and PAN vault, from `path`."""
    current, lookup, generations = _read(path)
    if current not in generations:
        raise CardKeysError(f"{path}: the current generation {current!r} is not in the file")
    try:
        built = {
            key_id: IssuerKeys(
                cvk=bytes.fromhex(g.cvk),
                pvk=bytes.fromhex(g.pvk),
                pvki=g.pvki,
                zpk=bytes.fromhex(g.zpk),
                key_id=key_id,
            )
            for key_id, g in generations.items()
        }
        older = [built[key_id] for key_id in reversed(generations) if key_id != current]
        keys = IssuerKeys(
            cvk=built[current].cvk,
            pvk=built[current].pvk,
            pvki=built[current].pvki,
            zpk=built[current].zpk,
            key_id=current,
            previous=tuple(older),
        )
        vault = PanVault(
            bytes.fromhex(lookup), {key_id: bytes.fromhex(g.data) for key_id, g in generations.items()}, current
        )
    except ValueError as exc:  # the messages of IssuerKeys and PanVault name fields and key ids, never values
        raise CardKeysError(f"{path}: {exc}") from None
    return keys, vault


def rotate_card_keys(path: Path) -> str:
    """Add a fresh generation to the key file and make it current; its key id. Earlier generations are kept.

    Its PVKI is the next digit not used by a kept generation (1 to 9, then 0), so a PVV tells which PVK made it."""
    current, lookup, generations = _read(path)
    number = 1 + max((int(k[1:]) for k in generations if k[:1] == "k" and k[1:].isdigit()), default=0)
    key_id = f"k{number}"
    used = {g.pvki for g in generations.values()}
    free = [digit for digit in "1234567890" if digit not in used]
    if not free:
        raise CardKeysError(f"{path}: ten generations are kept; retire one before rotating again")
    last = int(generations[current].pvki) if current in generations else 0
    pvki = next((d for d in free if d != "0" and int(d) > last), free[0])
    generations[key_id] = _fresh(pvki)
    _write(path, _document(key_id, lookup, generations))
    read_card_keys(path)  # what was written reads back
    return key_id


def retire_card_keys(path: Path, key_id: str) -> None:
    """Drop generation `key_id` from the file, once no card depends on it; the current generation cannot be."""
    current, lookup, generations = _read(path)
    if key_id == current:
        raise CardKeysError(f"{path}: {key_id} is the current generation; rotate before retiring it")
    if key_id not in generations:
        raise CardKeysError(f"{path}: no generation {key_id}")
    del generations[key_id]
    _write(path, _document(current, lookup, generations))


def card_key_ids(path: Path) -> tuple[str, list[str]]:
    """(current key id, every key id kept) of the file: what an operator may be shown."""
    current, _, generations = _read(path)
    return current, list(generations)
