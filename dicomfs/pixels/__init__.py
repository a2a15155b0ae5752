"""dicomfs.pixels."""
