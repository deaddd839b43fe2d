"""Studio plugin: a small convolutional VAE on 64x64 RGB pictures (``demo-vae``)."""
