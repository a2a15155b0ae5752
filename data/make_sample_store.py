"""Build the sample store used by `make demo` (does nothing when it already exists).

Usage: python data/make_sample_store.py data/sample-store
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import synthetic


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "data/sample-store")
    marker = root.with_name(root.name + ".complete")  # beside the store: not a file of it
    if marker.exists():
        print(f"sample store: {root} (already built)")
        return
    count = synthetic.generate(root, synthetic.Plan())
    marker.write_text("sample store complete\n")
    print(f"sample store: wrote {count} DICOM files under {root}")


if __name__ == "__main__":
    main()
