# Helpers the wrk-driven benchmark scripts share (sourced, not run).

# Waits until `url` answers 2xx, for up to 30 s.
wait_ready() {
  local url=$1
  for _ in $(seq 1 600); do
    curl -fs -o /dev/null "$url" && return 0
    sleep 0.05
  done
  echo "server at $url did not come up" >&2
  return 1
}

# wrk's "50%  1.23ms" / "99%  …" latency line, in microseconds:
# `pct_us 99 <<<"$wrk_output"`.
pct_us() {
  awk -v p="$1%" '$1 == p { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
       f = (u == "us") ? 1 : (u == "ms") ? 1000 : (u == "s") ? 1000000 : 1; printf "%.0f", v * f }'
}
