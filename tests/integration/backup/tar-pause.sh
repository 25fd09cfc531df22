#!/usr/bin/env bash
# GNU tar, stopped part-way through one phase so that a test can SIGKILL
# hl-backup there: with BK_PAUSE=create (writing the archive) or extract
# (the verification's restore), it runs the real tar, stops it (SIGSTOP) as
# soon as it has written something, touches $BK_PAUSED and waits (to be
# killed). Any
# other call is the real tar as it is.
mode= file= dir=
for a in "$@"; do
    case $a in
    --create) mode=create ;;
    --extract) mode=extract ;;
    --file=*) file=${a#--file=} ;;
    --directory=*) dir=${a#--directory=} ;;
    esac
done
if [ -z "${BK_PAUSE:-}" ] || [ "$mode" != "$BK_PAUSE" ]; then
    exec /usr/bin/tar "$@"
fi
/usr/bin/tar "$@" &
tar=$!
if [ "$mode" = create ]; then
    until [ -s "$file" ] || ! kill -0 $tar 2>/dev/null; do sleep 0.005; done
else
    until [ -n "$(ls -A "$dir" 2>/dev/null)" ] || ! kill -0 $tar 2>/dev/null; do sleep 0.005; done
fi
kill -STOP $tar 2>/dev/null
: >"$BK_PAUSED"
# Should tar have finished first, hl-backup is still held in this phase.
wait $tar
sleep 1000 &
wait $!
