#!/usr/bin/env bash
# Installs what the browser tests of channels/webchat need: Debian's
# Chromium, and axe-core from npm into the folder the tests look in
# ($XDG_CACHE_HOME or ~/.cache, then cityline-test). Nothing is committed.
# Safe to run again: it installs only what is missing.
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
chromium --version 2>/dev/null | grep -i chromium || { echo "chromium did not install"; exit 1; }

cache="${XDG_CACHE_HOME:-$HOME/.cache}/cityline-test"
if [ ! -f "$cache/node_modules/axe-core/axe.min.js" ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "installing axe-core into $cache"
    mkdir -p "$cache"
    npm install --prefix "$cache" --no-save --no-audit --no-fund --loglevel=error axe-core@4
  else
    echo "npm not found: the accessibility check will be skipped"
  fi
fi
if [ -f "$cache/node_modules/axe-core/axe.min.js" ]; then
  echo "axe-core $(node -p "require('$cache/node_modules/axe-core/package.json').version" 2>/dev/null || echo '?') at $cache"
fi
