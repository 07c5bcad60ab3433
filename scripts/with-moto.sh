#!/usr/bin/env bash
# Runs a command with a fresh moto server (the local AWS API) on a free loopback
# port, exported as AWS_ENDPOINT_URL with dummy credentials, and stops it after.
#   scripts/with-moto.sh cargo test -p acme-deploy
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$("$root/scripts/py-tools.sh")
port=$("$bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log="${TMPDIR:-/tmp}/acme-moto-$port.log"
"$bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto_pid=$!
trap 'kill $moto_pid 2>/dev/null || true; wait $moto_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    if "$bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/')" 2>/dev/null; then
        break
    fi
    if ! kill -0 $moto_pid 2>/dev/null; then
        echo "moto server failed to start; its log ($log):" >&2
        cat "$log" >&2
        exit 1
    fi
    sleep 0.1
done
export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION="${AWS_REGION:-us-east-1}" AWS_DEFAULT_REGION="${AWS_REGION:-us-east-1}"
export PATH="$bin:$PATH"
echo "moto server on $AWS_ENDPOINT_URL (log: $log)" >&2
set +e
"$@"
status=$?
exit $status
