"""Field 43, the card acceptor's name and location: how the issuer learns whom its cardholder is paying.

ISO 8583:1987 gives it 40 characters: the name in the first 25, the city in the next 13, the country in the last 2
(ISO 3166 alpha-2 here). The acquirer writes it from its merchant's record; the issuer reads it to screen the
merchant, so reading it never fails: a field that is short, padded oddly or missing gives what can be read of it.
"""

from __future__ import annotations

NAME, CITY, COUNTRY = slice(0, 25), slice(25, 38), slice(38, 40)
LENGTH = 40


def name_location(name: str, country: str, city: str = "") -> str:
    """The 40 characters of field 43 (printable ASCII: the field is `ans`; other characters become `?`)."""
    text = f"{name[:25]:<25}{city[:13]:<13}{country[:2]:<2}"
    return "".join(char if " " <= char <= "~" else "?" for char in text)


def acceptor(field43: object) -> tuple[str, str | None]:
    """(name, country or None) from a field 43 as received; ("", None) when there is none."""
    if not isinstance(field43, str):
        return "", None
    country = field43[COUNTRY].strip().upper()
    return field43[NAME].strip(), country if len(country) == 2 and country.isalpha() else None
