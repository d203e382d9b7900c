"""The network directory: who is on the network, what they may do, and the keys each one signs with.

The operator signs the whole directory over canonical JSON (sorted keys, no spaces, UTF-8), so a node that holds
only the operator's public key can trust every participant's key it learns from the directory, and a directory
altered in transit or on disk is refused. Participants are identified by BIC, as in the messages they send.

A participant's key rotates without downtime (`Directory.rotate_key`): the operator lists the new key as its
`public_key` with `key_since`, the moment the participant starts signing with it, and keeps the old one in
`previous_keys` with `until`, the end of the overlap. Receivers believe the new key from the moment the directory
lists it (so they must all hold the new directory before `key_since`), and the old one until `until` (so messages
signed before the switch, queued or in flight, still verify); after that the old key is refused by name
(envelope.py, reason `retired_key`). A directory without a rotation has neither field, and signs the same bytes
as before rotation existed.
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from corridor.network.identity import SigningKey, fingerprint, verify_signature

ROLES = ("central_bank", "bank", "fx_provider", "card_scheme", "digital_platform", "operator")
BIC_PATTERN = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?")
"""ISO 9362, as the BICFI type of the ISO 20022 schemas writes it."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class DirectoryError(ValueError):
    """The directory is malformed, or its signature does not hold."""


def _instant_ns(text: str, what: str) -> int:
    """An ISO 8601 time with its zone, in ns since the epoch: a key's validity must not depend on a reader's zone."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise DirectoryError(f"{what} {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise DirectoryError(f"{what} {text!r} has no time zone")
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


@dataclass(frozen=True, slots=True)
class RetiringKey:
    """A participant's earlier key, still believed until `until`: the overlap that lets a key rotate without
    downtime, since messages signed before the switch (queued, in flight, retried from an outbox) still verify."""

    public_key: bytes = field(repr=False)
    until: str
    """ISO 8601 with zone: from this instant on, a message signed with this key is refused (`retired_key`)."""
    until_ns: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.public_key) != 32:
            raise DirectoryError("a previous key is a 32-byte Ed25519 public key")
        object.__setattr__(self, "until_ns", _instant_ns(self.until, "previous key's until"))

    @property
    def key_id(self) -> str:
        return fingerprint(self.public_key)

    def to_json(self) -> dict[str, Any]:
        return {"public_key": base64.b64encode(self.public_key).decode(), "until": self.until}

    @classmethod
    def from_json(cls, data: Any) -> RetiringKey:
        if not isinstance(data, dict):
            raise DirectoryError("a previous key is an object with public_key and until")
        return cls(base64.b64decode(str(data["public_key"]), validate=True), str(data["until"]))


@dataclass(frozen=True, slots=True)
class Participant:
    bic: str
    name: str
    country: str
    currency: str
    role: str
    public_key: bytes = field(repr=False)
    central_bank: str | None = None
    """The BIC of the central bank whose RTGS holds this participant's settlement account."""
    endpoint: str = ""
    """Where the participant's API listens in distributed mode; empty in-process."""
    key_since: str | None = None
    """When the participant starts signing with `public_key` (ISO 8601 with zone); before it, with its newest
    previous key. None: it always has. Receivers believe `public_key` from the moment the directory lists it."""
    previous_keys: tuple[RetiringKey, ...] = ()
    """Keys it signed with before a rotation, each believed until its `until`; newest first."""
    key_since_ns: int | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if not BIC_PATTERN.fullmatch(self.bic):
            raise DirectoryError(f"participant BIC {self.bic!r} is not an ISO 9362 BIC (e.g. CBXRRUMM)")
        if self.role not in ROLES:
            raise DirectoryError(f"participant {self.bic}: role {self.role!r} is not one of {', '.join(ROLES)}")
        if len(self.public_key) != 32:
            raise DirectoryError(f"participant {self.bic}: an Ed25519 public key is 32 bytes")
        if self.key_since is not None:
            object.__setattr__(self, "key_since_ns", _instant_ns(self.key_since, f"participant {self.bic}: key_since"))
        listed = [self.public_key, *(k.public_key for k in self.previous_keys)]
        if len(set(listed)) != len(listed):
            raise DirectoryError(f"participant {self.bic}: a key is listed twice")

    @property
    def key_id(self) -> str:
        """The current key's id: its fingerprint, as envelopes name the key that signed them."""
        return fingerprint(self.public_key)

    def verifying_keys(self, now_ns: int) -> tuple[bytes, ...]:
        """The keys a message from this participant may be signed with at `now_ns`: the current one first."""
        if not self.previous_keys:
            return (self.public_key,)
        return (self.public_key, *(k.public_key for k in self.previous_keys if now_ns < k.until_ns))

    def retired(self, public_key: bytes, now_ns: int) -> RetiringKey | None:
        """The listed previous key `public_key`, if its overlap has ended by `now_ns`."""
        for key in self.previous_keys:
            if key.public_key == public_key and now_ns >= key.until_ns:
                return key
        return None

    def signing_key_at(self, now_ns: int) -> bytes:
        """The key the participant signs with at `now_ns`: `public_key` from `key_since` on, before it the newest
        previous key still believed (or `public_key` when there is none)."""
        if self.key_since_ns is None or now_ns >= self.key_since_ns:
            return self.public_key
        for key in self.previous_keys:
            if now_ns < key.until_ns:
                return key.public_key
        return self.public_key

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "bic": self.bic,
            "name": self.name,
            "country": self.country,
            "currency": self.currency,
            "role": self.role,
            "public_key": base64.b64encode(self.public_key).decode(),
            "central_bank": self.central_bank,
            "endpoint": self.endpoint,
        }
        # Only when set: a directory without a rotation signs exactly the bytes it signed before rotations existed.
        if self.key_since is not None:
            data["key_since"] = self.key_since
        if self.previous_keys:
            data["previous_keys"] = [k.to_json() for k in self.previous_keys]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Participant:
        try:
            previous = data.get("previous_keys", [])
            if not isinstance(previous, list):
                raise DirectoryError("previous_keys must be a list")
            return cls(
                bic=str(data["bic"]),
                name=str(data["name"]),
                country=str(data["country"]),
                currency=str(data["currency"]),
                role=str(data["role"]),
                public_key=base64.b64decode(str(data["public_key"]), validate=True),
                central_bank=None if data.get("central_bank") is None else str(data["central_bank"]),
                endpoint=str(data.get("endpoint", "")),
                key_since=None if data.get("key_since") is None else str(data["key_since"]),
                previous_keys=tuple(RetiringKey.from_json(k) for k in previous),
            )
        except DirectoryError as exc:
            raise DirectoryError(f"malformed participant entry: {exc}") from None
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise DirectoryError(f"malformed participant entry: {exc}") from None


