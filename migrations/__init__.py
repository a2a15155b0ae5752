"""Alembic environment of the dicomfs index (shipped as ``dicomfs.migrations``).

Run programmatically by :mod:`dicomfs.index.migrate`; no ``alembic.ini`` is needed.
"""
