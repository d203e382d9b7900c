"""The client side of a wallet: its owner's key and next nonce, and the transactions it signs.

The platform never sees a private key: a wallet signs here (or in the CLI, which uses this module) and sends only
the signed bytes. The nonce is the wallet's own count of what it has signed; after a refusal that did not consume
it (everything but a commit), `rewind` gives it back, and `sync` takes the platform's figure after a restart.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from corridor.digital import tx
from corridor.network.identity import SigningKey


@dataclass(slots=True)
class Wallet:
    key: SigningKey
    platform: str
    last_nonce: int = 0
    """The nonce of the last transaction this wallet signed."""

    @property
    def public_key(self) -> bytes:
        return self.key.public_key

    def sync(self, committed_nonce: int) -> None:
        """Continue from the platform's last committed nonce (after a restart, or after refusals)."""
        self.last_nonce = committed_nonce

    def rewind(self) -> None:
        """Give back the nonce of the last transaction signed, which the platform refused."""
        assert self.last_nonce > 0
        self.last_nonce -= 1

    def _sign(self, body: tx.Body, *, preimage: bytes | None = None) -> tx.SignedTx:
        self.last_nonce += 1
        return tx.sign(self.key, self.platform, self.last_nonce, body, preimage=preimage)

    def transfer(self, token: str, to: bytes, amount: int, reference: bytes = tx.ZERO_REF) -> tx.SignedTx:
        return self._sign(tx.Transfer(token, to, amount, reference))

    def lock(
        self, token: str, to: bytes, amount: int, hashlock: bytes, expires_at: int, reference: bytes = tx.ZERO_REF
    ) -> tx.SignedTx:
        """A hash-time-locked payment: `to` gets it by showing the preimage of `hashlock` before `expires_at`."""
        return self._sign(tx.Lock(token, to, amount, hashlock, expires_at, reference))

    def escrow(
        self, token: str, to: bytes, amount: int, document: bytes, expires_at: int, reference: bytes = tx.ZERO_REF
    ) -> tx.SignedTx:
        """Pay `to` when it presents `document` (a bill of lading, say) before `expires_at`; refunded after."""
        return self.lock(token, to, amount, hashlib.sha256(document).digest(), expires_at, reference)

    def claim(self, lock_id: bytes, preimage: bytes) -> tx.SignedTx:
        return self._sign(tx.Claim(lock_id), preimage=preimage)

    def refund(self, lock_id: bytes) -> tx.SignedTx:
        return self._sign(tx.Refund(lock_id))

    def propose_swap(
        self, token: str, amount: int, counterparty: bytes, counter_token: str, counter_amount: int, counter_nonce: int
    ) -> tx.SignedTx:
        """The first signature of a swap; the counterparty adds its own with `countersign`."""
        return self._sign(tx.Swap(token, amount, counterparty, counter_token, counter_amount, counter_nonce))

    def next_nonce(self) -> int:
        """Reserve the next nonce for a transaction another party builds (a swap this wallet countersigns)."""
        self.last_nonce += 1
        return self.last_nonce

    def countersign(self, proposal: tx.SignedTx) -> tx.SignedTx:
        return tx.countersign(self.key, proposal)

    def open_wallet(self, wallet: bytes, tier: int, holder_ref: bytes, allowed: tuple[bytes, ...] = ()) -> tx.SignedTx:
        """A bank's: open a wallet for a customer it has onboarded (`holder_ref`: a hash of its KYC record)."""
        return self._sign(tx.Open(wallet, tier, holder_ref, allowed))

    def mint(self, token: str, to: bytes, amount: int, reference: bytes = tx.ZERO_REF) -> tx.SignedTx:
        return self._sign(tx.Mint(token, to, amount, reference))

    def burn(self, token: str, amount: int, reference: bytes = tx.ZERO_REF) -> tx.SignedTx:
        return self._sign(tx.Burn(token, amount, reference))
