"""Golden values for SI (metrics.symbolic.structure_indicator) made with MusDr's own code.

MusDr (github.com/slSeanWU/MusDr, commit below) computes the structureness indicator from audio:
run_python_scapeplot.py → mueller_audio_tools.ssm_features.compute_SM_from_filename (chroma SSM),
scapeplot.normalization_properties_SSM and compute_fitness_scape_plot, saved as a .npy; then
musdr.eval_metrics.compute_structure_indicator reads it back. This script runs exactly those
functions (MusDr's checkout on sys.path; its librosa.load(fn, Fs) call is written for librosa < 0.10,
so `librosa.load` is wrapped to take the rate positionally — the same load, nothing else changes).

Input: real music, a Bach chorale from the music21 corpus rendered by the harness's own renderer
(bench.data.toy_music.render_clip, FluidR3_GM) for 12 s, stored in the golden file (int16 at
11025 Hz) so the test needs no synthesizer; the .wav written from it is what MusDr reads, and the
test reads the same wav.

    python scripts/golden/si_musdr.py /path/to/MusDr  → tests/metrics/golden/si_musdr.npz
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "metrics" / "golden" / "si_musdr.npz"
MUSDR_COMMIT = "b034cf86550963cf2021299eafb1001d0fe34853"  # the checkout used (when it is no git repository)
PIECE, PROGRAM, START, DURATION, RATE = "bwv66-6", 0, 0.0, 12.0, 11025
SCALES = [(1, 4), (3, 8), (2, 6)]


def main(musdr_dir: str) -> None:
    import librosa

    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, musdr_dir)
    sys.path.insert(0, str(Path(musdr_dir) / "musdr"))
    _load = librosa.load
    librosa.load = lambda path, sr=22050, *a, **k: _load(path, sr=sr, *a, **k)  # MusDr calls load(fn, Fs)

    from bench.data import toy_music
    from mueller_audio_tools.scapeplot import compute_fitness_scape_plot, normalization_properties_SSM
    from mueller_audio_tools.ssm_features import compute_SM_from_filename, compute_tempo_rel_set
    from eval_metrics import compute_structure_indicator

    path = dict(toy_music.list_pieces())[PIECE]
    score = toy_music.load_score(PIECE, path)
    tempo, loops = toy_music.fit_tempo(score, 90.0, DURATION + START)
    rend = toy_music.make_rendition(score, tempo, loops)
    y = toy_music.render_clip(rend, PROGRAM, rend.span[0] + START, DURATION, RATE)
    pcm = np.round(np.clip(y, -1, 1) * 32767).astype(np.int16)

    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "piece.wav"
        sf.write(wav, pcm, RATE, subtype="PCM_16")
        # run_python_scapeplot.py's parameters, verbatim
        _, _, X, fs_feature, S, _ = compute_SM_from_filename(
            str(wav), tempo_rel_set=compute_tempo_rel_set(0.5, 2, 7), shift_set=np.array(list(range(12))),
            thresh=0.25, penalty=-2)
        S = normalization_properties_SSM(S)
        SP = compute_fitness_scape_plot(S)[0]
        np.save(Path(tmp) / "fitness.npy", SP)
        si = {f"si_{lo}_{hi}": compute_structure_indicator(str(Path(tmp) / "fitness.npy"), lo, hi) for lo, hi in SCALES}
    try:
        commit = subprocess.run(["git", "-C", musdr_dir, "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = MUSDR_COMMIT
    np.savez_compressed(OUT, pcm=pcm, rate=RATE, chroma=X, feature_rate=fs_feature, ssm=S, fitness=SP,
                        scales=np.array(SCALES), **{k: np.array(v) for k, v in si.items()},
                        musdr_commit=commit, librosa=librosa.__version__, piece=PIECE)
    print(OUT, {k: round(float(v), 6) for k, v in si.items()}, "ssm", S.shape, "commit", commit)


if __name__ == "__main__":
    main(sys.argv[1])
