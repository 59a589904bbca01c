"""The scheduler process: a declared list of jobs, each a thin call into app services.

Run with `python -m scheduler`. One instance is active; others wait on a lock (a PostgreSQL
advisory lock, or a file lock on the embedded SQLite default) as an efficiency measure.
Correctness never depends on the lock: jobs claim work through database constraints.
"""
