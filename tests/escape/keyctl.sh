#!/usr/bin/env bash
# Escape class: the kernel keyring.  Keys are not namespaced by pid or mount
# namespaces, and the keyring code has a history of exploitable bugs: keyctl,
# add_key and request_key must all fail inside, though they work on this
# kernel (checked on the host first), and no key made inside may appear in
# the host's /proc/keys.
set -euo pipefail
# shellcheck source=../lib/escape.sh
. "$(dirname "$0")/../lib/escape.sh"
esc_init
esc_need_x86_64

KEYNAME=islet-esc-$(esc_token)
probe="
KEYCTL_GET_KEYRING_ID, KEYCTL_JOIN_SESSION_KEYRING, KEYCTL_DESCRIBE, KEYCTL_READ = 0, 1, 6, 11
SESSION, USER, PROCESS = -3, -4, -2
payload = b'secret'
"
host=$(esc_host_py "$probe
r, e = sc('keyctl', KEYCTL_GET_KEYRING_ID, USER, 0)
print('host keyctl:', r, ename(e) if r < 0 else 'ok')
")
grep -q 'host keyctl: .* ok' <<<"$host" || esc_skip "keyctl does not work on this host either: $host"

ID=$(esc_create)
out=$(esc_py "$ID" "$probe
must_fail('keyctl GET_KEYRING_ID user', sc('keyctl', KEYCTL_GET_KEYRING_ID, USER, 0))
must_fail('keyctl GET_KEYRING_ID session', sc('keyctl', KEYCTL_GET_KEYRING_ID, SESSION, 1))
must_fail('keyctl JOIN_SESSION_KEYRING', sc('keyctl', KEYCTL_JOIN_SESSION_KEYRING, '$KEYNAME', 0))
must_fail('keyctl DESCRIBE user keyring', sc('keyctl', KEYCTL_DESCRIBE, USER, ctypes.create_string_buffer(256), 256))
must_fail('add_key user', sc('add_key', 'user', '$KEYNAME', payload, len(payload), USER))
must_fail('add_key keyring', sc('add_key', 'keyring', '$KEYNAME', None, 0, PROCESS))
must_fail('request_key user', sc('request_key', 'user', '$KEYNAME', None, 0))
must_fail('request_key with callout', sc('request_key', 'user', '$KEYNAME', 'callout-info', 0))
try:
    keys = open('/proc/keys').read()
    if keys:
        escaped('/proc/keys lists keys: %r' % keys[:200])
except OSError as x:
    held('/proc/keys: %s' % ename(x.errno))
done()
")
esc_attack_verdict "$out" "keyring calls"
! grep -qF "$KEYNAME" /proc/keys || esc_fail "the host keyring has $KEYNAME"
esc_pass "keyctl, add_key and request_key fail inside"
