"""Studio's character-level LSTM family. Code is imported only when a model is first used."""
