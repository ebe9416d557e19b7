# Shared by the deitctl test scripts: `source lib.sh DEITCTL WORKDIR`.
# Each check prints what it ran and why it failed; the first failure ends the script with exit 1.
set -u
DEITCTL="$1"
WORK="$2"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${DEITCTL_PYTHON:-/usr/bin/python3}"
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"

if ! "$PY" -c 'import numpy' 2>/dev/null; then
  echo "SKIP: $PY has no numpy"
  exit 77
fi

CHECKS=0
fail() {
  echo "FAIL: $*" >&2
  for f in out.txt err.txt; do
    if [ -s "$f" ]; then
      echo "--- $f:" >&2
      head -c 3000 "$f" >&2
    fi
  done
  exit 1
}
pass() {
  CHECKS=$((CHECKS + 1))
  echo "ok: $*"
}

# expect_rc CODE deitctl-args...: runs deitctl with stdout in out.txt, stderr in err.txt.
expect_rc() {
  local want="$1"
  shift
  "$DEITCTL" "$@" >out.txt 2>err.txt
  local got=$?
  [ "$got" = "$want" ] || fail "deitctl $* exited $got, expected $want"
  pass "deitctl $* -> $want"
}

# expect_in FILE TEXT: TEXT (fixed string) occurs in FILE.
expect_in() {
  grep -qF -- "$2" "$1" || fail "'$2' not in $1"
}

make_idx() { "$PY" "$HERE/make_tiny_data.py" idx "$@" || fail "make_tiny_data.py idx $*"; }
make_images() { "$PY" "$HERE/make_tiny_data.py" images "$@" || fail "make_tiny_data.py images $*"; }
make_broken() { "$PY" "$HERE/make_tiny_data.py" broken "$@" || fail "make_tiny_data.py broken $*"; }

# start_deitctl deitctl-args...: runs deitctl in the background (stdout out.txt, stderr err.txt), its pid in
# BG_PID.  The previous command's err.txt is removed first: otherwise wait_for_line could find its lines
# before the new process has truncated the file (a race seen on a loaded machine).
start_deitctl() {
  rm -f out.txt err.txt
  "$DEITCTL" "$@" >out.txt 2>err.txt &
  BG_PID=$!
}

# wait_for_line PID TEXT: waits (up to 300 s) until TEXT appears in err.txt, written by the background
# deitctl PID; fails if that process ends first (and kills it on the timeout).
wait_for_line() {
  local pid="$1" text="$2" waited=0
  until grep -qsF -- "$text" err.txt; do
    kill -0 "$pid" 2>/dev/null || fail "deitctl ended before '$text' appeared"
    sleep 0.1
    waited=$((waited + 1))
    [ "$waited" -lt 3000 ] || { kill -KILL "$pid"; fail "no '$text' after 300 s"; }
  done
}

done_checks() {
  echo "all $CHECKS checks passed"
  exit 0
}
