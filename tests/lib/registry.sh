# shellcheck shell=bash disable=SC2034
# registry_start DIR: Debian's docker-registry on a free loopback port,
# its storage and logs under DIR; sets REG_PID and R (host:port).  The
# caller's exit trap kills REG_PID.  Sourced after tests/lib/integration.sh.
registry_start () {
  local dir=$1 port tool
  for tool in docker-registry skopeo; do
    command -v $tool >/dev/null || fail "needs $tool (scripts/install-deps installs it)"
  done
  mkdir -p "$dir/reg"
  port=$("$IT_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$dir/reg.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $dir/reg
http:
  addr: 127.0.0.1:$port
EOF
  docker-registry serve "$dir/reg.yml" >"$dir/reg.log" 2>&1 &
  REG_PID=$!
  wait_until 20 curl -sf "http://127.0.0.1:$port/v2/" -o /dev/null \
    || fail "the registry did not start: $(cat "$dir/reg.log")"
  R=127.0.0.1:$port
}
