"""Mini-program pages the follow-through's notices open (one place, so a page that moves is
changed once and tests/integration/test_public_results.py checks they are registered)."""
from __future__ import annotations

# The reviewer's queue of items to decide and extensions to answer (pages/item-decide without a
# routing shows the queue).
REVIEWER_LINK = "/pages/item-decide/item-decide"


def task_link(task_id: int) -> str:
    """The handler's page of a task (pages/task)."""
    return f"/pages/task/task?id={task_id}"


def results_link(topic_id: int) -> str:
    """The public results of a topic (pages/results): what became of it, for the followers told
    by the feedback list (D21)."""
    return f"/pages/results/results?id={topic_id}"
