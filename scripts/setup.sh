#!/usr/bin/env bash
# Set up (or refresh) the project's virtual environment: system packages, torch, the project.
#   bash scripts/setup.sh [VENV_DIR]        (default .venv)
# Idempotent: a venv whose stamp matches the dependency files only gets the project re-linked.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-.venv}"
PYTHON="${PYTHON:-python3}"

# --- system packages: FluidSynth + the FluidR3_GM soundfont render the toy dataset (DESIGN.md §8)
SF2=/usr/share/sounds/sf2/FluidR3_GM.sf2
if [ ! -f "$SF2" ] || ! ldconfig -p | grep -q libfluidsynth; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing fluidsynth + fluid-soundfont-gm (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fluidsynth fluid-soundfont-gm >/dev/null
  else
    echo "setup: FluidSynth and the FluidR3_GM soundfont are needed for the toy dataset." >&2
    echo "       run: sudo apt-get install fluidsynth fluid-soundfont-gm   (then re-run this)" >&2
    exit 1
  fi
fi

# --- torch family (README, "Why this torch"): installed first so no dependency pulls another build
case "$(uname -m)" in
  x86_64) TORCH="torch==2.14.1 torchvision==0.29.1" ;;
  aarch64|arm64) TORCH="torch==2.9.1 torchvision==0.24.1" ;;
  *) TORCH="torch torchvision" ;;
esac
STAMP_KEY=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
STAMP="$VENV/.bench-setup-$STAMP_KEY"

if [ ! -f "$STAMP" ]; then
  echo "setup: building $VENV ($TORCH)"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip setuptools wheel
  "$VENV/bin/pip" install -q $TORCH
  "$VENV/bin/pip" install -q -e ".[test,separation]"
  # without their dependency pins: basic-pitch's TensorFlow (its ONNX model runs on onnxruntime),
  # imagebind-unofficial's torchaudio/decord (only its model code is used); what they need is above
  "$VENV/bin/pip" install -q --no-deps basic-pitch==0.4.0 imagebind-unofficial==0.1.1
  touch "$STAMP"
else
  # same dependencies: only (re)link this checkout, e.g. a fresh clone reusing a cached venv
  "$VENV/bin/pip" install -q --no-deps --no-build-isolation -e .
fi
echo "setup: ready ($VENV)"
