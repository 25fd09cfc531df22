#!/usr/bin/env bash
# hl-backup against its peers on one generated workspace, in one run (#19):
#   * `tar czf` of the same paths every round, as the spec's script does;
#   * GNU tar + gzip with --listed-incremental (what hl-backup drives: the
#     difference is hl-backup's own work, the manifest's SHA-256 of every
#     file, the verifying restore into a scratch directory, the atomic
#     publication);
#   * restic 0.14 (Debian's: deduplicating, encrypted, compressed).
# A full backup, then ten rounds of 1 % of the files changed (and a few
# added), each backed up by every tool; then the latest state restored into
# an empty directory by each (hl-backup checks it against its manifest; each
# restore is compared here with the workspace byte for byte, diff -r, so no
# figure is printed for a wrong one) and verified (hl-backup verify, restic
# check --read-data). Figures: wall and CPU seconds (user+sys, children
# included), bytes stored after the ten rounds.
#   HL_BENCH_BACKUP_FILES  small files (default 100000)
#   HL_BENCH_BACKUP_BLOB_MB  large binaries, MiB (default 200)
#   HL_BENCH_BACKUP_ROUNDS  rounds of 1 % changes (default 10)
# No wall time is asserted.
set -uo pipefail
: "${HL_BUILD_DIR:?}"
HLB=$HL_BUILD_DIR/daemons/hl-backup/hl-backup
command -v restic >/dev/null || { echo "SKIPPED: restic missing (apt-get install restic)"; exit 77; }
[ -x "$HLB" ] || { echo "no $HLB: build first"; exit 1; }
FILES=${HL_BENCH_BACKUP_FILES:-100000}
BLOB_MB=${HL_BENCH_BACKUP_BLOB_MB:-200}
ROUNDS=${HL_BENCH_BACKUP_ROUNDS:-10}
T=$(mktemp -d /var/tmp/hl-bench-backup.XXXXXX)
trap 'rm -rf "$T"' EXIT
W=$T/ws

# --- the workspace: a checkout (text, 0.5-6 KiB), a .git with as many small
# objects as a fifth of the files, and build outputs (8 MiB random binaries).
python3 - "$W" "$FILES" "$BLOB_MB" <<'PY'
import os, random, sys
root, files, blob_mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(42)
words = ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz_") for _ in range(rnd.randint(2, 12)))
         for _ in range(4000)]
objects = files // 5
for n in range(files - objects):
    d = os.path.join(root, "src", "m%03d" % (n // 300))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%06d.c" % n), "w") as f:
        f.write(" ".join(rnd.choice(words) for _ in range(rnd.randint(60, 800))))
for j in range(objects):
    d = os.path.join(root, ".git", "objects", "%02x" % (j % 256))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "%038x" % j), "wb") as f:
        f.write(os.urandom(rnd.randint(100, 3000)))
