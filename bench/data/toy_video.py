"""Picture side of the `toy` dataset: a stick figure (the 17 COCO keypoints) that snaps to a new
pose at every note onset and holds still in between, bouncing on beats, in front of a static
textured wall whose colour and texture follow the piece.

Coordinates: the skeleton is built in units of the frame height H, x from the frame centre,
y down from the top; pixels are x_px = W/2 + x·H, y_px = y·H.
"""

from __future__ import annotations

import numpy as np

# COCO-17 keypoint order (as AIST++'s keypoints2d). "left" is the dancer's left = image right.
COCO_KEYPOINTS = [
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
]
LIMBS = [(5, 7), (7, 9), (6, 8), (8, 10), (11, 13), (13, 15), (12, 14), (14, 16), (5, 6), (11, 12)]

# The look. Wall colour ← instrument family; wall texture ← mode; figure colour ← tempo band.
WALL_COLOURS: dict[str, tuple[str, tuple[int, int, int]]] = {
    "piano": ("blue", (40, 60, 150)),
    "organ": ("purple", (100, 40, 130)),
    "strings": ("green", (35, 110, 55)),
    "choir": ("brown", (120, 75, 35)),
    "flute": ("grey", (95, 95, 95)),
    "guitar": ("red", (150, 40, 40)),
    "brass": ("black", (25, 25, 30)),
}
TEXTURES = {"major": "striped", "minor": "dotted"}
TEMPO_BANDS = [  # (upper bound bpm exclusive, band, figure colour name, rgb, pace words)
    (90, "slow", "white", (240, 240, 240), "slowly"),
    (115, "moderate", "yellow", (250, 215, 40), "at a steady pace"),
    (10_000, "fast", "cyan", (60, 225, 235), "briskly"),
]

MOVE_TIME = 0.12     # s: a new pose is reached within ~3 frames at 25 fps (ease-out, most in the first 1-2)
BOUNCE_TIME = 0.16   # s: the beat bounce drops at once and recovers over ~4 frames
BOUNCE_BEAT = 0.030  # × H
BOUNCE_DOWNBEAT = 0.055


def tempo_band(tempo: float) -> tuple[str, str, tuple[int, int, int], str]:
    for upper, band, name, rgb, pace in TEMPO_BANDS:
        if tempo < upper:
            return band, name, rgb, pace
    raise AssertionError("unreachable")


