"""The control interface's signature header (node/rpc.py `RpcServer._authenticate`): whatever a publisher on NATS
puts in `Corridor-Control`, the node answers `unauthorized` and runs nothing, unless it is a signature made with the
secret over that very request; never another exception (which would leave the request unanswered)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from hypothesis import example, given
from hypothesis import strategies as st

from corridor.node.rpc import CONTROL_HEADER, RpcError, RpcServer, control_signature
from tests.fuzz import fuzz_settings

SECRET = bytes(range(32))
SUBJECT = "corridor.rpc.VOLGRUMM.pay"


@dataclass
class Request:
    """What the server reads of a NATS message."""

    subject: str
    data: bytes
    headers: dict[str, str] | None


def server() -> RpcServer:
    return RpcServer(None, "corridor.rpc", "VOLGRUMM", {}, secret=SECRET)  # type: ignore[arg-type]


def signed(body: bytes) -> str:
    stamp = str(time.time_ns())
    return f"{stamp}.{control_signature(SECRET, SUBJECT, stamp, body)}"


@fuzz_settings(300)
@given(header=st.text(max_size=200) | st.none(), body=st.binary(max_size=64))
@example(header="9" * 400 + ".00", body=b"{}")  # a time too large for a float: it once escaped as OverflowError
@example(header="1.\u00e9", body=b"{}")  # not ASCII: compare_digest raised TypeError on it
@example(header="-1.00", body=b"{}")
def test_any_header_but_a_signature_with_the_secret_is_refused_as_unauthorized(header: str | None, body: bytes) -> None:
    request = Request(SUBJECT, body, None if header is None else {CONTROL_HEADER: header})
    try:
        server()._authenticate(request)  # type: ignore[arg-type]
    except RpcError as refused:
        assert refused.code == "unauthorized"
    else:
        raise AssertionError(f"{header!r} was taken for a signature")


@fuzz_settings(100)
@given(body=st.binary(max_size=64))
def test_a_request_signed_with_the_secret_is_taken_once(body: bytes) -> None:
    answering = server()
    request = Request(SUBJECT, body, {CONTROL_HEADER: signed(body)})
    answering._authenticate(request)  # type: ignore[arg-type]
    try:
        answering._authenticate(request)  # type: ignore[arg-type]
    except RpcError as refused:
        assert refused.code == "unauthorized"
    else:
        raise AssertionError("a replay was taken")
