"""Studio plugin: a CLIP-style scorer of how well a picture matches a prompt (``demo-clip``)."""
