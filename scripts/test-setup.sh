#!/usr/bin/env bash
# Test prerequisites that pip cannot install: Debian's chromium (browser tests) and a running
# PostgreSQL. A PostgreSQL that cannot be reached fails the run; it is never skipped.
set -euo pipefail
# The browser tests run in Chromium's headless shell; the full browser where they need its PDF viewer.
if ! command -v chromium >/dev/null 2>&1 || [ ! -x /usr/lib/chromium/chromium-headless-shell ] \
   || ! fc-list :lang=ja 2>/dev/null | grep -q .; then
  echo "installing Debian's chromium, its headless shell and a Japanese font for the browser tests" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-headless-shell \
     fonts-ipafont-gothic >/dev/null) \
    || { echo "could not install chromium" >&2; exit 1; }
fi
# The printed 医療券/調剤券 (fujo/registry/printing.py) embed IPA Mincho; their tests read the PDFs back with
# poppler-utils (pdftotext, pdfinfo, pdffonts).
if [ ! -f /usr/share/fonts/opentype/ipafont-mincho/ipam.ttf ] || ! command -v pdftotext >/dev/null 2>&1; then
  echo "installing Debian's fonts-ipafont-mincho and poppler-utils for the printed tickets" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-ipafont-mincho poppler-utils >/dev/null) \
    || { echo "could not install fonts-ipafont-mincho / poppler-utils" >&2; exit 1; }
fi
# The benchmarks' smoke tests (tests/bench) drive the server with wrk, as `make bench` does.
if ! command -v wrk >/dev/null 2>&1; then
  echo "installing Debian's wrk for the benchmarks' smoke tests" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null) \
    || { echo "could not install wrk" >&2; exit 1; }
fi
PGURL="${FUJO_TEST_PG_URL:-postgresql://postgres@127.0.0.1:5432/test}"
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "PostgreSQL is down; starting it" >&2
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432 -q || { echo "PostgreSQL at 127.0.0.1:5432 is not reachable ($PGURL)" >&2; exit 1; }
