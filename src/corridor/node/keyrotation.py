"""A node's signing key rotated without downtime: which key a node signs with, a running node picking up a new
directory, and the rotation itself on a network's files (`corridor network rotate-key`).

The operator lists the participant's new key in the directory beside the old one (network/directory.py
`rotate_key`): receivers believe the new key as soon as they hold that directory, the participant switches to it at
`key_since`, and the old key is believed until the overlap ends. So a rotation needs no node to stop:

1. `rotate_node_key` writes the new key (0600), keeps the old one beside it (`<BIC>.<fingerprint>.pem`, its key
   ring), re-signs the directory with the operator's key and writes it whole (a rename);
2. every running node notices the file changed (`DirectoryWatcher`, a stat every `RELOAD_INTERVAL_S`; or at once
   on its control method `reload_directory`), verifies it against the operator key it trusts, refuses an older
   version, and uses it from its next message on;
3. the rotated node, which holds both keys, signs with the old one until `key_since` and with the new one from
   then on (`signing_key`), restarted or not;
4. after `until`, a message signed with the old key is refused as `retired_key` (network/envelope.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from corridor.network.context import NodeServices
from corridor.network.directory import Directory, DirectoryError
from corridor.network.identity import KeyRing, SigningKey, archived_key_path
from corridor.node.config import NodeConfig
from corridor.node.rpc import Method, RpcError

log = logging.getLogger(__name__)

RELOAD_INTERVAL_S = 1.0
"""How often a running node looks at its directory file (one stat) and at whether its key's cutover has come."""
DEFAULT_ACTIVATE_AFTER = timedelta(seconds=60)
"""How long after a rotation the participant starts signing with its new key: time for every node to hold the new
directory (a node on another machine needs the file copied to it first)."""
DEFAULT_OVERLAP = timedelta(hours=24)
"""How long the old key is still believed after the cutover: longer than any message may wait to be received."""


def signing_key(ring: KeyRing, directory: Directory, bic: str, now_ns: int) -> SigningKey:
    """The key `bic` signs with at `now_ns`: the one the directory says (old until the cutover, new after), else any
    key it holds that the directory still believes; KeyError when it holds none of them."""
    me = directory.get(bic)
    if me is None:
        raise KeyError(f"{bic} is not in the directory")
    wanted = ring.get(me.signing_key_at(now_ns))
    if wanted is not None:
        return wanted
    for public in me.verifying_keys(now_ns):
        held = ring.get(public)
        if held is not None:
            return held
    raise KeyError(f"{bic} holds none of the keys the directory lists for it (now {me.key_id}); it holds {ring!r}")


def adopt(services: NodeServices, directory: Directory, ring: KeyRing, now_ns: int) -> bool:
    """Make `directory` the node's and sign with the key it names for the node now; whether the key changed.

    Raises KeyError (and changes nothing) when the node holds no key the directory believes for it: such a
    directory would have the node send only messages everyone refuses."""
    key = signing_key(ring, directory, services.bic, now_ns)
    changed = key.public_key != services.key.public_key
    services.directory = directory
    services.key = key
    return changed


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """What tells a changed file: its inode (a rename puts a new one), modification time and size."""
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_ino, found.st_mtime_ns, found.st_size


