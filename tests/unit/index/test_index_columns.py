"""Normalised key columns of the index (dicomfs/index/columns.py)."""

from __future__ import annotations

import warnings
from pathlib import Path

import factories

import dicomfs
from dicomfs.index.columns import da_key, datetime_key


def test_acr_nema_dates_are_normalised() -> None:
    assert da_key("2020.01.31") == "20200131"
    assert da_key("20200131") == "20200131"
    assert da_key(None) is None
    assert datetime_key("2020.01.31", "1030") == "20200131103000.000000"


def test_acr_nema_study_date_matches_ranges_in_sql(tmp_path: Path) -> None:
    """B-12: a file whose StudyDate is in the retired ACR-NEMA form YYYY.MM.DD is found by a
    date range (the SQL column holds the normalised date; the result keeps the stored value)."""
    with warnings.catch_warnings():  # pydicom warns that the retired form is not a valid DA
        warnings.simplefilter("ignore", UserWarning)
        ds = factories.make_instance(StudyDate="2020.01.31")
        factories.write_datasets(tmp_path / "tree", [ds])
    with dicomfs.DICOMfileClient(tmp_path / "tree", db_dir=tmp_path / "db") as client:
        found = client.search_for_studies(search_filters={"StudyDate": "20200101-20200201"})
        assert [r["0020000D"]["Value"] for r in found] == [[factories.study_uid(1)]]
        assert client.search_for_studies(search_filters={"StudyDate": "20200201-"}) == []
