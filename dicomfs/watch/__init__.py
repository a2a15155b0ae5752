"""dicomfs.watch."""
