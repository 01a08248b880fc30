#!/usr/bin/env bash
# System packages the test suite needs beyond the main setup: Debian's Chromium (real-browser tests of
# the HTML report and the rating form, driven by Playwright with executable_path=/usr/bin/chromium)
# and a PostgreSQL server (human-eval storage tests run on SQLite and PostgreSQL), and pdflatex with
# booktabs (the exported LaTeX tables are compiled).
#   bash scripts/test_deps.sh            installs what is missing (as root, with apt)
set -euo pipefail
need=()
command -v chromium >/dev/null || need+=(chromium)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
command -v pdflatex >/dev/null && kpsewhich booktabs.sty >/dev/null 2>&1 || need+=(texlive-latex-base texlive-latex-recommended)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "test_deps: installing ${need[*]} (apt)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "test_deps: the browser and PostgreSQL tests need: sudo apt-get install ${need[*]}" >&2
  exit 1
fi
