"""LAION-CLAP text and audio embeddings for the text–audio CLAP score, as stable-audio-metrics and
audiocraft compute it (``clap_score_sam``, ``clap_score_audiocraft``).

References: stable-audio-metrics ``src/clap_score.py`` ``clap_score`` (GitHub main, fd55536);
audiocraft 1.3.0 ``metrics/clap_consistency.py`` ``CLAPTextConsistencyMetric``; laion_clap 1.1.7
``CLAP_Module.get_text_embedding`` / ``get_audio_embedding_from_data``, ``training/data.py``
``get_audio_features`` / ``get_mel``, ``clap_module/htsat.py`` ``forward``.

Protocols (``PROTOCOLS``):

- ``stable-audio-metrics``: ``630k-audioset-fusion-best.pt`` (``CLAP_Module(enable_fusion=True)``:
  HTSAT-tiny + aff_2d fusion). Audio: ``librosa.load(sr=48000, mono=True)`` (soxr HQ),
  ``pyloudnorm`` peak −1 dB, the int16 round trip ``int16(clip(x)·32767) / 32767``, one file per
  call. A file of at most 480,000 samples (10 s) is repeat-padded (repeated ⌊480000/n⌋ times, then
  zeros) → laion's ``get_mel`` (torchaudio ``MelSpectrogram``: periodic Hann 1024, hop 480, centred
  with reflection, power 2, 64 HTK mel bands 50–14,000 Hz without norm; ``AmplitudeToDB``
  10·log10(max(x, 1e-10))) stacked four times; with no item "longer", laion's eval forward reads
  channel 0 only (no fusion). A longer file: the mel of the whole file, three 1,001-frame chunks at
  random starts (one from each third of the possible starts) and the whole mel resized to 1,001
  frames (torchvision ``Resize``, bilinear, antialiased) → the AFF fusion.
- ``audiocraft``: ``music_audioset_epoch_15_esc_90.14.pt`` (HTSAT-base, no fusion: the music
  solver's ``text_consistency`` config). Audio: ``convert_audio`` (julius ``resample_frac`` to
  48 kHz, channel mean), no quantisation (``use_tensor=True``); at most 10 s: repeat-padded; longer:
  a random 480,000-sample crop → HTS-AT's torchlibrosa log-mel (``metrics.embedders.clap.LogMel``).

Text (both): ``RobertaTokenizer.from_pretrained('roberta-base')`` with padding to 77 tokens and
truncation → RoBERTa → its pooler (tanh of the ``<s>`` state) → the text projection (768 → 512,
ReLU, 512) → L2 normalisation. The score is ``cosine_similarity(audio, text, eps=1e-8)`` per clip,
averaged over clips.

Networks: transformers' ``ClapAudioModelWithProjection`` (``metrics.embedders.clap``, fusion
included) and ``ClapTextModelWithProjection`` with the official file's weights mapped key by key
(``text_branch.*`` → ``text_model.*``, ``text_projection.0/2`` → ``linear1/2``).

Randomness: laion draws the crops of files over 10 s from numpy's global RNG, unseeded in both
tools, so their numbers for such files change from run to run. Here each file's draws come from
``np.random.RandomState(seed)`` made for that file: the same draws as ``np.random.seed(seed)``
before each file in laion (what the golden script does).

Tokenizer files: ``roberta-base``'s ``vocab.json`` and ``merges.txt`` (Hugging Face hub
``FacebookAI/roberta-base``; transformers downloads them once into its cache, or pass
``tokenizer=/folder/with/both``). With ``weights=random`` the text branch is a seeded two-layer
RoBERTa over a synthetic byte-level BPE vocabulary shipped with the package
(``data/roberta_synthetic``, made by scripts/golden/make_synthetic_roberta_tokenizer.py): numbers
from it say nothing about CLAP.

tests/metrics/test_clap_score.py checks text and audio embeddings and scores against golden values
made by the tools' own code (stable-audio-metrics' ``clap_score`` itself; audiocraft's ``update``
steps around laion_clap) on files of seeded random weights (scripts/golden/clap_score_golden.py).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from core.atomic import atomic_path
from core.cache import file_digest
from core.errors import ConfigError
from metrics.embedders.clap import (CHECKPOINTS, EMBEDDING_DIM, SAMPLE_RATE, WINDOW, LogMel, _unwrap,
                                    build_audio_model, official_to_transformers, random_official_state)
from metrics.embedders.cnn14 import embed_files_cached
from metrics.embedders.weights import check_weights_kind, resolve_weights_file, torch_load
from metrics.errors import MetricError

IMPL_VERSION = 1
MAX_TOKENS = 77  # laion_clap's tokenizer: padding="max_length", truncation=True, max_length=77
TEXT_BATCH = 64  # stable-audio-metrics embeds the prompts 64 at a time
TOKENIZER = "roberta-base"
TOKENIZER_URL = "https://huggingface.co/FacebookAI/roberta-base (vocab.json, merges.txt)"
SYNTHETIC_TOKENIZER = Path(__file__).parent / "data" / "roberta_synthetic"
RANDOM_TEXT_LAYERS = 2  # the seeded text branch of weights=random (the official one has 12)
MEL = {"n_fft": 1024, "hop": 480, "n_mels": 64, "fmin": 50.0, "fmax": 14000.0}
CHUNK_FRAMES = WINDOW // MEL["hop"] + 1  # 1001: laion's "max_len // hop_size + 1"


@dataclass(frozen=True)
class Protocol:
    peer: str
    variant: str  # a key of metrics.embedders.clap.CHECKPOINTS
    quantize: bool  # the int16 round trip (stable-audio-metrics; audiocraft passes tensors: none)


PROTOCOLS = {
    "stable-audio-metrics": Protocol("stable-audio-metrics clap_score (GitHub main fd55536, laion_clap 1.1.7)",
                                     "fusion", quantize=True),
    "audiocraft": Protocol("audiocraft 1.3.0 CLAPTextConsistencyMetric (laion_clap 1.1.7)", "music", quantize=False),
}


# --------------------------------------------------------------------------- text branch
def text_config(vocab_size: int, layers: int, max_positions: int = 514):
    """transformers' ClapTextConfig of laion's RoBERTa text branch (roberta-base's config) + projection."""
    from transformers import ClapTextConfig

    return ClapTextConfig(vocab_size=vocab_size, hidden_size=768, num_hidden_layers=layers, num_attention_heads=12,
                          intermediate_size=3072, hidden_act="gelu", max_position_embeddings=max_positions,
                          type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                          projection_dim=EMBEDDING_DIM, projection_hidden_act="relu")


def build_text_model(vocab_size: int, layers: int, max_positions: int = 514,
                     seed: int | None = 0) -> torch.nn.Module:
    """transformers' ClapTextModelWithProjection; with a seed, random weights (linear layers at
    std 1/√fan_in, so that different prompts get clearly different embeddings), else to load into."""
    from transformers import ClapTextModelWithProjection

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0 if seed is None else seed)
        model = ClapTextModelWithProjection(text_config(vocab_size, layers, max_positions))
        if seed is not None:
            with torch.no_grad():
                for name, p in model.named_parameters():
                    if p.dim() == 2 and name.endswith("weight") and "embeddings" not in name:
                        p.normal_(0.0, 1.0 / math.sqrt(p.shape[1]))
                    elif name.endswith("word_embeddings.weight"):
                        p.normal_(0.0, 1.0)
    return model.eval()


