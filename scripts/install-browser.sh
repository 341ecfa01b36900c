#!/usr/bin/env bash
# Installs Debian's Chromium and the Playwright driver used by the Neo4j Browser test.
# Browsers come from Debian's packages only: Playwright's own browser download is not used.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
chromium --version
