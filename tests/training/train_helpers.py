"""A tiny play corpus and the flags of a tiny ``demo-text`` run (seconds on a CPU)."""

from __future__ import annotations

from pathlib import Path

PLAY = """# The {name}

## ACT I

### SCENE I. A room.

_Enter KING and QUEEN_

**KING**
Good morrow, my lord, and welcome to the court.
What news from France?

**QUEEN**
The king is dead, my lord; long live the king!

_Exeunt_
"""

TINY = {"batch_size": 2, "block": 16, "vocab_size": 300, "hidden": 64, "layers": 1}


def write_corpus(folder: Path, plays: int = 4) -> Path:
    """``plays`` Markdown plays (the last is held out for evaluation)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(plays):
        (folder / f"play-{i}.md").write_text(PLAY.format(name=f"Play {i}") * 6, encoding="utf-8")
    return folder


def tiny_flags(corpus: Path, out: Path, steps: int, **more) -> list[str]:
    """``studio train demo-text`` flags of a tiny model on ``corpus``."""
    values = {**TINY, "corpus_dir": corpus, "out": out, "steps": steps, **more}
    return [f"--{k.replace('_', '-')}={v}" for k, v in values.items()]
