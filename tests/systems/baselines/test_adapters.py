"""Each adapter against its stand-in: the inputs it prepares, the entry point it calls, what it
reads back and what it fixes (mislabelled rates, sleeps, hard-coded GPUs, the CDCD leak)."""

import os
import time

import numpy as np
import pytest
import soundfile as sf
import torch

from systems.render import SOUNDFONT
from tests.systems.baselines.conftest import failures, records, run, split_test_ids, system_overrides


def dominant_hz(audio, sr):
    spec = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    return np.fft.rfftfreq(audio.size, 1 / sr)[int(np.argmax(spec))]


@pytest.mark.skipif(not SOUNDFONT.is_file(), reason="FluidR3_GM soundfont not installed")
def test_video2music_keeps_the_beginning_of_its_300_chords_and_ignores_its_own_renderer(mini_dataset, standin):
    root, ov = mini_dataset
    repo = standin("video2music")
    result, run_dir = run(["video2music"], [*ov, *system_overrides("video2music", repo),
                                            f"system.video2music.weights_dir={repo}/saved_models/AMT"])
    ids = split_test_ids(root)
    assert not failures(run_dir, "video2music") and result.systems[0].generated == len(ids)
    audio, sr = sf.read(run_dir / "video2music" / f"{ids[0]}.wav", dtype="float32")
    assert audio.shape == (64000,) and np.abs(audio).max() > 0.1
    rec = records(run_dir, "video2music")[ids[0]]
    assert rec["midi_seconds"] > 299 and rec["trimmed_seconds"] > 0
    err = (run_dir / "video2music" / "logs" / f"{ids[0]}.generate.try1.err").read_text()
    assert "own rendering step failed" in err  # its soundfont is absent: ignored, the MIDI is used


def test_m2ugen_reads_32_khz_musicgen_audio_whatever_the_header_and_fails_without_aud_tokens(mini_dataset, standin, monkeypatch):
    root, ov = mini_dataset
    repo = standin("m2ugen")
    ids = split_test_ids(root)
    monkeypatch.setenv("STANDIN_M2UGEN_HEADER", "16000")  # the repository's evaluation-script mislabelling
    monkeypatch.setenv("STANDIN_NO_AUDIO", ids[0])
    (repo / "ckpt.pth").touch()
    (repo / "llama").mkdir()
    _, run_dir = run(["m2ugen"], [*ov, *system_overrides("m2ugen", repo), f"system.m2ugen.checkpoint={repo}/ckpt.pth",
                                  f"system.m2ugen.llama_dir={repo}/llama"])
    fails = failures(run_dir, "m2ugen")
    assert set(fails) == {ids[0]} and "no [AUD] tokens" in fails[ids[0]]
    audio, sr = sf.read(run_dir / "m2ugen" / f"{ids[1]}.wav", dtype="float32")
    assert sr == 32000 and audio.shape == (64000,)
    assert abs(dominant_hz(audio, sr) - 440) < 5  # read at 16 kHz it would be 220 Hz
    rec = records(run_dir, "m2ugen")[ids[1]]
    assert rec["source_rate"] == 32000 and any("header says 16000" in c for c in rec["changes"])


def test_vidmuse_skips_its_sleep_and_bad_outputs_are_failures(mini_dataset, standin, monkeypatch):
    root, ov = mini_dataset
    repo = standin("vidmuse")
    ids = split_test_ids(root)
    monkeypatch.setenv("STANDIN_NAN", ids[0])
    monkeypatch.setenv("STANDIN_LONG", ids[1])
    t0 = time.monotonic()
    _, run_dir = run(["vidmuse"], [*ov, *system_overrides("vidmuse", repo), f"system.vidmuse.model_path={repo}/model"])
    assert time.monotonic() - t0 < 8 * len(ids)  # one 8 s sleep per clip would exceed this
    fails = failures(run_dir, "vidmuse")
    assert set(fails) == {ids[0], ids[1]}
    assert "NaN" in fails[ids[0]]
    assert "180.0 s of audio for a 2 s clip" in fails[ids[1]] and "not trimmed silently" in fails[ids[1]]
    audio, sr = sf.read(run_dir / "vidmuse" / f"{ids[2]}.wav", dtype="float32")
    assert audio.ndim == 1 and audio.shape == (64000,) and abs(dominant_hz(audio, sr) - 330) < 5
    out = (run_dir / "vidmuse" / "logs" / f"{ids[2]}.generate.try1.out").read_text()
    assert "_work" in out.split("via ")[-1]  # its temp file lived in the clip's work dir (TMPDIR), not /tmp


