# Sourced by bench/profile.sh and bench/publish-cost.sh: starts the gateway under test on
# loopback with a fresh data directory in $work, limits off, and waits until it is ready.
#   start_gateway RTMP_PORT HTTP_PORT NODE_ID   (sets $gw to its pid; needs $binary and $work)
start_gateway() {
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
  export LIVE_TOKEN_ID=tok_prof LIVE_TOKEN_SECRET=prof-secret-0123456789 LIVEGATE_DATA_DIR="$work/data" \
    LIVEGATE_RTMP_HOST=127.0.0.1 LIVEGATE_HTTP_HOST=127.0.0.1 LIVEGATE_RTMP_MAX_CONNECTIONS=20000 \
    LIVEGATE_RTMP_MAX_CONNECTIONS_PER_IP=0 LIVEGATE_RTMP_FAILED_PUBLISHES_PER_MINUTE=0 LIVEGATE_NODE_ID="$3"
  "$binary" serve --rtmp-port "$1" --http-port "$2" >"$work/gw.log" 2>&1 &
  gw=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$2/readyz" >/dev/null && break; sleep 0.1; done
}
