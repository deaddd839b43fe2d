"""Build the CLIP BPE tokenizer files (vocab.json, merges.txt) that Stable Diffusion checkpoints use.

Source: ``bpe_simple_vocab_16e6.txt.gz`` from the open_clip_torch wheel on PyPI (MIT licence), turned
into Hugging Face's format exactly as OpenAI's CLIP builds its encoder. Run once; the output is
committed to ``resources/configs/clip_tokenizer`` so single-file checkpoints load offline.

    pip download --no-deps open_clip_torch==3.3.0 -d /tmp/oc
    python packaging/build_clip_tokenizer.py /tmp/oc/open_clip_torch-3.3.0-py3-none-any.whl
"""

from __future__ import annotations

import gzip
import json
import sys
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "resources" / "configs" / "clip_tokenizer"


def bytes_to_unicode() -> dict[int, str]:
    codes = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    codes += list(range(ord("®"), ord("ÿ") + 1))
    chars = codes[:]
    extra = 0
    for b in range(256):
        if b not in codes:
            codes.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(codes, map(chr, chars), strict=True))


def main(wheel: str) -> None:
    with zipfile.ZipFile(wheel) as archive:
        raw = archive.read("open_clip/bpe_simple_vocab_16e6.txt.gz")
    lines = gzip.decompress(raw).decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : 49152 - 256 - 2 + 1]]
    vocab = list(bytes_to_unicode().values())
    vocab += [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}, ensure_ascii=False))
    (OUT / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")
    print(f"{len(vocab)} tokens, {len(merges)} merges -> {OUT}")


if __name__ == "__main__":
    main(sys.argv[1])
