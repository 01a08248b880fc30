"""`dyvim`: the harness's reference system (config `bench/conf/system/dyvim.yaml`; its keys: README, "DyViM").

Without a `checkpoint` the system trains first on the run's train split (on `toy`, the tiny model in
a minute or two, and it says so) into `runs/<run>/<system>/train/` (log.csv, summary.json, best.pt,
last.pt; an interrupted training resumes), then generates each test clip: features from the cache,
the sampling loop of `generate.py`, EnCodec decoding, exactly the clip's duration at 32 kHz.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from core.split import grouped_split
from core.cache import Cache
from core.manifest import Clip
from core.media import fit_duration
from core.errors import ConfigError
from systems.base import GenerationRequest, GenerationResult, System, SystemContext
from systems.musicgen.decoder import SAMPLE_RATE, decode_codes, load_music_decoder
from systems.dyvim.features import FeatureExtractor, collate, dynamics_head
from systems.musicgen.sampling import SamplingConfig, sample_codes
from systems.dyvim.model import DyViMConfig, DyViMModel
from systems.dyvim.train import TrainConfig, load_best, train_distributed, train_dyvim

MODEL_KEYS = set(DyViMConfig.__dataclass_fields__)


def build_model(config: DyViMConfig, cache: Cache | None, *, video_fps: float = 25.0, encoder_weights: str | None = None,
                weights_paths: dict | None = None, device: str = "cpu", encoder_seed: int | None = None
                ) -> tuple[DyViMModel, FeatureExtractor]:
    """The model and the frozen feature extractors of one config (shared by the system, tests, perf).

    `encoder_seed` (default: the config's seed) seeds random visual encoders apart from the model,
    so runs that differ only in the training seed share cached features."""
    decoder = load_music_decoder(config.size, config.weights, config.model, seed=config.seed)
    extractor = FeatureExtractor(size=config.size, dynamics_encoder=config.dynamics_encoder,
                                 semantics_encoder=config.semantics_encoder, use_dynamics=config.use_dynamics,
                                 use_semantics=config.use_semantics, decoder=decoder, cache=cache,
                                 video_fps=video_fps, encoder_weights=encoder_weights or config.weights,
                                 flow_iters=config.flow_iters, d_m=config.d_m, weights_paths=weights_paths,
                                 seed=config.seed if encoder_seed is None else encoder_seed,
                                 fwdf_pool=config.fwdf_pool, fwdf_frame_size=config.fwdf_frame_size)
    head = dynamics_head(config.dynamics_encoder, extractor.dynamics) if extractor.dynamics is not None else None
    model = DyViMModel(config, decoder, head, extractor.dynamics_dim, extractor.semantics_shape, video_fps)
    return model.to(device), extractor


def training_model(config: DyViMConfig, video_fps: float, encoder_weights: str | None,
                   weights_paths: dict | None) -> DyViMModel:
    """The model alone, as each data-parallel training process builds it (features come computed)."""
    return build_model(config, None, video_fps=video_fps, encoder_weights=encoder_weights,
                       weights_paths=weights_paths)[0]


class DyViMSystem(System):
    """DyViM (Liu et al. 2025): dynamics by token extension, semantics by cross-attention, on MusicGen."""

    uses_accelerator = True
    max_workers = 1  # one model per machine; batching happens inside

    def __init__(self, context: SystemContext, checkpoint: str | None = None, video_fps: float = 25.0,
                 encoder_weights: str | None = None, weights_paths: dict | None = None, train: dict | None = None,
                 sampling: dict | None = None, batch_size: int = 4, **model_keys):
        super().__init__(context)
        unknown = sorted(set(model_keys) - MODEL_KEYS)
        if unknown:
            raise ConfigError(f"system dyvim has no option(s) {unknown}; model options: {sorted(MODEL_KEYS)}")
        self.config = DyViMConfig(**model_keys)
        self.train_config = TrainConfig(**{k: tuple(v) if k == "betas" else v for k, v in (train or {}).items()})
        self.sampling = SamplingConfig(**(sampling or {}))
        if self.sampling.guidance_scale > 1 and self.config.cond_dropout == 0:
            raise ConfigError("system.dyvim.sampling.guidance_scale > 1 needs a model trained with "
                              "system.dyvim.cond_dropout > 0 (its unconditional branch is never trained otherwise)")
        self.batch_size = int(batch_size)
        self.weights = self.config.weights
        self.train_dir = context.work_dir.parent / "train"
        self.checkpoint = Path(checkpoint).expanduser() if checkpoint else None
        if self.checkpoint is not None and not self.checkpoint.is_file():
            raise ConfigError(f"system.dyvim.checkpoint={self.checkpoint} not found")
        self._build_args = (video_fps, encoder_weights, weights_paths)
        self.model, self.extractor = build_model(self.config, Cache(context.cache_dir), video_fps=video_fps,
                                                 encoder_weights=encoder_weights, weights_paths=weights_paths,
                                                 device=context.device)
        self._loaded = False

    @property
    def sample_rate(self) -> int:
        return SAMPLE_RATE

    @property
    def needs_training(self) -> bool:
        return self.checkpoint is None and not (self.train_dir / "summary.json").exists()

    def describe(self) -> dict:
        trainable, total = self.model.count_parameters()
        return {"weights": self.weights, "sample_rate": SAMPLE_RATE, "decoder": self.model.decoder.source,
                "checkpoint": str(self.checkpoint or self.train_dir / "best.pt"), "config": self.config.fingerprint(),
                "alpha": self.config.alpha, "schedule": self.config.schedule,
                "encoders": {"dynamics": getattr(self.extractor.dynamics, "weights_kind", None),
                             "semantics": getattr(self.extractor.semantics, "weights_kind", None)},
                "trainable_params": trainable, "total_params": total}

    # --- training -----------------------------------------------------------------------------
    def features(self, clips: Sequence[Clip], with_codes: bool, desc: str):
        from tqdm.auto import tqdm

        return [self.extractor.extract(c, with_codes) for c in tqdm(clips, desc=desc, unit="clip", disable=None)]

    def precompute_features(self, clips: Sequence[Clip], with_codes: bool, progress=None) -> None:
        """Fill the feature cache for `clips` (an executor's feature shard; training then reads them)."""
        for clip in clips:
            self.extractor.extract(clip, with_codes)
            if progress:
                progress(1)

    def train(self, train_clips: Sequence[Clip]) -> None:
        if not train_clips:
            raise ConfigError("dyvim: the dataset has no train clips to train on")
        print(f"dyvim: no checkpoint given: training the {self.config.size} model ({self.config.tuning}, "
              f"{self.train_config.steps} steps, {self.weights} weights) into {self.train_dir}", file=sys.stderr)
        clips = list(train_clips)
        val: list[Clip] = []
        if self.train_config.val_fraction > 0 and len({c.source for c in clips}) >= 2:
            split = grouped_split(clips, self.train_config.val_fraction, self.train_config.seed)
            val = [c for c in split if c.split == "test"]
            clips = [c for c in split if c.split == "train"]
        else:
            print("dyvim: fewer than 2 sources: no validation split; best.pt follows the training loss", file=sys.stderr)
        train_items = self.features(clips, True, "dyvim features (train)")
        val_items = self.features(val, True, "dyvim features (val)")
        self.train_dir.mkdir(parents=True, exist_ok=True)
        (self.train_dir / "split.json").write_text(json.dumps({"train": [c.id for c in clips],
                                                               "val": [c.id for c in val]}, indent=1))
        if self.train_config.gpus > 1:  # DDP through accelerate, one process per GPU (gloo on CPU)
            import functools

            print(f"dyvim: data-parallel training on {self.train_config.gpus} processes", file=sys.stderr)
            summary = train_distributed(functools.partial(training_model, self.config, *self._build_args),
                                        train_items, val_items, self.train_config, self.train_dir)
        else:
            summary = train_dyvim(self.model, train_items, val_items, self.train_config, self.train_dir,
                                  self.context.device)
        print(f"dyvim: trained {summary.steps} steps in {summary.train_time_s:.1f} s "
              f"(best val NLL {summary.best_val_loss}); checkpoint {self.train_dir / 'best.pt'}", file=sys.stderr)

    def _ensure_loaded(self) -> None:
        if not self._loaded:
            load_best(self.model, self.checkpoint or self.train_dir / "best.pt")
            self.model.eval()
            self._loaded = True

    # --- generation ---------------------------------------------------------------------------
    def generate(self, requests: Sequence[GenerationRequest]) -> Iterable[GenerationResult]:
        self._ensure_loaded()
        items, ok = [], []
        for req in requests:
            try:
                items.append(self.extractor.extract(req.clip, with_codes=False))
                ok.append(req)
            except Exception as exc:  # a broken video fails its clip, not the batch
                yield GenerationResult(req, error=exc)
        by_len: dict[int, list[int]] = {}
        for i, it in enumerate(items):
            by_len.setdefault(it.n_steps, []).append(i)
        for n_steps, idx in by_len.items():
            try:
                audios = self.generate_features([items[i] for i in idx], [ok[i].seed for i in idx], n_steps)
                for i, audio in zip(idx, audios):
                    req = ok[i]
                    yield GenerationResult(req, fit_duration(audio, SAMPLE_RATE, req.clip.duration))
            except Exception as exc:
                for i in idx:
                    yield GenerationResult(ok[i], error=exc)

    @torch.no_grad()
    def generate_features(self, items, seeds: list[int], n_steps: int) -> list[np.ndarray]:
        batch = collate(items, self.context.device)
        cond = self.model.condition(batch.get("dynamics"), batch.get("semantics"), batch.get("semantics_mask"),
                                    n_steps)
        codes = sample_codes(self.model, cond, n_steps, seeds, self.sampling)
        audio = decode_codes(self.model.decoder.codec, codes)
        return [a.cpu().numpy().astype(np.float32) for a in audio]

