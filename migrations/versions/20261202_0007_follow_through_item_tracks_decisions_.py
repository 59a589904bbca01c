"""follow-through: item tracks, decisions, handling tasks, supervision

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 09:30:00
"""
from alembic import op
import sqlalchemy as sa
import app.db


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('handling_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('lead_body_id', sa.Integer(), nullable=False),
    sa.Column('assigning_body_id', sa.Integer(), nullable=False),
    sa.Column('assigned_by_id', sa.Integer(), nullable=False),
    sa.Column('assigned_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('assigned_on', sa.Date(), nullable=False),
    sa.Column('workdays', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('due_estimated', sa.Boolean(), nullable=False),
    sa.Column('original_due_on', sa.Date(), nullable=False),
    sa.Column('state', sa.Enum('assigned', 'accepted', 'planned', 'completed', name='taskstate', native_enum=False, length=32), nullable=False),
    sa.Column('accepted_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('plan_text', sa.Text(), nullable=True),
    sa.Column('planned_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('percent', sa.Integer(), nullable=False),
    sa.Column('result_text', sa.Text(), nullable=True),
    sa.Column('completed_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('completed_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['assigned_by_id'], ['people.id'], name=op.f('fk_handling_tasks_assigned_by_id_people')),
    sa.ForeignKeyConstraint(['assigning_body_id'], ['bodies.id'], name=op.f('fk_handling_tasks_assigning_body_id_bodies')),
    sa.ForeignKeyConstraint(['item_id'], ['opinion_items.id'], name=op.f('fk_handling_tasks_item_id_opinion_items')),
    sa.ForeignKeyConstraint(['lead_body_id'], ['bodies.id'], name=op.f('fk_handling_tasks_lead_body_id_bodies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handling_tasks')),
    sa.UniqueConstraint('item_id', name=op.f('uq_handling_tasks_item_id'))
    )
    with op.batch_alter_table('handling_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handling_tasks_due_on'), ['due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_handling_tasks_lead_body_id'), ['lead_body_id'], unique=False)

    op.create_table('item_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.Enum('local', 'county', 'city', name='opinionscope', native_enum=False, length=32), nullable=False),
    sa.Column('body_id', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.Enum('adopted', 'partly', 'not_adopted', 'escalated', name='outcome', native_enum=False, length=32), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=False),
    sa.Column('decided_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['body_id'], ['bodies.id'], name=op.f('fk_item_decisions_body_id_bodies')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['people.id'], name=op.f('fk_item_decisions_decided_by_id_people')),
    sa.ForeignKeyConstraint(['item_id'], ['opinion_items.id'], name=op.f('fk_item_decisions_item_id_opinion_items')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_item_decisions')),
    sa.UniqueConstraint('item_id', 'scope', name=op.f('uq_item_decisions_item_id_scope'))
    )
    with op.batch_alter_table('item_decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_item_decisions_body_id'), ['body_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_item_decisions_item_id'), ['item_id'], unique=False)

    op.create_table('item_supervisors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('named_by_id', sa.Integer(), nullable=False),
    sa.Column('named_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['opinion_items.id'], name=op.f('fk_item_supervisors_item_id_opinion_items')),
    sa.ForeignKeyConstraint(['named_by_id'], ['people.id'], name=op.f('fk_item_supervisors_named_by_id_people')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_item_supervisors_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_item_supervisors')),
    sa.UniqueConstraint('item_id', 'person_id', name=op.f('uq_item_supervisors_item_id_person_id'))
    )
    with op.batch_alter_table('item_supervisors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_item_supervisors_person_id'), ['person_id'], unique=False)

    op.create_table('item_tracks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('awaiting', 'not_adopted', 'assigning', 'handling', 'done', name='itemstate', native_enum=False, length=32), nullable=False),
    sa.Column('current_scope', sa.Enum('local', 'county', 'city', name='opinionscope', native_enum=False, length=32), nullable=False),
    sa.Column('outcome', sa.Enum('adopted', 'partly', 'not_adopted', 'escalated', name='outcome', native_enum=False, length=32), nullable=True),
    sa.Column('decided_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('settled_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('is_key', sa.Boolean(), nullable=False),
    sa.Column('key_reason', sa.String(length=200), nullable=True),
    sa.Column('flagged_by_id', sa.Integer(), nullable=True),
    sa.Column('flagged_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['flagged_by_id'], ['people.id'], name=op.f('fk_item_tracks_flagged_by_id_people')),
    sa.ForeignKeyConstraint(['item_id'], ['opinion_items.id'], name=op.f('fk_item_tracks_item_id_opinion_items')),
    sa.ForeignKeyConstraint(['list_id'], ['opinion_lists.id'], name=op.f('fk_item_tracks_list_id_opinion_lists')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_item_tracks')),
    sa.UniqueConstraint('item_id', name=op.f('uq_item_tracks_item_id'))
    )
    with op.batch_alter_table('item_tracks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_item_tracks_list_id'), ['list_id'], unique=False)

    op.create_table('supervision_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['opinion_items.id'], name=op.f('fk_supervision_notes_item_id_opinion_items')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_supervision_notes_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_notes'))
    )
    with op.batch_alter_table('supervision_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supervision_notes_item_id'), ['item_id'], unique=False)

    op.create_table('extension_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('requested_due_on', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('state', sa.Enum('pending', 'approved', 'refused', name='extensionstate', native_enum=False, length=32), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['decided_by_id'], ['people.id'], name=op.f('fk_extension_requests_decided_by_id_people')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['people.id'], name=op.f('fk_extension_requests_requested_by_id_people')),
    sa.ForeignKeyConstraint(['task_id'], ['handling_tasks.id'], name=op.f('fk_extension_requests_task_id_handling_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_extension_requests'))
    )
    with op.batch_alter_table('extension_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_extension_requests_task_id'), ['task_id'], unique=False)

    op.create_table('task_co_handlers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('body_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['body_id'], ['bodies.id'], name=op.f('fk_task_co_handlers_body_id_bodies')),
    sa.ForeignKeyConstraint(['task_id'], ['handling_tasks.id'], name=op.f('fk_task_co_handlers_task_id_handling_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_co_handlers')),
    sa.UniqueConstraint('task_id', 'body_id', name=op.f('uq_task_co_handlers_task_id_body_id'))
    )
    with op.batch_alter_table('task_co_handlers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_co_handlers_body_id'), ['body_id'], unique=False)

    op.create_table('task_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('assigned', 'accepted', 'planned', 'progress', 'completed', 'extension_requested', 'extension_approved', 'extension_refused', name='taskeventkind', native_enum=False, length=32), nullable=False),
    sa.Column('body_id', sa.Integer(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('percent', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['people.id'], name=op.f('fk_task_events_actor_id_people')),
    sa.ForeignKeyConstraint(['body_id'], ['bodies.id'], name=op.f('fk_task_events_body_id_bodies')),
    sa.ForeignKeyConstraint(['task_id'], ['handling_tasks.id'], name=op.f('fk_task_events_task_id_handling_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_events'))
    )
    with op.batch_alter_table('task_events', schema=None) as batch_op:
        batch_op.create_index('ix_task_events_task', ['task_id', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('task_events', schema=None) as batch_op:
        batch_op.drop_index('ix_task_events_task')

    op.drop_table('task_events')
    with op.batch_alter_table('task_co_handlers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_co_handlers_body_id'))

    op.drop_table('task_co_handlers')
    with op.batch_alter_table('extension_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_extension_requests_task_id'))

    op.drop_table('extension_requests')
    with op.batch_alter_table('supervision_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supervision_notes_item_id'))

    op.drop_table('supervision_notes')
    with op.batch_alter_table('item_tracks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_item_tracks_list_id'))

    op.drop_table('item_tracks')
    with op.batch_alter_table('item_supervisors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_item_supervisors_person_id'))

    op.drop_table('item_supervisors')
    with op.batch_alter_table('item_decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_item_decisions_item_id'))
        batch_op.drop_index(batch_op.f('ix_item_decisions_body_id'))

    op.drop_table('item_decisions')
    with op.batch_alter_table('handling_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handling_tasks_lead_body_id'))
        batch_op.drop_index(batch_op.f('ix_handling_tasks_due_on'))

    op.drop_table('handling_tasks')