def _pop909_dataset(root):
    """Rename the mini dataset's sources to POP909 ids (Diff-BGM runs only on BGM909 clips)."""
    from dataclasses import replace

    from core.manifest import read_info, read_manifest, write_manifest

    clips = read_manifest(root)
    ids = {s: f"{i + 1:03d}" for i, s in enumerate(sorted({c.source for c in clips}))}
    # starts as the ids say (the mini dataset's clips all start at 0): clips are parts of one song
    write_manifest(root, [replace(c, source=ids[c.source], start=int(c.id.rsplit("__", 1)[1]) / 1000) for c in clips],
                   read_info(root))
    return sorted({ids[c.source] for c in clips if c.split == "test"})


@pytest.mark.slow
@pytest.mark.skipif(not SOUNDFONT.is_file(), reason="FluidR3_GM soundfont not installed")
def test_diffbgm_generates_each_song_once_and_names_a_skipped_song(mini_dataset, standin):
    from core.manifest import read_manifest

    root, ov = mini_dataset
    repo = standin("diffbgm")
    songs = _pop909_dataset(root)
    feats = repo / "data" / "bgm909"
    for s in songs:
        np.savez(repo / "data" / "POP909_4_bin_pnt_8bar" / f"{s}.npz", notes=np.zeros(3))
    for s in songs[1:]:  # the first song has no features, and its extractors have no repository here
        torch.save(torch.zeros(4, 512), feats / "new_raw_video_feats" / f"{s}.pth")
        np.save(feats / "caption_feats" / f"{s}.npy", np.zeros((4, 768)))
        (feats / "detection" / f"{s}_scenes.txt").write_text("0 10\n")
    _, run_dir = run(["diffbgm"], [*ov, *system_overrides("diffbgm", repo), "system.diffbgm.segment=aligned"])
    test = [c for c in read_manifest(root) if c.split == "test"]
    fails = failures(run_dir, "diffbgm")
    assert {c.id for c in test if c.source == songs[0]} == set(fails)
    assert all("caption_feats" in e or "new_raw_video_feats" in e for e in fails.values())
    assert all("commands.clip2video cannot run" in e and "clip2video_repo" in e for e in fails.values())
    done = [c for c in test if c.source != songs[0]]
    assert done and all((run_dir / "diffbgm" / f"{c.id}.wav").exists() for c in done)
    logs = sorted(p.name for p in (run_dir / "diffbgm" / "logs").glob("song*.generate.try1.out"))
    assert len(logs) == len({c.source for c in done})  # one Diff-BGM run per song, shared by its clips
    # aligned: the clip starting at 2 s takes the song from 2 s
    late = next(c for c in done if c.start > 0)
    assert records(run_dir, "diffbgm")[late.id]["offset_seconds"] == late.start == 2.0


