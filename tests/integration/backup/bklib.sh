# shellcheck shell=bash
# Shared by the hl-backup integration tests: a temporary tree, the program
# pointed at it, and a pristine copy to compare restores with.
. "${HL_SOURCE_DIR:?}/tests/common/lib.sh"
set -u
B=${HL_BUILD_DIR:?}
BK=$B/daemons/hl-backup/hl-backup
HLCTL=$B/daemons/hlctl/hlctl
T=$(mktemp -d)
chmod 755 "$T"
W=$T/home/hluser/workspace   # the workspace
S=$T/var/lib/hl              # state
BD=$T/backups                # the backup directory
pids=()
bk_cleanup() {
    for p in "${pids[@]}"; do kill -9 -- "-$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    chmod -R u+rwX "$T" 2>/dev/null
    rm -rf "$T"
}
trap bk_cleanup EXIT
jqok() { jq -e "$@" >/dev/null; }
# hl-backup with the test's paths: nothing of the host's config.
bk() { "$BK" --config /dev/null --dir "$BD" --path "$W" --path "$S" --exclude "$S/cache" "$@"; }
bkj() { bk --json "$@"; }

# A workspace with what trips backups up: spaces, a newline and % in names,
# links (one dangling, one to outside), an empty file and directory, a
# read-only directory, odd modes, a larger binary file, a git-like tree.
make_tree() {
    mkdir -p "$W/src/deep/er" "$W/empty dir" "$W/.git/objects/ab" "$S/daemon" "$S/cache"
    printf 'int main(void) { return 0; }\n' >"$W/src/main.c"
    printf 'hello\n' >"$W/with space.txt"
    printf 'nl\n' >"$W/new"$'\n'"line"
    printf 'pct\n' >"$W/100%% sure"
    : >"$W/empty"
    head -c 300000 /dev/urandom >"$W/blob.bin"
    for i in $(seq 1 40); do echo "object $i" >"$W/.git/objects/ab/obj$i"; done
    echo deep >"$W/src/deep/er/file"
    ln -s main.c "$W/src/link"
    ln -s /nonexistent/target "$W/dangling"
    ln -s /etc "$W/outside"
    chmod 0600 "$W/with space.txt"
    chmod 4755 "$W/src/main.c" 2>/dev/null || chmod 0755 "$W/src/main.c"
    echo state >"$S/daemon/state.json"
    head -c 50000 /dev/zero >"$S/cache/big"
    mkdir -p "$W/ro"
    echo r >"$W/ro/file"
    chmod 0555 "$W/ro"
}

# snapshot DIR OUT: every entry's path, type, mode, size and content hash:
# two trees are byte-identical exactly when their snapshots are.
snapshot() {
    (cd "$1" && find . -printf '%P|%y|%m|%s|%l\n' | LC_ALL=C sort) >"$2.meta"
    (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum) >"$2.sum"
    cat "$2.meta" "$2.sum" >"$2"
}
same_tree() { # A B: snapshots equal
    snapshot "$1" "$T/snap.a" && snapshot "$2" "$T/snap.b" && diff "$T/snap.a" "$T/snap.b" >&2
}
