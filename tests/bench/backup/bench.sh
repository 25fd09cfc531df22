#!/usr/bin/env bash
# hl-backup against its peers on one generated workspace, in one run:
#   * GNU tar + gzip with --listed-incremental (what hl-backup drives; the
#     difference is hl-backup's own work: the manifest's SHA-256 of every
#     file, the verifying restore into a scratch directory, the atomic
#     publication), and
#   * restic 0.14 (Debian's; deduplicating, encrypted, compressed repository).
# Each does a full backup, an incremental one after 1 % of the files changed
# and some were added, and a restore of the latest state into an empty
# directory (the RTO of the workspace); every restore is compared with the
# workspace byte for byte (diff -r), so a figure is only printed for a
# restore that is right. Figures: wall seconds (median of HL_BENCH_BACKUP_RUNS,
# default 3), CPU seconds (user+sys, same run), bytes stored.
# HL_BENCH_BACKUP_MB: the workspace's size (default 200). No wall time is
# asserted.
set -uo pipefail
: "${HL_BUILD_DIR:?}"
HLB=$HL_BUILD_DIR/daemons/hl-backup/hl-backup
command -v restic >/dev/null || { echo "SKIPPED: restic missing (apt-get install restic)"; exit 77; }
[ -x "$HLB" ] || { echo "no $HLB: build first"; exit 1; }
MB=${HL_BENCH_BACKUP_MB:-200}
RUNS=${HL_BENCH_BACKUP_RUNS:-3}
T=$(mktemp -d /var/tmp/hl-bench-backup.XXXXXX)
trap 'rm -rf "$T"' EXIT
WS=$T/ws

# --- the workspace: source-like text (compressible) and binaries ------------
# 70 % of the bytes in ~4 KiB text files, 30 % in 1 MiB random blobs, like a
# checkout with build outputs; a .git with many small objects.
python3 - "$WS" "$MB" <<'PY'
import os, random, sys
root, mb = sys.argv[1], int(sys.argv[2])
rnd = random.Random(42)
words = [("".join(rnd.choice("abcdefghijklmnopqrstuvwxyz_") for _ in range(rnd.randint(2, 12))))
         for _ in range(4000)]
text_bytes, blob_bytes = (mb << 20) * 7 // 10, (mb << 20) * 3 // 10
n = 0
while text_bytes > 0:
    d = os.path.join(root, "src", "m%03d" % (n // 200))
    os.makedirs(d, exist_ok=True)
    body = " ".join(rnd.choice(words) for _ in range(rnd.randint(300, 900))).encode()
    with open(os.path.join(d, "f%05d.c" % n), "wb") as f:
        f.write(body)
    text_bytes -= len(body)
    n += 1
os.makedirs(os.path.join(root, "build"), exist_ok=True)
i = 0
while blob_bytes > 0:
    with open(os.path.join(root, "build", "blob%03d.o" % i), "wb") as f:
        f.write(os.urandom(1 << 20))
    blob_bytes -= 1 << 20
    i += 1
for j in range(2000):
    d = os.path.join(root, ".git", "objects", "%02x" % (j % 256))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "%038x" % j), "wb") as f:
        f.write(os.urandom(rnd.randint(100, 3000)))
PY
files=$(find "$WS" -type f | wc -l)
ws_bytes=$(du -sb "$WS" | cut -f1)

# The 1 % change between the full and the incremental backup (the same for
# every tool: it runs on a copy of the workspace as it was).
change() {
  find "$1/src" -name '*.c' | sort | awk 'NR % 100 == 0' | while read -r f; do
    echo "// changed" >>"$f"
  done
  mkdir -p "$1/src/new"
  for k in 1 2 3 4 5; do head -c 50000 /dev/urandom | base64 >"$1/src/new/n$k.c"; done
}

# measure NAME CMD...: runs CMD, records "wall cpu" (seconds) in $T/m.NAME
measure() {
  local name=$1; shift
  /usr/bin/time -f '%e %U %S' -o "$T/time" "$@" >"$T/out.$name" 2>&1 || {
    echo "FAILED: $name: $*"; cat "$T/out.$name"; exit 1; }
  awk '{ printf "%s %.2f\n", $1, $2 + $3 }' "$T/time" >>"$T/m.$name"
}
median() { sort -n "$T/m.$1" | awk '{ w[NR] = $1; c[NR] = $2 } END { m = int((NR + 1) / 2); printf "%s %s", w[m], c[m] }'; }
same() { diff -r --no-dereference "$1" "$2" >/dev/null || { echo "FAILED: $3 restored something else"; exit 1; }; }

