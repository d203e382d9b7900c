"""A participant's Ed25519 signing key, kept in a file only its owner can read.

Ed25519 because signatures are small (64 bytes), fast to check (the receiver checks every message) and have no
per-signature randomness to get wrong. The private key never leaves this object except to its own PEM file; its
repr shows only the public key's fingerprint, so a key printed by accident in a log reveals nothing.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import hashlib
import json
import logging
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

log = logging.getLogger(__name__)

PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64


def fingerprint(public_key: bytes) -> str:
    """A short, stable name for a public key (first 16 hex digits of its SHA-256), for logs and pages."""
    return hashlib.sha256(public_key).hexdigest()[:16]


class SigningKey:
    __slots__ = ("_private", "public_key")

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public_key: bytes = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        """A key from 32 secret bytes; for reproducible test networks, never for a real node."""
        if len(seed) != 32:
            raise ValueError("an Ed25519 seed is 32 bytes")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def load(cls, path: Path) -> SigningKey:
        """The key in a PEM file; a file others may read is used but warned about (it should be 0600)."""
        with contextlib.suppress(OSError):
            if path.stat().st_mode & 0o077:
                log.warning("key file %s can be read by others than its owner: chmod 600 it", path)
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 private key")
        return cls(private)

    def save(self, path: Path) -> None:
        """Write the key as PKCS#8 PEM readable by the owner only (created 0600, never widened)."""
        data = self._private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # a file that was there before keeps its mode through O_CREAT: narrow it
        with os.fdopen(fd, "wb") as out:
            out.write(data)

    def save_replacing(self, path: Path) -> None:
        """Write the key to `path` whole or not at all (a 0600 temporary file renamed over it): a node reading its
        key files during a rotation finds the old key or the new one, never half a file."""
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.unlink(missing_ok=True)
        self.save(temporary)
        os.replace(temporary, path)

    def sign(self, data: bytes) -> bytes:
        return self._private.sign(data)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)

    def __repr__(self) -> str:
        return f"SigningKey(public={self.fingerprint})"


def archived_key_path(path: Path, public_key: bytes) -> Path:
    """Where a node's earlier (or next) key is kept beside its key file `path`: `<BIC>.<fingerprint>.pem`."""
    return path.with_name(f"{path.stem}.{fingerprint(public_key)}{path.suffix}")


class KeyRing:
    """A node's private keys by public key: its key file's, and those archived beside it by a rotation
    (`archived_key_path`), so that it can sign with whichever key the directory says is its own at the moment:
    the old one until the rotation's cutover, the new one after it, across a restart too."""

    __slots__ = ("_keys",)

    def __init__(self, keys: Iterable[SigningKey]) -> None:
        self._keys = {key.public_key: key for key in keys}

    @classmethod
    def load(cls, path: Path) -> KeyRing:
        """The key in `path` (which must load) and every `<stem>.*<suffix>` beside it; an archived file that does not
        load is skipped with a warning naming it, since the node can still run on the others."""
        keys = [SigningKey.load(path)]
        pattern = f"{glob.escape(path.stem)}.*{glob.escape(path.suffix)}"
        for archived in sorted(path.parent.glob(pattern)):
            try:
                keys.append(SigningKey.load(archived))
            except (OSError, ValueError) as exc:
                log.warning("key file %s skipped: cannot load it (%s)", archived, type(exc).__name__)
        return cls(keys)

    def get(self, public_key: bytes) -> SigningKey | None:
        return self._keys.get(public_key)

    def __contains__(self, public_key: object) -> bool:
        return public_key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"KeyRing({sorted(fingerprint(public) for public in self._keys)})"


def verify_signature(public_key: bytes, signature: bytes, data: bytes) -> bool:
    """True when `signature` is `public_key`'s Ed25519 signature of `data`; never raises on bad input."""
    if len(public_key) != PUBLIC_KEY_BYTES or len(signature) != SIGNATURE_BYTES:
        return False
    try:
        _public_key(public_key).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


@functools.lru_cache(maxsize=1024)
def _public_key(raw: bytes) -> Ed25519PublicKey:
    """The key object for 32 raw bytes, made once: a network has few keys, and making one cost a tenth of a
    verification. Bounded, because keys also come from outside (a ValueError is not remembered)."""
    return Ed25519PublicKey.from_public_bytes(raw)


API_KEY_PREFIX = "cor_"
"""How every bearer key Corridor makes begins (participants' and merchants' API keys), so a scanner can tell one."""


def load_or_create_api_keys(path: Path, holders: Iterable[str]) -> dict[str, str]:
    """Holder -> its API key, kept in `path` (JSON, 0600); keys missing from the file are made and added. Here, below
    the API that checks them, because `network init` makes the merchants' keys its gateways will check."""
    keys: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    wanted = list(holders)
    missing = [holder for holder in wanted if holder not in keys]
    if missing:
        for holder in missing:
            keys[holder] = f"{API_KEY_PREFIX}{holder.lower()}_{secrets.token_hex(32)}"
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(keys, out, indent=2)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    return {holder: keys[holder] for holder in wanted}


def read_secret(path: Path) -> bytes:
    """A secret `load_or_create_secret` made, read back; ValueError naming the file if it is missing or not hex."""
    try:
        text = path.read_text().strip()
        secret = bytes.fromhex(text)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the secret: {exc.strerror}") from None
    except ValueError:
        raise ValueError(f"{path}: not a secret written as hex") from None
    if len(secret) < 16:
        raise ValueError(f"{path}: a secret of at least 16 bytes is needed, got {len(secret)}")
    return secret


def load_or_create_secret(path: Path, size: int = 32) -> bytes:
    """A random secret of `size` bytes kept in `path` as hex (0600), made the first time."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(os.urandom(size).hex())
    return bytes.fromhex(path.read_text().strip())