class DirectoryWatcher:
    """A node process's directory and signing key kept current while it runs (a `Hosted` service, node/hosted.py).

    Every RELOAD_INTERVAL_S it stats the directory file; when it changed, it loads and verifies it with the operator
    key the node's config trusts and adopts it if its version is newer (an older or unverifiable file is refused and
    logged, and the node goes on with what it has). Each time it also checks whether the node's key cutover has come.
    The control method `reload_directory` does the same at once and answers the version and key in use."""

    def __init__(
        self,
        services: NodeServices,
        config: NodeConfig,
        *,
        clock: Callable[[], int] = time.time_ns,
        interval_s: float = RELOAD_INTERVAL_S,
    ) -> None:
        self._services = services
        self._directory_path = config.directory
        self._operator_key = config.operator_key
        self._key_path = config.key
        self._clock = clock
        self._interval_s = interval_s
        self._stamp: tuple[int, int, int] | None = None
        self._ring = KeyRing([services.key])
        self._task: asyncio.Task[None] | None = None
        self._audits: set[asyncio.Task[None]] = set()
        self.methods: dict[str, Method] = {"reload_directory": self._reload_method}

    async def start(self) -> None:
        loaded = await asyncio.to_thread(self._load_ring)
        if loaded is not None:
            self._ring = loaded
        self.check(force=True)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                self.check()
            except Exception:  # a watcher's bug must not stop the node; it logs and looks again next time
                log.exception("checking the directory file %s failed", self._directory_path)

    async def _reload_method(self, params: dict[str, Any]) -> dict[str, Any]:
        if not self.check(force=True):
            raise RpcError("bad_request", f"the directory {self._directory_path} was not adopted: see the node's log")
        return {"version": self._services.directory.version, "key": self._services.key.fingerprint}

    def check(self, *, force: bool = False) -> bool:
        """Adopt the directory file if it changed (or `force`), then sign with the key due now. False when the file
        was read and refused."""
        adopted = True
        stamp = _stamp(self._directory_path)
        if force or stamp != self._stamp:
            self._stamp = stamp
            adopted = self._reload()
        now = self._clock()
        try:
            key = signing_key(self._ring, self._services.directory, self._services.bic, now)
        except KeyError as exc:
            log.error("%s", exc)
            return False
        if key.public_key != self._services.key.public_key:
            old = self._services.key.fingerprint
            self._services.key = key
            log.info("%s signs with key %s from now on", self._services.bic, key.fingerprint)
            self._audit("key.switched", {"from": old, "to": key.fingerprint})
        return adopted

    def _audit(self, action: str, details: dict[str, Any]) -> None:
        """Record a key change in the node's audit trail (fingerprints only, never a key)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # checked outside a running node (a test of the watcher alone): nothing to record into
        task = loop.create_task(self._services.record_action("node", action, self._services.bic, details))
        self._audits.add(task)
        task.add_done_callback(self._audits.discard)

    def _load_ring(self) -> KeyRing | None:
        try:
            return KeyRing.load(self._key_path)
        except (OSError, ValueError) as exc:
            log.warning("key file %s not read: %s", self._key_path, type(exc).__name__)
            return None

    def _reload(self) -> bool:
        current = self._services.directory
        try:
            directory = Directory.load(self._directory_path, self._operator_key)
        except (OSError, DirectoryError) as exc:
            log.warning("directory %s not adopted: %s", self._directory_path, exc)
            return False
        if directory.version < current.version:
            log.warning(
                "directory %s not adopted: version %d is older than the version %d in use",
                self._directory_path,
                directory.version,
                current.version,
            )
            return False
        if directory.version == current.version:
            return True
        loaded = self._load_ring()
        ring = self._ring if loaded is None else loaded
        try:
            adopt(self._services, directory, ring, self._clock())
        except KeyError as exc:
            log.error("directory %s not adopted: %s", self._directory_path, exc)
            return False
        self._ring = ring
        log.info("directory version %d adopted from %s", directory.version, self._directory_path)
        self._audit("directory.adopted", {"version": directory.version, "previous": current.version})
        return True


@dataclass(frozen=True)
class Rotation:
    """What `rotate_node_key` did, for the operator's record: fingerprints and times only, never a key."""

    bic: str
    version: int
    old_key: str
    new_key: str
    key_since: str
    old_key_until: str

    def to_json(self) -> dict[str, Any]:
        return {
            "bic": self.bic,
            "directory_version": self.version,
            "old_key": self.old_key,
            "new_key": self.new_key,
            "signs_with_new_key_from": self.key_since,
            "old_key_believed_until": self.old_key_until,
        }


def rotate_node_key(
    config: NodeConfig,
    operator_key: Path,
    *,
    activate_after: timedelta = DEFAULT_ACTIVATE_AFTER,
    overlap: timedelta = DEFAULT_OVERLAP,
    now: datetime | None = None,
) -> Rotation:
    """Give the node `config` describes a new key: written to its key file (0600), the old key kept beside it, the
    directory re-signed with the operator's key (the file `operator_key`, which must be the one the node trusts).

    The order leaves every crash point recoverable: the old key is archived and the new one written under its own
    name before the directory names it; the key file is replaced last, and the node's key ring reads both names."""
    operator = SigningKey.load(operator_key)
    if operator.public_key != config.operator_key:
        raise DirectoryError(f"{operator_key} is not the operator key {config.bic}'s node trusts")
    directory = Directory.load(config.directory, config.operator_key)
    old = SigningKey.load(config.key)
    me = directory[config.bic]
    if me.public_key != old.public_key:
        raise DirectoryError(
            f"{config.key} holds key {old.fingerprint}, not {me.key_id} the directory lists for {config.bic}: "
            "a rotation is still being written, or the files do not belong together"
        )
    moment = now or datetime.now(UTC)
    new = SigningKey.generate()
    archived = archived_key_path(config.key, old.public_key)
    if not archived.exists():
        old.save_replacing(archived)
    staged = archived_key_path(config.key, new.public_key)
    new.save_replacing(staged)
    rotated = directory.rotate_key(
        config.bic, new.public_key, operator, now=moment, activate_after=activate_after, overlap=overlap
    )
    rotated.save(config.directory)
    os.replace(staged, config.key)
    entry = rotated[config.bic]
    log.info(
        "%s: key %s rotated to %s (directory version %d)", config.bic, old.fingerprint, new.fingerprint, rotated.version
    )
    return Rotation(
        config.bic,
        rotated.version,
        old.fingerprint,
        new.fingerprint,
        entry.key_since or "",
        entry.previous_keys[0].until,
    )
