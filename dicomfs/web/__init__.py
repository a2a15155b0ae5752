"""dicomfs.web."""
