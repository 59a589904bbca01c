"""attachments on handling steps and supervision notes (D20, D24): photos or a PDF linked
to a task event or a supervision note, so the orphan purge keeps them

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 09:40:00
"""
from alembic import op
import sqlalchemy as sa
import app.db


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('task_event_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('supervision_note_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_attachments_supervision_note_id'), ['supervision_note_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attachments_task_event_id'), ['task_event_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_attachments_task_event_id_task_events'), 'task_events', ['task_event_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_attachments_supervision_note_id_supervision_notes'), 'supervision_notes', ['supervision_note_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_attachments_supervision_note_id_supervision_notes'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_attachments_task_event_id_task_events'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_attachments_task_event_id'))
        batch_op.drop_index(batch_op.f('ix_attachments_supervision_note_id'))
        batch_op.drop_column('supervision_note_id')
        batch_op.drop_column('task_event_id')
