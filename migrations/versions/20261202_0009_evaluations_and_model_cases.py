"""Evaluations (D26, D27: four kinds, two phases, one per author) and model cases (典型案例)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 09:23:01.296770
"""
from alembic import op
import sqlalchemy as sa
import app.db


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('evaluations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consultation_id', sa.Integer(), nullable=False),
    sa.Column('phase', sa.Enum('after_meeting', 'after_feedback', name='phase', native_enum=False, length=32), nullable=False),
    sa.Column('kind', sa.Enum('party_government', 'member', 'resident', 'organiser', name='evaluationkind', native_enum=False, length=32), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('outcome_score', sa.Integer(), nullable=False),
    sa.Column('process_score', sa.Integer(), nullable=False),
    sa.Column('comment', sa.String(length=500), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('outcome_score BETWEEN 1 AND 5', name=op.f('ck_evaluations_outcome_score_range')),
    sa.CheckConstraint('process_score BETWEEN 1 AND 5', name=op.f('ck_evaluations_process_score_range')),
    sa.ForeignKeyConstraint(['author_id'], ['people.id'], name=op.f('fk_evaluations_author_id_people')),
    sa.ForeignKeyConstraint(['consultation_id'], ['consultations.id'], name=op.f('fk_evaluations_consultation_id_consultations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluations')),
    sa.UniqueConstraint('consultation_id', 'phase', 'kind', 'author_id', name=op.f('uq_evaluations_consultation_id_phase_kind_author_id'))
    )
    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evaluations_author_id'), ['author_id'], unique=False)

    op.create_table('model_cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consultation_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('marked_by_id', sa.Integer(), nullable=False),
    sa.Column('marked_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['consultation_id'], ['consultations.id'], name=op.f('fk_model_cases_consultation_id_consultations')),
    sa.ForeignKeyConstraint(['marked_by_id'], ['people.id'], name=op.f('fk_model_cases_marked_by_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_cases')),
    sa.UniqueConstraint('consultation_id', name=op.f('uq_model_cases_consultation_id'))
    )


def downgrade() -> None:
    op.drop_table('model_cases')
    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evaluations_author_id'))

    op.drop_table('evaluations')
