#!/usr/bin/env bash
# isletd on a state directory with the default image: it says at start which
# image sandboxes that name none get; POST /v1/execute runs a numpy program
# there; a Daytona create with no snapshot is on the default image and one
# with `snapshot: "host"` on the host's /usr.  Without the image, isletd
# says it is missing and falls back to host.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"
source "$(dirname "$0")/../lib/default_image.sh"
it_init
trap srv_cleanup EXIT

j () { printf '%s' "$BODY" | jq -r "$1"; }

log "without the default image: isletd says so, and /v1/execute runs on host"
srv_start
grep -q "the default image localhost/islet-default:bookworm is not built (islet image build-default): sandboxes that name no image use \`host\`" "$STATE.srv.err" \
  || fail "isletd did not say the default image is missing: $(cat "$STATE.srv.err")"
# the default image has dpkg's database; the host image's generated skeleton has no /var/lib/dpkg
ON_DEFAULT='import os; print(os.path.exists(\"/var/lib/dpkg/status\"))'
api POST /v1/execute -d "{\"code\": \"$ON_DEFAULT\"}"
expect_code "execute on host" 200
expect_eq "/v1/execute before the build runs on host" "$(j .stdout)" False
api POST /api/sandbox -d '{"snapshot": "default"}'
expect_error "snapshot default before the build" 400
expect_body "the answer says how to build it" '.message | contains("islet image build-default")'
srv_stop

id=$(default_image)
srv_start
grep -q "sandboxes that name no image use localhost/islet-default:bookworm (${id:0:19})" "$STATE.srv.err" \
  || fail "isletd did not name the default image: $(cat "$STATE.srv.err")"

log "/v1/execute: a numpy program on the default image"
api POST /v1/execute -H 'Content-Type: application/json' -d '{
  "code": "import numpy as np, pandas as pd\na = np.array([[2.0, 1.0], [1.0, 3.0]])\nprint(np.linalg.solve(a, [3.0, 5.0]).round(6).tolist(), pd.Series([1, 2, 3]).sum())",
  "timeout": 120}'
expect_code "execute numpy" 200
expect_eq "status" "$(j .status)" completed
expect_eq "stdout" "$(j .stdout)" "[0.8, 1.4] 6"
api POST /v1/execute -d "{\"code\": \"$ON_DEFAULT\"}"
expect_eq "/v1/execute runs on the default image" "$(j .stdout)" True
api POST /v1/execute -d '{"code": "console.log([1, 2, 3].map(x => x * 14).pop())", "language": "javascript"}'
expect_code "execute javascript" 200
expect_eq "node on the default image" "$(j .stdout)" 42

log "Daytona: no snapshot is the default image, snapshot host is host"
api POST /api/sandbox -H 'Content-Type: application/json' -d '{}'
expect_code "create" 200
T=/toolbox/$(j .id)
sh_in 'echo import pandas >/tmp/p.py && python3 /tmp/p.py && echo pandas; test -e /var/lib/dpkg/status && echo default'
expect_eq "pandas in a Daytona sandbox that names no image" "$OUT" $'pandas\ndefault'
api POST /api/sandbox -H 'Content-Type: application/json' -d '{"snapshot": "host"}'
expect_code "create on host" 200
T=/toolbox/$(j .id)
sh_in 'test -e /var/lib/dpkg/status && echo default || echo host'
expect_eq "a Daytona sandbox of snapshot host" "$OUT" host

pass "isletd: the default image for /v1/execute and Daytona creates, host on request, said at start"
