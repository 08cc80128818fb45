# Shared helpers of the test and demo scripts: starting and stopping the Wix
# API emulator.  Source it; it defines functions only.

# start_emulator VAR [emulator options...]
#   Starts test/emulator/wix_emulator.py on a free loopback port and sets
#   VAR to its base URL (http://127.0.0.1:PORT).  Stopped by stop_emulators.
WIX_EMULATOR_PIDS=()
start_emulator() {
  local var=$1; shift
  local dir; dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  local out; out=$(mktemp)
  python3 "$dir/emulator/wix_emulator.py" --port 0 "$@" >"$out" 2>"$out.err" &
  local pid=$!
  WIX_EMULATOR_PIDS+=("$pid")
  local port=""
  for _ in $(seq 1 200); do
    port=$(head -n 1 "$out" 2>/dev/null | tr -dc '0-9')
    [ -n "$port" ] && break
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "emulator failed to start:" >&2; cat "$out.err" >&2; return 1
    fi
    sleep 0.1
  done
  [ -n "$port" ] || { echo "emulator did not print its port" >&2; return 1; }
  rm -f "$out" "$out.err"
  printf -v "$var" 'http://127.0.0.1:%s' "$port"
  export "${var?}"
}

stop_emulators() {
  local pid
  for pid in "${WIX_EMULATOR_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  WIX_EMULATOR_PIDS=()
}
