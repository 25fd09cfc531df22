#!/usr/bin/env bash
# hl-backup killed with SIGKILL (with its tar, as systemd kills a unit's
# cgroup) while writing the archive, and again while verifying it:
#   - nothing it leaves is taken for a backup (not listed, not latest, not
#     a parent), and the latest backup is untouched;
#   - while it runs, another run is refused (status 75) naming its pid;
#   - the next run needs no manual step: it takes the lock at once, says
#     whose it reclaimed, removes the leftovers and writes a verified backup;
#   - with --wait, a run waits for a live holder and gets the lock when it dies.
. "$(dirname "$0")/bklib.sh"
PAUSE_TAR=$(cd "$(dirname "$0")" && pwd)/tar-pause.sh
make_tree
head -c 24000000 /dev/urandom >"$W/large.bin"   # tar is still writing when stopped
ok bkj create >"$T/c1.json"
id1=$(jq -r .id "$T/c1.json")

only_backups() { # IDS...: the store lists exactly these, all verified
    local want got
    want=$(printf '%s\n' "$@" | sort)
    got=$(bkj list | jq -r '.backups[] | select(.state == "verified") | .id' | sort)
    [ "$want" = "$got" ] && [ "$(bkj list | jq '.backups | length')" = $# ]
}

for phase in create extract; do
    echo "changed before the $phase kill" >>"$W/src/main.c"
    head -c 24000000 /dev/urandom >"$W/large.bin"   # so that this run has much to write
    rm -f "$T/paused"
    BK_PAUSE=$phase BK_PAUSED=$T/paused setsid "$BK" --config /dev/null --dir "$BD" --path "$W" \
        --path "$S" --exclude "$S/cache" --tar "$PAUSE_TAR" create >"$T/killed.out" 2>&1 &
    victim=$!
    pids+=("$victim")
    ok wait_for 60 test -e "$T/paused"
    # Another run meanwhile: refused at once, naming the holder.
    ok rc_is 75 bk create
    bkj create >"$T/busy.json"
    ok jqok --argjson p "$victim" '.outcome == "busy" and .lock_owner.pid == $p' "$T/busy.json"
    kill -KILL -- "-$victim"
    wait "$victim" 2>/dev/null
    # What it left: temporary files, never a backup.
    ok test -n "$(ls -A "$BD" | grep -E '^\.hl-backup-.*\.(part|verify)$')"
    ok only_backups "$id1" ${id2:+"$id2"}
    ok test "$(readlink "$BD/hl-state-latest.tar.gz")" = "${id2:-$id1}.tar.gz"
    # The next run: no manual step.
    ok bkj create >"$T/next.json"
    ok jqok --argjson p "$victim" '.outcome == "ok" and .lock_reclaimed and .lock_owner.pid == $p' "$T/next.json"
    ok jqok '.cleaned | length >= 1 and all(.[]; test("^\\.hl-backup-.*\\.(part|verify)$"))' "$T/next.json"
    nid=$(jq -r .id "$T/next.json")
    ok test -z "$(ls -A "$BD" | grep -E '^\.hl-backup-')"
    ok test "$(readlink "$BD/hl-state-latest.tar.gz")" = "$nid.tar.gz"
    ok bk verify "$nid" >/dev/null
    ok bk restore "$nid" --to "$T/r-$phase" >/dev/null
    ok cmp "$W/src/main.c" "$T/r-$phase$W/src/main.c"
    [ "$phase" = create ] && id2=$nid
    [ "$phase" = extract ] && ok only_backups "$id1" "$id2" "$nid"
done
# --wait (the shutdown archive's): a run that waits for a live holder is
# refused when it keeps it, and gets the lock the moment the holder dies.
head -c 24000000 /dev/urandom >"$W/large.bin"
rm -f "$T/paused"
BK_PAUSE=create BK_PAUSED=$T/paused setsid "$BK" --config /dev/null --dir "$BD" --path "$W" \
    --path "$S" --exclude "$S/cache" --tar "$PAUSE_TAR" create >"$T/killed.out" 2>&1 &
victim=$!
pids+=("$victim")
ok wait_for 60 test -e "$T/paused"
ok rc_is 75 bk create --wait 300ms
bkj create --wait 120s >"$T/waiter.json" &
waiter=$!
kill -KILL -- "-$victim"
wait "$victim" 2>/dev/null
ok wait "$waiter"
ok jqok --argjson p "$victim" '.outcome == "ok" and .lock_reclaimed and .lock_owner.pid == $p' "$T/waiter.json"
ok rc_is 64 bk create --wait forever
checks_done integration_backup_kill
