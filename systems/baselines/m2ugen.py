"""M²UGen (Liu et al. 2024, "M²UGen: Multi-modal Music Understanding and Generation with the
Power of Large Language Models").

Contract read from shansongliu/M2UGen at 2c702a482f1ea3ef1b28cfad3d58a038a35183a7:
`M2UGen/inference.py` (arguments `--model --llama_dir --mert_path --vit_path --vivit_path
--music_decoder --music_decoder_path --video_file --prompt`; the defaults of `--vit_path` and
`--vivit_path` point at MERT and are wrong; 32 frames sampled from a random start with
`np.random.randint`; the answer's audio is written by `save_audio_to_local` to
`temp/<random name>.wav` relative to the working directory, at
`model.generation_model.config.audio_encoder.sampling_rate` for MusicGen, 16 kHz for AudioLDM2;
no file at all when the LLM emits no [AUD] tokens; `model.to("cuda")`).

Per clip, in a fresh working directory: the clip's video → `inference.py` → the one wav under
`temp/`.

What the adapter changes: ViT and ViViT paths are set to the models the paper names
(`google/vit-base-patch16-224-in21k`, `google/vivit-b-16x2-kinetics400`); the launcher seeds
numpy, so the random frame window is reproducible; the rate is read from the file, and for the
MusicGen decoder a header that is not 32 kHz is treated as mislabelled (the repository's own
evaluation script writes 32 kHz MusicGen audio with a 16 kHz header) and read at 32 kHz, with the
change recorded. A clip without [AUD] tokens is a failure, not silence.
"""

from __future__ import annotations

from systems.baselines.contract import WorkPath
from systems.baselines.external import BaselineError, ExternalSystem, Weight
from systems.baselines.normalise import RawOutput

MUSICGEN_RATE = 32000  # EnCodec 32 kHz, the decoder of every facebook/musicgen-* checkpoint


class M2UGenSystem(ExternalSystem):
    """M²UGen: LLaMA-2 with ViT/ViViT encoders driving a MusicGen decoder (audio, 32 kHz)."""

    repo_url = "https://github.com/shansongliu/M2UGen"
    commit = "2c702a482f1ea3ef1b28cfad3d58a038a35183a7"
    python_version = "3.9"
    entry_point = "M2UGen/inference.py"
    weight_files = (
        Weight("checkpoint", "huggingface.co/M2UGen/M2UGen-MusicGen-medium (checkpoint.pth) or -small"),
        Weight("llama_dir", "LLaMA-2 7B from Meta (a folder holding 7B/ and tokenizer.model)"),
    )
    repo_pythonpath = {"*": ("M2UGen",)}
    changes = ("--vit_path/--vivit_path set to google/vit-base-patch16-224-in21k and google/vivit-b-16x2-kinetics400",
               "seeded by the launcher (its frame window start is random)",
               "MusicGen audio read at 32 kHz whatever the header says (mislabelling guard)")

    weight_keys = {"checkpoint": ("model",)}  # inference.py: checkpoint['model'].items()
    work_paths = (
        WorkPath("temp", "collected", "save_audio_to_local writes temp/<random>.wav"),
        WorkPath("ckpts", "unused", "--knn_dir's default; the MusicGen/AudioLDM2 inference path never reads it"),
    )

    def run_one(self, req, work, attempt):
        video = self.clip_video(req, name=req.clip.id)
        tag = video.stem + ("" if req.sample_index == 0 else f".s{req.sample_index}")
        self.step("generate", tag, attempt, work, video=video, seed=req.seed)
        wavs = sorted((work / "temp").glob("*.wav"), key=lambda p: p.stat().st_mtime) if (work / "temp").is_dir() else []
        if not wavs:
            raise BaselineError(f"M2UGen wrote no audio for {req.clip.id}: its answer had no [AUD] tokens "
                                f"(see {self.log_dir}/{tag}.generate.try{attempt}.out for the answer)")
        raw = RawOutput(wavs[0])
        if len(wavs) > 1:
            raw.changes.append(f"{len(wavs)} audio answers; the first is used")
        if str(self.options.get("music_decoder", "musicgen")) == "musicgen":
            import soundfile as sf

            try:
                header = sf.info(str(wavs[0])).samplerate
            except Exception:
                header = None  # unreadable: normalise() names the file
            if header is not None and header != MUSICGEN_RATE:
                raw.true_rate = MUSICGEN_RATE
        return raw
