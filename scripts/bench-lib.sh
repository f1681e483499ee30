# Helpers shared by scripts/bench and scripts/bench-grow (sourced, not run). They expect
# $base (the server's URL), $work (a scratch folder), $seconds and, for `load`, $cookie.

# rss PID FIELD: a process's VmRSS / VmHWM in MB.
rss() { awk "/^$2:/ {print int(\$2/1024)}" "/proc/$1/status"; }

# start_server: `$outpost serve` in the background (pid in $server_pid), once /healthz answers.
start_server() {
  # A server left running on the port would answer /healthz for this one.
  if curl -sf "$base/healthz" >/dev/null; then echo "port of $base is taken by another server"; exit 1; fi
  "$outpost" serve >"$work/serve.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    kill -0 "$server_pid" 2>/dev/null || break # ours exited: no use waiting
    curl -sf "$base/healthz" >/dev/null && return
    sleep 0.1
  done
  echo "the server did not start:"; cat "$work/serve.log"; exit 1
}

# sign_in USER: sets $cookie to a signed-in session of USER (demo password).
sign_in() {
  local jar="$work/cookies-$1" csrf
  csrf=$(curl -s -c "$jar" "$base/login" | grep -o 'name="csrf_token" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
  curl -s -b "$jar" -c "$jar" -o /dev/null -d "csrf_token=$csrf&next=/dashboard&username=$1&password=outpost-demo-2026" "$base/login"
  cookie=$(awk '$6 == "outpost_session" {print $6 "=" $7}' "$jar")
  [ -n "$cookie" ] || { echo "sign-in of $1 for the page load failed"; exit 1; }
}

# load NAME PATH: wrk -c50 on PATH with $cookie; prints "page=NAME req_per_s=… p50_ms=… p99_ms=… non_2xx=…".
load() {
  wrk -t2 -c50 -d"${seconds}s" --latency -H "Cookie: $cookie" "$base$2" >"$work/wrk-$1.txt"
  local non2xx; non2xx=$(awk '/Non-2xx/ {print $5}' "$work/wrk-$1.txt")
  awk -v n="$1" -v bad="${non2xx:-0}" '
    /Requests\/sec/ {rps=$2}
    /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    END {printf "page=%s req_per_s=%d p50_ms=%.1f p99_ms=%.1f non_2xx=%s\n", n, rps, ms(p50), ms(p99), bad}' "$work/wrk-$1.txt"
}
