"""dicomfs.index."""