def _text_official_key(key: str) -> str:
    """transformers key → the official file's (without ``module.``)."""
    if key.startswith("text_projection."):
        return key.replace(".linear1.", ".0.").replace(".linear2.", ".2.")
    return key.replace("text_model.", "text_branch.", 1)


_TEXT_BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")


def text_model_from_state(flat: dict, path: Path) -> torch.nn.Module:
    """The text branch + text projection of an official LAION-CLAP file (`flat`: its state dict
    without ``module.``), its size read from the file; a missing entry or a wrong shape is a
    MetricError naming the expected keys."""
    words = flat.get("text_branch.embeddings.word_embeddings.weight")
    positions = flat.get("text_branch.embeddings.position_embeddings.weight")
    if words is None or positions is None:
        raise MetricError(f"{path}: holds no RoBERTa text branch (no text_branch.embeddings.word_embeddings.weight / "
                          f"position_embeddings.weight under state_dict, prefixed 'module.'): not a LAION-CLAP "
                          f"checkpoint with tmodel='roberta'")
    layers = len({m.group(1) for k in flat if (m := re.match(r"^text_branch\.encoder\.layer\.(\d+)\.", k))})
    model = build_text_model(int(words.shape[0]), layers, int(positions.shape[0]), seed=None)
    out, missing, wrong = {}, [], []
    for key, tensor in model.state_dict().items():
        if key.endswith(_TEXT_BUFFERS):
            out[key] = tensor  # rebuilt at init (the official files' position_ids is dropped, as both peers do)
            continue
        name = _text_official_key(key)
        if name not in flat:
            missing.append(name)
        elif tuple(flat[name].shape) != tuple(tensor.shape):
            wrong.append(f"{name} {tuple(flat[name].shape)} (expected {tuple(tensor.shape)})")
        else:
            out[key] = flat[name]
    if missing or wrong:
        shown = sorted(_text_official_key(k) for k in model.state_dict() if not k.endswith(_TEXT_BUFFERS))
        raise MetricError(f"{path}: not a LAION-CLAP RoBERTa text branch ({len(missing)} keys missing, e.g. "
                          f"{missing[:3]}; {len(wrong)} of another shape, e.g. {wrong[:2]}). Expected the {len(shown)} "
                          f"keys {shown[:3]} … {shown[-3:]} (under state_dict, prefixed 'module.')")
    model.load_state_dict(out, strict=True)
    return model


