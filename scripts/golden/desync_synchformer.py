"""Golden values for DeSync (metrics/desync.py, metrics/synchformer/) made with av-benchmark's own
Synchformer code (github.com/hkchengrex/av-benchmark at AV_BENCHMARK_COMMIT: av_bench/synchformer/,
the model av-benchmark builds and loads synchformer_state_dict.pth into).

Run in a side environment that has the official code's imports (transformers 4.x for its
hf_src/modeling_ast.py, which transformers 5 no longer supports; torchaudio for the mel front end):

    python -m venv /tmp/sideenv-synchformer
    echo <project venv>/lib/python3.11/site-packages > /tmp/sideenv-synchformer/lib/python3.11/site-packages/zz.pth
    /tmp/sideenv-synchformer/bin/pip install --no-deps transformers==4.46.3 huggingface_hub==0.26.5 \\
        tokenizers==0.20.3 torchaudio==2.11.1
    git clone https://github.com/hkchengrex/av-benchmark /tmp/avbench
    /tmp/sideenv-synchformer/bin/python scripts/golden/desync_synchformer.py /tmp/avbench

What it checks (every weight from metrics.desync.seeded_state_dict, saved as a plain state dict and
loaded by the official modules with torch.load(weights_only=True) + load_state_dict, strict):

keys     the official full-size Synchformer()'s state-dict keys and shapes, so the test can check
         ours key for key.
video    the official MotionFormer feature extractor (its own config file patched to 2 blocks,
         96-d, 4 heads: Synchformer hard-codes the ViT-B size, too slow on a CPU test) through the
         official Synchformer.extract_vfeats, on 2 seeded segments.
audio    the official AST extractor (ASTConfig patched the same way) through extract_afeats, on 3
         seeded spectrogram segments.
sync     the official full-size (768-d, 3 layers) GlobalTransformer + vproj/aproj through
         Synchformer.compare_v_a, on seeded 14-segment features, batch of 2.
front    av-benchmark's encode_audio_with_sync (av_bench/extract.py, its own source run with the
         model stubbed to return its input) with torchaudio's MelSpectrogram on a seeded 1.5-s
         waveform, and encode_video_with_sync's segment indices (extract_video.py).
--full   additionally the full-size extractors (12 blocks each, 768-d) on 1 video / 14 audio
         segments and the seconds each took (not stored; printed). Run once (2026-12-02, 1 thread):
         video official 12.2 s, ours 13.0 s; audio official 6.7 s, ours 7.1 s; max relative
         difference 0 for both.
"""

from __future__ import annotations

import ast
import json
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "metrics" / "golden" / "desync_synchformer.npz"
AV_BENCHMARK_COMMIT = "050a5cdb9bbd1a6f8cbb9fdde076992a695e2501"
SEED = 0
SMALL = dict(dim=96, heads=4, depth=2)


def function_from(path: Path, name: str, namespace: dict):
    """Run one top-level function's own source from a file whose imports cannot all be met."""
    tree = ast.parse(path.read_text())
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    exec(compile(ast.Module(body=[node], type_ignores=[]), str(path), "exec"), namespace)
    return namespace[name]


def inputs(seed: int = SEED):
    """The seeded inputs, made the same way by the test."""
    g = torch.Generator().manual_seed(seed)
    video = torch.randn(1, 2, 16, 3, 224, 224, generator=g)
    spec = torch.randn(1, 3, 1, 128, 66, generator=g)
    vfeat = torch.randn(2, 14, 8, 768, generator=g)
    afeat = torch.randn(2, 14, 6, 768, generator=g)
    wave = 0.3 * torch.randn(24000, generator=g) * torch.sin(torch.arange(24000) / 800.0)
    return video, spec, vfeat, afeat, wave


def load_official(module: torch.nn.Module, state: dict, prefix: str, tmp: Path) -> None:
    sub = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    path = tmp / f"{prefix.strip('.') or 'model'}.pth"
    torch.save(sub, path)
    module.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)


