"""Initial schema: files, studies, series, instances.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('files',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('mtime_ns', sa.BigInteger(), nullable=False),
    sa.Column('rejected_reason', sa.Text(), nullable=True),
    sa.Column('sop_instance_uid', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('path')
    )
    op.create_index(op.f('ix_files_sop_instance_uid'), 'files', ['sop_instance_uid'], unique=False)
    op.create_table('studies',
    sa.Column('study_instance_uid', sa.String(length=64), nullable=False),
    sa.Column('patient_id', sa.String(length=64), nullable=True),
    sa.Column('patient_name', sa.Text(), nullable=True),
    sa.Column('patient_name_key', sa.Text(), nullable=True),
    sa.Column('patient_birth_date', sa.String(length=16), nullable=True),
    sa.Column('patient_sex', sa.String(length=16), nullable=True),
    sa.Column('study_date', sa.String(length=8), nullable=True),
    sa.Column('study_time', sa.String(length=16), nullable=True),
    sa.Column('study_time_key', sa.String(length=13), nullable=True),
    sa.Column('study_datetime_key', sa.String(length=21), nullable=True),
    sa.Column('accession_number', sa.String(length=64), nullable=True),
    sa.Column('study_id', sa.String(length=16), nullable=True),
    sa.Column('referring_physician_name', sa.Text(), nullable=True),
    sa.Column('study_description', sa.Text(), nullable=True),
    sa.Column('attributes', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('study_instance_uid')
    )
    op.create_index(op.f('ix_studies_accession_number'), 'studies', ['accession_number'], unique=False)
    op.create_index(op.f('ix_studies_patient_id'), 'studies', ['patient_id'], unique=False)
    op.create_index(op.f('ix_studies_patient_name_key'), 'studies', ['patient_name_key'], unique=False)
    op.create_index(op.f('ix_studies_study_date'), 'studies', ['study_date'], unique=False)
    op.create_index(op.f('ix_studies_study_datetime_key'), 'studies', ['study_datetime_key'], unique=False)
    op.create_table('series',
    sa.Column('series_instance_uid', sa.String(length=64), nullable=False),
    sa.Column('study_instance_uid', sa.String(length=64), nullable=False),
    sa.Column('modality', sa.String(length=16), nullable=True),
    sa.Column('series_number', sa.Integer(), nullable=True),
    sa.Column('series_description', sa.Text(), nullable=True),
    sa.Column('series_date', sa.String(length=8), nullable=True),
    sa.Column('series_time', sa.String(length=16), nullable=True),
    sa.Column('body_part_examined', sa.String(length=16), nullable=True),
    sa.Column('attributes', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['study_instance_uid'], ['studies.study_instance_uid'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('series_instance_uid')
    )
    op.create_index(op.f('ix_series_modality'), 'series', ['modality'], unique=False)
    op.create_index(op.f('ix_series_study_instance_uid'), 'series', ['study_instance_uid'], unique=False)
    op.create_table('instances',
    sa.Column('sop_instance_uid', sa.String(length=64), nullable=False),
    sa.Column('series_instance_uid', sa.String(length=64), nullable=False),
    sa.Column('study_instance_uid', sa.String(length=64), nullable=False),
    sa.Column('file_id', sa.Integer(), nullable=False),
    sa.Column('sop_class_uid', sa.String(length=64), nullable=True),
    sa.Column('instance_number', sa.Integer(), nullable=True),
    sa.Column('rows', sa.Integer(), nullable=True),
    sa.Column('columns', sa.Integer(), nullable=True),
    sa.Column('bits_allocated', sa.Integer(), nullable=True),
    sa.Column('samples_per_pixel', sa.Integer(), nullable=True),
    sa.Column('number_of_frames', sa.Integer(), nullable=True),
    sa.Column('transfer_syntax_uid', sa.String(length=64), nullable=False),
    sa.Column('has_file_meta', sa.Boolean(), nullable=False),
    sa.Column('pixel_data_tag', sa.Integer(), nullable=True),
    sa.Column('pixel_data_offset', sa.BigInteger(), nullable=True),
    sa.Column('pixel_data_length', sa.BigInteger(), nullable=True),
    sa.Column('frame_fragments', sa.Text(), nullable=True),
    sa.Column('attributes', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['file_id'], ['files.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['series_instance_uid'], ['series.series_instance_uid'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('sop_instance_uid'),
    sa.UniqueConstraint('file_id')
    )
    op.create_index(op.f('ix_instances_series_instance_uid'), 'instances', ['series_instance_uid'], unique=False)
    op.create_index('ix_instances_series_number', 'instances', ['series_instance_uid', 'instance_number'], unique=False)
    op.create_index(op.f('ix_instances_sop_class_uid'), 'instances', ['sop_class_uid'], unique=False)
    op.create_index(op.f('ix_instances_study_instance_uid'), 'instances', ['study_instance_uid'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_instances_study_instance_uid'), table_name='instances')
    op.drop_index(op.f('ix_instances_sop_class_uid'), table_name='instances')
    op.drop_index('ix_instances_series_number', table_name='instances')
    op.drop_index(op.f('ix_instances_series_instance_uid'), table_name='instances')
    op.drop_table('instances')
    op.drop_index(op.f('ix_series_study_instance_uid'), table_name='series')
    op.drop_index(op.f('ix_series_modality'), table_name='series')
    op.drop_table('series')
    op.drop_index(op.f('ix_studies_study_datetime_key'), table_name='studies')
    op.drop_index(op.f('ix_studies_study_date'), table_name='studies')
    op.drop_index(op.f('ix_studies_patient_name_key'), table_name='studies')
    op.drop_index(op.f('ix_studies_patient_id'), table_name='studies')
    op.drop_index(op.f('ix_studies_accession_number'), table_name='studies')
    op.drop_table('studies')
    op.drop_index(op.f('ix_files_sop_instance_uid'), table_name='files')
    op.drop_table('files')
