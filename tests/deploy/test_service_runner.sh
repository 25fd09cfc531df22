#!/usr/bin/env bash
# hl-service-runner: runs the command of an hl-service@ description as the
# main process (no shell left behind), refuses what it cannot run safely.
set -u
R=${1:?hl-service-runner}
. "$(dirname "$0")/../common/lib.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
run() { env -i PATH=/usr/bin:/bin HOME="$dir" "$@"; }

ok "$R" --help
"$R" 2>/dev/null; ok test $? = 64
"$R" a b 2>/dev/null; ok test $? = 64
run "$R" web 2>"$dir/err"; ok test $? = 78
ok grep -q "HL_SERVICE_COMMAND is not set (in /etc/hl/services/web.env)" "$dir/err"
run HL_SERVICE_NAME=api HL_SERVICE_COMMAND=true "$R" web 2>/dev/null; ok test $? = 78
# words split as the shell would, variables from the environment, no shell
out=$(run HL_SERVICE_NAME=web HL_SERVICE_COMMAND='printf "%s|" "a  b" $HL_SERVICE_NAME' "$R" web)
ok test "$out" = "a  b|web|"
for bad in 'echo a | cat' 'echo a; echo b' 'echo $(id)' 'echo `id`' "echo 'x" 'a > b'; do
  run HL_SERVICE_COMMAND="$bad" "$R" web 2>/dev/null; ok test $? = 78
done
# the working directory
mkdir "$dir/ws"
ok test "$(run HL_SERVICE_COMMAND=pwd HL_SERVICE_DIRECTORY="$dir/ws" "$R" web)" = "$dir/ws"
run HL_SERVICE_COMMAND=pwd HL_SERVICE_DIRECTORY="$dir/none" "$R" web 2>/dev/null; ok test $? = 78
# the command replaces the runner: same PID, its own exit status
out=$(env -i PATH=/usr/bin:/bin HL_SERVICE_COMMAND='sh -c "echo \$\$; exit 7"' "$R" web &
  echo "runner $!"; wait $!; echo "rc $?")
ok test "$(grep -x '[0-9][0-9]*' <<<"$out")" = "$(sed -n 's/^runner //p' <<<"$out")"
ok grep -qx "rc 7" <<<"$out"
run HL_SERVICE_COMMAND='no-such-program x' "$R" web 2>/dev/null; ok test $? = 127
checks_done service-runner
