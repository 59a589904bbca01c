"""Flask CLI commands (flask --app app ...)."""
from __future__ import annotations


def register_cli(app) -> None:
    pass
