"""The command line: the headless twin of the studio window (DESIGN.md §6)."""
