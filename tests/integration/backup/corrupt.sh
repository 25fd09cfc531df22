#!/usr/bin/env bash
# 100 corruptions injected into a chain of backups (a full one and two
# incrementals): bit flips and truncations of archives and manifests, and
# deleted archives. Each must make `hl-backup verify` fail (status 2) and
# name the damaged file; the undamaged store verifies before and after.
# Then the verification's consequences: a damaged backup is marked bad and
# the latest link moves off it; a restore from it writes nothing.
. "$(dirname "$0")/bklib.sh"
make_tree
ok bk create >/dev/null
echo one >"$W/src/main.c"
ok bk create >/dev/null
echo two >"$W/src/deep/er/file"
rm "$W/blob.bin"
ok bk create >/dev/null
ids=($(bkj list | jq -r '.backups[].id'))
ok test "${#ids[@]}" = 3
tip=${ids[0]}
ok bk verify "$tip" >/dev/null
cp -a "$BD" "$T/pristine-store"
files=()
for id in "${ids[@]}"; do files+=("$id.tar.gz" "$id.manifest"); done

# flip BIT of byte OFFSET of FILE in place
flip() {
    local f=$1 off=$2 bit=$3 byte
    byte=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
    printf "\\x$(printf %02x $((byte ^ (1 << bit))))" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}

seed=12345
rnd() { seed=$(((seed * 1103515245 + 12345) % 2147483648)); echo $((seed % $1)); }
detected=0 named=0
for i in $(seq 1 100); do
    rm -rf "$BD"
    cp -a "$T/pristine-store" "$BD"
    f=${files[$(rnd ${#files[@]})]}
    size=$(stat -c %s "$BD/$f")
    case $((i % 10)) in
    0) what="deleted"
       # a deleted archive (a deleted manifest is the same: the chain lacks it)
       f=${f%.manifest}; f=${f%.tar.gz}.tar.gz
       rm "$BD/$f" ;;
    1|3|5|7|9) off=$(rnd "$size"); bit=$(rnd 8); what="bit $bit of byte $off flipped"
       flip "$BD/$f" "$off" "$bit" ;;
    *) len=$(rnd "$size"); what="cut to $len of $size bytes"
       truncate -s "$len" "$BD/$f" ;;
    esac
    out=$(bk verify "$tip" 2>&1)
    rc=$?
    if [ "$rc" = 2 ]; then
        detected=$((detected + 1))
        if grep -qF "$f" <<<"$out"; then
            named=$((named + 1))
        else
            echo "corruption $i ($f: $what): detected, but the file is not named: $out" >&2
        fi
    else
        echo "corruption $i ($f: $what): NOT detected (status $rc): $out" >&2
    fi
done
ok test "$detected" = 100
ok test "$named" = 100
echo "corruptions: $detected of 100 detected, $named named the file"

# The store as it was verifies: the loop proves nothing if it always fails.
rm -rf "$BD"
cp -a "$T/pristine-store" "$BD"
ok bk verify "$tip" >/dev/null

# A damaged middle archive: the tip is marked bad, the latest link goes to
# the newest backup whose chain is whole (the full one), and a restore of
# the tip writes nothing.
mid=${ids[1]}
flip "$BD/$mid.tar.gz" 100 3
ok rc_is 2 bk verify "$tip"
ok test -e "$BD/$tip.bad" -a -e "$BD/$mid.bad"
ok test "$(readlink "$BD/hl-state-latest.tar.gz")" = "${ids[2]}.tar.gz"
ok jqok --arg t "$tip" '.backups[] | select(.id == $t) | .state == "bad"' <(bkj list)
ok rc_is 2 bk restore "$tip" --to "$T/nothing"
ok test ! -e "$T/nothing"
# The next backup builds on the newest good one, never on a bad one.
ok bkj create >"$T/c.json"
ok jqok --arg p "${ids[2]}" '.kind == "incremental" and .parent == $p' "$T/c.json"
ok bk verify latest >/dev/null
checks_done integration_backup_corrupt
