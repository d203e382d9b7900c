"""Reading a scenario's TOML tables: a missing or mistyped field is a ScenarioError that names it by its path
(`participant[2].bic: ...`), because a scenario is written by hand and a vague error costs its author an afternoon."""

from __future__ import annotations

from typing import Any


class ScenarioError(ValueError):
    """The scenario file is not usable; the message names the field."""


def get_field(table: dict[str, Any], key: str, kind: type, where: str, default: Any = ...) -> Any:
    """`table[key]`, which must be a `kind` (an int is not a bool); `default` when missing, if one is given."""
    if key not in table:
        if default is ...:
            raise ScenarioError(f"{where}.{key}: missing")
        return default
    value = table[key]
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise ScenarioError(f"{where}.{key}: expected {kind.__name__}, got {type(value).__name__} {value!r}")
    return value


def table_list(data: dict[str, Any], key: str, where: str = "") -> list[dict[str, Any]]:
    """An array of tables (`[[key]]`, or `[[where.key]]` inside a table), empty when absent."""
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        path = f"{where}.{key}" if where else key
        raise ScenarioError(f"{path}: expected an array of tables ([[{path}]])")
    return value
