"""`make demo`: index the sample store, search it, retrieve from it and render an image.

Usage: python data/demo.py data/sample-store
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import dicomfs


def value(result: dict, tag: str) -> str:
    element = result.get(tag, {})
    values = element.get("Value", [])
    if not values:
        return ""
    first = values[0]
    if isinstance(first, dict):
        return str(first.get("Alphabetic", ""))
    return "\\".join(str(v) for v in values)


def table(rows: list[dict], columns: list[tuple[str, str]]) -> None:
    cells = [[value(r, tag) for _, tag in columns] for r in rows]
    widths = [max([len(name)] + [len(c[i]) for c in cells]) for i, (name, _) in enumerate(columns)]
    print("  " + "  ".join(name.ljust(w) for (name, _), w in zip(columns, widths)))
    for c in cells:
        print("  " + "  ".join(x.ljust(w) for x, w in zip(c, widths)))
    print()


STUDY_COLUMNS = [
    ("PatientName", "00100010"),
    ("PatientID", "00100020"),
    ("StudyDate", "00080020"),
    ("Description", "00081030"),
    ("Modalities", "00080061"),
    ("Series", "00201206"),
    ("Instances", "00201208"),
]


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "data/sample-store")
    out = Path("data/demo-output")
    out.mkdir(parents=True, exist_ok=True)

    print(f"== 1. Index {root} (the index lives in {root}/.dicomfs/index.sqlite)")
    t = time.perf_counter()
    client = dicomfs.DICOMfileClient(root, update_db=True)
    print(f"  opened and synced in {1000 * (time.perf_counter() - t):.0f} ms: {client.last_sync}")
    for rejection in client.rejected():
        print(f"  rejected: {rejection.path}: {rejection.reason}")
    print()

    print("== 2. Search: all studies")
    table(client.search_for_studies(fields=["StudyDescription"]), STUDY_COLUMNS)

    print("== 3. Search: PatientName=SM* (wildcard), and StudyDate=20150101-20201231 (range)")
    table(
        client.search_for_studies(
            search_filters={"PatientName": "SM*"}, fields=["StudyDescription"]
        ),
        STUDY_COLUMNS,
    )
    table(
        client.search_for_studies(
            search_filters={"StudyDate": "20150101-20201231"}, fields=["StudyDescription"]
        ),
        STUDY_COLUMNS,
    )

    print("== 4. Search: MR series, with their study")
    series = client.search_for_series(
        search_filters={"Modality": "MR"}, fields=["SeriesDescription"]
    )
    table(
        series,
        [
            ("Study", "0020000D"),
            ("Series#", "00200011"),
            ("Modality", "00080060"),
            ("Description", "0008103E"),
            ("Instances", "00201209"),
        ],
    )

    multi = client.search_for_instances(search_filters={"NumberOfFrames": "10"})
    print("== 5. Retrieve: metadata, a frame and an instance of the multi-frame MR")
    inst = multi[0]
    uids = (value(inst, "0020000D"), value(inst, "0020000E"), value(inst, "00080018"))
    meta = client.retrieve_instance_metadata(*uids)
    print(f"  metadata: {len(meta)} attributes; PixelData -> {meta['7FE00010']['BulkDataURI']}")
    frame = client.retrieve_instance_frames(*uids, frame_numbers=[5])[0]
    print(f"  frame 5: {len(frame)} bytes (64 x 64 x 16 bit, decompressed from RLE)")
    ds = client.retrieve_instance(*uids)
    print(
        f"  instance: {ds.SOPClassUID.name}, transfer syntax {ds.file_meta.TransferSyntaxUID.name}\n"
    )

    print("== 6. Render: first CT image with a soft-tissue window, and the multi-frame as GIF")
    ct = client.search_for_instances(search_filters={"Modality": "CT"}, limit=1)[0]
    ct_uids = (value(ct, "0020000D"), value(ct, "0020000E"), value(ct, "00080018"))
    png = client.retrieve_instance_rendered(
        *ct_uids, media_types=("image/png",), params={"window": "40,400,linear"}
    )
    (out / "ct.png").write_bytes(png)
    gif = client.retrieve_instance_frames_rendered(
        *uids, frame_numbers=[1, 2, 3, 4, 5], media_types=("image/gif",)
    )
    (out / "cine.gif").write_bytes(gif)
    print(f"  wrote {out / 'ct.png'} ({len(png)} bytes) and {out / 'cine.gif'} ({len(gif)} bytes)")
    client.close()


if __name__ == "__main__":
    main()
