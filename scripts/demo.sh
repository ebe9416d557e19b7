#!/usr/bin/env bash
# The README's main command: installs dependencies, builds (Release) and runs
# the teacher -> student -> evaluation pipeline on Fashion-MNIST.
# Extra arguments go to `deitctl run`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
build="${DEIT_BUILD_DIR:-$root/build}"
exec "$build/cli/deitctl" run "$@"
