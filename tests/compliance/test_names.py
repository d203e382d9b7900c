"""Names across scripts and transliteration systems reduce to the same skeleton."""

import pytest

from corridor.compliance.names import normalise_identifier, skeleton, to_latin, words


@pytest.mark.parametrize(
    ("written", "other"),
    [
        ("Жестоков Василий", "Zhestokov Vasiliy"),  # ICAO 9303
        ("Жестоков Василий", "Zhestokov Vasily"),  # BGN/PCGN-like
        ("Жестоков Василий", "Schestokow Wassili"),  # German
        ("Жестоков Василий", "Žestokov Vasilij"),  # scholarly
        ("Евгений Дмитриев", "Yevgeny Dmitriyev"),
        ("Михаил Хрусталёв", "Mikhail Khrustalev"),
        ("Александр", "Aleksandr"),
        ("Ramón Núñez", "Ramon Nunez"),
    ],
)
def test_spellings_of_one_name_share_a_skeleton(written: str, other: str) -> None:
    assert skeleton(written) == skeleton(other)


def test_cyrillic_is_written_by_the_icao_table() -> None:
    assert to_latin("Щукин Юрий") == "shchukin iurii"


def test_legal_forms_and_vessel_prefixes_are_not_words_of_the_name() -> None:
    assert words("ООО Черноморский Транзит") == words("Chernomorskii Tranzit LLC") == ["chernomorskii", "tranzit"]
    assert words("MV Polar Lynx") == ["polar", "lynx"]


def test_punctuation_separates_words() -> None:
    assert words("Inversiones Guácharo-Oscuro, C.A.") == ["inversiones", "guacharo", "oscuro"]


def test_identifiers_compare_without_spaces_or_punctuation() -> None:
    assert normalise_identifier("rif: j-00000001-0") == normalise_identifier("RIF:J000000010") == "RIFJ000000010"
