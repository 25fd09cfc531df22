# wait_for SECONDS CMD...: runs CMD until it succeeds or SECONDS have passed
# (a deadline, not a count: a refused connection fails at once, and a start
# under a sanitizer or valgrind on a loaded machine takes seconds). Returns
# CMD's last status.
wait_for() {
    local deadline=$((SECONDS + $1)); shift
    until "$@"; do
        [ $SECONDS -lt $deadline ] || return 1
    done
}
