#!/usr/bin/env bash
# A build's RUN as root holds root's capabilities in its own user namespace
# (CHOWN, DAC_OVERRIDE, FOWNER, FSETID, SETUID, SETGID, SETFCAP; docs/SECURITY.md):
# on the default image a RUN adds a user (useradd), gives a directory away
# (chown), sets a setuid bit, switches to the user (su, setpriv) and writes
# as it; a sandbox from the image sees those owners and modes.  A RUN as a
# USER other than root has none.  The same capabilities reach nothing of the
# host's: a chown or chmod of a file whose owner the sandbox does not map
# (/dev, its nodes, /dev/shm: made by host root), a mount, a device node, an id past the sandbox's range
# and a trusted.* xattr all fail inside the RUN, and the image's lower layer
# on the host keeps its owner and mode after a RUN changed the file above it.
# A RUN's user.* xattrs (on a file and a directory) and a file capability
# are in its layer and in a sandbox from the image; an overlay xattr is not.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/default_image.sh"
it_init
W=$STATE.work
mkdir -p "$W"
default_image >/dev/null

cat >"$W/Dockerfile" <<'EOF'
FROM localhost/islet-default:bookworm
RUN useradd -m -u 1234 -s /bin/sh alice && mkdir -p /srv/data && chown alice:alice /srv/data \
 && cp /bin/true /usr/local/bin/suid-true && chmod u+s /usr/local/bin/suid-true \
 && su alice -c 'id -u >/srv/data/by-su && touch /srv/data/alice-file' \
 && setpriv --reuid=1234 --regid=1234 --clear-groups sh -c 'id -u >/tmp/by-setpriv' \
 && chown 1234:1234 /tmp/by-setpriv && chown 4321 /usr/bin/env && chmod 4711 /usr/bin/env
RUN mkdir /x && echo data >/x/file && cp /bin/true /x/captrue \
 && python3 -c "import os, struct; os.setxattr('/x/file', 'user.color', b'blue'); os.setxattr('/x', 'user.dir', b'yes'); os.setxattr('/x/captrue', 'security.capability', struct.pack('<5I', 0x02000001, 1 << 10, 0, 0, 0))"
USER alice
RUN if chown 0 /srv/data/alice-file 2>/dev/null; then echo alice-could-chown; fi; id -u >/srv/data/as-user
EOF

log "a build whose RUN adds a user, chowns, sets a setuid bit and switches users"
capture islet image build -t example.test/caps:1 -f "$W/Dockerfile" "$W"
[[ $RC == 0 ]] || fail "the build failed: $ERR"
sb=$(create_sb --image example.test/caps:1); remember_id "$sb"
xjson "$sb" -- sh -c 'getent passwd alice | cut -d: -f1,3,6; stat -c "%n %u:%g %a" /home/alice /srv/data /srv/data/alice-file /usr/local/bin/suid-true /tmp/by-setpriv /usr/bin/env; cat /srv/data/by-su /tmp/by-setpriv /srv/data/as-user'
expect_eq "owners and modes the RUN made, seen in a sandbox from the image" "$(jget "$OUT" 'j["stdout"]')" \
  $'alice:1234:/home/alice\n/home/alice 1234:1234 755\n/srv/data 1234:1234 755\n/srv/data/alice-file 1234:1234 644\n/usr/local/bin/suid-true 0:0 4755\n/tmp/by-setpriv 1234:1234 644\n/usr/bin/env 4321:0 4711\n1234\n1234\n1234'
expect_eq "the RUN as USER alice had no capability" "$(jget "$OUT" 'j["stderr"]')" ""
xjson "$sb" -- python3 -c "import os; print(os.getxattr('/x/file', 'user.color'), os.getxattr('/x', 'user.dir'), os.getxattr('/x/captrue', 'security.capability').hex(), [n for n in os.listxattr('/x') if not n.startswith('user.')])"
expect_eq "a RUN's xattrs and file capability (version 2: the image's root), no overlay xattr" \
  "$(jget "$OUT" 'j["stdout"]')" "b'blue' b'yes' 0100000200040000000000000000000000000000 []"

log "the host's copy of /usr/bin/env, in the default image's layer, is unchanged"
base=$(jget "$(islet image inspect --json localhost/islet-default:bookworm)" 'j["layers"][0]')
f="$STATE/images/layers/${base#sha256:}/usr/bin/env"
[[ -e "$f" ]] || fail "no $f on the host"
expect_eq "owner and mode of $f" "$(stat -c '%u:%g %a' "$f")" "0:0 755"

log "what the capabilities do not reach"
mounts_before=$(my_mounts | wc -l)
cat >"$W/Escape" <<'EOF'
FROM localhost/islet-default:bookworm
RUN for t in "chown 1000 /dev/null" "chmod 600 /dev/null" "chown 1000 /dev/shm" "chmod 700 /dev" \
      "mount -t tmpfs none /mnt" "mknod /tmp/sda b 8 0" "mknod /tmp/mem c 1 1" \
      "setpriv --reuid=70000 --regid=70000 --clear-groups true" "unshare -m true" \
      "python3 -c __import__('os').setxattr('/etc/hostname','trusted.overlay.opaque',b'y')"; do \
      if $t 2>/dev/null; then echo "ESCAPED: $t"; else echo "refused: $t"; fi; done >/escape.txt; cat /escape.txt
EOF
capture islet image build -t example.test/escape:1 -f "$W/Escape" "$W"
[[ $RC == 0 ]] || fail "the escape build failed: $ERR"
[[ "$ERR" == *"refused: chown 1000 /dev/null"* ]] || fail "the escape RUN's output is missing: $ERR"
! grep -q '^ESCAPED' <<<"$ERR" || fail "a RUN reached past its namespace: $(grep '^ESCAPED' <<<"$ERR")"
expect_eq "refusals" "$(grep -c '^refused: ' <<<"$ERR")" 10
[[ "$ERR" == *"refused: python3"* ]] || fail "the trusted.* xattr was not tried: $ERR"
expect_eq "host mounts after the RUN" "$(my_mounts | wc -l)" "$mounts_before"
expect_eq "the host's /dev/null" "$(stat -c '%u:%g %a %t,%T' /dev/null)" "0:0 666 1,3"
[[ ! -e /escape.txt && ! -e /tmp/sda && ! -e /tmp/mem ]] || fail "a RUN wrote on the host"
pass