def make_wall(width: int, height: int, family: str, mode: str, ss: int = 2):
    """The static background at `ss`× resolution: vertical stripes (major) or dots (minor)."""
    from PIL import Image, ImageDraw

    base = np.asarray(WALL_COLOURS[family][1], dtype=np.float64)
    light = tuple(int(v) for v in np.round(base * 0.7 + 255 * 0.3))
    w, h = width * ss, height * ss
    img = Image.new("RGB", (w, h), tuple(int(v) for v in base))
    d = ImageDraw.Draw(img)
    step = max(4, h // 8)
    if mode == "major":
        for x in range(0, w, step):
            d.rectangle([x, 0, x + step // 2 - 1, h], fill=light)
    else:
        r = max(1, step // 5)
        for y in range(step // 2, h, step):
            for x in range(step // 2, w, step):
                d.ellipse([x - r, y - r, x + r, y + r], fill=light)
    return img


# Pose parameters (radians / H units): root_dx, lean, then for the dancer's left and right arm
# (elevation from hanging down, elbow bend) and leg (thigh and shin angle outwards).
P_ROOT, P_LEAN, P_LARM, P_LBEND, P_RARM, P_RBEND, P_LTHIGH, P_LSHIN, P_RTHIGH, P_RSHIN = range(10)


def pose_targets(onsets: np.ndarray, notes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One target pose per onset. The dancer's right arm (image left) rises with the highest
    sounding pitch, the left arm with the lowest; the stance alternates at every onset (so every
    onset moves the figure); elbow bends and lean carry a little seeded variety."""
    k = len(onsets)
    top = np.empty(k)
    bottom = np.empty(k)
    for i, t in enumerate(onsets):
        sounding = notes[(notes[:, 0] <= t + 1e-6) & (notes[:, 1] > t + 1e-6), 2]
        if sounding.size == 0:
            sounding = notes[np.abs(notes[:, 0] - t) < 1e-6, 2]
        top[i], bottom[i] = sounding.max(), sounding.min()

    def unit(v):
        lo, hi = v.min(), v.max()
        return (v - lo) / (hi - lo) if hi > lo else np.full_like(v, 0.5)

    u_top, u_bot = unit(top), unit(bottom)
    parity = np.arange(k) % 2
    jit = rng.uniform(-1.0, 1.0, size=(k, 3))
    p = np.zeros((k, 10))
    p[:, P_ROOT] = np.where(parity, 0.025, -0.025)
    p[:, P_LEAN] = 0.15 * (u_top - 0.5) + 0.05 * jit[:, 0]
    p[:, P_RARM] = 0.35 + 2.45 * u_top
    p[:, P_LARM] = 0.35 + 2.45 * u_bot
    p[:, P_RBEND] = np.where(parity, 0.6, -0.2) + 0.25 * jit[:, 1]
    p[:, P_LBEND] = np.where(parity, -0.2, 0.6) + 0.25 * jit[:, 2]
    p[:, P_LTHIGH] = np.where(parity, 0.50, 0.08)
    p[:, P_LSHIN] = np.where(parity, 0.20, 0.02)
    p[:, P_RTHIGH] = np.where(parity, 0.08, 0.50)
    p[:, P_RSHIN] = np.where(parity, 0.02, 0.20)
    return p


def rest_pose() -> np.ndarray:
    p = np.zeros(10)
    p[[P_LARM, P_RARM]] = 0.35
    p[[P_LTHIGH, P_RTHIGH]] = 0.12
    return p


def pose_track(times: np.ndarray, onsets: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Pose parameters (T, 10) at `times`: from each onset the figure moves to that onset's target
    within MOVE_TIME (ease-out), starting from wherever it was, then holds still."""
    ease = lambda x: 1.0 - (1.0 - np.clip(x, 0.0, 1.0)) ** 3  # noqa: E731
    starts = np.empty_like(targets)
    prev_start, prev_target, prev_t = rest_pose(), rest_pose(), -np.inf
    for i, t in enumerate(onsets):
        cur = prev_start + (prev_target - prev_start) * ease((t - prev_t) / MOVE_TIME)
        starts[i] = cur
        prev_start, prev_target, prev_t = cur, targets[i], t
    idx = np.searchsorted(onsets, times, side="right") - 1
    out = np.tile(rest_pose(), (len(times), 1))
    ok = idx >= 0
    j = idx[ok]
    w = ease((times[ok] - onsets[j]) / MOVE_TIME)[:, None]
    out[ok] = starts[j] + (targets[j] - starts[j]) * w
    return out


def bounce(times: np.ndarray, beats: np.ndarray, downbeats: np.ndarray) -> np.ndarray:
    """Downward offset (× H): drops at once on each beat (deeper on downbeats), recovers after."""
    out = np.zeros(len(times))
    for grid, amp in ((beats, BOUNCE_BEAT), (downbeats, BOUNCE_DOWNBEAT)):
        if grid.size == 0:
            continue
        idx = np.searchsorted(grid, times, side="right") - 1
        ok = idx >= 0
        x = (times[ok] - grid[idx[ok]]) / BOUNCE_TIME
        out[ok] = np.maximum(out[ok], amp * np.clip(1.0 - x, 0.0, 1.0) ** 2)
    return out


def skeleton(params: np.ndarray, drop: np.ndarray) -> np.ndarray:
    """COCO-17 (T, 17, 2) in H units (x from the centre, y down) from pose parameters."""
    t = len(params)
    kp = np.zeros((t, 17, 2))

    def vec(angle, side):  # side +1: image right (dancer's left); angle 0 = hanging down
        return np.stack([side * np.sin(angle), np.cos(angle)], axis=-1)

    hip = np.stack([params[:, P_ROOT], 0.58 + drop], axis=-1)
    lean = params[:, P_LEAN]
    up = np.stack([np.sin(lean), -np.cos(lean)], axis=-1)
    across = np.stack([np.cos(lean), np.sin(lean)], axis=-1)
    neck = hip + 0.22 * up
    head = neck + 0.09 * up
    kp[:, 0] = head + 0.012 * -up
    kp[:, 1] = head + 0.022 * across + 0.012 * up
    kp[:, 2] = head - 0.022 * across + 0.012 * up
    kp[:, 3] = head + 0.05 * across
    kp[:, 4] = head - 0.05 * across
    for side, sh, el, wr, arm, bend in ((1, 5, 7, 9, P_LARM, P_LBEND), (-1, 6, 8, 10, P_RARM, P_RBEND)):
        kp[:, sh] = neck + side * 0.08 * across
        kp[:, el] = kp[:, sh] + 0.12 * vec(params[:, arm], side)
        kp[:, wr] = kp[:, el] + 0.11 * vec(params[:, arm] + params[:, bend], side)
    for side, hp, kn, an, thigh, shin in ((1, 11, 13, 15, P_LTHIGH, P_LSHIN), (-1, 12, 14, 16, P_RTHIGH, P_RSHIN)):
        kp[:, hp] = hip + side * 0.05 * across
        kp[:, kn] = kp[:, hp] + 0.15 * vec(params[:, thigh], side)
        kp[:, an] = kp[:, kn] + 0.14 * vec(params[:, shin], side)
    return kp


def to_pixels(kp: np.ndarray, width: int, height: int) -> np.ndarray:
    out = np.empty_like(kp)
    out[..., 0] = width / 2 + kp[..., 0] * height
    out[..., 1] = kp[..., 1] * height
    return out


def draw_frames(kp_px: np.ndarray, wall, colour: tuple[int, int, int], width: int, height: int,
                ss: int = 2) -> np.ndarray:
    """Draw the figure over the wall at `ss`× and box-downsample: uint8 (T, H, W, 3)."""
    from PIL import ImageDraw

    lw = max(2, int(round(0.045 * height * ss)))
    r_joint = lw / 2
    r_head = 0.06 * height * ss
    frames = np.empty((len(kp_px), height, width, 3), dtype=np.uint8)
    for f, pts in enumerate(kp_px * ss):
        img = wall.copy()
        d = ImageDraw.Draw(img)
        neck = (pts[5] + pts[6]) / 2
        pelvis = (pts[11] + pts[12]) / 2
        segs = [(pts[a], pts[b]) for a, b in LIMBS] + [(neck, pelvis)]
        for a, b in segs:
            d.line([tuple(a), tuple(b)], fill=colour, width=lw)
        for p in list(pts[5:]) + [neck, pelvis]:
            d.ellipse([p[0] - r_joint, p[1] - r_joint, p[0] + r_joint, p[1] + r_joint], fill=colour)
        head = (pts[3] + pts[4]) / 2
        d.line([tuple(neck), tuple(head)], fill=colour, width=lw)
        d.ellipse([head[0] - r_head, head[1] - r_head, head[0] + r_head, head[1] + r_head], fill=colour)
        frames[f] = np.asarray(img.reduce(ss) if ss > 1 else img)
    return frames
