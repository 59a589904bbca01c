"""Small helpers shared by the tests."""
from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def committed_session(app):
    """A short-lived session in its own app context, committed on exit. Requests made after it
    get their own app context and database session, as in production."""
    with app.app_context():
        s = app.extensions["db"].new_session()
        try:
            yield s
            s.commit()
        finally:
            s.close()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
