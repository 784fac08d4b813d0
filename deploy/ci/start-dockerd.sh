#!/usr/bin/env bash
# Starts a private Docker engine for Cairn's tests and development (DESIGN.md section 6), and
# builds the tiny test image `cairn-test-busybox:latest`. Installs nothing: it needs Debian's
# docker.io (dockerd, docker) and busybox-static (/bin/busybox), and must run as root.
#
# Prints one line on stdout, `export DOCKER_HOST=unix:///...`, so callers do
#   eval "$(deploy/ci/start-dockerd.sh)"
# Everything else goes to stderr. If an engine already answers on the socket it is reused.
#
# Settings (environment):
#   CAIRN_DOCKER_DIR   data root and log (default /var/lib/cairn-docker)
#   CAIRN_DOCKER_RUN   exec root, socket and pid file (default /run/cairn-docker; keep it short:
#                      containerd's sockets live under it and unix socket paths are limited)
#   CAIRN_DOCKER_WAIT  seconds to wait for the engine (default 60)
set -euo pipefail

DIR="${CAIRN_DOCKER_DIR:-/var/lib/cairn-docker}"
RUN="${CAIRN_DOCKER_RUN:-/run/cairn-docker}"
WAIT="${CAIRN_DOCKER_WAIT:-60}"
SOCK="$RUN/docker.sock"
HOST="unix://$SOCK"
IMAGE="cairn-test-busybox:latest"

log() { printf 'start-dockerd: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

command -v dockerd >/dev/null || die "dockerd not found: apt-get install -y docker.io"
command -v docker >/dev/null || die "docker not found: apt-get install -y docker.io"
[ -x /bin/busybox ] || die "/bin/busybox not found: apt-get install -y busybox-static"
[ "$(id -u)" = 0 ] || die "dockerd must run as root"

engine_up() { docker -H "$HOST" info >/dev/null 2>&1; }

if engine_up; then
  log "reusing the engine already answering on $SOCK"
else
  mkdir -p "$DIR/data" "$RUN/exec"
  if [ -f "$RUN/dockerd.pid" ] && kill -0 "$(cat "$RUN/dockerd.pid")" 2>/dev/null; then
    log "dockerd (pid $(cat "$RUN/dockerd.pid")) is running but not answering yet; waiting"
  else
    rm -f "$RUN/dockerd.pid" "$SOCK"
    log "starting dockerd: data root $DIR/data, exec root $RUN/exec, socket $SOCK, log $DIR/dockerd.log"
    # setsid + nohup: the engine outlives this script and the CI step that started it.
    setsid nohup dockerd \
      --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
      --data-root "$DIR/data" --exec-root "$RUN/exec" \
      -H "$HOST" --pidfile "$RUN/dockerd.pid" \
      >>"$DIR/dockerd.log" 2>&1 </dev/null &
  fi
  for ((i = 0; i < WAIT * 2; i++)); do
    engine_up && break
    sleep 0.5
  done
  if ! engine_up; then
    log "the engine did not answer on $SOCK within ${WAIT}s; last lines of $DIR/dockerd.log:"
    tail -n 30 "$DIR/dockerd.log" >&2 || true
    exit 1
  fi
  log "engine up: $(docker -H "$HOST" version --format 'server {{.Server.Version}}, API {{.Server.APIVersion}}' 2>/dev/null || echo '?')"
fi

# ---- the test image: busybox-static and its applets, nothing else ----------------------------
if docker -H "$HOST" image inspect "$IMAGE" >/dev/null 2>&1; then
  log "image $IMAGE present"
else
  root="$(mktemp -d)"
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root/bin" "$root/tmp" "$root/data" "$root/etc"
  chmod 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  for applet in sh ash sleep cat echo dd ls mkdir rm cp mv touch date head tail wc sync \
    find stat md5sum sha256sum printf test true false kill ps env id sed grep tr seq chmod ln yes; do
    ln -s busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  tar -C "$root" -cf - . | docker -H "$HOST" import \
    --change 'ENV PATH=/bin' --change 'CMD ["/bin/sh"]' - "$IMAGE" >/dev/null
  log "built image $IMAGE"
fi

echo "export DOCKER_HOST=$HOST"
