"""The music decoder DyViM and the MusicGen baseline share: MusicGen's transformer decoder and the
EnCodec 32 kHz codec (4 codebooks × 2048 codes, 50 frames/s), through transformers.

Sizes (`size` config key):
    tiny    random weights, CPU/CI: decoder d = 64, 2 layers; a small EnCodec of the same rates
    small   facebook/musicgen-small  (d = 1024, 24 layers, 16 heads)
    medium  facebook/musicgen-medium (d = 1536, 48 layers, 24 heads; the paper's)

`weights: pretrained` loads `MusicgenForConditionalGeneration` from the hub id or a local folder
(config.json + model.safetensors, as published) and keeps its decoder, EnCodec and T5 text encoder;
`weights: random` builds the same shapes with seeded random weights (labelled everywhere).

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

from bench.errors import ConfigError, WeightsNotFoundError

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


def tiny_encodec_config():
    """EnCodec at the real rates (32 kHz, hop 640 → 50 Hz, 4 × 2048 codes at 2.2 kbps), few channels."""
    from transformers import EncodecConfig

    return EncodecConfig(sampling_rate=SAMPLE_RATE, upsampling_ratios=[8, 5, 4, 4], codebook_size=CODEBOOK_SIZE,
                         target_bandwidths=[2.2], num_filters=4, hidden_size=32, num_lstm_layers=1,
                         audio_channels=1, normalize=False)


@dataclass
class MusicDecoder:
    """The decoder (`MusicgenForCausalLM`), its codec (`EncodecModel`) and, when loaded from a
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
    from transformers import EncodecModel, MusicgenForCausalLM

    if weights not in ("random", "pretrained"):
        raise ConfigError(f"weights={weights!r} must be random or pretrained")
    if weights == "pretrained":
        if size == "tiny" and not model:
            raise ConfigError("size=tiny has no published checkpoint: use weights=random, or size=small|medium")
        source = model or HUB_IDS[size]
        from transformers import MusicgenForConditionalGeneration

        from systems.dyvim.encoders_common import load_pretrained

        full = load_pretrained(MusicgenForConditionalGeneration.from_pretrained, source, f"MusicGen ({size})")
        lm, codec = full.decoder, full.audio_encoder
        if int(codec.config.sampling_rate) != SAMPLE_RATE or int(lm.config.num_codebooks) != N_CODEBOOKS:
            raise WeightsNotFoundError(f"MusicGen checkpoint {source}: codec at {codec.config.sampling_rate} Hz with "
                                       f"{lm.config.num_codebooks} codebooks; DyViM needs EnCodec 32 kHz × 4 (mono "
                                       "musicgen-small/medium/large)")
        text, proj = (full.text_encoder, full.enc_to_dec_proj) if with_text else (None, None)
        return MusicDecoder(lm, codec.eval(), "pretrained", source, text, proj)
    from systems.dyvim.encoders_common import seeded

    with seeded(seed):
        lm = MusicgenForCausalLM(decoder_config(size))
        codec = EncodecModel(tiny_encodec_config() if size == "tiny" else _encodec_32k_config()).eval()
        informative_codec(codec, seed)
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
def informative_codec(codec: nn.Module, seed: int, seconds: float = 8.0, level: float = 0.1) -> None:
    """Seeded random EnCodec whose codes carry the audio and whose audio follows the codes.

    With transformers' init a random EnCodec is useless twice over. Its codebooks are zeros (the
    real ones come from k-means during training), so every frame gets code 0. And PyTorch's default
    conv init shrinks the signal at every layer while the biases stay, so the decoder's waveform
    was the biases' fixed pattern: two random code sequences decoded to waveforms differing by
    5e-5 of their level, so every tiny model's music was the same clip. Three seeded steps on a
    probe signal (tones with onsets, and noise) fix both:

    1. encoder convs, in order, get the data-dependent init of weight normalisation (Salimans &
       Kingma 2016, §3.2): each output channel centred and scaled to unit variance over time;
    2. each residual codebook is filled with (jittered) encoder outputs, as EnCodec's own k-means
       init does, and the residual passes on to the next codebook (`_fill_codebooks`);
    3. decoder convs get the same init on the quantized probe; the last one gives `level`
       (≈ -20 dBFS RMS), mean removed.
    """
    g = torch.Generator().manual_seed(seed + 101)
    dev = next(codec.parameters()).device
    probe = _probe_signal(g, seconds).view(1, 1, -1).to(dev)
    head = int(INIT_SECONDS * SAMPLE_RATE)  # the layer statistics need less than the codebooks
    _data_dependent_init(codec.encoder, probe[..., :head])
    frames = codec.encoder(probe)  # (1, dim, T)
    codes = _fill_codebooks(codec, frames[0].t(), g)  # (K, T)
    n_head = head * frames.shape[-1] // probe.shape[-1]
    _data_dependent_init(codec.decoder, codec.quantizer.decode(codes[:, None, :n_head]), last_level=level)


INIT_SECONDS = 2.0  # of the probe, for the per-layer init passes (one forward per conv)


