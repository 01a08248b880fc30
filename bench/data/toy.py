"""The built-in offline dataset `toy`: real music (Bach from the music21 corpus, rendered with
FluidSynth) with generated videos whose motion follows the music and whose look follows the piece.

Everything is made here, offline, and is identical for a given seed whatever `workers` is.

One *source* is one piece at one instrument and tempo (a "rendition"); it yields
`clips_per_source` clips spread over the piece (looped when the piece is too short). Each clip:

    audio/<id>.wav      reference music: mono float32 at `sample_rate`, exactly `clip_duration`
                        long, starting at the clip's start, peak-normalised to 0.9
    video/<id>.mp4      H.264, `fps` frames/s, a keyframe every second (GOP = fps), the same music
                        muxed in as AAC; Clip.start is 0.0 (one file per clip)
    keypoints/<id>.pkl  the figure's 2D keypoints in AIST++'s keypoints2d format: a dict with
                        `keypoints2d` float32 (1 view, N frames, 17 COCO joints, x/y px + confidence 1),
                        `det_scores` float32 (1, N) (all 1), `timestamps` int64 (N,) = floor(frame ·
                        1000 / fps), i.e. integer milliseconds from the clip start — our reading of
                        AIST++'s integer frame timestamps (60 fps there: 0, 16, 33, 50, …)
    events/<id>.json    the ground truth the generator used: note onsets, beats, downbeats and
                        notes (s, relative to the clip start), tempo, instrument, mode, key, piece

Clip ids are `clip_id(<rendition>, <start in the piece>)`, e.g. `toy0003-bwv10-7__0012000`;
Clip.source is the *piece* (e.g. `bwv10-7`), so a chorale that recurs with another instrument or
tempo (large builds reuse the 410 pieces) never sits in both splits. Clip.genre is the instrument
family, Clip.tempo the bpm (quarter notes per minute), Clip.caption a viewer's description of the scene (never the music).

What in the video encodes what in the music (also stored in dataset.json under "encoding"):

    note onset (any voice)  the figure snaps to a new pose, reached within ~3 frames (0.12 s,
                            ease-out: most of the way in the first one or two) and holds
                            perfectly still until the next onset; the stance alternates at
                            every onset, so every onset moves the figure
    beat / downbeat         the whole figure drops (deeper on downbeats) and recovers over ~4 frames
    highest / lowest pitch  height of the dancer's right arm (image left) / left arm (image right)
    instrument family       wall colour: piano blue, organ purple, strings green, choir brown,
                            flute grey, guitar red, brass black
    mode (major / minor)    wall texture: vertical stripes / dots (music21 key analysis)
    tempo band              figure colour: white < 90 bpm ≤ yellow < 115 bpm ≤ cyan
    (nothing else moves)    static wall, no camera motion: all motion energy is the figure's
"""

from __future__ import annotations

import json
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.atomic import atomic_path, write_text_atomic
from bench.data import toy_music as tm
from bench.data import toy_video as tv
from core.manifest import Clip, clip_id, read_manifest, write_manifest
from core.split import grouped_split
from bench.data.params import PrepareParams
from core.errors import ConfigError, DatasetError
from core.media.audio import atomic_write_audio
from core.media.video import write_video

# n_sources, clips_per_source, width, height, test_fraction
SIZES: dict[str, tuple[int, int, int, int, float]] = {
    "tiny": (6, 2, 64, 64, 0.1),
    # the README's main job: 8 test pieces × 4 clips = 32 test clips (every metric is defined: IS
    # needs 10, R@10 11), 8 pieces × 4 for training
    "demo": (16, 4, 128, 128, 0.5),
    "science": (20, 2, 128, 128, 0.1),  # the science check's toy (bench/conf/experiment/science.yaml)
    "large": (1000, 3, 128, 128, 0.1),
}
SUBDIRS = {"audio": ".wav", "video": ".mp4", "keypoints": ".pkl", "events": ".json"}
CRF = 12  # near-lossless for flat graphics: keyframe re-encoding flicker stays ~20x below the figure's motion