def load_tokenizer(tokenizer: str | os.PathLike):
    """``RobertaTokenizer.from_pretrained(tokenizer)`` (a hub id or a folder holding vocab.json and
    merges.txt) through ``core.weights.load_pretrained`` (local folder → local HF cache → the hub when
    it answers); absent → WeightsNotFoundError saying which files and where to get them."""
    from transformers import RobertaTokenizer

    from core.weights import load_pretrained

    def loader(name, **kwargs):
        tok = RobertaTokenizer.from_pretrained(name, **kwargs)
        # transformers 5 builds an empty tokenizer (its special tokens only) where the files are absent
        if len(tok) <= len(tok.all_special_tokens):
            raise OSError(f"{name}: no vocab.json + merges.txt (transformers gave a tokenizer of {len(tok)} tokens)")
        return tok

    return load_pretrained(loader, str(tokenizer), f"RoBERTa tokenizer of the CLAP score (laion_clap's "
                           f"RobertaTokenizer('{TOKENIZER}'); {TOKENIZER_URL})",
                           config_key="metric.clap_score.tokenizer", files="vocab.json + merges.txt")


def tokenize(tokenizer, texts: Sequence[str]) -> dict:
    """laion_clap's ``CLAP_Module.tokenizer`` (and audiocraft's ``_tokenizer``)."""
    return tokenizer(list(texts), padding="max_length", truncation=True, max_length=MAX_TOKENS, return_tensors="pt")


def save_random_weights(path: str | os.PathLike, protocol: str = "stable-audio-metrics", seed: int = 0,
                        tokenizer: str | os.PathLike = SYNTHETIC_TOKENIZER) -> Path:
    """Seeded random weights of a whole CLAP model in the official file's layout (``{"state_dict":
    {"module.audio_branch.…", "module.audio_projection.…", "module.text_branch.…",
    "module.text_projection.…"}}``): the protocol's audio branch and a two-layer RoBERTa text branch
    sized to `tokenizer`'s vocabulary (the official one: 12 layers over roberta-base's 50,265)."""
    proto = _protocol(protocol)
    state = random_official_state(proto.variant, seed)
    text = build_text_model(len(load_tokenizer(tokenizer)), RANDOM_TEXT_LAYERS, seed=seed + 1000)
    for key, tensor in text.state_dict().items():
        if not key.endswith(_TEXT_BUFFERS):
            state["module." + _text_official_key(key)] = tensor.detach().clone()
    # the official files carry it (laion_clap's load_state_dict deletes it, and fails where it is absent)
    state["module.text_branch.embeddings.position_ids"] = torch.arange(text.config.max_position_embeddings)[None]
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save({"state_dict": state}, tmp)
    path.chmod(0o644)
    return path


def _protocol(name: str) -> Protocol:
    if name not in PROTOCOLS:
        raise ConfigError(f"CLAP score protocol must be one of {', '.join(PROTOCOLS)}, got {name!r}")
    return PROTOCOLS[name]


