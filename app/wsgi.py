"""WSGI entry point for gunicorn: `gunicorn app.wsgi:app`."""
from . import create_app
from .topics.similarity import warm_up

app = create_app()
# Load the Chinese segmenter (~1 s) before the first request, not during a resident's typing.
warm_up()
