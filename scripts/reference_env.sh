#!/usr/bin/env bash
# Build (once) the side environment that runs the reference metrics, audioldm_eval 0.0.3, for the
# parity check (tests/metrics/test_parity.py, scripts/reference_eval.py). Prints its path on the
# last line of stdout; build logs go to stderr.
#
#   bash scripts/reference_env.sh            -> ~/.cache/dyvim-bench/refenv-<key>
#   BENCH_REFENV_DIR=/some/dir bash scripts/reference_env.sh
#
# <key> hashes this script (which holds the full pinned requirement list below) and the Python
# version, so a changed pin gives a new environment and CI can cache the folder by its name.
# An environment whose stamp holds the current key is reused as is (idempotent); a concurrent
# second build waits on a lock. Older refenv-* folders beside the default location are pruned
# after a successful build (BENCH_REFENV_KEEP_OLD=1 keeps them).
#
# Why these pins (DESIGN.md §8, "Running it offline took"):
# - torch 2.13.0: pip takes the CPU build from this machine kind's disk (/opt/wheels); no CUDA.
# - torchaudio, audioldm_eval and ssr-eval go in with --no-deps: every PyPI torchaudio pins another
#   torch and links CUDA libraries, and ssr-eval declares `wave`, which pulls MySQL-python and fails
#   to build. torchaudio is needed only for `import torchaudio` and `functional.resample` (pure
#   Python): its native libraries (torchaudio/lib/*.so) are removed so the import works beside the
#   CPU torch. torchaudio.load is replaced by a soundfile loader in reference_eval.py.
# - librosa 0.9.2: audioldm_eval calls librosa.filters.mel positionally (removed in 0.10), and
#   librosa 0.9 imports pkg_resources, hence setuptools < 81.
# - resampy and soundfile: imported by audioldm_eval's FAD and the torchvggish hub code, undeclared.
# - The rest is the transitive closure pip resolved for these on 2026-11-25, pinned so the
#   reference's numerics (numpy, scipy's sqrtm, numba/resampy) never drift under the golden values.
set -euo pipefail
SCRIPT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
PYTHON="${PYTHON:-python3}"

# ---- pinned requirements: resolved with dependencies (pip checks they are consistent) ----------
REQS_RESOLVED=$(cat <<'EOF'
torch==2.13.0
filelock==4.2.12
fsspec==2026.9.0
Jinja2==3.1.6
MarkupSafe==3.0.4
mpmath==1.3.0
networkx==3.6.1
sympy==1.14.0
typing_extensions==4.16.0
numpy==2.4.6
scipy==1.17.1
librosa==0.9.2
setuptools==80.10.2
audioread==3.1.0
decorator==5.3.1
joblib==1.6.0
cloudpickle==3.1.3
numba==0.68.1
llvmlite==0.50.0
packaging==26.3
pooch==1.9.0
platformdirs==4.14.8
requests==2.34.2
certifi==2026.10.19.post1
charset-normalizer==3.5.2
idna==3.20
urllib3==2.8.0
resampy==0.4.3
scikit-learn==1.9.1
narwhals==2.29.0
threadpoolctl==3.8.0
soundfile==0.14.0
cffi==2.1.1
pycparser==3.12
scikit-image==0.26.0
ImageIO==2.38.1
lazy-loader==0.6
pillow==13.0.0
tifffile==2026.3.3
torchlibrosa==0.1.0
absl-py==2.5.1
tqdm==4.70.1
EOF
)
# ---- pinned requirements installed without their declared dependencies (see above) -------------
REQS_NODEPS=$(cat <<'EOF'
audioldm_eval==0.0.3
ssr-eval==0.0.7
torchaudio==2.11.0
EOF
)
PIP_VERSION=24.3.1

PYVER=$("$PYTHON" -c 'import platform, sys; print(sys.version.split()[0], platform.machine())')
KEY=$( { cat "$SCRIPT"; echo "$PYVER"; } | sha256sum | cut -c1-16)
DEFAULT_ROOT="$HOME/.cache/dyvim-bench"
ENV_DIR="${BENCH_REFENV_DIR:-$DEFAULT_ROOT/refenv-$KEY}"
STAMP="$ENV_DIR/.refenv-key"

ready() { [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$KEY" ] && [ -x "$ENV_DIR/bin/python" ]; }

if ! ready; then
  mkdir -p "$(dirname "$ENV_DIR")"
  exec 9>"$ENV_DIR.lock"
  flock 9                                   # one builder at a time; the others then reuse it
  if ! ready; then
    echo "reference_env: building $ENV_DIR (key $KEY, $PYVER)" >&2
    start=$(date +%s)
    rm -rf "$ENV_DIR"
    "$PYTHON" -m venv "$ENV_DIR"
    PY="$ENV_DIR/bin/python"
    LOG="$ENV_DIR/build.log"
    run() {  # quiet pip; its log is shown only if it fails
      if ! "$@" >>"$LOG" 2>&1; then
        echo "reference_env: failed: $*" >&2; tail -n 40 "$LOG" >&2; exit 1
      fi
    }
    run "$PY" -m pip install --no-input --upgrade "pip==$PIP_VERSION"
    printf '%s\n' "$REQS_RESOLVED" >"$ENV_DIR/requirements-resolved.txt"
    printf '%s\n' "$REQS_NODEPS" >"$ENV_DIR/requirements-nodeps.txt"
    run "$PY" -m pip install --no-input -r "$ENV_DIR/requirements-resolved.txt"
    run "$PY" -m pip install --no-input --no-deps -r "$ENV_DIR/requirements-nodeps.txt"
    rm -f "$ENV_DIR"/lib/python*/site-packages/torchaudio/lib/*.so
    # smoke test: the reference imports and torchaudio's resampler runs on the CPU torch
    run "$PY" -W ignore -c 'import torch, torchaudio, librosa, resampy, soundfile
import audioldm_eval
from audioldm_eval import EvaluationHelper
assert torch.__version__.startswith("2.13.0"), torch.__version__
assert torchaudio.functional.resample(torch.ones(1, 320), 32000, 16000).shape == (1, 160)'
    "$PY" -m pip freeze --all >"$ENV_DIR/freeze.txt" 2>/dev/null
    echo "$KEY" >"$STAMP"
    echo "reference_env: built in $(( $(date +%s) - start )) s ($(du -sh "$ENV_DIR" | cut -f1))" >&2
    if [ -z "${BENCH_REFENV_DIR:-}" ] && [ "${BENCH_REFENV_KEEP_OLD:-0}" != 1 ]; then
      find "$DEFAULT_ROOT" -maxdepth 1 -name 'refenv-*' ! -name "refenv-$KEY" ! -name "refenv-$KEY.lock" \
        -exec rm -rf {} + 2>/dev/null || true
    fi
  fi
  flock -u 9
fi
echo "$ENV_DIR"
