"""dicomfs.storage."""
