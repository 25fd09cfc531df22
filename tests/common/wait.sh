# shellcheck shell=bash
# The old home of wait_for, for branches written before tests/common/lib.sh
# (source that instead).
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
