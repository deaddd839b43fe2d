"""Studio's Stable Diffusion family. Code is imported only when a model is first loaded."""