def _segment_dataset(tmp_path, repo, seconds, list_dir, pattern, genre_name):
    """Authors' preprocessed segments + AIST++ videos + the official lists in a stand-in repo."""
    from core.media import atomic_write_audio, write_video

    videos, data = tmp_path / "aist_videos", tmp_path / f"segments_s{seconds}"
    names = []
    for v, video in enumerate(["gPO_sBM_c01_d11_mPO1_ch02", "gLH_sBM_c01_d17_mLH4_ch02", "gBR_sBM_c01_d04_mBR0_ch01"]):
        write_video(videos / f"{video}.mp4", np.full((seconds * 2 * 10, 32, 32, 3), 60 * v, np.uint8), 10)
        for k in (1, 2):
            name = f"{video}_seg{k}"
            names.append(name)
            t = np.arange(int(seconds * 22050)) / 22050
            atomic_write_audio(data / f"audio_s{seconds}" / "test" / f"{name}.wav",
                               (0.2 * np.sin(2 * np.pi * (300 + 20 * len(names)) * t)).astype(np.float32), 22050)
            for kind in ("video", "motion"):
                (data / f"{kind}_s{seconds}" / "test").mkdir(parents=True, exist_ok=True)
                np.save(data / f"{kind}_s{seconds}" / "test" / f"{name}.npy", np.zeros((seconds, 8)))
    lists = repo / list_dir
    lists.mkdir(exist_ok=True)
    for kind, ext in (("audio", "wav"), ("video", "npy"), ("motion", "npy")):
        (lists / pattern.format(kind=kind)).write_text(
            "".join(f"/data/zhuye/aistplus/{kind}_s{seconds}/test/{n}.{ext}\n" for n in names))
    np.save(lists / genre_name, np.eye(10)[[i % 10 for i in range(len(names))]])
    return videos, data, names


def test_d2mgan_runs_its_own_segments_in_batches_with_the_harness_gpu(tmp_path, standin, monkeypatch):
    repo = standin("d2mgan")
    videos, data, names = _segment_dataset(tmp_path, repo, 2, "dataset", "aist_{kind}_test_segment.txt", "test_genre.npy")
    (tmp_path / "logs").mkdir()
    for f in ("mencoder.pt", "netG.pt"):
        (tmp_path / "logs" / f).touch()
    monkeypatch.setenv("STANDIN_GPUS", "1")  # one GPU: the script's CUDA_VISIBLE_DEVICES="1" would crash
    ds = ["dataset.root=" + str(tmp_path / "aist_d2mgan"), f"dataset.params.source_dir={data}",
          f"dataset.params.lists_dir={repo / 'dataset'}", f"dataset.params.videos_dir={videos}"]
    from bench import api

    clips = api.prepare("aist_d2mgan", ds)
    assert sorted(c.id for c in clips) == sorted(f"{n}__{(int(n[-1]) - 1) * 2000:07d}" for n in names)
    assert {c.duration for c in clips} == {2.0} and {c.split for c in clips} == {"test"}
    result = api.run(["d2mgan"], dataset="aist_d2mgan", metrics=[], name="d2m", overrides=[
        *ds, *system_overrides("d2mgan", repo), f"system.d2mgan.load_path={tmp_path / 'logs'}",
        f"system.d2mgan.data_dir={data}", "system.d2mgan.batch_size=4", "executor.workers=1", "executor.shard_size=8", "run.split=test"])
    run_dir = result.run_dir
    assert not failures(run_dir, "d2mgan") and result.systems[0].generated == len(names)
    assert len(list((run_dir / "d2mgan" / "logs").glob("*.generate.try1.err"))) == 2  # 6 segments, batches of 4
    recs = records(run_dir, "d2mgan")
    assert all(abs(r["padded_seconds"] - (44100 - 44032) / 22050) < 1e-3 for r in recs.values())
    # the i-th listed segment got the i-th output: pitch from its own genre row (200 + 50 * genre)
    for i, name in enumerate(names):
        cid = next(k for k in recs if k.startswith(name + "__"))
        audio, sr = sf.read(run_dir / "d2mgan" / f"{cid}.wav", dtype="float32")
        assert abs(dominant_hz(audio, sr) - (200 + 50 * (i % 10))) < 3, (name, dominant_hz(audio, sr))
    err = next((run_dir / "d2mgan" / "logs").glob("*.generate.try1.err")).read_text()
    assert "kept CUDA_VISIBLE_DEVICES='0'" in err


