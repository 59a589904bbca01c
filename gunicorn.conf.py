"""gunicorn settings for production (web service). Nginx buffers in front (deploy/nginx.conf);
this setup also survives slow clients on its own (docs/deploy.md, 慢速客户端).

Threaded workers (gthread): a connection whose request headers trickle in pins one thread, not a
whole worker, and gunicorn parks a connection that has sent nothing yet without a thread. The
sync worker blocks on a slow client's headers — its `timeout` does not cover header reads — so
a handful of slow connections used to hold every worker."""
import multiprocessing
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
# Threads per worker; each may hold one database connection (the pool allows 15 per process).
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = 30
graceful_timeout = 20
keepalive = 5
# No control socket (gunicorn >= 25 opens one under $HOME or $XDG_RUNTIME_DIR by default).
control_socket_disable = True
# Logs go to stderr; the app writes JSON lines itself.
accesslog = None
errorlog = "-"
