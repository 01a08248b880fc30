"""The music decoder DyViM and the MusicGen baseline share: MusicGen's transformer decoder and the
EnCodec 32 kHz codec (4 codebooks × 2048 codes, 50 frames/s), through transformers.

Sizes (`size` config key):
    tiny    random weights, CPU/CI: decoder d = 64, 2 layers
    small   facebook/musicgen-small  (d = 1024, 24 layers, 16 heads)
    medium  facebook/musicgen-medium (d = 1536, 48 layers, 24 heads; the paper's)

`weights: pretrained` loads `MusicgenForConditionalGeneration` from the hub id or a local folder
(config.json + model.safetensors, as published) and keeps its decoder, EnCodec and T5 text encoder;
`weights: random` builds the same decoder shapes with seeded random weights (labelled everywhere)
and, in place of EnCodec, `codec.SpectralCodec`: the same rates and code layout, codes of the
log-mel spectrum fitted on seeded synthetic notes (a random EnCodec's codes carried no note
onsets: docs/science.md).

`decoder_forward` runs the pretrained decoder layers on our own input embeddings. transformers'
`MusicgenDecoder.forward` cannot be used for that: given `inputs_embeds` it takes the positions from
a (B, S, 1) slice of them, so every position receives the sinusoidal embedding of position 0 (or
of the cache length). We call the same sub-modules and mask builders with the right positions;
for integer codes the result is bit-identical to `MusicgenForCausalLM(input_ids)` (tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from systems.musicgen.codec import SpectralCodec
from core.errors import ConfigError, WeightsNotFoundError

SAMPLE_RATE = 32000
FRAME_RATE = 50
N_CODEBOOKS = 4
CODEBOOK_SIZE = 2048
PAD_ID = CODEBOOK_SIZE  # MusicGen's pad / BOS id (2048)

HUB_IDS = {"small": "facebook/musicgen-small", "medium": "facebook/musicgen-medium"}
SHAPES = {  # decoder shapes of the published checkpoints, so `weights: random` matches them
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, ffn_dim=128),
    "small": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, ffn_dim=4096),
    "medium": dict(hidden_size=1536, num_hidden_layers=48, num_attention_heads=24, ffn_dim=6144),
}


def decoder_config(size: str):
    from transformers import MusicgenDecoderConfig

    if size not in SHAPES:
        raise ConfigError(f"system size {size!r} is not one of {', '.join(SHAPES)}")
    return MusicgenDecoderConfig(vocab_size=CODEBOOK_SIZE, num_codebooks=N_CODEBOOKS, pad_token_id=PAD_ID,
                                 bos_token_id=PAD_ID, max_position_embeddings=2048, dropout=0.0,
                                 attention_dropout=0.0, activation_dropout=0.0, layerdrop=0.0, **SHAPES[size])


@dataclass
class MusicDecoder:
    """The decoder (`MusicgenForCausalLM`), its codec (`EncodecModel`; `SpectralCodec` with random weights) and, when loaded from a
    published checkpoint, the T5 text encoder with its projection to the decoder width."""

    lm: nn.Module
    codec: nn.Module
    weights: str
    source: str
    text_encoder: nn.Module | None = None
    text_proj: nn.Module | None = None

    @property
    def width(self) -> int:
        return int(self.lm.config.hidden_size)

    def to(self, device) -> "MusicDecoder":
        for m in (self.lm, self.codec, self.text_encoder, self.text_proj):
            if m is not None:
                m.to(device)
        return self


def load_music_decoder(size: str = "tiny", weights: str = "random", model: str | None = None, seed: int = 0,
                       with_text: bool = False) -> MusicDecoder:
    """Build or load the decoder. `model` overrides the hub id / local folder of `size`."""
    from transformers import MusicgenForCausalLM

    if weights not in ("random", "pretrained"):
        raise ConfigError(f"weights={weights!r} must be random or pretrained")
    if weights == "pretrained":
        if size == "tiny" and not model:
            raise ConfigError("size=tiny has no published checkpoint: use weights=random, or size=small|medium")
        source = model or HUB_IDS[size]
        from transformers import MusicgenForConditionalGeneration

        from core.weights import load_pretrained

        full = load_pretrained(MusicgenForConditionalGeneration.from_pretrained, source, f"MusicGen ({size})",
                               config_key="system.dyvim.model (or system.musicgen.model)",
                               files="config.json + model.safetensors of MusicgenForConditionalGeneration")
        lm, codec = full.decoder, full.audio_encoder
        if int(codec.config.sampling_rate) != SAMPLE_RATE or int(lm.config.num_codebooks) != N_CODEBOOKS:
            raise WeightsNotFoundError(f"MusicGen checkpoint {source}: codec at {codec.config.sampling_rate} Hz with "
                                       f"{lm.config.num_codebooks} codebooks; DyViM needs EnCodec 32 kHz × 4 (mono "
                                       "musicgen-small/medium/large)")
        text, proj = (full.text_encoder, full.enc_to_dec_proj) if with_text else (None, None)
        return MusicDecoder(lm, codec.eval(), "pretrained", source, text, proj)
    from core.weights import seeded

    with seeded(seed):
        lm = MusicgenForCausalLM(decoder_config(size))
        scale_code_embeddings(lm)
        tie_heads_at_init(lm)
    codec = SpectralCodec(seed=seed).eval()  # EnCodec's rates and code layout; codes that carry the events
    text = proj = None
    if with_text:
        from transformers import T5Config, T5EncoderModel

        t5 = (T5Config(vocab_size=32128, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4) if size == "tiny"
              else T5Config.from_dict(dict(vocab_size=32128, d_model=768, d_kv=64, d_ff=3072, num_layers=12,
                                           num_heads=12)))
        with seeded(seed + 7):
            text = T5EncoderModel(t5).eval()
            proj = nn.Linear(t5.d_model, lm.config.hidden_size)
    return MusicDecoder(lm, codec, "random", f"random:{size}:seed{seed}", text, proj)


@torch.no_grad()
def scale_code_embeddings(lm: nn.Module) -> None:
    """Random weights: codebook embeddings drawn N(0, 1 / (2K)), so their sum over the K codebooks
    has the RMS of the sinusoidal positions (1/√2) it is added to.

    transformers' init (std 0.02) made the summed codes ~3 % of the decoder's input at d = 64 (the
    positions' RMS is 0.71 per dimension): after the first layer norm the random decoder barely saw
    its own codes, and in a few hundred steps it learned neither to continue a held code nor to use
    a dynamics signal (docs/science.md). Trained MusicGen embeddings are not that small."""
    k = len(lm.model.decoder.embed_tokens)
    for emb in lm.model.decoder.embed_tokens:
        emb.weight.normal_(0.0, (0.5 / k) ** 0.5)


@torch.no_grad()
def tie_heads_at_init(lm: nn.Module) -> None:
    """Random weights: each codebook's LM head starts as that codebook's input embeddings (GPT-2's
    weight tying, here at initialisation only; they train apart).

    A trained MusicGen continues a held code; a random 64-wide decoder took longer than the science
    check's budget to learn even that (held codes still cost 2.2–2.5 nats after 300 steps on the toy),
    and until it could, the few frames where the codes change — the frames the video's motion could
    time — were lost in that error. Started from its own input embeddings, a head scores the code it
    was fed highest, so training goes to when the codes change (docs/science.md)."""
    for emb, head in zip(lm.model.decoder.embed_tokens, lm.lm_heads):
        head.weight.copy_(emb.weight[:head.weight.shape[0]])


def decoder_forward(lm: nn.Module, inputs_embeds: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                    encoder_attention_mask: torch.Tensor | None = None, cache=None, use_cache: bool = False):
    """MusicGen's decoder on given input embeddings (B, S, d) → (logits (B, K, S, V), cache).

    The same steps as `MusicgenDecoder.forward` (causal and cross-attention masks from transformers'
    mask builders, sinusoidal positions offset by the cache length, embedding dropout, the layers, final norm, the K
    LM heads), except that positions come from the sequence length (see the module docstring)."""
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache
    from transformers.masking_utils import create_bidirectional_mask, create_causal_mask

    dec = lm.model.decoder
    if use_cache and cache is None:
        cache = EncoderDecoderCache(DynamicCache(config=dec.config), DynamicCache(config=dec.config))
    past = cache.get_seq_length() if cache is not None else 0
    b, s, _ = inputs_embeds.shape
    attn_mask = create_causal_mask(config=dec.config, inputs_embeds=inputs_embeds, attention_mask=None, cache=cache)
    enc_mask = None
    if encoder_hidden_states is not None:
        enc_mask = create_bidirectional_mask(config=dec.config, inputs_embeds=inputs_embeds,
                                             attention_mask=encoder_attention_mask,
                                             encoder_hidden_states=encoder_hidden_states)
    positions = dec.embed_positions(inputs_embeds.new_empty((b, 1, s)), past)
    hidden = inputs_embeds + positions.to(inputs_embeds.device, inputs_embeds.dtype)
    # the stock decoder's embedding dropout (config.dropout: 0.1 in the published checkpoints, 0 in `tiny`)
    hidden = nn.functional.dropout(hidden, p=float(dec.dropout), training=dec.training)
    for layer in dec.layers:
        hidden = layer(hidden, attn_mask, encoder_hidden_states, encoder_attention_mask=enc_mask, cache=cache,
                       use_cache=use_cache)
    hidden = dec.layer_norm(hidden)
    logits = torch.stack([head(hidden) for head in lm.lm_heads], dim=1)
    return logits, cache


def summed_code_embeddings(lm: nn.Module, delayed_input: torch.Tensor) -> torch.Tensor:
    """Σ_k z_{i,k}: codes (B, K, S) in the delayed layout → (B, S, d), as MusicGen sums them."""
    emb = lm.model.decoder.embed_tokens
    return sum(emb[k](delayed_input[:, k]) for k in range(delayed_input.shape[1]))


@torch.no_grad()
def encode_audio(codec: nn.Module, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono float audio at 32 kHz → EnCodec codes (K, T) int16, T = ceil(len / 640)."""
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"EnCodec 32 kHz needs 32000 Hz audio, got {sample_rate} Hz (resample when loading)")
    dev = next(iter([*codec.parameters(), *codec.buffers()])).device  # SpectralCodec has buffers only
    x = torch.as_tensor(np.asarray(audio, np.float32), device=dev).view(1, 1, -1)
    out = codec.encode(x, bandwidth=float(codec.config.target_bandwidths[-1]))
    return out.audio_codes[0, 0].cpu().numpy().astype(np.int16)


@torch.no_grad()
def decode_codes(codec: nn.Module, codes: torch.Tensor) -> torch.Tensor:
    """Codes (B, K, T) → audio (B, samples) float32 at 32 kHz."""
    audio = codec.decode(codes[None].long(), [None]).audio_values
    return audio[:, 0].float()

