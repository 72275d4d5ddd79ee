#!/usr/bin/env bash
# What a user of an allow-list does with it: pip inside a sandbox installs
# a package from an index on the fake internet whose name is allowed (a
# PEP 503 "simple" index served by web A, holding a wheel this test makes),
# and cannot when the index's name is not in the list.  An allowed name
# opens only the addresses it resolved to: a request to another address
# that carries the allowed name in its Host header, or a TLS connection
# there whose server name is the allowed one, gets nowhere.
# Needs root.  Exit 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/integration/net_pip.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/netfake.sh"
it_init
nf_trap it_cleanup
nf_up
export ISLET_DNS=$NF_DNS # the upstream resolver of the supervisors this test starts
"$IT_PY" -c 'import pip' 2>/dev/null || skip "no pip on the host (scripts/install-deps installs python3-pip)"
command -v curl >/dev/null || skip "no curl"

# the index: /simple/islet-demo/ links to a wheel of one module
"$IT_PY" - "$NF_DIR/wwwA" <<'EOF' || fail "could not make the index"
import base64, hashlib, os, sys, zipfile
root = sys.argv[1]
name = "islet_demo-1.0-py3-none-any.whl"
files = {
    "islet_demo/__init__.py": "ANSWER = 'from the fake index'\n",
    "islet_demo-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: islet-demo\nVersion: 1.0\n",
    "islet_demo-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: islet-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = []
with zipfile.ZipFile(os.path.join(root, name), "w") as z:
    for path, text in files.items():
        data = text.encode()
        z.writestr(path, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append("islet_demo-1.0.dist-info/RECORD,,")
    z.writestr("islet_demo-1.0.dist-info/RECORD", "\n".join(record) + "\n")
os.makedirs(os.path.join(root, "simple", "islet-demo"))
with open(os.path.join(root, "simple", "islet-demo", "index.html"), "w") as f:
    f.write(f'<!DOCTYPE html><html><body><a href="../../{name}">{name}</a></body></html>\n')
EOF
wait_until 10 nf_ready || fail "the fake internet did not come up"

PIP='python3 -m pip install --no-cache-dir --disable-pip-version-check --no-input --retries 0 --timeout 5 --index-url http://a.test.example/simple/ --trusted-host a.test.example --target /workspace/lib islet-demo'
IMPORT='PYTHONPATH=/workspace/lib python3 -c "import islet_demo; print(islet_demo.ANSWER)"'

log "the index's name allowed: pip installs from it"
id=$(create_sb --network allow --allow a.test.example)
remember_id "$id"
xjson "$id" --timeout 120 -- sh -c "$PIP >/dev/null 2>/tmp/pip.err || { cat /tmp/pip.err; exit 1; }; $IMPORT"
expect_eq "pip install, then import (stderr: $(jget "$OUT" 'j["stderr"]'))" \
  "$(jget "$OUT" 'j["exit_code"]'):$(jget "$OUT" 'j["stdout"]')" '0:from the fake index'

log "an allowed name in a Host header or a TLS server name opens no other address"
xjson "$id" --timeout 60 -- sh -c '
  curl -s -m 5 -o /dev/null -w "%{http_code}" http://a.test.example/id; echo " allowed"
  curl -s -m 5 -o /dev/null -w "%{http_code}" -H "Host: a.test.example" http://'"$NF_WEB_B"'/id; echo " host $?"
  curl -s -m 5 -o /dev/null -w "%{http_code}" --resolve a.test.example:80:'"$NF_WEB_B"' http://a.test.example/id; echo " resolve $?"
  curl -s -m 5 -k -o /dev/null -w "%{http_code}" --connect-to a.test.example:443:'"$NF_WEB_B"':443 https://a.test.example/; echo " sni $?"'
log "from $id: $(jget "$OUT" 'j["stdout"]' | tr '\n' ';')"
lines=$(jget "$OUT" 'j["stdout"]')
grep -qx '200 allowed' <<<"$lines" || fail "the allowed name itself: $lines"
# curl's 28 is its own timeout: the packets went nowhere (7, refused,
# would mean they reached a stack behind the filter)
for what in host resolve sni; do
  grep -qx "000 $what 28" <<<"$lines" || fail "$what: $(grep " $what " <<<"$lines"), want a timeout"
done

log "the index's name not allowed: pip gets nothing, and asks no one"
other=$(create_sb --network allow --allow b.test.example)
remember_id "$other"
sleep 0.5
asked=$(grep -c 'a\.test\.example' "$NF_DNS_LOG")
xjson "$other" --timeout 120 -- sh -c "$PIP; echo status \$?; ls /workspace/lib 2>/dev/null | wc -l"
out=$(jget "$OUT" 'j["stdout"]')
grep -q '^status [1-9]' <<<"$out" || fail "pip without the index's name: $out"
[[ $(tail -1 <<<"$out") == 0 ]] || fail "pip without the index's name installed something: $out"
sleep 0.5
[[ $(grep -c 'a\.test\.example' "$NF_DNS_LOG") == "$asked" ]] \
  || fail "the second sandbox's query for a.test.example reached upstream: $(grep a.test.example "$NF_DNS_LOG" | tail -3)"

pass "pip installs from an allowed index only; a forged Host or server name reaches nothing"
