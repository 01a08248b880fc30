"""Diff-BGM's caption features for one video: BLIP captions encoded by BERT-base-uncased.

    python diffbgm_captions.py --video SONG.mp4 --out SONG.npy [--fps 1] \
        [--blip Salesforce/blip-image-captioning-large] [--bert bert-base-uncased] [--device cuda]

Diff-BGM's README: "use BLIP to gain the video caption then use Bert-base-uncased as the language
encoder"; `diffbgm/data/dataset.py` reads `caption_feats/<id>.npy` as an (n, d) array and resamples
its rows to the song's chord sequence. The authors' frame rate and pooling are not published:
this driver captions one frame per `--fps` second and stores BERT's last-layer [CLS] vector
(768) per caption, so n = seconds × fps. Runs in the Diff-BGM environment (transformers,
PyAV or OpenCV to read frames: video_frames.py); model ids may be local folders.
"""

import argparse

from video_frames import frames  # this folder is the script's sys.path[0]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--video", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--fps", type=float, default=1.0)
    p.add_argument("--blip", default="Salesforce/blip-image-captioning-large")
    p.add_argument("--bert", default="bert-base-uncased")
    p.add_argument("--device", default="cuda")
    p.add_argument("--max-words", type=int, default=30)
    a = p.parse_args()
    import numpy as np
    import torch
    from transformers import AutoTokenizer, BertModel, BlipForConditionalGeneration, BlipProcessor

    device = a.device if (a.device == "cpu" or torch.cuda.is_available()) else "cpu"
    images = list(frames(a.video, a.fps))
    if not images:
        raise SystemExit("diffbgm_captions: no frames decoded from %s" % a.video)
    processor = BlipProcessor.from_pretrained(a.blip)
    blip = BlipForConditionalGeneration.from_pretrained(a.blip).to(device).eval()
    tokenizer = AutoTokenizer.from_pretrained(a.bert)
    bert = BertModel.from_pretrained(a.bert).to(device).eval()
    feats, captions = [], []
    with torch.no_grad():
        for img in images:
            inputs = processor(images=img, return_tensors="pt").to(device)
            ids = blip.generate(**inputs, max_new_tokens=a.max_words)
            caption = processor.decode(ids[0], skip_special_tokens=True).strip()
            captions.append(caption)
            enc = tokenizer(caption or ".", return_tensors="pt", truncation=True, max_length=64).to(device)
            feats.append(bert(**enc).last_hidden_state[0, 0].float().cpu().numpy())
    np.save(a.out, np.stack(feats).astype(np.float32))
    with open(a.out + ".txt", "w") as fh:
        fh.write("\n".join(captions) + "\n")
    print("captions:", len(captions), "->", a.out)


if __name__ == "__main__":
    main()
