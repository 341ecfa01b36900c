#!/usr/bin/env bash
# Installs Debian's Chromium for the Neo4j Browser test (tests/neo4j/test_browser.py).
# The test drives it with the Playwright Python package (the `dev` extra), pointed at
# /usr/bin/chromium: Playwright's own browser download (`playwright install`) is never
# used. Idempotent: does nothing when chromium is already there.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
# Debian's wrapper script prints a harmless "[: ...: unexpected operator" on some
# machines while it sizes its memory flags; only the version line matters.
chromium --version 2>/dev/null
