"""Strategies the fuzz tests share: a valid input changed the ways a channel or an attacker changes bytes and text.

`mutated(seed)` applies one to four edits to `seed`, each one of: flip a bit, replace a byte, cut the end off, cut
a span out, insert random bytes, repeat a span, swap two spans, or insert one of the "interesting" byte strings
parsers trip on (boundary integers, NULs, huge lengths, non-UTF-8, deep nesting). Text is mutated as its UTF-8
bytes, then decoded leniently, so a mutation may also make it not UTF-8 where the parser takes bytes.
"""

from __future__ import annotations

from hypothesis import strategies as st

INTERESTING: tuple[bytes, ...] = (
    b"\x00",
    b"\xff",
    b"\xff\xff",
    b"\x7f",
    b"\x80",
    b"\xc3\x28",  # an invalid UTF-8 sequence
    b"\xed\xa0\x80",  # a UTF-16 surrogate written as UTF-8
    b"\xef\xbb\xbf",  # a byte order mark
    b"0",
    b"-1",
    b"9" * 40,
    b"1e999999",
    b"NaN",
    b"Infinity",
    b"-0",
    b"  ",
    b"\t\r\n",
    b"\\u0000",
    b'"',
    b"'",
    b"<",
    b">",
    b"&",
    b"]]>",
    b"<!--",
    b"[",
    b"{",
    b"[" * 600,
    b"{" * 600,
    b'{"a":' * 300,
    b"=",
    b"#",
    b"%s%n",
)
"""Byte strings that sit on a parser's boundaries."""


@st.composite
def _edit(draw: st.DrawFn, data: bytes) -> bytes:
    size = len(data)
    kind = draw(
        st.sampled_from(
            ["flip", "byte", "truncate", "delete", "insert", "repeat", "swap", "interesting"]
            if size
            else ["insert", "interesting"]
        )
    )
    if kind == "insert" or kind == "interesting":
        at = draw(st.integers(0, size))
        piece = draw(st.binary(min_size=1, max_size=16)) if kind == "insert" else draw(st.sampled_from(INTERESTING))
        if kind == "interesting" and size and draw(st.booleans()):  # replace rather than insert
            end = draw(st.integers(at, min(size, at + len(piece))))
            return data[:at] + piece + data[end:]
        return data[:at] + piece + data[at:]
    at = draw(st.integers(0, size - 1))
    if kind == "flip":
        return data[:at] + bytes((data[at] ^ (1 << draw(st.integers(0, 7))),)) + data[at + 1 :]
    if kind == "byte":
        return data[:at] + bytes((draw(st.integers(0, 255)),)) + data[at + 1 :]
    if kind == "truncate":
        return data[:at]
    end = draw(st.integers(at + 1, min(size, at + 64)))
    if kind == "delete":
        return data[:at] + data[end:]
    if kind == "repeat":
        return data[:end] + data[at:end] * draw(st.integers(1, 8)) + data[end:]
    # swap: the span [at, end) with another of the same length after it, if there is room
    length = end - at
    if end + length > size:
        return data[end:] + data[at:end] + data[:at]
    other = draw(st.integers(end, size - length))
    return data[:at] + data[other : other + length] + data[end:other] + data[at:end] + data[other + length :]


@st.composite
def mutated(draw: st.DrawFn, seed: bytes | st.SearchStrategy[bytes], max_edits: int = 4) -> bytes:
    """`seed` (or a value of the strategy) after one to `max_edits` edits."""
    data = seed if isinstance(seed, bytes) else draw(seed)
    for _ in range(draw(st.integers(1, max_edits))):
        data = draw(_edit(data))
    return data


def mutated_text(seed: str | st.SearchStrategy[str], max_edits: int = 4) -> st.SearchStrategy[str]:
    """Text after byte-level edits of its UTF-8, read back with bytes that are not UTF-8 replaced."""
    seeds = st.just(seed.encode()) if isinstance(seed, str) else seed.map(str.encode)
    return mutated(seeds, max_edits).map(lambda data: data.decode("utf-8", errors="replace"))


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=24)
    | st.sampled_from(["", "0", "-1", "00", "1e3", "0x10", "ff" * 32, "FF" * 32, "RUB", "VOIL", "2026-11-23"])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
"""Any JSON value (what a JSON parser can hand a reader)."""
