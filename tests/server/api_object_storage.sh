#!/usr/bin/env bash
# Object storage for build contexts (Image.addLocalFile, addLocalDir): the
# credentials of GET /api/object-storage/push-access sign S3 requests
# (AWS Signature V4, made here by curl's own --aws-sigv4) under
# /object-storage/, whose bodies go to disk as they come; a request signed with another secret, a body that is not
# the signed one, a forged access key, a revoked key's credentials, a key
# that is not a plain name and a body past the key's disk quota (once its
# idle objects made room) are refused and leave nothing; each key sees and
# builds from only its own
# objects; a context tar with a device node, a `.wh.` name or a name that
# climbs out fails the build, and nothing lands outside; isletd killed in
# the middle of a body leaves nothing of it.
# Needs root.  Exit 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_object_storage.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"
source "$(dirname "$0")/../lib/image.sh"

srv_init
test_image example.test/ctx:1 >/dev/null
W=$(mktemp -d "$STATE.w.XXXXXX")
B=islet-build-contexts

# creds KEY: push-access of KEY into AK, SK, ORG
creds () {
  api -k "$1" GET /api/object-storage/push-access
  expect_code "push-access" 200
  expect_body "push-access has the SDK's fields" \
    '(.accessKey|length>0) and (.secret|length==64) and .bucket == "'$B'" and (.storageUrl|endswith("/object-storage")) and (.organizationId|startswith("key-")) and .region == "islet" and .sessionToken == ""'
  AK=$(jq -r .accessKey <<<"$BODY"); SK=$(jq -r .secret <<<"$BODY"); ORG=$(jq -r .organizationId <<<"$BODY")
}

# s3 METHOD PATH [FILE [HASH]]: a signed request (FILE the body, HASH the
# x-amz-content-sha256 it claims; the file's own by default); status in
# CODE, the answer in BODY.
s3 () {
  local method=$1 path=$2 file=${3:-/dev/null} hash=${4:-} f
  [[ -n "$hash" ]] || hash=$(sha256sum "$file" | cut -d' ' -f1)
  f=$(mktemp "$STATE.s3.XXXXXX")
  # a refusal comes before the body is read (and the connection is then
  # closed): curl waits for it, as the SDK does, however loaded the machine
  CODE=$(curl -s -o "$f" -w '%{http_code}' --max-time 60 --expect100-timeout 30 --path-as-is -X "$method" \
    --aws-sigv4 "aws:amz:islet:s3" --user "$AK:$SK" -H "x-amz-content-sha256: $hash" -H "Expect: 100-continue" \
    --data-binary "@$file" -H "Content-Type: application/octet-stream" "$SRV_URL/object-storage$path") || CODE=000
  BODY=$(cat "$f"); rm -f "$f"
}
expect_s3_error () {
  [[ "$CODE" == "$2" ]] || fail "$1: status $CODE, want $2; body: ${BODY:0:400}"
  grep -q "<Code>$3</Code>" <<<"$BODY" || fail "$1: want S3 error $3; body: ${BODY:0:400}"
}
objects_of () { find "$STATE/objects/$1" -type f 2>/dev/null | sort; }

log "== push-access needs the API key"
api -k "" GET /api/object-storage/push-access
expect_code "push-access without a key" 401

