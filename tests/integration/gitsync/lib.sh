# Shared by the hl-git-sync tests: a bare repository served by `git daemon`
# on loopback, a private bus, and hl-git-sync on it. Source after
# tests/common/lib.sh; set $dir first. Everything started is in $pids.
B=${HL_BUILD_DIR:?}
GS=$B/daemons/hl-git-sync/hl-git-sync
ASKPASS=$B/daemons/hl-git-sync/hl-git-askpass
hlctl() { "$B/daemons/hlctl/hlctl" --runtime-dir "$dir/run" "$@"; }
need git
[ -x /usr/lib/git-core/git-daemon ] || skip "git-daemon is not installed (apt-get install git-daemon-run or git)"
export GIT_CONFIG_NOSYSTEM=1 HOME=$dir/home
mkdir -p "$dir/home" "$dir/run" "$dir/srv" "$dir/state"
git config --global user.name tester
git config --global user.email tester@example.com
git config --global init.defaultBranch main
git config --global advice.detachedHead false

# start_git_daemon: serves $dir/srv on a free loopback port ($port, $url_base).
start_git_daemon() {
    local try
    for try in 1 2 3 4 5 6 7 8 9 10; do
        port=$((20000 + RANDOM % 40000))
        /usr/lib/git-core/git-daemon --reuseaddr --base-path="$dir/srv" --export-all --enable=receive-pack \
            --listen=127.0.0.1 --port="$port" --pid-file="$dir/gitd.pid" "$dir/srv" \
            2>>"$dir/gitd.log" &
        gitd_pid=$!
        pids+=($gitd_pid)
        if wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
            url_base="git://127.0.0.1:$port"
            return 0
        fi
        kill "$gitd_pid" 2>/dev/null
    done
    echo "cannot start git daemon" >&2
    return 1
}

# make_remote NAME: a bare repo with one commit on main; $dir/up (a clone) pushes to it.
make_remote() {
    git init -q --bare "$dir/srv/$1.git"
    git clone -q "$dir/srv/$1.git" "$dir/up" 2>/dev/null
    echo hello > "$dir/up/README"
    mkdir -p "$dir/up/src"
    echo 'int main(void) { return 0; }' > "$dir/up/src/main.c"
    git -C "$dir/up" add -A
    git -C "$dir/up" commit -qm initial
    git -C "$dir/up" push -q origin main
}

start_bus() {
    "$B/daemons/hl-bus/hl-bus" --runtime-dir "$dir/run" 2>"$dir/bus.log" &
    pids+=($!)
    wait_for 30 hlctl --retries 0 --timeout 500 ping hl-bus || { echo "hl-bus did not start" >&2; exit 1; }
}

# write_config URL [KEY: VALUE...]: the test's config; extra keys replace the defaults.
write_config() {
    local url=$1 l k
    shift
    local extra=" $* "
    {
        echo "hl-git-sync:"
        echo "  repo_url: \"$url\""
        for l in "workspace: $dir/ws" "state_dir: $dir/state" "askpass: $ASKPASS" \
                 "inspect: $B/daemons/hl-git-sync/hl-git-inspect" \
                 "interval: ${GS_INTERVAL:-1s}" "retry_min: 200ms" "retry_max: 2s" "busy_retry: 200ms"; do
            k=${l%%:*}
            case $extra in *" $k: "*) ;; *) echo "  $l" ;; esac
        done
        for l in "$@"; do echo "  $l"; done
    } > "$dir/hl.yaml"
}

start_gs() {
    "$GS" --config "$dir/hl.yaml" --runtime-dir "$dir/run" --log-level "${GS_LOG:-info}" \
        2>>"$dir/gs.log" &
    gs_pid=$!
    pids+=($gs_pid)
    wait_for 30 hlctl --retries 0 --timeout 500 ping hl-git-sync ||
        { echo "hl-git-sync did not start" >&2; cat "$dir/gs.log" >&2; exit 1; }
}

# gs_field NAME: a field of hl-git-sync's state, from its "git" method (JSON).
gs_json() { hlctl --json --retries 1 --timeout 2000 call hl-git-sync git 2>/dev/null; }
gs_state() { gs_json | sed -n 's/.*"state":"\([A-Za-z_]*\)".*/\1/p'; }
gs_is() { [ "$(gs_state)" = "$1" ]; }
gs_syncs() { gs_json | sed -n 's/.*"syncs":"\{0,1\}\([0-9]*\).*/\1/p'; }