os.makedirs(os.path.join(root, "build"), exist_ok=True)
for i in range((blob_mb + 7) // 8):
    with open(os.path.join(root, "build", "blob%03d.o" % i), "wb") as f:
        f.write(os.urandom(8 << 20))
PY
files=$(find "$W" -type f | wc -l)
ws_bytes=$(du -sb "$W" | cut -f1)

# Round R's change: 1 % of the source files (a different 1 % each round), and
# five new ones.
change() {
  find "$W/src" -name '*.c' | sort | awk -v r="$1" 'NR % 100 == r' | while read -r f; do
    echo "// round $1" >>"$f"
  done
  mkdir -p "$W/src/new"
  for k in 1 2 3 4 5; do head -c 30000 /dev/urandom | base64 >"$W/src/new/r$1-$k.c"; done
}

# measure NAME CMD...: runs CMD, appends "wall cpu" (seconds) to $T/m.NAME
measure() {
  local name=$1; shift
  /usr/bin/time -f '%e %U %S' -o "$T/time" "$@" >"$T/out" 2>&1 || {
    echo "FAILED: $name: $*"; cat "$T/out"; exit 1; }
  awk '{ printf "%s %.2f\n", $1, $2 + $3 }' "$T/time" >>"$T/m.$name"
}
median() { sort -n "$T/m.$1" | awk '{ w[NR] = $1; c[NR] = $2 } END { m = int((NR + 1) / 2); printf "%s %s", w[m], c[m] }'; }
total() { awk '{ w += $1; c += $2 } END { printf "%.2f %.2f", w, c }' "$T/m.$1"; }
same() { diff -r --no-dereference "$W" "$1$W" >/dev/null || { echo "FAILED: $2 restored something else"; exit 1; }; }
bytes() { du -sb "$@" | awk '{ s += $1 } END { printf "%d\n", s }'; }

printf 'hl-backup:\n  dir: %s\n  keep: 100\n  max_age: 0\n' "$T/hl" >"$T/hl.yaml"
HL=("$HLB" --config "$T/hl.yaml" --path "$W")
export RESTIC_PASSWORD=bench RESTIC_CACHE_DIR=$T/restic-cache
restic -q -r "$T/restic" init >/dev/null
mkdir -p "$T/czf"

echo "workspace: $files files, $((ws_bytes >> 20)) MiB; a full backup, then $ROUNDS rounds of 1 % changes"
measure hl.full "${HL[@]}" create --full
measure czf.full tar -czf "$T/czf/r0.tar.gz" -C / "${W#/}"
measure tarinc.full tar --listed-incremental="$T/snar" -czf "$T/inc0.tar.gz" -C / "${W#/}"
measure restic.full restic -q -r "$T/restic" backup "$W"
for r in $(seq 1 "$ROUNDS"); do
  change "$r"
  measure hl.incr "${HL[@]}" create
  measure czf.incr tar -czf "$T/czf/r$r.tar.gz" -C / "${W#/}"
  measure tarinc.incr tar --listed-incremental="$T/snar" -czf "$T/inc$r.tar.gz" -C / "${W#/}"
  measure restic.incr restic -q -r "$T/restic" backup "$W"
done
hl_bytes=$(bytes "$T"/hl/hl-backup-*.tar.gz "$T"/hl/hl-backup-*.manifest "$T"/hl/hl-backup-*.snar)
czf_bytes=$(bytes "$T"/czf)
tarinc_bytes=$(bytes "$T"/inc*.tar.gz "$T/snar")
restic_bytes=$(bytes "$T/restic")

# --- restore the latest state, then verify -----------------------------------
sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
measure hl.restore "${HL[@]}" restore latest --to "$T/r.hl"
same "$T/r.hl" hl-backup
mkdir -p "$T/r.czf"
measure czf.restore tar -xzf "$T/czf/r$ROUNDS.tar.gz" -C "$T/r.czf"
same "$T/r.czf" "tar czf"
mkdir -p "$T/r.inc"
measure tarinc.restore sh -c "for r in \$(seq 0 $ROUNDS); do
  tar --listed-incremental=/dev/null -xzf '$T'/inc\$r.tar.gz -C '$T/r.inc' || exit 1; done"
same "$T/r.inc" "tar incremental"
measure restic.restore restic -q -r "$T/restic" restore latest --target "$T/r.restic"
same "$T/r.restic" restic
measure hl.verify "${HL[@]}" verify latest
measure restic.verify restic -q -r "$T/restic" check --read-data

mib() { awk -v b="$1" 'BEGIN { printf "%.0f MiB", b / 1048576 }'; }
cell() { local m; m=$("$1" "$2"); printf '%s s (CPU %s s)' "${m% *}" "${m#* }"; }
line() { # LABEL KEY BYTES VERIFY
  printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$(cell median "$2.full")" "$(cell median "$2.incr")" \
    "$(mib "$3")" "$(cell median "$2.restore")" "${4:--}"
}
echo
echo "$files files, $(mib "$ws_bytes"); $ROUNDS rounds; restic $(restic version | awk '{print $2}'), $(tar --version | head -1), hl-backup $("$HLB" --version | awk '{print $NF}')"
echo
echo "| | full backup | a round (median of $ROUNDS) | stored after $ROUNDS rounds | restore latest | verify |"
echo "|---|---|---|---|---|---|"
line "**hl-backup** (incl. manifest + verifying restore)" hl "$hl_bytes" "$(cell median hl.verify)"
line "tar czf every round (the spec)" czf "$czf_bytes"
line "tar + gzip --listed-incremental" tarinc "$tarinc_bytes"
line "restic 0.14" restic "$restic_bytes" "$(cell median restic.verify) (check --read-data)"
echo
awk -v h="$(total hl.incr)" -v r="$(total restic.incr)" -v hb="$hl_bytes" -v rb="$restic_bytes" 'BEGIN {
  split(h, a, " "); split(r, b, " ");
  printf "hl-backup / restic: rounds %.2fx wall, stored %.2fx (goal: within 1.5x)\n", a[1] / b[1], hb / rb }'
printf '{"bench":"backup","files":%s,"bytes":%s,"rounds":%s,"hl":{"full":"%s","round":"%s","stored":%s,"restore":"%s","verify":"%s"},"czf":{"full":"%s","round":"%s","stored":%s,"restore":"%s"},"tar_incremental":{"full":"%s","round":"%s","stored":%s,"restore":"%s"},"restic":{"full":"%s","round":"%s","stored":%s,"restore":"%s","verify":"%s"}}\n' \
  "$files" "$ws_bytes" "$ROUNDS" \
  "$(median hl.full)" "$(median hl.incr)" "$hl_bytes" "$(median hl.restore)" "$(median hl.verify)" \
  "$(median czf.full)" "$(median czf.incr)" "$czf_bytes" "$(median czf.restore)" \
  "$(median tarinc.full)" "$(median tarinc.incr)" "$tarinc_bytes" "$(median tarinc.restore)" \
  "$(median restic.full)" "$(median restic.incr)" "$restic_bytes" "$(median restic.restore)" "$(median restic.verify)"
