"""item tracks for opinion lists routed before the follow-through existed (D19): every item of a
routed list gets its track, awaiting a decision at its own scope, so lists already routed when
this release is deployed can be decided, handled and reach their feedback list

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 10:50:00
"""
from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# Items of routed lists without a track. A list whose party group had held a level back before
# this release keeps those items awaiting: staff see them in the reviewers' queues and the
# bodies decide them (a hold-back after this release settles them at once).
BACKFILL = """
INSERT INTO item_tracks (item_id, list_id, state, current_scope, is_key, updated_at)
SELECT i.id, i.list_id, 'awaiting', i.scope, false, CURRENT_TIMESTAMP
FROM opinion_items i
JOIN opinion_lists l ON l.id = i.list_id
WHERE l.state = 'routed'
  AND NOT EXISTS (SELECT 1 FROM item_tracks t WHERE t.item_id = i.id)
"""


def upgrade() -> None:
    op.execute(BACKFILL)


def downgrade() -> None:
    # The tracks stay meaningful after a downgrade to 0010 (the table still exists there).
    pass
