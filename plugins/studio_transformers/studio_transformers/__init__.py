"""Studio's causal-LM family. Code is imported only when a model is first loaded."""
