#!/usr/bin/env bash
# Open-file limit: every process of a sandbox has RLIMIT_NOFILE 1024 (soft
# and hard), so opening 2000 files fails with EMFILE a little before 1024 (the
# three standard streams are open already), and the sandbox cannot raise it.
# --nofile changes it.
source "$(dirname "$0")/../lib/integration.sh"
it_init

# Open COUNT files; print "opened N ERRNO".  One write: the sandbox's
# python is unbuffered (PYTHONUNBUFFERED=1), and print would write each
# word on its own, which two processes sharing stdout then interleave.
OPENS='
import errno, os, sys
fds, why = [], "none"
try:
    for i in range(int(sys.argv[1])):
        fds.append(os.open("/dev/null", os.O_RDONLY))
except OSError as e:
    why = errno.errorcode.get(e.errno, str(e.errno))
os.write(1, ("opened %d %s\n" % (len(fds), why)).encode())'

id=$(create_sb)
remember_id "$id"
expect_eq "info: limits.nofile (default)" "$(sb_info "$id" 'j["limits"]["nofile"]')" 1024

log "open 2000 files under the default limit"
xjson "$id" -- python3 -c "$OPENS" 2000
read -r _ opened why <<<"$(jget "$OUT" 'j["stdout"]')"
log "opened $opened files, then $why"
expect_eq "errno past the limit" "$why" EMFILE
expect_range "files opened before EMFILE" "$opened" 1000 1021

log "soft and hard limits inside"
xjson "$id" -- sh -c 'ulimit -Sn; ulimit -Hn'
expect_eq "ulimit -Sn / -Hn" "$(jget "$OUT" '" ".join(j["stdout"].split())')" "1024 1024"

log "the sandbox cannot raise its limit"
xjson "$id" -- sh -c 'ulimit -n 4096 && echo raised'
[[ "$(jget "$OUT" 'j["stdout"]')" != *raised* ]] || fail "ulimit -n 4096 succeeded inside the sandbox"
xjson "$id" -- python3 -c '
import resource
try:
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    print("raised")
except (ValueError, OSError) as e:
    print("refused")'
expect_eq "setrlimit(NOFILE, 4096)" "$(jget "$OUT" 'j["stdout"]')" refused

log "each process has its own 1024: two processes open about 2 x 1021"
xjson "$id" -- sh -c "python3 -c '$OPENS' 2000 & python3 -c '$OPENS' 2000; wait"
total=$(jget "$OUT" 'sum(int(l.split()[1]) for l in j["stdout"].splitlines())')
expect_range "files opened by two processes" "$total" 2000 2042

log "--nofile 100"
small=$(create_sb --nofile 100)
remember_id "$small"
xjson "$small" -- python3 -c "$OPENS" 2000
read -r _ opened why <<<"$(jget "$OUT" 'j["stdout"]')"
expect_eq "--nofile 100: errno" "$why" EMFILE
expect_range "--nofile 100: files opened" "$opened" 80 97

pass
