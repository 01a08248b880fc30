"""Parity of our FD, KL, IS and FAD with the reference implementation, audioldm_eval 0.0.3.

Both sides score the same seeded clips (20 generated + 20 reference, 10 s at 32 kHz, paired by
file name) with the same seeded random weights written in the official file formats:

* FD, KL (softmax and sigmoid) and IS: the reference runs live, in its own side environment
  (scripts/reference_env.sh, built once and cached), through scripts/reference_eval.py;
  ours is metrics.embedders.Cnn14Embedder + metrics.frechet / metrics.kl / metrics.inception
  with the metrics' defaults: batched embedders and the default FD route
  (metrics.frechet.DEFAULT_FD_METHOD, the exact Gram form — not the reference's sqrtm code path,
  whose value is checked against the reference too).
* FAD: the reference loads VGGish through torch.hub (GitHub, unreachable in CI), so its value on
  these clips and weights is the committed golden tests/metrics/golden/fad_golden.json (made by
  scripts/make_fad_golden.py); ours is metrics.embedders.VGGishEmbedder + metrics.frechet.

Each metric must agree to a relative difference of at most 1e-4 (measured: ≤ 1e-7 for FD and
KL, identical IS, 4e-7 for FAD). 20 clips, because the
reference's Inception Score uses 10 splits (NaN below 10 clips, and every split of one clip
scores exactly 1). On a mismatch the message compares our per-clip embeddings with the
reference's own (saved by reference_eval.py --save-features), which tells an embedder
difference from a metric difference.

Cost on 2 CPU cores: about 4–5 minutes (each sample rate: the reference ~60 s, ours ~50 s, both
dominated by Cnn14 on 40 clips and a 2048² sqrtm; FAD ~30 s), plus ~60 s the first time the side
environment is built.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytestmark = [
    pytest.mark.slow,
    # 20 clips in 2048 dims: both sides take sqrtm of a singular product (that is the reference)
    pytest.mark.filterwarnings("ignore::metrics.errors.RankDeficientCovarianceWarning"),
    pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning"),
]

ROOT = Path(__file__).resolve().parents[2]
REL_TOL = 1e-4
CNN14_FILES = {16000: "Cnn14_16k_mAP=0.438.pth", 32000: "Cnn14_mAP=0.431.pth"}
# our value's name → the reference_eval.py JSON key
CNN14_METRICS = ("fd", "kl_softmax", "kl_sigmoid", "is_mean")


def relative_difference(ours: float, reference: float) -> float:
    return abs(ours - reference) / max(abs(reference), 1e-12)


def _field(out: dict, *names: str) -> np.ndarray:
    """One output of an embedder, under the first of `names` it uses."""
    for name in names:
        if name in out:
            return np.asarray(out[name])
    raise KeyError(f"embedder output has none of {names}; keys: {sorted(out)}")


def _clip_paths(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.wav"))  # sorted names: the reference's order (IS shuffles it)


def _compare_rows(ours: np.ndarray, reference: np.ndarray) -> str:
    """Largest per-clip difference, relative to the largest magnitude of the reference rows."""
    scale = np.abs(reference).max(axis=1)
    worst = (np.abs(ours - reference).max(axis=1) / np.maximum(scale, 1e-12)).max()
    return f"max per-clip |ours − ref| / max|ref| = {worst:.3g}"


# ------------------------------------------------------------------------- FD, KL and IS
def _run_reference(python: str, clips: dict, ckpt: Path, sample_rate: int, features: Path) -> dict:
    cmd = [python, str(ROOT / "scripts" / "reference_eval.py"), "--generated", str(clips["generated"]),
           "--reference", str(clips["reference"]), "--ckpt-dir", str(ckpt), "--sample-rate", str(sample_rate),
           "--metrics", "fd,kl,is", "--save-features", str(features)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, f"reference_eval.py failed:\n{r.stderr[-4000:]}"
    return json.loads(r.stdout)


def _cnn14_embedder(sample_rate: int, checkpoint: Path):
    from metrics.embedders import Cnn14Embedder

    try:
        return Cnn14Embedder(sample_rate=sample_rate, weights="pretrained", checkpoint=checkpoint)
    except (ValueError, NotImplementedError) as e:
        if sample_rate == 16000:
            raise
        pytest.skip(f"Cnn14Embedder has no {sample_rate} Hz model: {e}")


@pytest.fixture(scope="module", params=[16000, 32000], ids=lambda sr: f"{sr // 1000}k")
def cnn14_parity(request, tmp_path_factory, parity_clips, cnn14_checkpoints) -> dict:
    """Reference and our FD / KL / IS (and both sides' features) at one Cnn14 sample rate."""
    from metrics.frechet import DEFAULT_FD_METHOD, fd_from_embeddings
    from metrics.inception import inception_score
    from metrics.kl import kl_divergence, pair_by_clip_id

    sample_rate = request.param
    embedder = _cnn14_embedder(sample_rate, cnn14_checkpoints / CNN14_FILES[sample_rate])
    python = request.getfixturevalue("reference_python")
    features = tmp_path_factory.mktemp(f"reference_{sample_rate}") / "features.npz"
    reference = _run_reference(python, parity_clips, cnn14_checkpoints, sample_rate, features)
    assert reference["same_name"] and reference["n_generated"] == reference["n_reference"] == 20, reference

    sides = {}
    for side in ("generated", "reference"):
        paths = _clip_paths(parity_clips[side])
        outs = embedder.embed_files(paths)
        sides[side] = {p.name: (_field(o, "embedding", "2048"), _field(o, "logits")) for p, o in zip(paths, outs)}
    ids, gen_logits, ref_logits = pair_by_clip_id({k: v[1] for k, v in sides["generated"].items()},
                                                  {k: v[1] for k, v in sides["reference"].items()})
    gen_emb = np.stack([sides["generated"][k][0] for k in ids])
    ref_emb = np.stack([sides["reference"][k][0] for k in ids])
    ours = {"fd": fd_from_embeddings(gen_emb, ref_emb, method=DEFAULT_FD_METHOD),
            "fd_sqrtm": fd_from_embeddings(gen_emb, ref_emb, method="sqrtm"),
            "kl_softmax": kl_divergence(gen_logits, ref_logits, "softmax"),
            "kl_sigmoid": kl_divergence(gen_logits, ref_logits, "sigmoid"),
            "is_mean": inception_score(gen_logits).mean}

    saved = np.load(features)
    for side in ("generated", "reference"):
        assert [Path(str(f)).name for f in saved[f"{side}_files"]] == ids, "reference clip order differs"
    diagnostics = (f"embeddings: generated {_compare_rows(gen_emb, saved['generated_2048'])}, reference "
                   f"{_compare_rows(ref_emb, saved['reference_2048'])}; logits: generated "
                   f"{_compare_rows(gen_logits, saved['generated_logits'])}, reference "
                   f"{_compare_rows(ref_logits, saved['reference_logits'])}")
    return {"sample_rate": sample_rate, "ours": ours, "reference": reference, "diagnostics": diagnostics}


@pytest.mark.parametrize("metric", CNN14_METRICS + ("fd_sqrtm",))
def test_cnn14_metric_matches_reference(cnn14_parity, metric):
    ours, ref = cnn14_parity["ours"][metric], cnn14_parity["reference"][metric.replace("_sqrtm", "")]
    assert ref is not None and np.isfinite(ref), f"the reference gave no {metric}: {cnn14_parity['reference']}"
    rel = relative_difference(ours, ref)
    assert rel <= REL_TOL, (
        f"{metric} at {cnn14_parity['sample_rate']} Hz: ours {ours!r}, audioldm_eval {ref!r} "
        f"(relative difference {rel:.3g} > {REL_TOL}); {cnn14_parity['diagnostics']}")


def test_parity_inputs_are_not_degenerate(cnn14_parity):
    """The seeded clips and weights make every metric informative (a parity of constants would
    pass whatever the code did)."""
    ref = cnn14_parity["reference"]
    assert ref["fd"] > 1.0 and ref["kl_softmax"] > 0.1 and ref["kl_sigmoid"] > 1.0
    assert ref["is_mean"] > 1.05 and ref["is_std"] > 0.01, ref


# --------------------------------------------------------------------------------- FAD
def test_fad_matches_golden(fad_golden, parity_clips, vggish_checkpoints):
    from metrics.embedders import VGGishEmbedder
    from metrics.frechet import DEFAULT_FD_METHOD, fd_from_embeddings

    embedder = VGGishEmbedder(weights="pretrained", checkpoint=vggish_checkpoints["vggish"],
                              pca_params=vggish_checkpoints["pca_params"])
    frames = {side: np.concatenate([_field(o, "frames") for o in embedder.embed_files(_clip_paths(parity_clips[side]))])
              for side in ("generated", "reference")}
    ours = fd_from_embeddings(frames["generated"], frames["reference"], method=DEFAULT_FD_METHOD)
    golden = fad_golden["fad"]
    rel = relative_difference(ours, golden)
    if rel > REL_TOL:
        notes = []
        for side in ("generated", "reference"):
            f, g = frames[side].astype(np.float64), fad_golden["frames"][side]
            notes.append(f"{side}: {len(f)} frames (reference {g['n']}), mean {f.mean():.7g} "
                         f"(reference {g['mean_of_mean']:.7g}), trace cov {np.trace(np.cov(f, rowvar=False)):.7g} "
                         f"(reference {g['trace_cov']:.7g})")
        same_clips = parity_clips["sha256"] == fad_golden["clips"]["sha256_samples"]
        same_weights = vggish_checkpoints["sha256"] == fad_golden["vggish_weights"]["sha256_arrays"]
        pytest.fail(f"FAD: ours {ours!r}, golden audioldm_eval {golden!r} (relative difference {rel:.3g} > "
                    f"{REL_TOL}); clips identical to the golden's: {same_clips}; weights identical: "
                    f"{same_weights}; " + "; ".join(notes))


def test_golden_recipe_is_reproduced(fad_golden, parity_clips, vggish_checkpoints):
    """The seeds recreate the golden's exact inputs (NumPy's legacy RandomState stream is frozen),
    so the FAD comparison above compares like with like; regenerate the golden if this fails
    after a change to scripts/make_fad_golden.py."""
    assert vggish_checkpoints["sha256"] == fad_golden["vggish_weights"]["sha256_arrays"]
    assert parity_clips["sha256"] == fad_golden["clips"]["sha256_samples"]
