#!/usr/bin/env bash
# What an idle sandbox holds in the kernel beyond its own objects.  Every v1
# memory cgroup gets a slot for each superblock mounted on the host (the
# memcg-aware shrinkers' map, 1 KiB per 64, and its size only grows until
# reboot), so with thousands of sandboxes their memory groups and their
# superblocks multiply: an idle sandbox has one memory group (its init and
# its exec handlers' draining stay in it, in their own groups elsewhere),
# and mounts one tmpfs for /dev with /dev/shm (a nodev mount of a directory
# of it, still 64 MiB and writable) and the masked /proc directories (binds
# of an empty directory of it, removed): four superblocks in its mount table
# (the root's overlay, /dev, /dev/pts and /proc), none for the masks.
source "$(dirname "$0")/../lib/integration.sh"
it_init

id=$(create_sb)
remember_id "$id"

# the groups: init and io in every hierarchy but v1's memory
if [[ $(cg_version) == 1 ]]; then
  mem=$(cg_dir "$id" memory)
  [[ -d $mem ]] || fail "no memory group for $id"
  kids=$(find "$mem" -mindepth 1 -maxdepth 1 -type d -printf '%f ')
  [[ -z $kids ]] || fail "the idle sandbox has memory groups below its own: $kids"
  pids=$(cg_dir "$id" pids)
  [[ -d $pids/init && -d $pids/io ]] || fail "no init and io groups in the pids hierarchy"
  sup=$(sb_info "$id" 'j["supervisor"]')
  init=$(ps --ppid "$sup" -o pid=,comm= | awk '$2 == "init" { print $1 }')
  [[ -n $init ]] || fail "no init below supervisor $sup"
  grep -q ":memory:/islet/$id\$" /proc/"$init"/cgroup \
    || fail "the init is not in the sandbox's memory group: $(grep memory /proc/"$init"/cgroup)"
  grep -q ":pids:/islet/$id/init\$" /proc/"$init"/cgroup \
    || fail "the init is not in its pids group: $(grep pids /proc/"$init"/cgroup)"
fi

# the superblocks: /dev/shm and the masked /proc directories on /dev's
out=$(islet exec "$id" -- sh -c '
  dev() { awk -v m="$1" "\$5 == m { print \$3 }" /proc/self/mountinfo; }
  echo "dev $(dev /dev) shm $(dev /dev/shm)"
  echo "masks $(for d in acpi scsi asound driver; do dev /proc/$d; done | sort -u | tr "\n" " ")"
  echo "own $(awk "{ for (i = 7; i < NF; i++) if (\$i == \"-\") break;
      if (\$(i + 1) ~ /^(overlay|tmpfs|devpts|proc|mqueue)\$/) print \$3 }" /proc/self/mountinfo | sort -u | wc -l)"
  mkdir /proc/acpi/x 2>/dev/null && echo "mask writable"
  awk "\$5 == \"/dev/shm\" { print \"shmopts\", \$6 }" /proc/self/mountinfo
  head -c 1048576 /dev/zero > /dev/shm/one && echo "shm written $(stat -c %s /dev/shm/one)"
  df -k /dev/shm | awk "NR == 2 { print \"shmsize\", \$2 }"
  touch /dev/x 2>/dev/null && echo "dev writable"
  true' </dev/null 2>&1) || fail "exec: $out"
log "$out"
read -r _ devsb _ shmsb <<<"$(grep '^dev ' <<<"$out")"
[[ -n $devsb && $devsb == "$shmsb" ]] || fail "/dev/shm is a superblock of its own: $out"
expect_eq "superblock of the masked /proc directories" "$(awk '$1 == "masks" { print $2, NF }' <<<"$out")" "$devsb 2"
expect_eq "superblocks of the sandbox's own mounts" "$(awk '$1 == "own" { print $2 }' <<<"$out")" 4
grep -q '^mask writable' <<<"$out" && fail "a masked /proc directory could be written"
grep -q '^shmopts .*nodev' <<<"$out" || fail "/dev/shm is not nodev: $out"
grep -q '^shm written 1048576$' <<<"$out" || fail "/dev/shm cannot be written: $out"
expect_eq "/dev/shm's size in KiB" "$(awk '$1 == "shmsize" { print $2 }' <<<"$out")" 65536
grep -q '^dev writable' <<<"$out" && fail "the sandbox could write in /dev"
pass
