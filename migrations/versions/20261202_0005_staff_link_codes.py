"""staff link codes: chat_binding_codes gains staff_link, issued_by_id, used_at

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 06:00:00
"""
from alembic import op
import sqlalchemy as sa
import app.db


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('chat_binding_codes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('staff_link', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.add_column(sa.Column('issued_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('used_at', app.db.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_chat_binding_codes_issued_by_id_people'),
                                    'people', ['issued_by_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('chat_binding_codes', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_chat_binding_codes_issued_by_id_people'),
                                 type_='foreignkey')
        batch_op.drop_column('used_at')
        batch_op.drop_column('issued_by_id')
        batch_op.drop_column('staff_link')
