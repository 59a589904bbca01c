"""feedback lists (D21): one per opinion list, compiled once (UNIQUE list_id)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 09:21:13
"""
from alembic import op
import sqlalchemy as sa
import app.db


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('feedback_lists',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('consultation_id', sa.Integer(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.Column('compiled_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('items', sa.Integer(), nullable=False),
    sa.Column('adopted', sa.Integer(), nullable=False),
    sa.Column('partly', sa.Integer(), nullable=False),
    sa.Column('not_adopted', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('on_time', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['consultation_id'], ['consultations.id'], name=op.f('fk_feedback_lists_consultation_id_consultations')),
    sa.ForeignKeyConstraint(['list_id'], ['opinion_lists.id'], name=op.f('fk_feedback_lists_list_id_opinion_lists')),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_feedback_lists_topic_id_topics')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_lists')),
    sa.UniqueConstraint('list_id', name=op.f('uq_feedback_lists_list_id'))
    )
    with op.batch_alter_table('feedback_lists', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feedback_lists_consultation_id'), ['consultation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_feedback_lists_topic_id'), ['topic_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('feedback_lists', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feedback_lists_topic_id'))
        batch_op.drop_index(batch_op.f('ix_feedback_lists_consultation_id'))

    op.drop_table('feedback_lists')
