"""MusicGen (Copet et al. 2023) through transformers, the model DyViM builds on (audiocraft's layering):

- `decoder`: the decoder and the 32 kHz EnCodec (or the offline `codec.SpectralCodec` for random
  weights), loading published checkpoints or seeded random ones; the decoder's forward pass.
- `delay`: the codebook delay pattern.
- `conditioning`: what the decoder attends to (the cross-attention memory, per-position additions).
- `sampling`: the KV-cached sampling loop (top-k, temperature, classifier-free guidance).
- `system`: the plain `musicgen` baseline (text-conditioned on the clip's caption, or unconditional).

`systems.dyvim` adds the video conditioning on top; nothing here imports it.
"""
