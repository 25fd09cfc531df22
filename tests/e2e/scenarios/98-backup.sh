#!/usr/bin/env bash
# hl-backup under a real systemd: hl-backup.service, started as the timer
# starts it (its sandbox for real: root with four capabilities, the home
# read-only, only /var/backups/hl writable), takes a full then an incremental
# backup while the workspace is being written to, each verified and announced
# on the bus; the workspace damaged, `hlctl backup restore latest` puts it back
# as the manifest says; a run SIGKILLed by systemd (`systemctl kill`)
# mid-backup is followed by one that succeeds with no manual step; last,
# hl-backup.timer is enabled and waiting (15 minutes).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
e2e_scenario hl-backup.service

# A workspace of hluser's, with state beside it.
e2e_sh 'set -e; cd /home/hluser/workspace
  mkdir -p proj/src proj/.git/objects
  for i in $(seq 1 50); do echo "line $i" > proj/src/f$i.c; done
  head -c 2000000 /dev/urandom > proj/blob.bin
  ln -sf src/f1.c proj/link
  echo keep > proj/notes.txt
  chown -R hluser:hluser /home/hluser/workspace
  mkdir -p /var/lib/hl/e2e-backup && echo state > /var/lib/hl/e2e-backup/state.json'
tap=$(mktemp)
e2e_hlctl sub backup. test.e2e.backup >"$tap" 2>&1 &
tap_pid=$!
tap_ready() { e2e_hlctl pub test.e2e.backup x >/dev/null; grep -q test.e2e.backup "$tap"; }
e2e_ok wait_for 10 tap_ready

# 1. as the timer starts it
e2e_ok e2e_exec systemctl start hl-backup.service
e2e_ok test "$(e2e_prop hl-backup.service Result)" = success
list=$(e2e_hlctl --json backup list)
e2e_ok jq -e '(.backups | length) == 1 and .backups[0].state == "verified" and
  .backups[0].kind == "full" and .backups[0].reason == "timer" and .latest == .backups[0].id' <<<"$list"
id1=$(jq -r '.backups[0].id' <<<"$list")
e2e_ok e2e_exec grep -q '/home/hluser/workspace/proj/src/f7.c$' "/var/backups/hl/$id1.manifest"
e2e_ok e2e_exec grep -q '/var/lib/hl/e2e-backup/state.json$' "/var/backups/hl/$id1.manifest"
e2e_ok test "$(e2e_exec stat -c %a "/var/backups/hl/$id1.tar.gz")" = 600

# 2. while the workspace is written to
e2e_exec systemd-run --unit=e2e-writer --quiet -p User=hluser \
  bash -c 'i=0; while :; do i=$((i+1)); echo "edit $i" >> /home/hluser/workspace/proj/live.log; done'
e2e_ok e2e_exec sh -c 'echo changed > /home/hluser/workspace/proj/src/f3.c'
e2e_ok e2e_exec systemctl start hl-backup.service
e2e_ok test "$(e2e_prop hl-backup.service Result)" = success
e2e_exec systemctl stop e2e-writer.service
list=$(e2e_hlctl --json backup list)
id2=$(jq -r '.backups[0].id' <<<"$list")
e2e_ok jq -e --arg p "$id1" '.backups[0].kind == "incremental" and .backups[0].parent == $p and
  .backups[0].state == "verified" and .latest == .backups[0].id' <<<"$list"