def _probe_signal(g: torch.Generator, seconds: float) -> torch.Tensor:
    """Seeded notes (random pitch, onset, length, level) over faint noise, at 32 kHz."""
    n = int(seconds * SAMPLE_RATE)
    t = torch.arange(n) / SAMPLE_RATE
    probe = torch.zeros(n)
    for _ in range(24):
        f0 = 110 * 2 ** (torch.rand(1, generator=g) * 4)
        on = torch.rand(1, generator=g) * seconds
        env = ((t >= on) & (t < on + 0.1 + torch.rand(1, generator=g))).float() * torch.exp(-(t - on).clamp(min=0) * 3)
        probe += 0.2 * env * torch.sin(2 * torch.pi * f0 * t)
    return probe + 0.02 * torch.randn(n, generator=g)


def _fill_codebooks(codec: nn.Module, frames: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Residual codebooks from encoder frames (T, dim); returns the frames' codes (K, T)."""
    residual, dev, codes = frames, frames.device, []
    size = codec.quantizer.layers[0].codebook.embed.shape[0]
    for layer in codec.quantizer.layers:
        book = layer.codebook
        rows = torch.randint(0, residual.shape[0], (size,), generator=g).to(dev)
        jitter = torch.randn(size, residual.shape[1], generator=g).to(dev) * residual.std(0, keepdim=True) * 0.25
        book.embed.copy_(residual[rows] + jitter)
        book.embed_avg.copy_(book.embed)
        idx = torch.cdist(residual, book.embed).argmin(dim=1)
        codes.append(idx)
        residual = residual - book.embed[idx]
    return torch.stack(codes)


def _data_dependent_init(net: nn.Module, inputs: torch.Tensor, last_level: float | None = None) -> None:
    """Each conv of `net`, in order, rescaled and shifted so that its output on `inputs` has zero
    mean and unit standard deviation over time per output channel (one scale for all channels
    where weight norm's magnitude is per input channel, as in a transposed conv); the last conv's
    output is scaled to `last_level` overall instead, when given."""
    convs = [m for m in net.modules() if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d))]
    for i, conv in enumerate(convs):
        out = _output_of(net, conv, inputs)  # (B, C, T)
        mean, std = out.mean(dim=(0, 2)), out.std(dim=(0, 2)).clamp(min=1e-12)
        norm = getattr(getattr(conv, "parametrizations", None), "weight", None)
        magnitude = norm.original0 if norm is not None else conv.weight
        per_channel = magnitude.shape[0] == out.shape[1] and not isinstance(conv, nn.ConvTranspose1d)
        if last_level is not None and i == len(convs) - 1:
            scale = torch.full_like(std, last_level / float((out - mean[None, :, None]).std()))
        else:
            scale = 1.0 / std if per_channel else torch.full_like(std, 1.0 / float(std.mean()))
        magnitude.mul_(scale.view(-1, *[1] * (magnitude.dim() - 1)) if per_channel else scale[0])
        if conv.bias is not None:
            conv.bias.copy_((conv.bias - mean) * scale)


class _Reached(Exception):
    """Raised by a forward hook to stop the pass at the module whose output it carries."""

    def __init__(self, out: torch.Tensor):
        self.out = out


def _output_of(net: nn.Module, module: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """`module`'s output when `net` runs on `inputs`; the pass stops there (layers after it would
    be computed for nothing)."""
    def stop(_m, _i, out):
        raise _Reached(out)

    hook = module.register_forward_hook(stop)
    try:
        net(inputs)
    except _Reached as reached:
        return reached.out
    finally:
        hook.remove()
    raise RuntimeError(f"{type(module).__name__} did not run in {type(net).__name__}'s forward pass")


def _encodec_32k_config():
    """facebook/encodec_32khz's architecture (as bundled with musicgen-small/medium)."""
    from transformers import EncodecConfig

    return EncodecConfig(sampling_rate=SAMPLE_RATE, upsampling_ratios=[8, 5, 4, 4], codebook_size=CODEBOOK_SIZE,
                         target_bandwidths=[2.2], num_filters=64, hidden_size=128, num_lstm_layers=2,
                         audio_channels=1, normalize=False, use_causal_conv=False, pad_mode="constant",
                         norm_type="weight_norm", compress=2, residual_kernel_size=3, kernel_size=7,
                         last_kernel_size=7)


def decoder_forward(lm: nn.Module, inputs_embeds: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                    encoder_attention_mask: torch.Tensor | None = None, cache=None, use_cache: bool = False):
    """MusicGen's decoder on given input embeddings (B, S, d) → (logits (B, K, S, V), cache).

    The same steps as `MusicgenDecoder.forward` (causal and cross-attention masks from transformers'
    mask builders, sinusoidal positions offset by the cache length, the layers, final norm, the K
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
    dev = next(codec.parameters()).device
    x = torch.as_tensor(np.asarray(audio, np.float32), device=dev).view(1, 1, -1)
    out = codec.encode(x, bandwidth=float(codec.config.target_bandwidths[-1]))
    return out.audio_codes[0, 0].cpu().numpy().astype(np.int16)


@torch.no_grad()
def decode_codes(codec: nn.Module, codes: torch.Tensor) -> torch.Tensor:
    """Codes (B, K, T) → audio (B, samples) float32 at 32 kHz."""
    audio = codec.decode(codes[None].long(), [None]).audio_values
    return audio[:, 0].float()

