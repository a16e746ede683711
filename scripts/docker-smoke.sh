#!/usr/bin/env bash
# Build both Docker images with podman and prove the socks-server image serves real clients.
# Not part of `npm test` (a fresh run takes a few minutes). Run as root from anywhere:
#   bash scripts/docker-smoke.sh            # KEEP=1 keeps the images (and containers.conf)
#
# It follows docs/packaging.md ("Building and testing the images"): podman + runc, a Debian base image made locally with
# debootstrap, and a node:20-bookworm-slim stand-in built from the host's Node (no registry is
# reachable here). Then it
#   1. builds both targets of docker/Dockerfile unchanged;
#   2. checks the redsocks-ts image: -v, and -t on the shipped conf/redsocks.conf;
#   3. runs the socks-server image with the shipped conf/danted.conf and a temporary password
#      file, in a network namespace of its own: conf/danted.conf blocks loopback and private
#      destinations, so the test web server lives on a public-looking address (203.0.113.80)
#      there, next to an `eth0` for danted.conf's `external: eth0`;
#   4. curls through it (--socks5-hostname user:pass@127.0.0.1:1080), and checks that a wrong
#      password, a loopback destination and `localhost` are refused, that the listener is
#      MPTCP, that SIGHUP reloads and that SIGTERM exits 0;
# and removes everything it made: containers, images, the namespace, temporary files, and
# /etc/containers/containers.conf if it created it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
START=$(date +%s)
[ "$(id -u)" = 0 ] || { echo "docker-smoke: run as root" >&2; exit 1; }

TAG=smoke$$
NS=h-smoke-$$
WORK=$(mktemp -d /tmp/docker-smoke.XXXXXX)
SOCKS_IMG=localhost/socks-server:$TAG
REDSOCKS_IMG=localhost/redsocks-ts:$TAG
BASE_IMG=localhost/debian:bookworm-local
NODE_IMG=docker.io/library/node:20-bookworm-slim
made_conf=0
made_base=0
made_node=0
http_pid=

step() { printf '\n== %s (%ds)\n' "$*" $(($(date +%s) - START)); }
fail() { echo "docker-smoke: FAIL: $*" >&2; exit 1; }