def _canonical(version: int, issued_at: str, participants: tuple[Participant, ...]) -> bytes:
    body = {"version": version, "issued_at": issued_at, "participants": [p.to_json() for p in participants]}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class Directory:
    version: int
    issued_at: str
    participants: tuple[Participant, ...]
    operator_key: bytes = field(repr=False)
    signature: bytes = field(repr=False)
    _by_bic: dict[str, Participant] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for participant in self.participants:
            if participant.bic in self._by_bic:
                raise DirectoryError(f"participant {participant.bic} is listed twice")
            self._by_bic[participant.bic] = participant

    @classmethod
    def issue(
        cls, participants: list[Participant], operator: SigningKey, *, version: int, issued_at: datetime
    ) -> Directory:
        ordered = tuple(sorted(participants, key=lambda p: p.bic))
        stamp = issued_at.isoformat()
        signature = operator.sign(_canonical(version, stamp, ordered))
        return cls(version, stamp, ordered, operator.public_key, signature)

    def verify(self, operator_key: bytes) -> None:
        """Raise DirectoryError unless the operator whose key the node trusts signed exactly this directory."""
        if operator_key != self.operator_key:
            raise DirectoryError(
                f"directory signed by key {fingerprint(self.operator_key)}, "
                f"not the operator's {fingerprint(operator_key)}"
            )
        if not verify_signature(
            operator_key, self.signature, _canonical(self.version, self.issued_at, self.participants)
        ):
            raise DirectoryError("directory signature does not verify: it was altered after the operator signed it")

    def rotate_key(
        self,
        bic: str,
        new_key: bytes,
        operator: SigningKey,
        *,
        now: datetime,
        activate_after: timedelta,
        overlap: timedelta,
    ) -> Directory:
        """The next version of this directory, in which `bic` signs with `new_key` from `now + activate_after` on
        and its current key is still believed for `overlap` after that; signed by `operator`.

        `activate_after` must cover the time every node needs to hold the new directory (they believe the new key
        only once they do); `overlap`, the longest a message signed with the old key may wait to be received (a
        queue, an outage, an outbox retry). Previous keys whose overlap has already ended are dropped."""
        if operator.public_key != self.operator_key:
            raise DirectoryError("only the operator who signed this directory may rotate a key in it")
        if now.tzinfo is None:
            raise DirectoryError("a rotation's time needs a time zone")
        if activate_after < timedelta(0) or overlap < timedelta(0):
            raise DirectoryError("activate_after and overlap must not be negative")
        old = self[bic]
        if new_key == old.public_key or any(k.public_key == new_key for k in old.previous_keys):
            raise DirectoryError(f"{bic}: the new key {fingerprint(new_key)} is already listed; make a fresh one")
        since = now + activate_after
        now_ns = _instant_ns(now.isoformat(), "now")
        kept = tuple(k for k in old.previous_keys if now_ns < k.until_ns)
        rotated = Participant(
            bic=old.bic,
            name=old.name,
            country=old.country,
            currency=old.currency,
            role=old.role,
            public_key=new_key,
            central_bank=old.central_bank,
            endpoint=old.endpoint,
            key_since=since.isoformat(),
            previous_keys=(RetiringKey(old.public_key, (since + overlap).isoformat()), *kept),
        )
        participants = [rotated if p.bic == bic else p for p in self.participants]
        return Directory.issue(participants, operator, version=self.version + 1, issued_at=now)

    def get(self, bic: str) -> Participant | None:
        return self._by_bic.get(bic)

    def __getitem__(self, bic: str) -> Participant:
        participant = self._by_bic.get(bic)
        if participant is None:
            raise KeyError(f"{bic} is not in the network directory")
        return participant

    def by_role(self, role: str) -> list[Participant]:
        return [p for p in self.participants if p.role == role]

    def central_bank_of(self, country: str) -> Participant:
        for participant in self.participants:
            if participant.role == "central_bank" and participant.country == country:
                return participant
        raise KeyError(f"no central bank for country {country} in the directory")

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "issued_at": self.issued_at,
            "participants": [p.to_json() for p in self.participants],
            "operator_key": base64.b64encode(self.operator_key).decode(),
            "signature": base64.b64encode(self.signature).decode(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Directory:
        try:
            return cls(
                version=int(data["version"]),
                issued_at=str(data["issued_at"]),
                participants=tuple(Participant.from_json(p) for p in data["participants"]),
                operator_key=base64.b64decode(str(data["operator_key"]), validate=True),
                signature=base64.b64decode(str(data["signature"]), validate=True),
            )
        except (KeyError, ValueError, TypeError, OverflowError) as exc:  # OverflowError: "version": 1e999
            raise DirectoryError(f"malformed directory: {exc}") from None

    def save(self, path: Path) -> None:
        """Write the file whole or not at all (a temporary file renamed over it): running nodes re-read it when it
        changes (node/keyrotation.py), and must never see half of it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n")
        os.replace(temporary, path)

    @classmethod
    def load(cls, path: Path, operator_key: bytes) -> Directory:
        """Read and verify: a directory is never used unverified. A file that is not a directory is a
        DirectoryError naming it (an OSError if it cannot be read at all)."""
        try:
            data = json.loads(path.read_bytes())
        except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise DirectoryError(f"{path}: not a directory file ({type(exc).__name__})") from None
        if not isinstance(data, dict):
            raise DirectoryError(f"{path}: not a directory file (not a JSON object)")
        directory = cls.from_json(data)
        directory.verify(operator_key)
        return directory
