#!/usr/bin/env bash
# Daytona's volumes on isletd: a key's volumes are its own (another key's
# is 404 by id and by name, and a create that mounts one is refused), the
# per-key quota of volumes (`isletd key create --max-volumes
# --max-volume-disk`, --default-max-*) answers 429 naming the bound and
# frees up when a volume goes, a volume's size limit holds inside the
# sandbox that mounts it, and a delete is refused (409, naming the
# sandbox) while a sandbox mounts it.
# Needs root.  Exit 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_volumes.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

SRV_ARGS=(--default-max-volumes 5)
srv_init

J=(-H 'Content-Type: application/json')

log "== a key's own quota: 2 volumes, 64 MiB"
capture isletd_cmd key create --name vols --max-volumes 2 --max-volume-disk 64
expect_eq "key create with a volume quota" "$RC" 0
Q=$OUT
capture isletd_cmd key list --json
expect_eq "its quota in key list --json" \
  "$(jq -c '.[] | select(.name == "vols") | [.max_volumes, .max_volume_mb]' <<<"$OUT")" "[2,64]"
capture isletd_cmd key list
grep -A1 ' vols$' <<<"$OUT" | grep -q '^ *quota: volumes 2, volume disk 64 MiB$' \
  || fail "key list shows no volume quota: $OUT"

api -k "$Q" POST /api/volumes "${J[@]}" -d '{"name": "a", "sizeMb": 48}'
expect_code "a first volume within the quota" 200
expect_body "ready, with its size" '.state == "ready" and .name == "a" and .islet.sizeMb == 48'
VA=$(jq -r .id <<<"$BODY")
api -k "$Q" POST /api/volumes "${J[@]}" -d '{"name": "b", "sizeMb": 32}'
expect_error "volume disk over the quota" 429
expect_body "names the volume disk quota" '.message | test("64 MiB of volumes")'
api -k "$Q" POST /api/volumes "${J[@]}" -d '{"name": "b", "sizeMb": 16}'
expect_code "a second volume within the quota" 200
VB=$(jq -r .id <<<"$BODY")
api -k "$Q" POST /api/volumes "${J[@]}" -d '{"name": "c", "sizeMb": 1}'
expect_error "a third volume" 429
expect_body "names the count" '.message | test("quota of 2 volumes")'
api -k "$Q" POST /api/volumes "${J[@]}" -d '{"name": "a"}'
expect_error "a name taken" 409
api -k "$Q" POST /api/volumes "${J[@]}" -d '{"name": "z", "size": 3}'
expect_error "an unknown field" 400
expect_body "names it" '.message | startswith("size ")'

log "== another key sees none of them"
api GET "/api/volumes/$VA"
expect_error "another key's volume by id" 404
api GET /api/volumes/by-name/a
expect_error "another key's volume by name" 404
api DELETE "/api/volumes/$VA"
expect_error "another key's delete" 404
api POST /api/sandbox "${J[@]}" -d "{\"volumes\": [{\"volumeId\": \"$VA\", \"mountPath\": \"/data\"}]}"
expect_error "another key's volume in a create" 400
expect_body "says it is not the key's" '.message | test("no volume")'
api GET /api/volumes
expect_code "the admin key's list" 200
expect_body "is empty" 'length == 0'
api -k "$Q" GET /api/volumes
expect_body "the key's list" '[.[].name] == ["a", "b"]'

log "== mounted: the size limit holds inside, and a delete is refused"
api -k "$Q" POST /api/sandbox "${J[@]}" -d "{\"volumes\": [{\"volumeId\": \"$VA\", \"mountPath\": \"/data\"}]}"
expect_code "create with the volume" 200
S=$(jq -r .id <<<"$BODY"); remember_id "$S"
T="/toolbox/$S"
SRV_KEY=$Q sh_in 'dd if=/dev/zero of=/data/big bs=1M count=100 2>&1 | grep -i -e quota -e space; stat -c %s /data/big'
[[ "$OUT" == *"Disk quota exceeded"* || "$OUT" == *"No space left"* ]] || fail "100 MiB into a 48 MiB volume: $OUT"
(( $(tail -n1 <<<"$OUT") <= 48 << 20 )) || fail "more than 48 MiB written: $OUT"
api -k "$Q" DELETE "/api/volumes/$VA"
expect_error "delete while mounted" 409
expect_body "names the sandbox" ".message | test(\"$S\")"
api -k "$Q" POST "/api/sandbox/$S/stop"
expect_code "stop" 200
api -k "$Q" DELETE "/api/volumes/$VA"
expect_error "delete while a stopped sandbox mounts it" 409
api -k "$Q" DELETE "/api/sandbox/$S"
expect_code "delete the sandbox" 200

log "== deleted once free; its share of the quota comes back"
api -k "$Q" DELETE "/api/volumes/$VA"
expect_code "delete" 200
api -k "$Q" GET "/api/volumes/$VA"
expect_error "after delete" 404
[[ ! -e "$STATE/pool/vol-$VA" ]] || fail "the subvolume of $VA is still there"
api -k "$Q" POST /api/volumes "${J[@]}" -d '{"name": "c", "sizeMb": 48}'
expect_code "a volume again within the quota" 200
api -k "$Q" DELETE "/api/volumes/$VB"
expect_code "delete b" 200
pass
