"""The network directory: who is on the network, what they may do, and the key each one signs with.

The operator signs the whole directory over canonical JSON (sorted keys, no spaces, UTF-8), so a node that holds
only the operator's public key can trust every participant's key it learns from the directory, and a directory
altered in transit or on disk is refused. Participants are identified by BIC, as in the messages they send.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from corridor.network.identity import SigningKey, fingerprint, verify_signature

ROLES = ("central_bank", "bank", "fx_provider", "card_scheme", "digital_platform", "operator")
BIC_PATTERN = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?")
"""ISO 9362, as the BICFI type of the ISO 20022 schemas writes it."""


class DirectoryError(ValueError):
    """The directory is malformed, or its signature does not hold."""


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

    def __post_init__(self) -> None:
        if not BIC_PATTERN.fullmatch(self.bic):
            raise DirectoryError(f"participant BIC {self.bic!r} is not an ISO 9362 BIC (e.g. CBXRRUMM)")
        if self.role not in ROLES:
            raise DirectoryError(f"participant {self.bic}: role {self.role!r} is not one of {', '.join(ROLES)}")
        if len(self.public_key) != 32:
            raise DirectoryError(f"participant {self.bic}: an Ed25519 public key is 32 bytes")

    def to_json(self) -> dict[str, Any]:
        return {
            "bic": self.bic,
            "name": self.name,
            "country": self.country,
            "currency": self.currency,
            "role": self.role,
            "public_key": base64.b64encode(self.public_key).decode(),
            "central_bank": self.central_bank,
            "endpoint": self.endpoint,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Participant:
        try:
            return cls(
                bic=str(data["bic"]),
                name=str(data["name"]),
                country=str(data["country"]),
                currency=str(data["currency"]),
                role=str(data["role"]),
                public_key=base64.b64decode(str(data["public_key"]), validate=True),
                central_bank=None if data.get("central_bank") is None else str(data["central_bank"]),
                endpoint=str(data.get("endpoint", "")),
            )
        except (KeyError, ValueError, TypeError) as exc:
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
        except (KeyError, ValueError, TypeError) as exc:
            raise DirectoryError(f"malformed directory: {exc}") from None

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path, operator_key: bytes) -> Directory:
        """Read and verify: a directory is never used unverified."""
        directory = cls.from_json(json.loads(path.read_text()))
        directory.verify(operator_key)
        return directory