@pytest.mark.slow
def test_cdcd_generates_from_the_full_mask_not_from_the_ground_truth(tmp_path, standin):
    repo = standin("cdcd")
    videos, data, names = _segment_dataset(tmp_path, repo, 6, "data", "aist_{kind}_test_segment_s6.txt",
                                           "test_genre_s6.npy")
    ds = ["dataset.root=" + str(tmp_path / "aist_cdcd"), f"dataset.params.source_dir={data}",
          f"dataset.params.lists_dir={repo / 'data'}", f"dataset.params.videos_dir={videos}"]
    from bench import api

    api.prepare("aist_cdcd", ds)
    base = [*ds, *system_overrides("cdcd", repo), f"system.cdcd.checkpoint={repo}/checkpoint/last.pth",
            f"system.cdcd.data_dir={data}", "executor.workers=1", "executor.shard_size=8"]
    result = api.run(["cdcd"], dataset="aist_cdcd", metrics=[], name="cdcd", overrides=base)
    assert not failures(result.run_dir, "cdcd") and result.systems[0].generated == len(names)
    cid = sorted(p.stem for p in (result.run_dir / "cdcd").glob("*.wav"))[0]
    audio, sr = sf.read(result.run_dir / "cdcd" / f"{cid}.wav", dtype="float32")
    assert audio.shape == (6 * 32000,) and abs(dominant_hz(audio, sr) - 523) < 3  # not the reference's tone
    from core.manifest import read_manifest

    clip = next(c for c in read_manifest(tmp_path / "aist_cdcd") if c.id == cid)
    assert clip.duration == 6.0 and clip.source == "m" + cid.split("_m")[1][:3]
    ref, _ = sf.read(clip.audio_path, dtype="float32")
    assert abs(dominant_hz(ref, 32000) - dominant_hz(audio, sr)) > 100


def _tiny_blip_and_bert(d):
    """Random BLIP captioner and BERT encoder in the Hugging Face layout (offline)."""
    from transformers import (BertConfig, BertModel, BertTokenizerFast, BlipConfig, BlipForConditionalGeneration,
                              BlipImageProcessor, BlipProcessor)

    d.mkdir(parents=True)
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "man", "dances", "in", "room"]
    (d / "vocab.txt").write_text("\n".join(words) + "\n")
    tok = BertTokenizerFast(vocab_file=str(d / "vocab.txt"))
    small = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37)
    cfg = BlipConfig(text_config=dict(vocab_size=len(words), bos_token_id=2, sep_token_id=3, pad_token_id=0,
                                      eos_token_id=3, **small),
                     vision_config=dict(image_size=32, patch_size=16, **small), projection_dim=32)
    BlipForConditionalGeneration(cfg).save_pretrained(d / "blip")
    BlipProcessor(BlipImageProcessor(size={"height": 32, "width": 32}), tok).save_pretrained(d / "blip")
    BertModel(BertConfig(vocab_size=len(words), **small)).save_pretrained(d / "bert")
    tok.save_pretrained(d / "bert")
    return d / "blip", d / "bert"


@pytest.mark.slow
@pytest.mark.skipif(not SOUNDFONT.is_file(), reason="FluidR3_GM soundfont not installed")
def test_diffbgm_extracts_missing_caption_features_with_blip_and_bert(mini_dataset, standin, tmp_path):
    from core.manifest import read_manifest

    root, ov = mini_dataset
    repo = standin("diffbgm")
    songs = _pop909_dataset(root)
    feats = repo / "data" / "bgm909"
    for s in songs:
        np.savez(repo / "data" / "POP909_4_bin_pnt_8bar" / f"{s}.npz", notes=np.zeros(3))
        torch.save(torch.zeros(4, 512), feats / "new_raw_video_feats" / f"{s}.pth")
        (feats / "detection" / f"{s}_scenes.txt").write_text("0 10\n")  # no caption features: extracted
    blip, bert = _tiny_blip_and_bert(tmp_path / "hf")
    _, run_dir = run(["diffbgm"], [*ov, *system_overrides("diffbgm", repo, timeout=300), f"system.diffbgm.blip={blip}",
                                   f"system.diffbgm.bert={bert}", "system.diffbgm.device=cpu"])
    assert not failures(run_dir, "diffbgm")
    test = [c for c in read_manifest(root) if c.split == "test"]
    assert all((run_dir / "diffbgm" / f"{c.id}.wav").exists() for c in test)
    for s in {c.source for c in test}:
        cap = np.load(run_dir / "diffbgm" / "_work" / "features" / "caption_feats" / f"{s}.npy")
        assert cap.shape == (2, 32)  # one BLIP caption per second of the 2 s song video, BERT's [CLS]
