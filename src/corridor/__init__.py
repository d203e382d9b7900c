"""Corridor: an open-source payment network for two countries trading in their own currencies."""

__version__ = "0.1.0"
