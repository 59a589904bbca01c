"""staff login shadows: the failure counter and lock of unknown console usernames

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 06:10:00
"""
from alembic import op
import sqlalchemy as sa
import app.db


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('staff_login_shadows',
    sa.Column('name_hash', sa.String(length=64), nullable=False),
    sa.Column('failed_attempts', sa.Integer(), nullable=False),
    sa.Column('locked_until', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name_hash', name=op.f('pk_staff_login_shadows'))
    )
    op.create_index(op.f('ix_staff_login_shadows_updated_at'), 'staff_login_shadows',
                    ['updated_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_staff_login_shadows_updated_at'), table_name='staff_login_shadows')
    op.drop_table('staff_login_shadows')
