"""Hearth: private, offline-first machine learning that runs in the browser (and on CPython)."""

__version__ = "0.1.0"
