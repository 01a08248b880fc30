"""`bench perf metrics --suite fadtk-encodec[-48k] | fadtk-vggish`: our preset against fadtk 1.1.0's own
code on fadtk's real music (its wheel's 23 test samples: 11 MusicGen as the reference set, 5 MusicLM + 7
Mubert as the evaluated set, 10 s at 48 kHz, Opus) with one file of seeded random EnCodec weights
(random weights: the values check the computation, not the codec) in the official layout.

Theirs: fadtk's ``EncodecEmbModel.get_embedding`` running facebookresearch/encodec 0.1.1's model
(scripts/reference_fadtk.py), then fadtk's ``score``, ``score_inf`` (``np.random.seed(seed)``
first) and ``score_individual`` on the embeddings it wrote in its own layout. Its decoding and
resampling step (torchaudio load + Kaiser Resample + 16-bit save, fadtk/fad.py ``load_audio``) cannot
run beside this torch; both sides take the waveform from our ``load_like_fadtk``, whose resampler
matches torchaudio's on golden outputs (tests/metrics/test_encodec.py).

Ours: the preset's metrics through their embedder (batched, per-file cache): cold = empty cache,
warm = the same sets again (all cached: no network is built). Seconds per 10-s file: embedding
only (waveforms decoded beforehand on both sides).

fadtk-vggish (`run_vggish_suite`, `fadtk_vggish_reference`) runs more of fadtk's own code: its
``FrechetAudioDistance(VGGishModel())`` with ``load_model=True`` (its ``VGGishModel.load_model``:
postprocess off, final ReLU dropped), then per file its ``cache_embedding_file`` (``load_audio`` →
``ModelLoader.load_wav`` → ``get_embedding`` → ``_get_embedding`` → ``np.save``) and its scores on
the ``.npy`` files it wrote. Two things are stood in for, neither touching a number of theirs:

* ``torch.hub.load("harritaylor/torchvggish", "vggish")`` (offline here) returns `HubVGGish`: the
  hub code's ``VGGish`` (torchvggish master f3f9096, torchvggish/vggish.py: ``forward(x, fs)`` =
  ``waveform_to_examples`` then ``VGG.forward``) written over PyPI torchvggish 0.2's ``VGG`` and
  ``vggish_input`` (byte-identical ``vggish_input``/``mel_features``/``vggish_params``; ``VGG.forward``
  the same with postprocess off), holding the given weights file as the hub's
  ``load_state_dict_from_url`` would; its PCA is not loaded, since fadtk switches it off.
* ``torchaudio`` (not installable beside this torch) in ``fadtk.fad``: ``load`` = soundfile's float32
  read (its soundfile backend, fadtk's default), ``transforms.Resample`` = ``resample_kaiser`` (after
  checking fadtk passed the Kaiser settings), ``save`` = soundfile's 16-bit PCM write.
"""

from __future__ import annotations

import tempfile
import time
import io
from contextlib import contextmanager, redirect_stdout
from pathlib import Path

import numpy as np

from core.cache import Cache

ROOT = Path(__file__).resolve().parent.parent
SEED = 5