log "== a signed PutObject is kept as it was sent, and listed"
creds "$SRV_KEY"; K1_AK=$AK; K1_SK=$SK; K1_ORG=$ORG
K1=${ORG#key-}
printf 'hello context\n' >"$W/small"
s3 PUT "/$B/$ORG/abc123/context.tar" "$W/small"
[[ "$CODE" == 200 ]] || fail "PutObject: $CODE $BODY"
cmp "$W/small" "$STATE/objects/$K1/data/$ORG/abc123/context.tar" || fail "the object is not the body"
api GET /api/audit
expect_body "the upload is in the audit log" \
  "[.items[] | select(.action == \"object-storage.put\")][0].result == \"ok: $ORG/abc123/context.tar\""
s3 GET "/$B?list-type=2&max-keys=1&prefix=$ORG%2Fabc123%2F"
[[ "$CODE" == 200 ]] || fail "ListObjectsV2: $CODE $BODY"
grep -q "<KeyCount>1</KeyCount><MaxKeys>1</MaxKeys>.*<Key>$ORG/abc123/context.tar</Key><Size>14</Size>" <<<"$BODY" \
  || fail "the list does not show the object: $BODY"
s3 GET "/$B?list-type=2&prefix=$ORG%2Fnone%2F"
grep -q "<KeyCount>0</KeyCount>" <<<"$BODY" || fail "an empty prefix lists something: $BODY"
# a body goes to disk as it comes, never whole in isletd's memory
head -c $((96 << 20)) /dev/urandom >"$W/96m"
hwm () { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$SRV_PID/status"; }
m0=$(hwm)
s3 PUT "/$B/$ORG/large/context.tar" "$W/96m"
[[ "$CODE" == 200 ]] || fail "a 96 MiB PutObject: $CODE $BODY"
m1=$(hwm)
log "isletd's peak memory: $m0 kB before a 96 MiB body, $m1 kB after"
(( m1 - m0 < 16 * 1024 )) || fail "isletd's peak memory grew by $(( m1 - m0 )) kB for a 96 MiB body"
cmp "$W/96m" "$STATE/objects/$K1/data/$ORG/large/context.tar" || fail "the 96 MiB object is not its body"
rm -f "$W/96m" "$STATE/objects/$K1/data/$ORG/large/context.tar"
before=$(objects_of "$K1")

log "== a wrong signature, a changed body, a forged access key: refused, nothing kept"
SK=${K1_SK%?}0; [[ "$SK" == "$K1_SK" ]] && SK=${K1_SK%?}1
s3 PUT "/$B/$ORG/wrong/context.tar" "$W/small"
expect_s3_error "signed with another secret" 403 SignatureDoesNotMatch
SK=$K1_SK
s3 PUT "/$B/$ORG/changed/context.tar" "$W/small" "$(printf 'other' | sha256sum | cut -d' ' -f1)"
expect_s3_error "a body that is not the signed one" 400 XAmzContentSHA256Mismatch
s3 PUT "/$B/$ORG/unsigned/context.tar" "$W/small" UNSIGNED-PAYLOAD
expect_s3_error "an unsigned payload" 400 InvalidRequest
s3 PUT "/$B/$ORG/../../../escape" "$W/small"
expect_s3_error "a key that climbs out" 400 InvalidArgument
s3 PUT "/$B/$ORG/%2e%2e/%2e%2e/escape" "$W/small"
expect_s3_error "an encoded key that climbs out" 400 InvalidArgument
s3 PUT "/other-bucket/$ORG/x/context.tar" "$W/small"
expect_s3_error "another bucket" 404 NoSuchBucket
CODE=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary "@$W/small" "$SRV_URL/object-storage/$B/$ORG/anon/context.tar")
[[ "$CODE" == 403 ]] || fail "an unsigned request: $CODE"
[[ "$(objects_of "$K1")" == "$before" ]] || fail "a refused request left files: $(objects_of "$K1")"
[[ ! -e "$STATE/escape" && ! -e "$STATE/objects/escape" ]] || fail "a key climbed out"

log "== another key: its own space only"
K2KEY=$(new_key other)
creds "$K2KEY"; K2_AK=$AK; K2_SK=$SK
K2=${ORG#key-}
[[ "$K2" != "$K1" ]] || fail "both keys have organization $ORG"
s3 GET "/$B?list-type=2&prefix=$K1_ORG%2F"
grep -q "<KeyCount>0</KeyCount>" <<<"$BODY" || fail "key 2 lists key 1's objects: $BODY"
printf 'from key 2\n' >"$W/k2"
s3 PUT "/$B/$K1_ORG/abc123/context.tar" "$W/k2"
[[ "$CODE" == 200 ]] || fail "key 2's PutObject: $CODE $BODY"
cmp "$W/small" "$STATE/objects/$K1/data/$K1_ORG/abc123/context.tar" || fail "key 2 changed key 1's object"
# an access key naming key 1, signed with key 2's secret
AK="ISLET-$K1-${K2_AK#ISLET-$K2-}"
s3 GET "/$B?list-type=2&prefix=$K1_ORG%2F"
expect_s3_error "a forged access key" 403 SignatureDoesNotMatch
# key 2 builds with key 1's hash: its own object of that name is not at
# key 1's organization, and key 1's is not its
api -k "$K2KEY" POST /api/sandbox -d '{"buildInfo":{"dockerfileContent":"FROM example.test/ctx:1\nCOPY x /x\n","contextHashes":["abc123"]}}'
expect_error "a build with another key's context" 400
expect_body "it says so" '.message | test("no context abc123 was uploaded by this key")'
AK=$K2_AK; SK=$K2_SK
isletd_cmd key revoke "$K2" >/dev/null || fail "key revoke"
s3 GET "/$B?list-type=2&prefix=x"
expect_s3_error "a revoked key's credentials" 403 InvalidAccessKeyId
[[ ! -e "$STATE/objects/$K2" ]] || fail "a revoked key's objects were kept"
[[ -e "$STATE/objects/$K1/data/$K1_ORG/abc123/context.tar" ]] || fail "revoking key 2 dropped key 1's objects"

log "== the key's disk quota bounds its objects"
capture isletd_cmd key create --name tiny --max-disk 1
expect_eq "key create with 1 MiB of disk" "$RC" 0
TINY=$OUT
creds "$TINY"; T=${ORG#key-}
head -c 700000 /dev/urandom >"$W/700k"
head -c 2000000 /dev/urandom >"$W/2m"
s3 PUT "/$B/$ORG/big/context.tar" "$W/2m"
expect_s3_error "an object past the quota" 403 QuotaExceeded
s3 PUT "/$B/$ORG/a/context.tar" "$W/700k"
[[ "$CODE" == 200 ]] || fail "an object within the quota: $CODE $BODY"
s3 PUT "/$B/$ORG/b/context.tar" "$W/700k"
expect_s3_error "a second object past the quota" 403 QuotaExceeded
# an object idle for an hour makes room for a new one (the SDK uploads it
# again if it asks for it later)
touch -d '1 hour ago' "$STATE/objects/$T/data/$ORG/a/context.tar"
s3 PUT "/$B/$ORG/b/context.tar" "$W/700k"
[[ "$CODE" == 200 ]] || fail "an object in the room of an idle one: $CODE $BODY"
[[ ! -e "$STATE/objects/$T/data/$ORG/a" ]] || fail "the idle object was not dropped"
cmp "$W/700k" "$STATE/objects/$T/data/$ORG/b/context.tar" || fail "the new object is not its body"
s3 POST "/$B/$ORG/m/context.tar?uploads="
[[ "$CODE" == 200 ]] || fail "CreateMultipartUpload: $CODE $BODY"
UP=$(sed -n 's|.*<UploadId>\([0-9a-f]*\)</UploadId>.*|\1|p' <<<"$BODY")
s3 PUT "/$B/$ORG/m/context.tar?partNumber=1&uploadId=$UP" "$W/700k"
expect_s3_error "a part past the quota" 403 QuotaExceeded
s3 DELETE "/$B/$ORG/m/context.tar?uploadId=$UP"
[[ "$CODE" == 204 ]] || fail "AbortMultipartUpload: $CODE $BODY"
[[ $(objects_of "$T" | wc -l) == 1 ]] || fail "refused bodies left files: $(objects_of "$T")"

log "== hostile context tars fail the build (build_failed, the reason) and write nothing outside"
AK=$K1_AK; SK=$K1_SK
"$IT_PY" - "$W" <<'EOF'
import io, sys, tarfile
w = sys.argv[1]
def tar(name, members):
    with tarfile.open(f"{w}/{name}", "w", format=tarfile.GNU_FORMAT) as t:
        for info, data in members:
            t.addfile(info, io.BytesIO(data) if data is not None else None)
def f(name, data=b"x\n"):
    i = tarfile.TarInfo(name); i.size = len(data); return (i, data)
def fifo(name):
    i = tarfile.TarInfo(name); i.type = tarfile.FIFOTYPE; return (i, None)
def link(name, target):
    i = tarfile.TarInfo(name); i.type = tarfile.SYMTYPE; i.linkname = target; return (i, None)
tar("dotdot.tar", [f("ok"), f("../../../../../../tmp/islet-ctx-escape")])
tar("fifo.tar", [f("ok"), fifo("pipe")])
tar("wh.tar", [f("ok"), f("dir/.wh.gone")])
tar("symlink.tar", [f("ok"), link("out", "/tmp"), f("out/islet-ctx-escape2")])
EOF
rm -f /tmp/islet-ctx-escape /tmp/islet-ctx-escape2
declare -A why=([dotdot]='goes outside|\\.\\.' [fifo]='neither a file, a directory nor a link'
  [wh]='names starting with .wh.' [symlink]='symlink|Cannot extract through')
declare -A hx=([dotdot]=d0 [fifo]=f0 [wh]=e0 [symlink]=50)
for t in dotdot fifo wh symlink; do
  s3 PUT "/$B/$K1_ORG/${hx[$t]}/context.tar" "$W/$t.tar"
  [[ "$CODE" == 200 ]] || fail "PutObject $t: $CODE $BODY"
  api POST /api/sandbox -d '{"buildInfo":{"dockerfileContent":"FROM example.test/ctx:1\nCOPY ok /ok\n","contextHashes":["'${hx[$t]}'"]}}'
  expect_code "a build from $t.tar (answered at once)" 200
  bad=$(jq -r .id <<<"$BODY")
  wait_sandbox "$bad" build_failed
  log "$t.tar: $(jq -r .errorReason <<<"$BODY")"
  expect_body "$t.tar: the reason says why" ".errorReason | test(\"${why[$t]}\")"
  expect_body "$t.tar: the reason names the hash, not the server's files" \
    ".errorReason | test(\"context .${hx[$t]}.: \") and (test(\"$STATE\") | not)"
  api DELETE "/api/sandbox/$bad"
  expect_code "delete the build_failed sandbox of $t.tar" 200
done
[[ ! -e /tmp/islet-ctx-escape && ! -e /tmp/islet-ctx-escape2 ]] || fail "a context tar wrote outside"
[[ -z "$(find "$STATE/images/build" -maxdepth 1 -name 'ctx-*' 2>/dev/null)" ]] \
  || fail "failed builds left context directories: $(ls "$STATE/images/build")"

log "== a context hash that was never uploaded"
api POST /api/sandbox -d '{"buildInfo":{"dockerfileContent":"FROM example.test/ctx:1\n","contextHashes":["0123abcd"]}}'
expect_error "an unknown context" 400
expect_body "it names it" '.message | test("^buildInfo.contextHashes: no context 0123abcd was uploaded by this key")'
api POST /api/sandbox -d '{"buildInfo":{"dockerfileContent":"FROM example.test/ctx:1\n","contextHashes":["../x"]}}'
expect_error "a hash that is not one" 400
[[ $(islet ls --json | jq '.sandboxes | length') == 0 ]] || fail "a refused create left a sandbox: $(islet ls)"

log "== isletd killed in the middle of a body: nothing of it is left"
AK=$K1_AK; SK=$K1_SK
head -c 3000000 /dev/urandom >"$W/slow"
curl -s -o /dev/null --max-time 60 --limit-rate 200K -X PUT --aws-sigv4 "aws:amz:islet:s3" \
  --user "$AK:$SK" -H "x-amz-content-sha256: $(sha256sum "$W/slow" | cut -d' ' -f1)" \
  --data-binary "@$W/slow" "$SRV_URL/object-storage/$B/$K1_ORG/slow/context.tar" &
cpid=$!
for (( i = 0; i < 100; i++ )); do
  ls -l "/proc/$SRV_PID/fd" 2>/dev/null | grep -q "objects/$K1/.tmp/" && break
  sleep 0.1
done
(( i < 100 )) || fail "the body's file was not open within 10 s"
sleep 1
kill -KILL "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=
wait "$cpid" 2>/dev/null || true
[[ -z "$(find "$STATE/objects/$K1/.tmp" -mindepth 1)" ]] || fail "a killed body left $(ls -a "$STATE/objects/$K1/.tmp")"
[[ ! -e "$STATE/objects/$K1/data/$K1_ORG/slow" ]] || fail "a killed body was kept"
srv_start
# the credentials of before the restart are still good: nothing was stored for them
s3 GET "/$B?list-type=2&prefix=$K1_ORG%2Fslow%2F"
[[ "$CODE" == 200 ]] && grep -q "<KeyCount>0</KeyCount>" <<<"$BODY" \
  || fail "after the restart: $CODE $BODY"

pass
