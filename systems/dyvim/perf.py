"""`bench perf dyvim`: DyViM's cost over plain MusicGen at musicgen-small's shape (random init).

Measured side by side in one process, features already cached (their extraction is timed
separately, with the paper-size encoders on a short window):
- generation of `--seconds` (default 10) of music: DyViM (token extension + 50 cross-attended CLIP
  states) vs plain text-conditioned MusicGen (same decoder, same sampler, T5 caption states), both
  without guidance, EnCodec decoding included; overhead = DyViM / MusicGen − 1;
- one training step (batch 2 × 5 s) per tuning mode: full, lora, frozen (paper Fig. 3: frozen
  fastest, full slowest), with tokens/s.
Last line: `generation_overhead_pct=… dyvim_gen_s=… musicgen_gen_s=… step_full_s=… step_lora_s=…
step_frozen_s=… fig3_order=ok|violated`.
"""

from __future__ import annotations

import argparse

from systems.dyvim.features import ClipFeatures, collate, dynamics_head, FeatureExtractor
from systems.dyvim.model import DyViMConfig, DyViMModel
from systems.musicgen.sampling import sample_codes, SamplingConfig
from systems.musicgen.system import _tokenizer, MusicGenModel
from core.envinfo import resolve_device


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", default="small", choices=["tiny", "small", "medium"],
                   help="decoder shape (default small = musicgen-small's, random init)")
    p.add_argument("--seconds", type=float, default=10.0, help="music to generate per system (default 10)")
    p.add_argument("--train-seconds", type=float, default=5.0, help="clip length of a training step (default 5)")
    p.add_argument("--steps", type=int, default=2, help="timed training steps per tuning mode (default 2, after 1 warm-up)")
    p.add_argument("--feature-seconds", type=float, default=1.0,
                   help="video window for the feature-extraction timing (default 1 s; 0 skips it)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")


def run(args) -> int:
    import time

    import numpy as np
    import torch

    from systems.musicgen.decoder import FRAME_RATE, decode_codes, load_music_decoder
    from systems.dyvim.train import batch_loss

    device = resolve_device(args.device)
    sync = (lambda: torch.cuda.synchronize()) if device.startswith("cuda") else (lambda: None)
    print(f"perf dyvim: decoder at {args.size} shape, random weights, device {device}, torch threads "
          f"{torch.get_num_threads()}")
    decoder = load_music_decoder(args.size, "random", seed=0, with_text=True).to(device)
    extractor = FeatureExtractor(size=args.size, dynamics_encoder="fwdf", semantics_encoder="clip", use_dynamics=True,
                                 use_semantics=True, decoder=decoder, cache=None, video_fps=25.0)
    if args.feature_seconds > 0:
        frames = np.random.default_rng(0).integers(0, 255, (int(25 * args.feature_seconds) + 1, 224, 224, 3),
                                                   dtype=np.uint8)
        extractor.dynamics.to(device)
        extractor.semantics.to(device)
        t0 = time.perf_counter()
        maps = extractor.dynamics.motion_features(frames)
        sync()
        t_dyn = time.perf_counter() - t0
        t0 = time.perf_counter()
        extractor.semantics.encode_images(frames[:: 25])
        sync()
        t_sem = time.perf_counter() - t0
        print(f"features (once per clip, cached): FwDF RAFT {t_dyn / args.feature_seconds:.2f} s per video second "
              f"({frames.shape[0]} frames at 224²), CLIP {t_sem / max(1, len(frames[::25])):.3f} s per keyframe")
    else:
        maps = torch.zeros(1, extractor.dynamics.config.motion_channels, 7, 7)
    n_frames = int(25 * args.seconds)
    feat = ClipFeatures("perf", None, np.repeat(maps[:1].cpu().numpy(), n_frames, 0).astype(np.float32),
                        np.random.default_rng(1).standard_normal(extractor.semantics_shape).astype(np.float32),
                        np.ones(extractor.semantics_shape[0], bool), int(args.seconds * FRAME_RATE))

    def dyvim_model(tuning: str) -> DyViMModel:
        cfg = DyViMConfig(size=args.size, tuning=tuning, alpha=0.3)
        head = dynamics_head("fwdf", extractor.dynamics)
        return DyViMModel(cfg, decoder, head, extractor.dynamics_dim, extractor.semantics_shape, 25.0).to(device)

    sampling = SamplingConfig()
    n_steps = feat.n_steps
    with torch.no_grad():
        dyvim = dyvim_model("frozen").eval()
        batch = collate([feat], device)
        t0 = time.perf_counter()
        cond = dyvim.condition(batch["dynamics"], batch["semantics"], batch["semantics_mask"], n_steps)
        codes = sample_codes(dyvim, cond, n_steps, [0], sampling)
        decode_codes(decoder.codec, codes)
        sync()
        t_dyvim = time.perf_counter() - t0
        plain = MusicGenModel(decoder, _tokenizer(decoder)).eval()
        t0 = time.perf_counter()
        cond = plain.condition(["A cyan stick figure dances briskly in front of a black striped wall."])
        codes = sample_codes(plain, cond, n_steps, [0], sampling)
        decode_codes(decoder.codec, codes)
        sync()
        t_plain = time.perf_counter() - t0
    overhead = 100.0 * (t_dyvim / t_plain - 1.0)
    tok = n_steps * 4
    print(f"generation of {args.seconds:g} s: DyViM {t_dyvim:.2f} s ({tok / t_dyvim:.0f} tokens/s), plain MusicGen "
          f"{t_plain:.2f} s ({tok / t_plain:.0f} tokens/s): overhead {overhead:+.1f} %")

    train_steps = int(args.train_seconds * FRAME_RATE)
    rng = np.random.default_rng(2)
    items = [ClipFeatures(f"c{i}", rng.integers(0, 2048, (4, train_steps)).astype(np.int16),
                          np.repeat(maps[:1].cpu().numpy(), int(25 * args.train_seconds), 0).astype(np.float32),
                          feat.semantics, feat.semantics_mask, train_steps) for i in range(2)]
    step_s = {}
    for tuning in ("full", "frozen", "lora"):  # lora last: its adapters stay injected in the shared decoder
        decoder.lm.requires_grad_(True)
        model = dyvim_model(tuning).train()
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=1e-5, betas=(0.9, 0.95))
        batch = {**collate(items, device), "offset": 0, "n_steps": train_steps}
        times = []
        for i in range(args.steps + 1):
            t0 = time.perf_counter()
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda")):
                loss = batch_loss(model, batch, model.config, i)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sync()
            if i:
                times.append(time.perf_counter() - t0)
        step_s[tuning] = float(np.median(times))
        trainable, total = model.count_parameters()
        print(f"training step {tuning:6s}: {step_s[tuning]:.2f} s (batch 2 × {args.train_seconds:g} s, "
              f"{batch['codes'].numel() / step_s[tuning]:.0f} tokens/s; {trainable:,} of {total:,} parameters train)")
        del model, opt
    order = "ok" if step_s["frozen"] <= step_s["lora"] <= step_s["full"] else "violated"
    print(f"generation_overhead_pct={overhead:.1f} dyvim_gen_s={t_dyvim:.2f} musicgen_gen_s={t_plain:.2f} "
          f"step_full_s={step_s['full']:.2f} step_lora_s={step_s['lora']:.2f} step_frozen_s={step_s['frozen']:.2f} "
          f"fig3_order={order}")
    return 0