def _ref_tools():
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("_bench_reference_fadtk", ROOT / "scripts" / "reference_fadtk.py")
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sample_sets(max_files: int | None = None) -> tuple[list[Path], list[Path]]:
    """fadtk's test samples as (reference: MusicGen, evaluated: MusicLM + Mubert), each capped at
    `max_files` (the reference's first files by name; both families kept in the evaluated set)."""
    samples = sorted(_ref_tools().fadtk_samples().glob("*.opus"))
    ref_files = [p for p in samples if p.name.startswith("mg-")][:max_files]
    eval_files = [p for p in samples if not p.name.startswith("mg-")]
    if max_files:
        eval_files = eval_files[:max_files // 2] + eval_files[-(max_files - max_files // 2):]
    return ref_files, eval_files


def run_suite(preset: str, base: Path | None = None, steps: int = 10, min_n: int | None = None,
              max_files: int | None = None) -> dict:
    """One preset's comparison; `max_files` caps each set on a slow machine; `min_n` defaults to
    500 (fadtk's) for EnCodec, 50 for VGGish (10 rows per 10-s file)."""
    import torch

    from metrics.embedders.encodec import EncodecEmbedder, OFFICIAL_FILES, load_like_fadtk, save_random_weights
    from metrics.frechet import frechet_distance_exact
    from metrics.small_sample import fad_inf, fadtk_stats, per_clip_fad

    if preset == "fadtk-vggish":
        return run_vggish_suite(base, steps, 50 if min_n is None else min_n, max_files)
    min_n = 500 if min_n is None else min_n
    sr = {"fadtk-encodec": 24000, "fadtk-encodec-48k": 48000}[preset]
    tools = _ref_tools()
    base = Path(base or tempfile.mkdtemp(prefix="bench-perf-fadtk-"))
    base.mkdir(parents=True, exist_ok=True)
    ref_files, eval_files = sample_sets(max_files)
    weights = save_random_weights(base / OFFICIAL_FILES[sr][0], sr, seed=SEED)

    # ---- ours: cold (empty cache) then warm (same files, all cached)
    cache = Cache(base / "cache")
    t0 = time.perf_counter()
    emb = EncodecEmbedder(sr, weights="pretrained", checkpoint=str(weights))
    ours_ref = [o["frames"] for o in emb.embed_files(ref_files, cache=cache)]
    ours_eval = [o["frames"] for o in emb.embed_files(eval_files, cache=cache)]
    stats_ref = fadtk_stats(ours_ref)
    ours = {"fad": frechet_distance_exact(*fadtk_stats(ours_eval), *stats_ref),
            "fad_inf": fad_inf(ours_eval, stats_ref, steps=steps, min_n=min_n, seed=SEED).score}
    ours_clip = per_clip_fad(ours_eval, stats_ref)
    cold_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    warm_emb = EncodecEmbedder(sr, weights="pretrained", checkpoint=str(weights))
    warm_eval = [o["frames"] for o in warm_emb.embed_files(eval_files, cache=cache)]
    warm_ref = [o["frames"] for o in warm_emb.embed_files(ref_files, cache=cache)]
    stats_w = fadtk_stats(warm_ref)
    frechet_distance_exact(*fadtk_stats(warm_eval), *stats_w)
    fad_inf(warm_eval, stats_w, steps=steps, min_n=min_n, seed=SEED)
    per_clip_fad(warm_eval, stats_w)
    warm_s = time.perf_counter() - t0
    if warm_emb._model is not None:
        raise SystemExit("perf: the warm run built the EnCodec network although every embedding was cached")

    # ---- embedding seconds per 10-s file, same waveforms, same weights file
    waves = [load_like_fadtk(p, sr) for p in eval_files]
    t0 = time.perf_counter()
    fresh = EncodecEmbedder(sr, weights="pretrained", checkpoint=str(weights))
    segs = [fresh._segments(w) for w in waves]
    flat = np.stack([s for ss in segs for s in ss if s.shape[-1] == segs[0][0].shape[-1]])
    fresh._encode(flat[:1])  # build the network outside the timing, as on their side
    t0 = time.perf_counter()
    for s in range(0, len(flat), fresh.batch_size):  # the embedder's own batching (1 on the CPU)
        fresh._encode(flat[s:s + fresh.batch_size])
    ours_per_file = (time.perf_counter() - t0) / len(waves)

    fad_mod = tools.load_fadtk()
    encodec = tools.load_encodec()
    from fadtk.model_loader import EncodecEmbModel

    ml = EncodecEmbModel("24k" if sr == 24000 else "48k")
    model = encodec.EncodecModel.encodec_model_24khz(pretrained=False) if sr == 24000 else \
        encodec.EncodecModel.encodec_model_48khz(pretrained=False)
    model.load_state_dict(torch.load(weights), strict=False)
    ml.model, ml.device = model.eval(), torch.device("cpu")

    def theirs_embed(w):
        x = torch.from_numpy(w)[None]
        return ml.get_embedding((x.expand(2, -1) if sr == 48000 else x)[None])

    t0 = time.perf_counter()
    theirs_eval = [theirs_embed(w) for w in waves]
    theirs_per_file = (time.perf_counter() - t0) / len(waves)
    theirs_ref = [theirs_embed(load_like_fadtk(p, sr)) for p in ref_files]
    name = ml.name
    ref_dir, eval_dir = base / "fadtk" / "reference", base / "fadtk" / "eval"
    tools.write_fadtk_layout(ref_dir, name, {p.stem: e for p, e in zip(ref_files, theirs_ref)})
    eval_paths = tools.write_fadtk_layout(eval_dir, name, {p.stem: e for p, e in zip(eval_files, theirs_eval)})
    fad = fad_mod.FrechetAudioDistance(ml, load_model=False)
    theirs = {"fad": float(np.real(fad.score(str(ref_dir), str(eval_dir))))}
    np.random.seed(SEED)
    npys = [eval_dir / "embeddings" / name / f"{p.stem}.npy" for p in eval_paths]
    theirs["fad_inf"] = float(np.real(fad.score_inf(str(ref_dir), npys, steps=steps, min_n=min_n).score))
    csv = fad.score_individual(str(ref_dir), eval_dir, base / "fadtk" / "individual.csv")
    by_name = {}
    for line in csv.read_text().splitlines():
        path, value = line.rsplit(",", 1)
        by_name[Path(path).stem] = float(np.real(complex(value.strip("()"))))
    theirs_clip = np.array([by_name[p.stem] for p in eval_files])

    rel = {k: abs(ours[k] - theirs[k]) / max(abs(theirs[k]), 1e-12) for k in ours}
    rel["fad_clip"] = float(np.max(np.abs(ours_clip - theirs_clip) / np.maximum(np.abs(theirs_clip), 1e-12)))
    return {"preset": preset, "ours": ours, "theirs": theirs, "rel": rel, "cold_s": cold_s, "warm_s": warm_s,
            "ours_per_file_s": ours_per_file, "theirs_per_file_s": theirs_per_file, "n_ref": len(ref_files),
            "n_eval": len(eval_files), "embedder": f"encodec_{sr // 1000}k", "theirs_code": "encodec 0.1.1"}


def print_suite(r: dict) -> None:
    print(f"[{r['preset']}] fadtk's samples ({r['n_ref']} MusicGen as reference, {r['n_eval']} MusicLM/Mubert "
          f"evaluated, 10 s), random "
          f"weights; ours cold {r['cold_s']:.1f} s, warm {r['warm_s']:.2f} s (all cached, no network built)")
    print(f"[{r['preset']}] values ours {({k: round(v, 6) for k, v in r['ours'].items()})} fadtk "
          f"{({k: round(v, 6) for k, v in r['theirs'].items()})} rel diff "
          f"{({k: float(f'{v:.3g}') for k, v in r['rel'].items()})}")
    print(f"[{r['preset']}] {r['embedder']}: ours {r['ours_per_file_s']:.3f} s per 10-s file, fadtk ({r['theirs_code']}) "
          f"{r['theirs_per_file_s']:.3f} s (same waveforms, same weights file)")


# --------------------------------------------------------------------------- fadtk-vggish
def hub_vggish(weights_file: Path, device):
    """A stand-in for ``torch.hub.load("harritaylor/torchvggish", "vggish")`` (offline here): the hub
    code's ``VGGish`` at f3f9096 (its defaults: preprocess and postprocess on) over PyPI torchvggish
    0.2's ``VGG``/``make_layers``/``vggish_input``, with `weights_file` loaded strictly, as
    ``load_state_dict_from_url`` would hand it the official file. The PCA parameters are not
    loaded: a forward with postprocess still on fails (fadtk's load_model must switch it off)."""
    import torch
    from torchvggish import vggish_input
    from torchvggish.torchvggish import VGG, make_layers

    class HubVGGish(VGG):
        def __init__(self):
            super().__init__(make_layers(), postprocess=False)
            self.load_state_dict(torch.load(weights_file, weights_only=True), strict=True)
            self.device = device
            self.preprocess = True
            self.postprocess = True
            self.to(self.device)

        def forward(self, x, fs=None):  # torchvggish/vggish.py VGGish.forward
            if self.preprocess:
                x = self._preprocess(x, fs)
            x = x.to(self.device)
            x = VGG.forward(self, x)
            if self.postprocess:
                raise RuntimeError("HubVGGish: postprocessing (PCA) is still on; fadtk's VGGishModel turns it off")
            return x

        def _preprocess(self, x, fs):
            if not isinstance(x, np.ndarray):
                raise AttributeError  # the hub code's answer to anything but an array or a path
            return vggish_input.waveform_to_examples(x, fs)

    return HubVGGish()


def torchaudio_standin():
    """The three torchaudio calls of fadtk's ``load_audio``, on soundfile and our Kaiser resampler
    (see the module docstring); the resampler refuses settings other than fadtk's."""
    import types

    import soundfile as sf
    import torch

    from metrics.embedders.encodec import KAISER, resample_kaiser

    def load(path, backend=None):
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
        return torch.from_numpy(np.ascontiguousarray(data.T)), sr

    class Resample:
        def __init__(self, orig_freq, new_freq, lowpass_filter_width, rolloff, resampling_method, beta):
            got = {"lowpass_filter_width": lowpass_filter_width, "rolloff": rolloff, "beta": beta}
            if resampling_method != "sinc_interp_kaiser" or got != KAISER:
                raise RuntimeError(f"torchaudio stand-in: fadtk asked for {resampling_method} {got}, not the "
                                   f"Kaiser settings {KAISER} that resample_kaiser implements")
            self.orig, self.new = int(orig_freq), int(new_freq)

        def __call__(self, x):
            with torch.no_grad():
                return resample_kaiser(x, self.orig, self.new)

    def save(path, y, sample_rate, encoding=None, bits_per_sample=None):
        if (encoding, bits_per_sample) != ("PCM_S", 16):
            raise RuntimeError(f"torchaudio stand-in: fadtk saved as {encoding}/{bits_per_sample}, not PCM_S/16")
        sf.write(str(path), y.numpy().T, sample_rate, subtype="PCM_16")

    return types.SimpleNamespace(load=load, save=save, transforms=types.SimpleNamespace(Resample=Resample))


@contextmanager
def fadtk_vggish(weights_file: Path):
    """fadtk's ``FrechetAudioDistance(VGGishModel(), load_model=True)`` on the CPU, its model built
    by its own ``load_model`` from `hub_vggish(weights_file)`, ``fadtk.fad.torchaudio`` replaced by
    `torchaudio_standin` while inside. Restores torch's grad mode (fadtk turns it off)."""
    from unittest import mock

    import torch

    fad_mod = _ref_tools().load_fadtk()
    from fadtk.model_loader import VGGishModel

    ml = VGGishModel()
    ml.device = torch.device("cpu")  # as ours, whatever the machine has

    def hub_load(repo, model, *args, **kwargs):
        if (repo, model, args, kwargs) != ("harritaylor/torchvggish", "vggish", (), {}):
            raise RuntimeError(f"torch.hub stand-in: unexpected call torch.hub.load({repo!r}, {model!r}, {args}, {kwargs})")
        return hub_vggish(weights_file, ml.device)

    grad = torch.is_grad_enabled()
    try:
        with mock.patch.object(torch.hub, "load", hub_load):
            fad = fad_mod.FrechetAudioDistance(ml, audio_load_worker=1, load_model=True)
        with mock.patch.object(fad_mod, "torchaudio", torchaudio_standin()):
            yield fad
    finally:
        torch.set_grad_enabled(grad)


def fadtk_vggish_reference(weights_file: Path, ref_files: list[Path], eval_files: list[Path], work: Path,
                           steps: int, min_n: int, seed: int) -> dict:
    """fadtk's own numbers on copies of the files (it writes ``convert/16000/`` and
    ``embeddings/vggish/`` beside them): per file (by stem) the waveform its ``load_wav`` returned,
    the float32 rows of ``_get_embedding`` and the float16 rows it saved; ``score``, ``score_inf``
    (after ``np.random.seed(seed)``) and ``score_individual``; seconds per file in ``_get_embedding``."""
    import shutil

    dirs = {"ref": work / "reference", "eval": work / "eval"}
    copies = {}
    for key, files in (("ref", ref_files), ("eval", eval_files)):
        dirs[key].mkdir(parents=True, exist_ok=True)
        copies[key] = [Path(shutil.copy(f, dirs[key] / f.name)) for f in files]
    files = copies["ref"] + copies["eval"]
    waves, rows32, seconds = [], [], []
    with fadtk_vggish(weights_file) as fad:
        ml = fad.ml
        own = ml._get_embedding

        def recorded(audio):  # what fadtk's get_embedding calls: keep its input and float32 output
            t0 = time.perf_counter()
            out = own(audio)
            seconds.append(time.perf_counter() - t0)
            waves.append(np.array(audio))
            rows32.append(out.detach().cpu().numpy())
            return out

        ml._get_embedding = recorded
        for f in files:
            fad.cache_embedding_file(f)
        npys = [f.parent / "embeddings" / ml.name / f"{f.stem}.npy" for f in files]  # fadtk's layout
        with redirect_stdout(io.StringIO()):  # load_stats prints the stats file it looks for
            out = {"fad": float(np.real(fad.score(str(dirs["ref"]), str(dirs["eval"]))))}
            np.random.seed(seed)
            inf = fad.score_inf(str(dirs["ref"]), npys[len(copies["ref"]):], steps=steps, min_n=min_n)
            out["fad_inf"] = float(np.real(inf.score))
            csv = fad.score_individual(str(dirs["ref"]), dirs["eval"], work / "individual.csv")
    clip = {}
    for line in csv.read_text().splitlines():
        path, value = line.rsplit(",", 1)
        clip[Path(path).stem] = float(np.real(complex(value.strip("()"))))
    stems = [f.stem for f in files]
    return {"scores": out, "fad_inf_points": [(n, float(np.real(v))) for n, v in inf.points], "fad_clip": clip,
            "waves": dict(zip(stems, waves)), "rows32": dict(zip(stems, rows32)),
            "rows16": {f.stem: np.load(n) for f, n in zip(files, npys)}, "per_file_s": float(np.mean(seconds))}


def ours_vggish_scores(eval_rows: list[np.ndarray], ref_rows: list[np.ndarray], steps: int, min_n: int,
                       seed: int) -> dict:
    """The fadtk-vggish preset's three values from per-file rows, through the functions its metrics
    call (metrics.embedding_metrics: ``frechet_score`` exact route, ``fad_inf`` and ``per_clip_fad``)
    with the preset's statistics recipe (``stats: fadtk``); ``fad_clip`` per file."""
    from metrics.embedding_metrics import frechet_score
    from metrics.presets import preset_metric_configs
    from metrics.small_sample import fad_inf, fadtk_stats, per_clip_fad, pooled_stats

    recipe = preset_metric_configs("fadtk-vggish", weights="random")["fad"].get("stats", "pooled")
    ref_stats = fadtk_stats(ref_rows) if recipe == "fadtk" else pooled_stats(ref_rows)
    fad = float(frechet_score(eval_rows, ref_rows, "exact", recipe).statistic(np.arange(len(eval_rows))[None])[0])
    inf = fad_inf(eval_rows, ref_stats, steps=steps, min_n=min_n, seed=seed)
    return {"fad": fad, "fad_inf": inf.score, "fad_inf_points": inf.points,
            "fad_clip": per_clip_fad(eval_rows, ref_stats)}


def float32_rows(emb, waves: list[np.ndarray]) -> list[np.ndarray]:
    """`emb`'s (a FadtkVGGishEmbedder) rows of each waveform before the float16 cast, computed as its
    batched path does (``batch_size`` files' examples per forward pass)."""
    import torch

    from metrics.embedders.vggish import VGGishEmbedder

    out = []
    for s in range(0, len(waves), emb.batch_size):
        examples = [emb.examples(w) for w in waves[s:s + emb.batch_size]]
        rows = VGGishEmbedder.embed_examples(emb, torch.cat(examples))
        out += np.split(rows, np.cumsum([e.shape[0] for e in examples])[:-1])
    return out


def run_vggish_suite(base: Path | None = None, steps: int = 10, min_n: int = 50, max_files: int | None = None) -> dict:
    """fadtk-vggish: ours (cold, warm) against fadtk's own pipeline (`fadtk_vggish_reference`), one
    file of seeded random VGGish weights in the official format. ``rel``: fad, fad_inf, fad_clip of
    our rows through fadtk's statistics (as the EnCodec suites); fad_metric, the preset's fad metric
    (pooled float64 statistics) against fadtk's score; embedding, float32 rows (max |diff| / max |theirs|
    per file)."""
    from metrics.embedders.vggish import VGGISH_FILE, FadtkVGGishEmbedder, save_random_weights
    from metrics.frechet import frechet_distance_exact
    from metrics.small_sample import fad_inf, fadtk_stats, per_clip_fad

    base = Path(base or tempfile.mkdtemp(prefix="bench-perf-fadtk-"))
    base.mkdir(parents=True, exist_ok=True)
    ref_files, eval_files = sample_sets(max_files)
    weights = save_random_weights(base / VGGISH_FILE, seed=SEED)

    cache = Cache(base / "cache")
    t0 = time.perf_counter()
    emb = FadtkVGGishEmbedder(weights="pretrained", checkpoint=str(weights))
    ours_ref = [o["frames"] for o in emb.embed_files(ref_files, cache=cache)]
    ours_eval = [o["frames"] for o in emb.embed_files(eval_files, cache=cache)]
    metric = ours_vggish_scores(ours_eval, ours_ref, steps, min_n, SEED)
    cold_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    warm = FadtkVGGishEmbedder(weights="pretrained", checkpoint=str(weights))
    warm_eval = [o["frames"] for o in warm.embed_files(eval_files, cache=cache)]
    warm_ref = [o["frames"] for o in warm.embed_files(ref_files, cache=cache)]
    ours_vggish_scores(warm_eval, warm_ref, steps, min_n, SEED)
    warm_s = time.perf_counter() - t0
    if warm._model is not None:
        raise SystemExit("perf: the warm run built the VGGish network although every embedding was cached")

    theirs = fadtk_vggish_reference(weights, ref_files, eval_files, base / "fadtk", steps, min_n, SEED)

    # embedding seconds per 10-s file from the same waveforms: log-mel examples + network, 8 files a pass
    fresh = FadtkVGGishEmbedder(weights="pretrained", checkpoint=str(weights))
    waves = [theirs["waves"][p.stem] for p in eval_files]
    fresh.embed_examples(fresh.examples(waves[0]))  # build the network outside the timing, as on their side
    t0 = time.perf_counter()
    rows32 = float32_rows(fresh, waves)
    ours_per_file = (time.perf_counter() - t0) / len(waves)
    emb_rel = max(float(np.max(np.abs(r - theirs["rows32"][p.stem])) / np.max(np.abs(theirs["rows32"][p.stem])))
                  for p, r in zip(eval_files, rows32))

    # our rows through fadtk's statistics (float16 per-file means), as the EnCodec suites compare; and
    # fad_metric: the preset's fad metric itself (pooled float64 statistics)
    stats_ref = fadtk_stats(ours_ref)
    ours = {"fad": frechet_distance_exact(*fadtk_stats(ours_eval), *stats_ref),
            "fad_inf": fad_inf(ours_eval, stats_ref, steps=steps, min_n=min_n, seed=SEED).score,
            "fad_metric": metric["fad"]}
    scores = {**theirs["scores"], "fad_metric": theirs["scores"]["fad"]}
    rel = {k: abs(v - scores[k]) / max(abs(scores[k]), 1e-12) for k, v in ours.items()}
    theirs_clip = np.array([theirs["fad_clip"][p.stem] for p in eval_files])
    rel["fad_clip"] = float(np.max(np.abs(per_clip_fad(ours_eval, stats_ref) - theirs_clip) / np.abs(theirs_clip)))
    rel["embedding"] = emb_rel
    return {"preset": "fadtk-vggish", "ours": ours, "theirs": scores,
            "rel": rel, "cold_s": cold_s, "warm_s": warm_s, "ours_per_file_s": ours_per_file,
            "theirs_per_file_s": theirs["per_file_s"], "n_ref": len(ref_files), "n_eval": len(eval_files),
            "embedder": "vggish_fadtk", "theirs_code": "torchvggish hub VGGish"}
