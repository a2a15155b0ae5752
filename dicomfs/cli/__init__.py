"""dicomfs.cli."""
