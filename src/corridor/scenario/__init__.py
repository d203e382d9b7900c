"""Scenario files: a corridor's countries, participants, rates and accounts (TOML)."""

from corridor.scenario.model import Scenario, ScenarioError, default_scenario_path, load_scenario, parse_scenario

__all__ = ["Scenario", "ScenarioError", "default_scenario_path", "load_scenario", "parse_scenario"]
