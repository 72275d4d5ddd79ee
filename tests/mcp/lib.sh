# shellcheck shell=bash
# Helpers of the MCP tests (run.sh, http.sh), sourced after
# tests/lib/integration.sh.

# mcp_npm_ci: the pinned SDK into tests/mcp/node_modules.  Without it the
# test fails, it does not skip.
mcp_npm_ci () {
  local tool
  for tool in node npm git; do
    command -v "$tool" >/dev/null || fail "needs $tool (scripts/install-deps installs it)"
  done
  log "npm ci in $HERE (node $(node --version), npm $(npm --version))"
  # the .js files check that the SDK they load is the version package.json pins
  (cd "$HERE" && timeout 600 npm ci --prefer-offline --no-audit --no-fund --loglevel=error) \
    || fail "npm ci failed: the mcp test needs @modelcontextprotocol/sdk from the npm registry (or npm's cache); is https://registry.npmjs.org reachable?"
}

# seed_repo: a bare git repository that every new sandbox of $STATE sees at
# /srv/seed.git (one commit, README "seed"), for create_sandbox's git_repo:
# the sandboxes have no network, so a repository they can clone must come
# with their image.  It goes into the host image's lower directory of this
# test's own state directory (built first by one `islet run`).  Prints the
# commit's hash.
seed_repo () {
  local img work
  islet run -- true >/dev/null || fail "islet run (to build the image)"
  img=$(ls -d "$STATE"/images/host-* 2>/dev/null | head -1)
  [[ -d "$img" ]] || fail "no host image under $STATE/images"
  mkdir -p "$img/srv"
  git init -q --bare -b main "$img/srv/seed.git" || fail "git init --bare"
  work=$(mktemp -d "$STATE.seed.XXXXXX")
  git -C "$work" init -q -b main
  printf 'seed\n' >"$work/README"
  git -C "$work" add README
  git -C "$work" -c user.name=seed -c user.email=seed@localhost commit -q -m seed \
    || fail "git commit (seed)"
  git -C "$work" push -q "$img/srv/seed.git" main || fail "git push (seed)"
  git -C "$work" rev-parse HEAD
  rm -rf "$work"
}
