"""Stand-in for VidMuse's infer.py (same arguments, same per-folder loop, skip and rename)."""
import argparse
from pathlib import Path

from demos.VidMuse_app import _do_predictions, load_model


def infer(video_dir, output_dir, topk, topp, temperature, cfg_coef):
    video_files = list(Path(video_dir).glob("*.mp4"))
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    for video_path in video_files:
        output_video_path = Path(output_dir) / f"{video_path.stem}_output.mp4"
        output_audio_path = Path(output_dir) / f"{video_path.stem}_output.wav"
        if output_audio_path.exists():
            print(f"Audio file already exists, skipping: {output_audio_path}")
            continue
        videos, wavs = _do_predictions([str(video_path)], duration=30, progress=False, top_k=topk, top_p=topp,
                                       temperature=temperature, cfg_coef=cfg_coef)
        Path(videos[0]).rename(output_video_path)
        Path(wavs[0]).rename(output_audio_path)
        print(f"Generated audio file: {output_audio_path} (via {wavs[0]})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="VidMuse inference script")
    parser.add_argument("--model_path", type=str, required=True)
    parser.add_argument("--video_dir", type=str, required=True)
    parser.add_argument("--output_dir", type=str, required=True)
    parser.add_argument("--topk", type=int, default=250)
    parser.add_argument("--topp", type=float, default=0.0)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--cfg_coef", type=float, default=3.0)
    args = parser.parse_args()
    load_model(args.model_path)
    infer(args.video_dir, args.output_dir, args.topk, args.topp, args.temperature, args.cfg_coef)