def main(av_dir: str, full: bool = False) -> None:
    import tempfile

    import omegaconf
    import torchaudio

    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, av_dir)
    torch.set_num_threads(1)
    from metrics.desync import seeded_state_dict
    from metrics.synchformer import Synchformer as Ours
    from metrics.synchformer import SynchformerConfig

    import av_bench.synchformer.ast as off_ast
    import av_bench.synchformer.motionformer as off_mf
    from av_bench.synchformer.synchformer import Synchformer
    from av_bench.synchformer.transformer import GlobalTransformer

    out: dict = {"commit": AV_BENCHMARK_COMMIT, "transformers": __import__("transformers").__version__,
                 "torchaudio": torchaudio.__version__, "torch": torch.__version__}
    full_keys = {k: list(v.shape) for k, v in Synchformer().state_dict().items()}  # (its init needs real tensors)
    out["official_keys"] = json.dumps(full_keys)

    # small extractors: the official config objects patched to fewer blocks / dims
    small = SynchformerConfig(dim=SMALL["dim"], video_depth=SMALL["depth"], video_heads=SMALL["heads"],
                              audio_depth=SMALL["depth"], audio_heads=SMALL["heads"])
    with torch.device("meta"):
        ours_small = {k: v.shape for k, v in Ours(small).state_dict().items()}
    w_small = seeded_state_dict(ours_small, SEED)
    load = omegaconf.OmegaConf.load

    def patched_load(path):
        cfg = load(path)
        cfg.VIT.DEPTH, cfg.VIT.EMBED_DIM, cfg.VIT.NUM_HEADS = SMALL["depth"], SMALL["dim"], SMALL["heads"]
        return cfg

    class SmallAST(off_ast.ASTConfig):
        def __init__(self, **kw):
            super().__init__(hidden_size=SMALL["dim"], num_hidden_layers=SMALL["depth"],
                             num_attention_heads=SMALL["heads"], intermediate_size=4 * SMALL["dim"], **kw)

    video, spec, vfeat, afeat, wave = inputs()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        off_mf.OmegaConf.load = patched_load
        off_ast.ASTConfig = SmallAST
        mf = off_mf.MotionFormer(extract_features=True, factorize_space_time=True,
                                 agg_space_module="TransformerEncoderLayer", agg_time_module="torch.nn.Identity",
                                 add_global_repr=False).eval()
        at = off_ast.AST(extract_features=True, max_spec_t=66, factorize_freq_time=True,
                         agg_freq_module="TransformerEncoderLayer", agg_time_module="torch.nn.Identity",
                         add_global_repr=False).eval()
        off_mf.OmegaConf.load, off_ast.ASTConfig = load, SmallAST.__mro__[1]
        load_official(mf, w_small, "vfeat_extractor.", tmp)
        load_official(at, w_small, "afeat_extractor.", tmp)
        with torch.inference_mode():
            out["video_features"] = Synchformer.extract_vfeats(types.SimpleNamespace(vfeat_extractor=mf), video).numpy()
            out["audio_features"] = Synchformer.extract_afeats(types.SimpleNamespace(afeat_extractor=at), spec).numpy()

        # the synchronisation transformer at the official size
        with torch.device("meta"):
            ours_full = {k: v.shape for k, v in Ours(SynchformerConfig(video_depth=0, audio_depth=0)).state_dict().items()}
        w_full = seeded_state_dict({k: s for k, s in ours_full.items() if k.split(".")[0] in ("vproj", "aproj", "transformer")}, SEED)
        head = types.SimpleNamespace(vproj=torch.nn.Linear(768, 768), aproj=torch.nn.Linear(768, 768),
                                     transformer=GlobalTransformer(tok_pdrop=0.0, embd_pdrop=0.1, resid_pdrop=0.1,
                                                                   attn_pdrop=0.1, n_layer=3, n_head=8, n_embd=768))
        for name in ("vproj", "aproj", "transformer"):
            getattr(head, name).eval()
            load_official(getattr(head, name), w_full, name + ".", tmp)
        with torch.inference_mode():
            out["sync_logits"] = Synchformer.compare_v_a(head, vfeat, afeat).numpy()

    # front ends: av-benchmark's own functions, the model stubbed out
    from av_bench.data.audio_dataset import pad_or_truncate

    identity = types.SimpleNamespace(extract_afeats=lambda x: x, extract_vfeats=lambda x: x)
    enc_audio = function_from(Path(av_dir) / "av_bench" / "extract.py", "encode_audio_with_sync",
                              {"torch": torch, "pad_or_truncate": pad_or_truncate, "Synchformer": object,
                               "torchaudio": torchaudio})
    mel = torchaudio.transforms.MelSpectrogram(sample_rate=16000, win_length=400, hop_length=160, n_fft=1024, n_mels=128)
    with torch.inference_mode():
        out["audio_segments"] = enc_audio(identity, wave[None], mel)[0, :, 0].numpy()  # (S, 128, 66)
    from einops import rearrange

    enc_video = function_from(Path(av_dir) / "extract_video.py", "encode_video_with_sync",
                              {"torch": torch, "rearrange": rearrange, "Synchformer": object})
    frames = torch.arange(40, dtype=torch.float32).view(1, 40, 1, 1, 1).expand(1, 40, 3, 224, 224)
    # it runs each segment as its own item ((b s) 1 t ...): the stub keeps each frame's index
    frame_index = types.SimpleNamespace(extract_vfeats=lambda x: x[:, :, :, 0, 0, 0].unsqueeze(-1))
    out["video_segment_frames"] = enc_video(frame_index, frames)[0, :, :, 0].numpy().astype(np.int64)

    np.savez_compressed(OUT, **{k: np.asarray(v) for k, v in out.items()})
    print(OUT, {k: np.asarray(v).shape for k, v in out.items() if not isinstance(v, str)})

    if full:
        full_run(w_seed=SEED)


def full_run(w_seed: int) -> None:
    """Full-size extractors, official vs ours, on 1 video and 14 audio segments (printed only)."""
    from av_bench.synchformer.synchformer import Synchformer

    from metrics.desync import seeded_state_dict
    from metrics.synchformer import Synchformer as Ours

    t = time.time()
    official = Synchformer().eval()
    print(f"official full-size built in {time.time() - t:.1f} s")
    weights = seeded_state_dict({k: v.shape for k, v in official.state_dict().items()}, w_seed)
    official.load_state_dict(weights, strict=True)
    ours = Ours().eval()
    ours.load_state_dict(weights, strict=True)
    g = torch.Generator().manual_seed(1)
    video = torch.randn(1, 1, 16, 3, 224, 224, generator=g)
    spec = torch.randn(1, 14, 1, 128, 66, generator=g)
    with torch.inference_mode():
        for name, fo, fu in (("video (1 segment)", lambda: official.extract_vfeats(video), lambda: ours.video_features(video)),
                             ("audio (14 segments)", lambda: official.extract_afeats(spec), lambda: ours.audio_features(spec[:, :, 0]))):
            t = time.time()
            a = fo()
            t1 = time.time()
            b = fu()
            t2 = time.time()
            rel = float((a - b).abs().max() / a.abs().max())
            print(f"full-size {name}: official {t1 - t:.1f} s, ours {t2 - t1:.1f} s, max rel diff {rel:.2e}")


if __name__ == "__main__":
    main(sys.argv[1], full="--full" in sys.argv)
