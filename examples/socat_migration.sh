#!/bin/sh
# Live-migrate between two fake QEMUs with nothing but socat and a POSIX shell:
# for tool authors who do not write Python.
#
#   examples/socat_migration.sh [PROFILE [SHAPE]]      e.g. 10.0 new
#
# Needs `fakeqemu` on PATH (pip install fakeqemu) and socat. Prints the
# destination's and the source's final query-migrate, and exits 0 when both
# completed. The fakes' clocks run twice as fast as real time.
set -eu

profile=${1:-11.1}
shape=${2:-old}
dir=$(mktemp -d "${TMPDIR:-/tmp}/fakeqemu-socat.XXXXXX")
src=$dir/src.sock
dst=$dir/dst.sock
src_pid=
dst_pid=

cleanup() {
    # Only the two fakes this script started, by their process ids.
    for pid in $src_pid $dst_pid; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fakeqemu serve --profile "$profile" --shape "$shape" --speed 2 --unix "$src" >"$dir/src.log" &
src_pid=$!
fakeqemu serve --profile "$profile" --shape "$shape" --speed 2 --unix "$dst" \
    --incoming defer >"$dir/dst.log" &
dst_pid=$!

# The socket files appear once the fakes listen.
tries=0
until [ -S "$src" ] && [ -S "$dst" ]; do
    tries=$((tries + 1))
    [ "$tries" -le 100 ] || { echo "the fakes did not start" >&2; exit 1; }
    sleep 0.05
done

# qmp SOCKET COMMAND...: negotiate, run each command (a JSON object), print each
# reply on a line. Like QEMU, the fake answers everything it read before the
# input ended, then closes the connection: a plain pipe into socat will do.
qmp() {
    socket=$1
    shift
    {
        echo '{"execute": "qmp_capabilities"}'
        for command in "$@"; do echo "$command"; done
    } | socat -t5 - "UNIX-CONNECT:$socket" | tr -d '\r' | grep -E '^\{"(return|error)"' |
        tail -n +2
}

# status REPLY: the "status" member of a query-migrate reply.
status() {
    echo "$1" | sed -n 's/.*"status": "\([a-z-]*\)".*/\1/p'
}

listening=$(qmp "$dst" \
    '{"execute": "migrate-incoming", "arguments": {"uri": "tcp:127.0.0.1:0"}}' \
    '{"execute": "query-migrate"}' | tail -n 1)
port=$(echo "$listening" | sed -n 's/.*"port": "\([0-9]*\)".*/\1/p')
[ -n "$port" ] || { echo "no port in: $listening" >&2; exit 1; }
echo "destination listening on tcp:127.0.0.1:$port"

qmp "$src" \
    '{"execute": "migrate-set-parameters", "arguments": {"max-bandwidth": 33554432}}' \
    "{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"tcp:127.0.0.1:$port\"}}" >/dev/null

# Poll as a monitoring tool would, printing each status the source goes through.
tries=0
previous=
while :; do
    reply=$(qmp "$src" '{"execute": "query-migrate"}')
    state=$(status "$reply")
    [ "$state" = "$previous" ] || echo "source: $state"
    previous=$state
    case $state in
        completed) break ;;
        failed | cancelled) echo "$reply" >&2; exit 1 ;;
    esac
    tries=$((tries + 1))
    [ "$tries" -le 300 ] || { echo "the migration did not finish" >&2; exit 1; }
    sleep 0.05
done

# The destination completes once the last pages arrive, just after the source.
tries=0
until [ "$(status "$(qmp "$dst" '{"execute": "query-migrate"}')")" = completed ]; do
    tries=$((tries + 1))
    [ "$tries" -le 100 ] || { echo "the destination did not complete" >&2; exit 1; }
    sleep 0.05
done

echo "destination: $(qmp "$dst" '{"execute": "query-migrate"}')"
echo "source: $reply"
qmp "$src" '{"execute": "quit"}' >/dev/null
qmp "$dst" '{"execute": "quit"}' >/dev/null
wait "$src_pid" "$dst_pid"
src_pid=
dst_pid=