ENCODING = {
    "note_onsets": "the figure snaps to a new pose within ~3 frames (ease-out, most of the way in the first one or two) and holds still until the next onset; stance alternates each onset",
    "beats": "the whole figure drops (deeper on downbeats) and recovers over ~4 frames",
    "pitch": "dancer's right arm (image left) height = highest sounding pitch; left arm (image right) = lowest",
    "instrument_family": {f: tv.WALL_COLOURS[f][0] + " wall" for f in tm.FAMILIES},
    "mode": {m: f"{t} wall" for m, t in tv.TEXTURES.items()},
    "tempo_band": "figure colour: white < 90 bpm <= yellow < 115 bpm <= cyan",
    "camera": "static; the wall never moves, so all motion energy is the figure's",
}


@dataclass(frozen=True)
class _Job:
    index: int
    piece: str
    piece_path: str
    family: str
    tempo: int
    out_dir: str
    sample_rate: int
    clip_duration: float
    clips_per_source: int
    width: int
    height: int
    fps: int
    seed: int


@dataclass(frozen=True)
class ToyOptions:
    """The toy's own options (bench/conf/dataset/toy.yaml, `params`).

    size: 'tiny' (6 sources × 2 clips, 64×64, tests), 'demo' (16 × 4, 128×128, half of the
    pieces held out: 32 test clips), 'science' (20 × 2, 128×128, the science check's) or 'large'
    (1000 × 3, 128×128); n_sources / clips_per_source / width / height / test_fraction (of the
    clips, whole pieces at a time) override the preset. workers > 1 builds sources in a process
    pool; the output does not depend on it."""

    size: str = "demo"
    n_sources: int | None = None
    clips_per_source: int | None = None
    width: int | None = None
    height: int | None = None
    fps: int = 25
    test_fraction: float | None = None
    workers: int = 1