cleanup() {
  local rc=$?
  set +e
  step "cleanup"
  podman rm -f -t 2 "socks-$TAG" >/dev/null 2>&1
  [ -n "$http_pid" ] && kill "$http_pid" 2>/dev/null
  ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  if [ "${KEEP:-0}" != 1 ]; then
    podman rmi -f "$SOCKS_IMG" "$REDSOCKS_IMG" >/dev/null 2>&1
    [ $made_node = 1 ] && podman rmi -f "$NODE_IMG" >/dev/null 2>&1
    [ $made_base = 1 ] && podman rmi -f docker.io/library/debian:bookworm-slim "$BASE_IMG" >/dev/null 2>&1
    # The build stages of this run are left dangling: remove them.
    podman image prune -f >/dev/null 2>&1
    [ $made_conf = 1 ] && rm -f /etc/containers/containers.conf
  fi
  rm -rf "$WORK"
  echo "docker-smoke: $([ $rc = 0 ] && echo PASS || echo FAIL) after $(($(date +%s) - START)) s"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "packages"
need=()
for p in podman buildah debootstrap runc curl openssl python3 iproute2; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

step "podman defaults (runc, ulimits this sandbox accepts)"
if [ ! -e /etc/containers/containers.conf ]; then
  mkdir -p /etc/containers
  cat > /etc/containers/containers.conf <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
[engine]
runtime = "runc"
EOF
  made_conf=1
fi

step "Debian base image (debootstrap)"
if ! podman image exists "$BASE_IMG"; then
  MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  MIRROR=${MIRROR:-http://deb.debian.org/debian}
  debootstrap --variant=minbase bookworm "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log"; fail "debootstrap"; }
  tar -C "$WORK/rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$BASE_IMG" >/dev/null
  rm -rf "$WORK/rootfs"
  made_base=1
fi
podman image exists docker.io/library/debian:bookworm-slim || podman tag "$BASE_IMG" docker.io/library/debian:bookworm-slim

step "node:20-bookworm-slim stand-in (host Node, npm, headers, CA bundle)"
if ! podman image exists "$NODE_IMG"; then
  fs=$WORK/nodebase/fs
  mkdir -p "$fs/usr/bin" "$fs/usr/lib" "$fs/usr/include" "$fs/etc/ssl/certs"
  cp -a "$(command -v node)" "$fs/usr/bin/node"
  cp -a /usr/lib/node_modules "$fs/usr/lib/"
  # The official image ships Node's headers too, so node-gyp needs no download.
  [ -d /usr/include/node ] && cp -a /usr/include/node "$fs/usr/include/"
  # npm's global config: the host's (its CA file), plus nodedir=/usr so node-gyp uses the
  # headers above instead of downloading them from nodejs.org, which is unreachable here.
  mkdir -p "$fs/usr/etc"
  { [ -f /usr/etc/npmrc ] && cat /usr/etc/npmrc; echo "nodedir=/usr"; } > "$fs/usr/etc/npmrc"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$fs/usr/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$fs/usr/bin/npx"
  cp /etc/ssl/certs/ca-certificates.crt "$fs/etc/ssl/certs/"
  cat > "$WORK/nodebase/Dockerfile" <<EOF
FROM $BASE_IMG
COPY fs/ /
ENV NODE_VERSION=$(node -p 'process.versions.node') NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
CMD ["node"]
EOF
  podman build -q --pull=never -t "$NODE_IMG" "$WORK/nodebase" >/dev/null
  made_node=1
fi

step "build docker/Dockerfile --target socks-server"
podman build -q -f docker/Dockerfile --target socks-server -t "$SOCKS_IMG" . >"$WORK/build-socks.log" 2>&1 \
  || { tail -40 "$WORK/build-socks.log"; fail "socks-server image build"; }
step "build docker/Dockerfile --target redsocks-ts"
podman build -q -f docker/Dockerfile --target redsocks-ts -t "$REDSOCKS_IMG" . >"$WORK/build-redsocks.log" 2>&1 \
  || { tail -40 "$WORK/build-redsocks.log"; fail "redsocks-ts image build"; }
podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep ":$TAG"

step "redsocks-ts image: -v, -t on conf/redsocks.conf, mptcp-gateway --help"
podman run --rm "$REDSOCKS_IMG" -v | grep -q '^redsocks-ts/' || fail "redsocks-ts -v"
podman run --rm "$REDSOCKS_IMG" -t -c /etc/redsocks.conf || fail "redsocks-ts -t on the shipped config"
podman run --rm --entrypoint mptcp-gateway "$REDSOCKS_IMG" --help | grep -q 'mptcp-gateway setup' || fail "mptcp-gateway --help"
echo "ok"

step "network namespace with eth0 and a web server on 203.0.113.80"
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add eth0 type veth peer name peer0
ip -n "$NS" addr add 203.0.113.1/24 dev eth0
ip -n "$NS" addr add 203.0.113.80/24 dev peer0
ip -n "$NS" link set eth0 up
ip -n "$NS" link set peer0 up
mkdir -p "$WORK/www"
echo "hello through socks-server $TAG" > "$WORK/www/hello.txt"
ip netns exec "$NS" /usr/bin/python3 -m http.server --bind 203.0.113.80 --directory "$WORK/www" 8080 \
  >"$WORK/http.log" 2>&1 &
http_pid=$!

step "run the socks-server image: conf/danted.conf + a temporary password file"
printf 'smoke:%s\n' "$(openssl passwd -6 smoke-pass)" > "$WORK/passwd"
chmod 644 "$WORK/passwd"
podman run -d --name "socks-$TAG" --network "ns:/run/netns/$NS" \
  -v "$ROOT/conf/danted.conf:/etc/danted.conf:ro" \
  -v "$WORK/passwd:/etc/socks-server/passwd:ro" \
  "$SOCKS_IMG" >/dev/null
for _ in $(seq 100); do
  ip netns exec "$NS" ss -Hltn 'sport = :1080' | grep -q 1080 && break
  sleep 0.1
done
ip netns exec "$NS" ss -Hltn 'sport = :1080' | grep -q 1080 || { podman logs "socks-$TAG"; fail "no listener on :1080"; }
ip netns exec "$NS" ss -HMltn 'sport = :1080' | grep -q 1080 && echo "listener on :1080 is MPTCP" || fail "listener is not MPTCP"

step "curl through it"
curl_ns() { ip netns exec "$NS" curl -sS --max-time 10 "$@"; }
got=$(curl_ns --socks5-hostname smoke:smoke-pass@127.0.0.1:1080 http://203.0.113.80:8080/hello.txt)
[ "$got" = "hello through socks-server $TAG" ] || fail "expected the page, got: $got"
echo "socks5-hostname + password: $got"
got=$(curl_ns --socks5 smoke:smoke-pass@127.0.0.1:1080 http://203.0.113.80:8080/hello.txt)
[ "$got" = "hello through socks-server $TAG" ] || fail "socks5: got $got"
echo "socks5 + password: ok"
if curl_ns --socks5-hostname smoke:wrong@127.0.0.1:1080 http://203.0.113.80:8080/hello.txt 2>"$WORK/err"; then
  fail "a wrong password was accepted"
fi
echo "wrong password refused: $(head -c 120 "$WORK/err")"
if curl_ns --socks5-hostname smoke:smoke-pass@127.0.0.1:1080 http://127.0.0.1:1080/ 2>"$WORK/err"; then
  fail "a loopback destination was allowed"
fi
grep -q 'SOCKS5 connection to .*(2)' "$WORK/err" || { cat "$WORK/err"; fail "loopback: expected REP 2 (not allowed by ruleset)"; }
echo "loopback destination refused: $(head -c 120 "$WORK/err")"
if curl_ns --socks5-hostname smoke:smoke-pass@127.0.0.1:1080 http://localhost:8080/ 2>"$WORK/err"; then
  fail "localhost was allowed"
fi
grep -q 'SOCKS5 connection to .*(2)' "$WORK/err" || { cat "$WORK/err"; fail "localhost: expected REP 2 (not allowed by ruleset)"; }
echo "localhost by name refused: $(head -c 120 "$WORK/err")"

step "signals: SIGHUP reloads, SIGTERM drains and exits 0"
podman kill -s HUP "socks-$TAG" >/dev/null
for _ in $(seq 50); do podman logs "socks-$TAG" 2>&1 | grep -q 'reloaded' && break; sleep 0.1; done
podman logs "socks-$TAG" 2>&1 | grep -q 'reloaded' || { podman logs "socks-$TAG"; fail "no reload line after SIGHUP"; }
podman stop -t 15 "socks-$TAG" >/dev/null
code=$(podman inspect --format '{{.State.ExitCode}}' "socks-$TAG")
[ "$code" = 0 ] || { podman logs "socks-$TAG"; fail "exit code $code after SIGTERM"; }
echo "--- container log"
podman logs "socks-$TAG" 2>&1 | tail -12
