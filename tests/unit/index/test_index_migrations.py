"""The schema is made only by Alembic, and the migrations agree with the models (STYLE 6)."""

from __future__ import annotations

from pathlib import Path

import factories
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text

import dicomfs
from dicomfs.index import migrate
from dicomfs.index.engine import create_index_engine, write_transaction
from dicomfs.index.models import Base, StoreInfo


def test_migrations_package_is_importable() -> None:
    import dicomfs.migrations
    import dicomfs.migrations.versions

    assert Path(dicomfs.migrations.__file__).parent.joinpath("env.py").is_file()
    assert Path(dicomfs.migrations.__file__).parent.joinpath("script.py.mako").is_file()


def test_head_schema_equals_models(tmp_path: Path) -> None:
    engine = create_index_engine(f"sqlite:///{tmp_path / 'i.sqlite'}")
    assert migrate.upgrade(engine) == migrate.head_revision() == "0002"
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diffs == []
    assert sorted(inspect(engine).get_table_names()) == [
        "alembic_version", "files", "instances", "series", "store_info", "studies",
    ]
    engine.dispose()


def test_upgrade_is_idempotent_and_records_version(tmp_path: Path) -> None:
    engine = create_index_engine(f"sqlite:///{tmp_path / 'i.sqlite'}")
    migrate.upgrade(engine, version="9.9")
    migrate.upgrade(engine, version="9.9")
    with engine.connect() as conn:
        rows = dict(conn.execute(select(StoreInfo.key, StoreInfo.value)).tuples().all())
    assert rows == {"created_with": "9.9", "dicomfs_version": "9.9"}
    assert migrate.current_revision(engine) == "0002"
    engine.dispose()


def test_index_from_revision_0001_is_upgraded_on_open(tmp_path: Path) -> None:
    """An index made by an older dicomfs is migrated on open and keeps its data."""
    root = tmp_path / "tree"
    root.mkdir()
    factories.write_datasets(root, [factories.make_instance(1, 1, 1)])
    db = tmp_path / "db"
    with dicomfs.DICOMfileClient(root, db_dir=db):
        pass
    engine = create_index_engine(f"sqlite:///{db / 'index.sqlite'}")

    def back_to_0001(conn: object) -> None:
        command.downgrade(migrate.alembic_config(conn), "0001")  # type: ignore[arg-type]

    write_transaction(engine, back_to_0001)
    assert migrate.current_revision(engine) == "0001"
    assert "store_info" not in inspect(engine).get_table_names()
    engine.dispose()
    with dicomfs.DICOMfileClient(root, db_dir=db) as client:
        engine = client.ctx.repo.engine
        assert migrate.current_revision(engine) == "0002"
        path = client.ctx.repo.path_of_sop(factories.sop_uid(1, 1, 1))
        assert path == "patientTEST-ID/s0/IM00000"
        with engine.connect() as conn:
            rows = dict(conn.execute(text("SELECT key, value FROM store_info")).tuples().all())
        assert rows == {
            "created_with": "unknown (made before revision 0002)",
            "dicomfs_version": dicomfs.__version__,
        }


def test_newer_unknown_revision_is_refused(tmp_path: Path) -> None:
    engine = create_index_engine(f"sqlite:///{tmp_path / 'i.sqlite'}")
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    try:
        migrate.upgrade(engine)
    except migrate.MigrationError as exc:
        assert "9999" in str(exc)
    else:
        raise AssertionError("an unknown revision must be refused")
    finally:
        engine.dispose()


def test_head_revision_constant_matches_the_scripts() -> None:
    """Opening skips Alembic when the index is at HEAD_REVISION: it must be the real head."""
    from dicomfs.index import migrate

    assert migrate.HEAD_REVISION == migrate.head_revision()