# --------------------------------------------------------------------------- audio front ends
def htk_mel_filterbank(n_freqs: int = MEL["n_fft"] // 2 + 1) -> torch.Tensor:
    """torchaudio's ``melscale_fbanks(n_freqs, 50, 14000, 64, 48000, norm=None, mel_scale="htk")``
    (float32, (n_freqs, 64)), computed as it does."""
    def hz_to_mel(f: float) -> float:
        return 2595.0 * math.log10(1.0 + f / 700.0)

    all_freqs = torch.linspace(0, SAMPLE_RATE // 2, n_freqs)
    m_pts = torch.linspace(hz_to_mel(MEL["fmin"]), hz_to_mel(MEL["fmax"]), MEL["n_mels"] + 2)
    f_pts = 700.0 * (10.0 ** (m_pts / 2595.0) - 1.0)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1)
    down = (-1.0 * slopes[:, :-2]) / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return torch.max(torch.zeros(1), torch.min(down, up))


def laion_log_mel(audio: torch.Tensor) -> torch.Tensor:
    """laion_clap's ``get_mel`` (the fusion model's front end): torchaudio's ``MelSpectrogram`` then
    ``AmplitudeToDB(top_db=None)``, as torch ops → (frames, 64) float32."""
    n_fft, hop = MEL["n_fft"], MEL["hop"]
    spec = torch.stft(audio, n_fft, hop_length=hop, win_length=n_fft, window=torch.hann_window(n_fft),
                      center=True, pad_mode="reflect", normalized=False, onesided=True, return_complex=True)
    power = spec.abs().pow(2.0)
    mel = torch.matmul(power.transpose(-1, -2), htk_mel_filterbank(power.shape[-2])).transpose(-1, -2)
    return (10.0 * torch.log10(torch.clamp(mel, min=1e-10))).T


def repeat_pad(audio: np.ndarray) -> np.ndarray:
    """laion's ``data_filling="repeatpad"``: a clip under 10 s repeated ⌊480000/n⌋ times, then zeros."""
    n = audio.shape[0]
    if n >= WINDOW:
        return audio
    out = np.zeros(WINDOW, np.float32)
    reps = np.tile(audio, int(WINDOW / n))
    out[:reps.shape[0]] = reps
    return out


def audio_input(audio: np.ndarray, fusion: bool, rng: np.random.RandomState) -> tuple[torch.Tensor, bool]:
    """laion's ``get_audio_features`` for one file: (the fusion model's (4, 1001, 64) mel stack or
    the 480,000-sample waveform, whether laion marks it "longer")."""
    x = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    if x.shape[0] > WINDOW:
        longer = True
        if fusion:
            import torchvision

            mel = laion_log_mel(x)
            total = mel.shape[0]
            if total == CHUNK_FRAMES:  # longer than 10 s by less than a hop: the whole mel, no fusion
                return torch.stack([mel] * 4), False
            ranges = np.array_split(list(range(0, total - CHUNK_FRAMES + 1)), 3)
            ranges = [r if len(r) else [0] for r in ranges]
            starts = [rng.choice(r) for r in ranges]
            shrink = torchvision.transforms.Resize(size=[CHUNK_FRAMES, MEL["n_mels"]])(mel[None])[0]
            return torch.stack([shrink] + [mel[s:s + CHUNK_FRAMES] for s in starts]), longer
        start = rng.randint(0, x.shape[0] - WINDOW + 1)
        return x[start:start + WINDOW], longer
    x = torch.from_numpy(repeat_pad(audio.astype(np.float32, copy=False)))
    if fusion:
        return torch.stack([laion_log_mel(x)] * 4), False
    return x, False


def load_like_stable_audio_metrics(path) -> np.ndarray:
    """``librosa.load(sr=48000, mono=True)``, peak −1 dB, ``int16_to_float32(float32_to_int16(x))``."""
    from metrics.embedders.passt import load_like_stable_audio_metrics as load_peak

    x = load_peak(path, SAMPLE_RATE, exact_gain=True)
    return ((np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16) / 32767.0).astype(np.float32)


def load_like_audiocraft(path) -> np.ndarray:
    """audiocraft's ``convert_audio(wav, sr, 48000, 1).mean(dim=1)``: julius resampling, channel mean."""
    from metrics.embedders.passt import load_like_audiocraft as convert_audio

    return convert_audio(path, SAMPLE_RATE)


# --------------------------------------------------------------------------- the embedder
class ClapScoreEmbedder:
    """Per file ``{"embedding": float32 (512,)}`` (laion's unit-norm audio embedding under
    `protocol`), and ``embed_texts`` for the prompts. weights ``"pretrained"``: the protocol's
    official file (`checkpoint`, or ``<cache_dir>/weights/<official name>``) and roberta-base's
    tokenizer (`tokenizer`); ``"random"``: seeded weights over the synthetic vocabulary."""

    def __init__(self, protocol: str = "stable-audio-metrics", weights: str = "random", checkpoint: str | None = None,
                 tokenizer: str | None = None, seed: int = 0, device: str = "cpu",
                 cache_dir: str | os.PathLike | None = None, batch_size: int = 4):
        self.protocol, self.proto = protocol, _protocol(protocol)
        self.weights, self.seed = check_weights_kind(weights), int(seed)
        if int(batch_size) < 1:
            raise ConfigError(f"batch_size must be ≥ 1, got {batch_size}")
        self.amodel, self.official_name, self.official_url, self.fusion = CHECKPOINTS[self.proto.variant]
        self.device, self.batch_size = torch.device(device), int(batch_size)
        self.checkpoint: Path | None = None
        self.weights_sha256: str | None = None
        if self.weights == "pretrained":
            self.checkpoint = resolve_weights_file(f"LAION-CLAP ({protocol} CLAP score)", checkpoint,
                                                   self.official_name, self.official_url, cache_dir)
            self.weights_sha256 = file_digest(self.checkpoint)
        self.tokenizer_name = str(tokenizer or (TOKENIZER if self.weights == "pretrained" else SYNTHETIC_TOKENIZER))
        self._audio: torch.nn.Module | None = None
        self._text: torch.nn.Module | None = None
        self._tokenizer = None
        self._logmel: LogMel | None = None

    def _state(self) -> dict:
        return _unwrap(torch_load(self.checkpoint))

    @property
    def audio_model(self) -> torch.nn.Module:
        if self._audio is None:
            if self.checkpoint is not None:
                model = build_audio_model(self.amodel, seed=None, fusion=self.fusion)
                model.load_state_dict(official_to_transformers(self._state(), model, self.checkpoint,
                                                               self.proto.variant), strict=True)
            else:
                model = build_audio_model(self.amodel, self.seed, fusion=self.fusion)
            self._audio = model.to(self.device).eval()
            self._logmel = LogMel().to(self.device).eval()
        return self._audio

    @property
    def text_model(self) -> torch.nn.Module:
        if self._text is None:
            self._tokenizer = load_tokenizer(self.tokenizer_name)
            if self.checkpoint is not None:
                model = text_model_from_state(self._state(), self.checkpoint)
            else:
                model = build_text_model(len(self._tokenizer), RANDOM_TEXT_LAYERS, seed=self.seed + 1000)
            if model.config.vocab_size < len(self._tokenizer):
                raise MetricError(f"{self.checkpoint or 'random weights'}: the text branch has {model.config.vocab_size} "
                                  f"token embeddings, the tokenizer {self.tokenizer_name} {len(self._tokenizer)} ids")
            self._text = model.to(self.device).eval()
        return self._text

    def cache_name(self) -> str:
        return f"clap_score_{'sam' if self.protocol == 'stable-audio-metrics' else self.protocol}"

    def config(self) -> dict:
        """What a file's cached audio embedding depends on (the text side is not cached)."""
        return {"model": "laion-clap-score", "impl": IMPL_VERSION, "protocol": self.protocol, "amodel": self.amodel,
                "fusion": self.fusion, "crop_seed": self.seed,
                "weights": f"sha256:{self.weights_sha256}" if self.weights_sha256 else f"random:{self.seed}"}

    def describe(self) -> dict:
        return {"name": self.cache_name(), "sample_rate": SAMPLE_RATE, "weights": self.weights,
                "checkpoint": str(self.checkpoint) if self.checkpoint else None, "weights_sha256": self.weights_sha256,
                "seed": self.seed, "official_file": self.official_name, "tokenizer": self.tokenizer_name,
                "peer": self.proto.peer, "protocol": self.protocol, "batch_size": self.batch_size}

    def load(self, path) -> np.ndarray:
        return load_like_stable_audio_metrics(path) if self.proto.quantize else load_like_audiocraft(path)

    @torch.no_grad()
    def _run(self, items: list[tuple[torch.Tensor, bool]]) -> np.ndarray:
        model = self.audio_model
        x = torch.stack([t for t, _ in items]).to(self.device)
        if self.fusion:
            longer = torch.tensor([[lg] for _, lg in items], device=self.device)
            out = model(input_features=x, is_longer=longer).audio_embeds
        else:
            out = model(input_features=self._logmel(x)).audio_embeds
        return torch.nn.functional.normalize(out, dim=-1).cpu().numpy()

    def embed_waveform(self, audio: np.ndarray) -> np.ndarray:
        """One loaded waveform (``load``) → its (512,) float32 unit embedding."""
        audio = np.asarray(audio, np.float32)
        if audio.ndim != 1 or audio.shape[0] == 0:
            raise MetricError(f"CLAP needs a non-empty mono waveform, got shape {audio.shape}")
        return self._run([audio_input(audio, self.fusion, np.random.RandomState(self.seed))])[0]

    def _embed_many(self, paths: Sequence, batch_size: int) -> list[dict]:
        out = []
        for s in range(0, len(paths), batch_size):
            items = []
            for p in paths[s:s + batch_size]:
                audio = self.load(p)
                if audio.shape[0] == 0:
                    raise MetricError(f"{p}: no samples to embed")
                items.append(audio_input(audio, self.fusion, np.random.RandomState(self.seed)))
            out += [{"embedding": e} for e in self._run(items)]
        return out

    def embed_files(self, paths: Sequence[str | os.PathLike], cache=None) -> list[dict]:
        return embed_files_cached(self, paths, cache, self.batch_size)

    @torch.no_grad()
    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 512) float32 unit text embeddings, ``TEXT_BATCH`` prompts at a time."""
        model = self.text_model
        rows = []
        for s in range(0, len(texts), TEXT_BATCH):
            tokens = tokenize(self._tokenizer, texts[s:s + TEXT_BATCH])
            out = model(input_ids=tokens["input_ids"].to(self.device),
                        attention_mask=tokens["attention_mask"].to(self.device)).text_embeds
            rows.append(torch.nn.functional.normalize(out, dim=-1).cpu().numpy())
        return np.concatenate(rows) if rows else np.zeros((0, EMBEDDING_DIM), np.float32)


def clap_scores(audio: np.ndarray, text: np.ndarray) -> np.ndarray:
    """Per pair ``torch.nn.functional.cosine_similarity(audio, text, dim=1, eps=1e-8)``, float64."""
    a, t = torch.as_tensor(np.asarray(audio, np.float32)), torch.as_tensor(np.asarray(text, np.float32))
    return torch.nn.functional.cosine_similarity(a, t, dim=1, eps=1e-8).double().numpy()


def perf_line(keep: Path | None = None) -> dict:
    """`bench perf metrics` hook: per protocol, the score of the golden clips and captions against
    the one the tool's own code made (tests/metrics/golden/clap_score_golden.npz, same seeded weight
    file and synthetic tokenizer) and seconds per 10-s file, ours now against the tool's embedding
    call as the golden script timed it in the side environment (1 thread each). Returns {"line",
    "presets", "rel"}."""
    import tempfile
    import time

    from metrics.embedders.timing import ROOT, golden_script

    script = golden_script("clap_score")
    golden = np.load(ROOT / "tests/metrics/golden/clap_score_golden.npz")
    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="perf_clap_score_"))
    files = script.make_audio(folder / "audio")
    ids = [str(i) for i in golden["ids"]]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rel, parts = {}, []
    try:
        for protocol in PROTOCOLS:
            weights = save_random_weights(folder / f"{protocol}.pt", protocol, int(golden[f"{protocol}/seed"]))
            emb = ClapScoreEmbedder(protocol, weights="pretrained", checkpoint=str(weights),
                                    tokenizer=str(SYNTHETIC_TOKENIZER), seed=int(golden["crop_seed"]), batch_size=1)
            emb.audio_model  # built outside the timing, as the tool's model is
            t0 = time.perf_counter()
            emb.embed_waveform(emb.load(files["exact_10s_48k"]))
            ours = time.perf_counter() - t0
            audio = np.stack([o["embedding"] for o in emb._embed_many([files[i] for i in ids], 1)])
            score = float(clap_scores(audio, emb.embed_texts([str(c) for c in golden["captions"]])).mean())
            theirs = float(golden[f"{protocol}/score"])
            rel[f"clap_score_{protocol}"] = abs(score - theirs) / abs(theirs)
            peer = float(golden[f"{protocol}/perf_s_per_10s"][1])
            parts.append(f"{protocol} ours {ours:.2f} s per 10-s file, the tool {peer:.2f} s (timed once by "
                         f"scripts/golden/clap_score_golden.py)")
    finally:
        torch.set_num_threads(threads)
    line = f"clap_score: {'; '.join(parts)}; max_rel_diff vs golden {max(rel.values()):.1e}"
    return {"line": line, "presets": list(PROTOCOLS), "rel": rel}


__all__ = ["ClapScoreEmbedder", "perf_line", "PROTOCOLS", "save_random_weights", "load_tokenizer", "tokenize", "laion_log_mel",
           "audio_input", "repeat_pad", "text_model_from_state", "build_text_model", "clap_scores",
           "SYNTHETIC_TOKENIZER"]