e2e_ok e2e_hlctl backup verify latest
e2e_ok wait_for 10 grep -q '"backup.latest"' "$tap"
created=$(grep -c '"topic":"backup.created"' "$tap")
e2e_ok test "$created" = 2
# hl-metrics: the achieved RPO's timestamp (the latest's), the runs counted
metric() { e2e_exec curl -fsS http://127.0.0.1:8081/metrics | grep -Eq "$1"; }
e2e_ok wait_for 20 metric '^hl_backup_latest_timestamp_seconds [0-9]'
# (partial: the writer's file changed while it was read, as step 2 means it to)
e2e_ok wait_for 20 metric '^hl_backup_runs_total\{kind="incremental",outcome="(ok|partial)"\} 1$'

# 3. damage, restore in place, compare with the manifest (restore does) and by hand
sums_before=$(e2e_exec sh -c 'cd /home/hluser/workspace/proj && sha256sum src/f3.c src/f9.c blob.bin notes.txt')
e2e_sh 'cd /home/hluser/workspace/proj && rm -f blob.bin && echo garbage > src/f9.c && rm -rf .git && echo x > intruder'
e2e_ok e2e_hlctl --json backup restore latest >"$tap.restore"
e2e_ok jq -e '.outcome == "ok"' "$tap.restore"
e2e_ok test "$(e2e_exec sh -c 'cd /home/hluser/workspace/proj && sha256sum src/f3.c src/f9.c blob.bin notes.txt')" = "$sums_before"
e2e_ok e2e_exec test ! -e /home/hluser/workspace/proj/intruder
e2e_ok e2e_exec test -d /home/hluser/workspace/proj/.git/objects
e2e_ok test "$(e2e_exec stat -c %U /home/hluser/workspace/proj/blob.bin)" = hluser

# 4. killed by systemd mid-backup (SIGKILL to the whole unit), then the next run
e2e_sh 'head -c 60000000 /dev/urandom > /home/hluser/workspace/proj/big.bin'
e2e_exec systemctl start --no-block hl-backup.service
writing() { e2e_exec sh -c 'ls -A /var/backups/hl | grep -q "^\.hl-backup-.*\.part$"'; }
e2e_ok wait_for 30 writing
e2e_exec systemctl kill --signal=SIGKILL hl-backup.service
gone() { [ "$(e2e_exec systemctl is-active hl-backup.service)" != activating ]; }
e2e_ok wait_for 30 gone
e2e_ok test "$(e2e_hlctl --json backup list | jq -r .latest)" = "$id2"
e2e_exec systemctl reset-failed hl-backup.service 2>/dev/null
e2e_ok e2e_exec systemctl start hl-backup.service
e2e_ok test "$(e2e_prop hl-backup.service Result)" = success
reclaimed() { e2e_journal hl-backup.service -n 40 | grep -q 'reclaimed the lock of pid'; }
e2e_ok reclaimed
list=$(e2e_hlctl --json backup list)
e2e_ok jq -e '(.backups | length) == 3 and all(.backups[]; .state == "verified")' <<<"$list"
e2e_ok test -z "$(e2e_exec ls -A /var/backups/hl | grep '^\.hl-backup-')"
# the holder's record has its boot id (the sandbox can read one; under
# nspawn a unit with ProtectKernelTunables= sees the host's, the same for
# every run, which is what matters)
has_boot() { e2e_journal hl-backup.service -n 40 | grep -Eq 'reclaimed the lock of pid [0-9]+ \(boot [0-9a-f]{8},'; }
e2e_ok has_boot
kill "$tap_pid" 2>/dev/null; wait "$tap_pid" 2>/dev/null; rm -f "$tap" "$tap.restore"

# 5. the timer. Enabled last: its OnBootSec=5min has long passed in a
# container that ran the tier before us, so enabling it starts a run within
# its RandomizedDelaySec, which must not race the runs counted above (CI
# once saw the timer's run take the workspace before it was written).
# The e2e install enables services, sockets and targets; a package enables
# the timer too (its [Install]: timers.target), as here.
e2e_ok e2e_exec systemctl enable --now hl-backup.timer
e2e_ok test "$(e2e_exec systemctl is-enabled hl-backup.timer)" = enabled
e2e_ok e2e_is_active hl-backup.timer
e2e_ok test -n "$(e2e_prop hl-backup.timer NextElapseUSecMonotonic)"
e2e_exec systemctl disable --now hl-backup.timer
e2e_ok wait_for 60 gone   # a run the timer may have started ends before we do
