"""Make the synthetic RoBERTa tokenizer files of ``weights=random`` CLAP scores
(metrics/embedders/data/roberta_synthetic/: vocab.json + merges.txt, roberta-base's file formats
and special-token ids <s>=0, <pad>=1, </s>=2, <unk>=3, <mask>=4), by training a byte-level BPE
(tokenizers, as roberta-base's was made) on a seeded corpus of music and scene words.

roberta-base's own files come from the Hugging Face hub, which is out of reach here; this vocabulary
lets the whole CLAP-score path (tokenizer class, text branch, file layout) run offline and be
checked against laion_clap with identical files. Run once; the files are committed:

    .venv/bin/python scripts/golden/make_synthetic_roberta_tokenizer.py
"""

from __future__ import annotations

import random
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "metrics" / "embedders" / "data" / "roberta_synthetic"
WORDS = """a an the of and with in on to upbeat slow fast calm energetic happy sad dark bright piano guitar drums
bass violin synth orchestra electronic rock pop jazz classical hip hop dance ambient melody rhythm beat tempo music
song dancer dances moves jumps spins walks figure person man woman wall floor room stage red blue green yellow night
day street crowd loud quiet soft strong gentle groove funky cinematic epic sample loop vocal singer choir strings
brass""".split()


def main() -> None:
    from tokenizers import ByteLevelBPETokenizer

    rng = random.Random(0)
    corpus = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14))) for _ in range(3000)]
    corpus += ["A figure dances in front of a red wall.", "Energetic electronic dance music with a strong beat, 128 bpm!"]
    tok = ByteLevelBPETokenizer()
    tok.train_from_iterator(corpus, vocab_size=700, min_frequency=2,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    OUT.mkdir(parents=True, exist_ok=True)
    tok.save_model(str(OUT))
    print(f"wrote {OUT}/vocab.json, merges.txt ({tok.get_vocab_size()} tokens)")


if __name__ == "__main__":
    main()
