#!/usr/bin/env bash
# islet image build's instructions that only set the config, and SHELL:
# SHELL's argv runs every later shell-form RUN (and makes the shell-form
# CMD), EXPOSE, STOPSIGNAL and HEALTHCHECK are recorded as Docker records
# them (a sandbox has no port mapping, a stop ends every process at once,
# and nothing runs health checks); a
# base image with ONBUILD triggers is refused, not built without them.
# Needs root.  Exit 0 pass, 1 fail, 77 skip.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/image.sh"
it_init
trap it_cleanup EXIT
W=$STATE.work
mkdir -p "$W"
test_image example.test/cfgbase:1 >/dev/null

log "SHELL, EXPOSE, STOPSIGNAL, MAINTAINER, HEALTHCHECK"
cat >"$W/Dockerfile" <<'EOF'
FROM example.test/cfgbase:1
ARG P=9000
RUN echo "before:${SHELLED:-unset}" >/before
SHELL ["/bin/busybox", "env", "SHELLED=yes", "/bin/sh", "-c"]
RUN echo "after:$SHELLED" >/after
CMD echo "cmd:$SHELLED"
EXPOSE 8080 53/udp $P
STOPSIGNAL SIGINT
MAINTAINER someone <someone@example.test>
HEALTHCHECK --interval=1m --retries=2 CMD cat /after
EOF
capture islet image build -t example.test/cfg:1 -f "$W/Dockerfile"
[[ $RC == 0 ]] || fail "the build: $ERR"
sb=$(create_sb --image example.test/cfg:1)
remember_id "$sb"
xjson "$sb" -- cat /before /after
expect_eq "RUN before SHELL and after it" "$(jget "$OUT" 'j["stdout"]')" $'before:unset\nafter:yes'
capture islet run --image example.test/cfg:1
expect_eq "the shell-form CMD through SHELL" "$OUT" "cmd:yes"
capture islet image inspect --json example.test/cfg:1
expect_eq "ExposedPorts" "$(jget "$OUT" 'sorted(j["config"]["ExposedPorts"])')" '["53/udp", "8080/tcp", "9000/tcp"]'
expect_eq "StopSignal" "$(jget "$OUT" 'j["config"]["StopSignal"]')" SIGINT
expect_eq "Healthcheck" "$(jget "$OUT" 'j["config"]["Healthcheck"]')" \
  '{"Interval": 60000000000, "Retries": 2, "Test": ["CMD-SHELL", "cat /after"]}'
expect_eq "Shell" "$(jget "$OUT" 'j["config"]["Shell"][-1]')" -c

log "a build FROM it keeps its SHELL, as Docker's does"
printf 'FROM example.test/cfg:1\nRUN echo "derived:$SHELLED" >/derived\n' >"$W/Dockerfile.2"
capture islet image build -t example.test/cfg2:1 -f "$W/Dockerfile.2"
[[ $RC == 0 ]] || fail "the derived build: $ERR"
sb2=$(create_sb --image example.test/cfg2:1)
remember_id "$sb2"
xjson "$sb2" -- cat /derived
expect_eq "the base's SHELL" "$(jget "$OUT" 'j["stdout"]')" "derived:yes"

log "a base with ONBUILD triggers: refused"
cat >"$W/onbuild.json" <<JSON
{"format":"oci","compress":"gzip","name":"example.test/onbuild:1",
 "config":{"Env":["PATH=/bin"],"OnBuild":["RUN echo triggered >/t"]},
 "layers":[[{"name":"bin","type":"dir"},{"name":"bin/busybox","src":"/bin/busybox","mode":493},
   {"name":"bin/sh","type":"symlink","target":"busybox"}]]}
JSON
"$IT_PY" "$(dirname "$0")/../lib/mkimage.py" "$W/onbuild.json" "$W/oci" >/dev/null || fail "mkimage"
islet image import "$W/oci" >/dev/null || fail "import the ONBUILD image"
printf 'FROM example.test/onbuild:1\nRUN true\n' >"$W/Dockerfile.3"
capture islet image build -f "$W/Dockerfile.3"
[[ $RC != 0 && "$ERR" == *"line 1: FROM \`example.test/onbuild:1\`: the image has ONBUILD triggers (RUN echo triggered >/t...), which islet does not run"* ]] \
  || fail "FROM an image with ONBUILD: $RC $ERR"
pass
