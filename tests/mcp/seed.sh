# shellcheck shell=bash
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
