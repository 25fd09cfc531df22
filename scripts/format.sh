#!/usr/bin/env bash
# Formats the tree's C sources with clang-format and the repository's
# .clang-format (4 spaces, K&R, 100 columns: the style the code was written
# in by hand).
#
#   scripts/format.sh [--check] [FILE...]
#
# Without FILEs: every *.c and *.h git tracks (generated *.pb-c.* are never
# committed, so they are never touched). --check changes nothing: it lists
# each file clang-format would change with the number of its lines that would
# change, then the total, and exits 1 if there is any (0 if the tree is
# formatted). Needs clang-format (scripts/install-deps.sh installs it).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
check=false
if [ "${1:-}" = --check ]; then
  check=true
  shift
fi
case "${1:-}" in
  -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
command -v clang-format >/dev/null || { echo "format.sh: clang-format is not installed" >&2; exit 2; }
if [ $# -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(git ls-files '*.c' '*.h')
fi
if ! $check; then
  printf '%s\0' "${files[@]}" | xargs -0 -r clang-format -i --style=file
  exit 0
fi
total=0
for f in "${files[@]}"; do
  n=$(clang-format --style=file "$f" | diff "$f" - | grep -c '^<' || true)
  if [ "$n" -gt 0 ]; then
    echo "$n $f"
    total=$((total + n))
  fi
done
echo "$total lines would change"
[ "$total" -eq 0 ]
