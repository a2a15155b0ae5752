"""dicomfs.file."""
