"""Studio plugin: a small DCGAN on 64x64 RGB pictures (``demo-gan``)."""
