"""Index the shared corpus: every file is indexed or rejected with a one-line reason."""

from __future__ import annotations

from pathlib import Path

import pytest

import dicomfs

pytestmark = pytest.mark.corpus


def test_every_corpus_file_is_indexed_or_rejected(corpus: Path) -> None:
    files = sorted(p.relative_to(corpus).as_posix() for p in corpus.rglob("*") if p.is_file())
    with dicomfs.DICOMfileClient(corpus, in_memory=True, readonly=True, workers=2) as client:
        rejected = {r.path: r.reason for r in client.rejected()}
        states = client.ctx.repo.file_states()
        counts = client.ctx.repo.counts()
    assert sorted(states) == files
    indexed = [p for p, (_size, _mtime, is_rejected) in states.items() if not is_rejected]
    assert len(indexed) + len(rejected) == len(files)
    assert counts["instances"] == len(indexed)
    assert all(reason and "\n" not in reason for reason in rejected.values())
    # The known-bad files.
    assert rejected["pydicom-data/emri_small_jpeg_2k_lossless_too_short.dcm"] == (
        "truncated: the encapsulated pixel data has no sequence delimiter"
    )
    assert rejected["pydicom-data/bad_sequence.dcm"].startswith("invalid StudyInstanceUID ")
    # Deflated files are indexed; their pixel data cannot be located by file offset.
    assert "transcoding/DeflatedExplicitVRLittleEndian.dcm" in indexed
    # The same instance in several transfer syntaxes: the smallest path is kept.
    assert rejected["pydicom-data/emri_small_jpeg_2k_lossless.dcm"] == (
        "duplicate of pydicom-data/emri_small.dcm"
    )
    # Files without File Meta are indexed.
    assert "pydicom-data/OT-PAL-8-face.dcm" in indexed
    assert rejected["INDEX.md"] == "not a DICOM file (no DICM prefix, no data set)"


def test_deflated_file_is_indexed_without_pixel_offsets(corpus: Path) -> None:
    """A deflated file is indexed: the index records which pixel data element it holds, but no
    offset, length or fragments, so WADO parses the file to serve it (G-02, G-06)."""
    with dicomfs.DICOMfileClient(corpus, in_memory=True, readonly=True, workers=1) as client:
        repo = client.ctx.repo
        path = "transcoding/DeflatedExplicitVRLittleEndian.dcm"
        states = repo.file_states()
        assert states[path][2] is False
        found = [
            inst
            for study in client.search_for_studies()
            for inst in repo.instances(study["0020000D"]["Value"][0])
            if inst.path == path
        ]
    assert len(found) == 1
    inst = found[0]
    assert inst.transfer_syntax_uid == "1.2.840.10008.1.2.1.99"
    assert inst.pixel_data_tag == 0x7FE00010
    assert (inst.pixel_data_offset, inst.pixel_data_length, inst.frame_fragments) == (
        None,
        None,
        None,
    )
