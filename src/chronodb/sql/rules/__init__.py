"""Rewrite rules, each a function ``Expression -> Expression`` in its own module."""