def prepare_toy(params: PrepareParams, options: ToyOptions = ToyOptions()) -> list[Clip]:
    """Build the toy dataset in `params.out_dir` (see the module docstring) and return its clips."""
    from tqdm import tqdm

    size, fps, clip_duration, seed = options.size, options.fps, params.clip_duration, params.seed
    if size not in SIZES:
        raise ConfigError(f"unknown toy size {size!r}; known sizes: {', '.join(SIZES)}")
    n_src, per_src, w, h, test_fraction = SIZES[size]
    test_fraction = float(options.test_fraction if options.test_fraction is not None else test_fraction)
    n_src = int(options.n_sources if options.n_sources is not None else n_src)
    per_src = int(options.clips_per_source if options.clips_per_source is not None else per_src)
    w = int(options.width if options.width is not None else w)
    h = int(options.height if options.height is not None else h)
    if n_src < 2 or per_src < 1:
        raise ConfigError(f"toy needs n_sources >= 2 and clips_per_source >= 1, got {n_src} and {per_src}")
    if w % 8 or h % 8 or w < 32 or h < 32:
        raise ConfigError(f"toy frame size must be multiples of 8 and at least 32, got {w}x{h}")
    if not 0 < test_fraction < 1:
        raise ConfigError(f"toy test_fraction must lie between 0 and 1, got {test_fraction}")
    if clip_duration <= 0 or fps <= 0:
        raise ConfigError(f"toy needs clip_duration > 0 and fps > 0, got {clip_duration} and {fps}")
    tm.check_synth()

    out_dir = Path(params.out_dir)
    pieces = tm.list_pieces()
    rng = np.random.default_rng([seed, 0x70])
    order = rng.permutation(len(pieces))
    fam_names = list(tm.FAMILIES)
    fam_offset = int(rng.integers(len(fam_names)))
    jobs = []
    for i in range(n_src):
        name, path = pieces[order[i % len(pieces)]]
        src_rng = np.random.default_rng([seed, 0x5C, i])
        tempo = int(src_rng.integers(tm.TEMPO_RANGE[0], tm.TEMPO_RANGE[1] + 1))
        jobs.append(_Job(i, name, path, fam_names[(fam_offset + i) % len(fam_names)], tempo, str(out_dir),
                         int(params.sample_rate), float(clip_duration), per_src, w, h, int(fps), int(seed)))

    rows: list[dict] = []
    bar = tqdm(total=n_src, desc="toy: building sources", unit="source")
    try:
        if options.workers > 1:
            # spawn: never fork a process that may hold threads (torch, tqdm). A worker that dies
            # (e.g. a script without an `if __name__ == "__main__":` guard) raises BrokenProcessPool
            # instead of hanging as multiprocessing.Pool would.
            ctx = multiprocessing.get_context("spawn")
            try:
                with ProcessPoolExecutor(max_workers=min(options.workers, n_src), mp_context=ctx) as pool:
                    for res in pool.map(_build_source, jobs):
                        rows.extend(res)
                        bar.update()
            except BrokenProcessPool as exc:
                raise DatasetError(
                    f"{out_dir}: a toy worker process died ({exc}). Calling prepare_toy with workers > 1 from a "
                    "script needs an `if __name__ == \"__main__\":` guard (workers are spawned); or use workers=1"
                ) from exc
        else:
            for job in jobs:
                rows.extend(_build_source(job))
                bar.update()
    finally:
        bar.close()

    clips = [Clip(**r) for r in rows]
    clips = grouped_split(clips, test_fraction, seed)
    _remove_stale(out_dir, {c.id for c in clips})
    info = {
        "spec": params.spec,
        "generator": "toy",
        "size": size,
        "n_sources": n_src,
        "clips_per_source": per_src,
        "width": w,
        "height": h,
        "fps": fps,
        "gop": fps,
        "sample_rate": params.sample_rate,
        "clip_duration": clip_duration,
        "soundfont": str(tm.SOUNDFONT),
        "music": "J. S. Bach works from the music21 corpus (MusicXML), rendered with FluidSynth",
        "instruments": {f: {"gm_program": p} for f, p in tm.FAMILIES.items()},
        "tempo_range_bpm": list(tm.TEMPO_RANGE),
        "source_unit": "piece (a chorale never crosses splits); clip id prefix = rendition",
        "keypoints_format": "AIST++ keypoints2d: keypoints2d (1, N, 17, 3) float32 px, det_scores (1, N), timestamps (N,) int ms",
        "encoding": ENCODING,
    }
    write_manifest(out_dir, clips, info)
    return read_manifest(out_dir)


