"""Outbox and inbox tables (see services.py and dispatcher.py)."""
