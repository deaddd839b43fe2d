"""Export, watermarking and provenance: Qt-free."""