def _build_source(job: _Job) -> list[dict]:
    """Render one rendition's clips (audio, video, keypoints, events); returns manifest rows."""
    out = Path(job.out_dir)
    score = tm.load_score(job.piece, job.piece_path)
    tempo, loops = tm.fit_tempo(score, job.tempo, job.clips_per_source * job.clip_duration)
    rend = tm.make_rendition(score, tempo, loops)
    rng = np.random.default_rng([job.seed, 0xF1, job.index])
    targets = tv.pose_targets(rend.onsets, rend.notes, rng)
    program = tm.FAMILIES[job.family]
    band, fig_name, fig_rgb, pace = tv.tempo_band(tempo)
    wall = tv.make_wall(job.width, job.height, job.family, score.mode)
    caption = _caption(fig_name, pace, tv.WALL_COLOURS[job.family][0], score.mode, rng)
    rendition = f"toy{job.index:04d}-{job.piece}"
    n_frames = int(round(job.clip_duration * job.fps))
    rows = []
    for start in tm.clip_starts(rend, job.clips_per_source, job.clip_duration):
        cid = clip_id(rendition, start)
        audio = tm.render_clip(rend, program, start, job.clip_duration, job.sample_rate)
        times = start + np.arange(n_frames) / job.fps
        params = tv.pose_track(times, rend.onsets, targets)
        kp = tv.to_pixels(tv.skeleton(params, tv.bounce(times, rend.beats, rend.downbeats)), job.width, job.height)
        frames = tv.draw_frames(kp, wall, fig_rgb, job.width, job.height)

        atomic_write_audio(out / "audio" / f"{cid}.wav", audio, job.sample_rate)
        write_video(out / "video" / f"{cid}.mp4", frames, job.fps, gop=job.fps, audio=audio,
                    sample_rate=job.sample_rate, crf=CRF)
        _write_keypoints(out / "keypoints" / f"{cid}.pkl", kp, job.fps)
        end = start + job.clip_duration
        rel = lambda a: [round(float(x) - start, 4) for x in a if start - 1e-9 <= x < end]  # noqa: E731
        sel = (rend.notes[:, 1] > start) & (rend.notes[:, 0] < end)
        notes = [[round(float(s) - start, 4), round(min(float(e), end) - start, 4), int(p)]
                 for s, e, p in rend.notes[sel]]
        events = {
            "clip_id": cid, "piece": job.piece, "rendition": rendition, "start_in_piece": start,
            "duration": job.clip_duration, "tempo": tempo, "requested_tempo": job.tempo, "loops": loops,
            "instrument": job.family, "gm_program": program, "mode": score.mode, "key": score.key,
            "time_signature": score.time_signature, "tempo_band": band,
            "onsets": rel(rend.onsets), "beats": rel(rend.beats), "downbeats": rel(rend.downbeats),
            "notes": notes,
        }
        write_text_atomic(out / "events" / f"{cid}.json", json.dumps(events, indent=1))
        rows.append(dict(
            id=cid, video=f"video/{cid}.mp4", audio=f"audio/{cid}.wav", start=0.0,
            duration=float(job.clip_duration), source=job.piece, genre=job.family, tempo=float(tempo),
            caption=caption, keypoints=f"keypoints/{cid}.pkl",
        ))
    return rows


def _write_keypoints(path: Path, kp_px: np.ndarray, fps: int) -> None:
    n = len(kp_px)
    k2d = np.concatenate([kp_px, np.ones((n, 17, 1))], axis=-1).astype(np.float32)[None]
    data = {
        "keypoints2d": k2d,                                                   # (1, N, 17, 3)
        "det_scores": np.ones((1, n), dtype=np.float32),                      # (1, N)
        "timestamps": (np.arange(n, dtype=np.int64) * 1000) // int(fps),      # (N,) int ms
    }
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            pickle.dump(data, fh, protocol=pickle.HIGHEST_PROTOCOL)


_TEMPLATES = [
    "A {fig} stick figure dances {pace} in front of a {wall} {texture} wall.",
    "A {fig} stick figure moves {pace}, striking poses before a {texture} {wall} wall.",
    "In front of a {wall} wall with {texture_noun}, a {fig} stick figure dances {pace}.",
]


def _caption(fig: str, pace: str, wall: str, mode: str, rng: np.random.Generator) -> str:
    texture = tv.TEXTURES[mode]
    noun = "vertical stripes" if mode == "major" else "polka dots"
    tpl = _TEMPLATES[int(rng.integers(len(_TEMPLATES)))]
    return tpl.format(fig=fig, pace=pace, wall=wall, texture=texture, texture_noun=noun)


def _remove_stale(out_dir: Path, keep: set[str]) -> None:
    """Drop media a previous build with another config left in our own subfolders."""
    for sub, ext in SUBDIRS.items():
        folder = out_dir / sub
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if p.is_file() and (p.name.endswith(ext) and p.name[: -len(ext)] not in keep
                                or p.name.endswith(".tmp")):
                p.unlink(missing_ok=True)