for run in $(seq 1 "$RUNS"); do
  rm -rf "$T/run"; mkdir -p "$T/run"
  R=$T/run
  cp -a "$WS" "$R/ws"
  W=$R/ws
  # hl-backup: its own config, only the workspace
  printf 'hl-backup:\n  dir: %s\n  keep: 10\n' "$R/hl" >"$R/hl.yaml"
  HL=("$HLB" --config "$R/hl.yaml" --path "$W")
  # tar + gzip, as hl-backup runs it (listed-incremental snapshots)
  # restic: a local repository
  export RESTIC_PASSWORD=bench RESTIC_CACHE_DIR=$R/restic-cache
  restic -q -r "$R/restic" init >/dev/null

  measure hl.full "${HL[@]}" create --full
  measure tar.full tar --listed-incremental="$R/snar" -czf "$R/full.tar.gz" -C / "${W#/}"
  measure restic.full restic -q -r "$R/restic" backup "$W"
  if [ "$run" = 1 ]; then
    hl_full_bytes=$(du -cb "$R"/hl/hl-backup-*.tar.gz | tail -1 | cut -f1)
    tar_full_bytes=$(stat -c %s "$R/full.tar.gz")
    restic_full_bytes=$(du -sb "$R/restic" | cut -f1)
  fi

  change "$W"
  measure hl.incr "${HL[@]}" create
  cp "$R/snar" "$R/snar.1"
  measure tar.incr tar --listed-incremental="$R/snar.1" -czf "$R/incr.tar.gz" -C / "${W#/}"
  measure restic.incr restic -q -r "$R/restic" backup "$W"
  if [ "$run" = 1 ]; then
    hl_incr_bytes=$(( $(du -cb "$R"/hl/hl-backup-*.tar.gz | tail -1 | cut -f1) - hl_full_bytes ))
    tar_incr_bytes=$(stat -c %s "$R/incr.tar.gz")
    restic_incr_bytes=$(( $(du -sb "$R/restic" | cut -f1) - restic_full_bytes ))
  fi

  # restore the latest state into an empty directory (hl-backup checks it
  # against the manifest itself; each is compared with the workspace here)
  measure hl.restore "${HL[@]}" restore latest --to "$R/r.hl"
  same "$W" "$R/r.hl$W" hl-backup
  mkdir -p "$R/r.tar"
  measure tar.restore sh -c "tar --listed-incremental=/dev/null -xzf '$R/full.tar.gz' -C '$R/r.tar' &&
    tar --listed-incremental=/dev/null -xzf '$R/incr.tar.gz' -C '$R/r.tar'"
  same "$W" "$R/r.tar$W" tar
  measure restic.restore restic -q -r "$R/restic" restore latest --target "$R/r.restic"
  same "$W" "$R/r.restic$W" restic
  # hl-backup's verify on its own (part of every create above)
  measure hl.verify "${HL[@]}" verify latest
done

row() { # LABEL KEY BYTES
  local m; m=$(median "$2")
  printf '| %s | %s | %s | %s |\n' "$1" "${m% *}" "${m#* }" "${3:--}"
}
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
echo
echo "workspace: $files files, $(mib "$ws_bytes") (70 % text, 30 % random); $RUNS runs, medians"
echo "restic $(restic version | awk '{print $2}'), $(tar --version | head -1), hl-backup $("$HLB" --version | awk '{print $NF}')"
echo
echo "| step | wall s | CPU s | stored |"
echo "|---|---|---|---|"
row "hl-backup full (archive + manifest + verifying restore)" hl.full "$(mib "$hl_full_bytes")"
row "tar + gzip full" tar.full "$(mib "$tar_full_bytes")"
row "restic full" restic.full "$(mib "$restic_full_bytes")"
row "hl-backup incremental (1 % changed)" hl.incr "$(mib "$hl_incr_bytes")"
row "tar + gzip incremental" tar.incr "$(mib "$tar_incr_bytes")"
row "restic incremental" restic.incr "$(mib "$restic_incr_bytes")"
row "hl-backup restore latest (checked against the manifest)" hl.restore
row "tar restore (full + incremental)" tar.restore
row "restic restore latest" restic.restore
row "hl-backup verify latest (hashes + scratch restore)" hl.verify
printf '{"bench":"backup","files":%s,"bytes":%s,"runs":%s,"hl_full":"%s","tar_full":"%s","restic_full":"%s","hl_incr":"%s","tar_incr":"%s","restic_incr":"%s","hl_restore":"%s","tar_restore":"%s","restic_restore":"%s"}\n' \
  "$files" "$ws_bytes" "$RUNS" "$(median hl.full)" "$(median tar.full)" "$(median restic.full)" \
  "$(median hl.incr)" "$(median tar.incr)" "$(median restic.incr)" \
  "$(median hl.restore)" "$(median tar.restore)" "$(median restic.restore)"
