# 有事好商量 — one image for web, scheduler and dispatcher (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=5000

WORKDIR /srv/app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY app ./app
COPY bots ./bots
COPY scheduler ./scheduler
COPY migrations ./migrations
COPY alembic.ini gunicorn.conf.py ./

# Never run as root.
RUN useradd --system --uid 10001 --home /srv/app appuser \
    && mkdir -p /srv/app/instance /data/uploads && chown appuser /srv/app/instance /data/uploads
USER appuser

EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
  CMD python -c "import os,urllib.request;urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\",\"5000\")}/healthz',timeout=2)"

# Default: the web service. docker-compose.yml overrides the command for the other processes.
CMD ["gunicorn", "-c", "gunicorn.conf.py", "app.wsgi:app"]
