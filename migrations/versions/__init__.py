"""Alembic revisions of the dicomfs index, oldest first (``0001_initial``, ``0002_store_info``...)."""
