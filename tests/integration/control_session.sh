#!/usr/bin/env bash
# The control API from a shell, with curl and socat only (issue 12's acceptance):
# inject a GenericError on migrate, see it, remove it; play stall-at:60 on a virtual
# clock and see remaining plateau; raise downtime-limit and see the migration
# complete; read the journal.  Usage: control_session.sh FAKEQEMU WORKDIR
set -euo pipefail
FAKEQEMU=$1
DIR=$2
CTL="--unix-socket $DIR/ctl.sock"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
# One QMP exchange: negotiate, then the given commands; prints every reply.
qmp() { local sock=$1; shift; printf '{"execute":"qmp_capabilities"}%s' "$*" | socat -t 2 - "UNIX-CONNECT:$sock"; }
api() { curl -sS $CTL -H 'content-type: application/json' "$@"; }
number() { grep -o "\"$1\": [0-9.]*" | head -1 | sed 's/.*: //'; }
wait_for() { for _ in $(seq 100); do [ -S "$1" ] && return; sleep 0.1; done; fail "no $1"; }

"$FAKEQEMU" serve --unix "$DIR/dst.sock" --incoming defer >"$DIR/dst.out" 2>&1 &
pids+=($!)
"$FAKEQEMU" serve --unix "$DIR/src.sock" --control "unix:$DIR/ctl.sock" --clock virtual \
    --memory 1G >"$DIR/src.out" 2>&1 &
pids+=($!)
wait_for "$DIR/dst.sock"; wait_for "$DIR/ctl.sock"; wait_for "$DIR/src.sock"

api http://fakeqemu/health | grep -q '"status": "ok"' || fail "health"
api http://fakeqemu/health | grep -q '"clock": "virtual"' || fail "virtual clock"

# The destination listens on a free port; its query-migrate says which.
port=$(qmp "$DIR/dst.sock" '{"execute":"migrate-incoming","arguments":{"uri":"tcp:127.0.0.1:0"}}{"execute":"query-migrate"}' | grep -o '"port": "[0-9]*"' | grep -o '[0-9]*')
[ -n "$port" ] || fail "no destination port"
migrate="{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"tcp:127.0.0.1:$port\"}}"

# 1. A GenericError on migrate: injected, seen by the client, listed, removed.
id=$(api -X POST -d '{"kind": "error", "command": "migrate", "class": "GenericError", "desc": "injected by the shell test"}' http://fakeqemu/faults | grep -o '"f[0-9]*"' | tr -d '"')
[ -n "$id" ] || fail "no fault id"
qmp "$DIR/src.sock" "$migrate" | grep -q '{"error": {"class": "GenericError", "desc": "injected by the shell test"}}' || fail "the error was not answered"
api http://fakeqemu/faults | grep -q "\"id\": \"$id\"" || fail "fault not listed"
api -X DELETE "http://fakeqemu/faults/$id" | grep -q "\"removed\": \"$id\"" || fail "not removed"
api http://fakeqemu/faults | grep -q '^\[\]$' || fail "faults left"
[ "$(api -X DELETE http://fakeqemu/faults/nope -o /dev/null -w '%{http_code}')" = 404 ] || fail "404 for an unknown fault"

# 2. stall-at:60 on the virtual clock: remaining at each pass plateaus at 40% of RAM.
api -X PUT -d '{"scenario": "stall-at:60"}' http://fakeqemu/scenario | grep -q '"name": "stall-at:60"' || fail "scenario"
qmp "$DIR/src.sock" "$migrate" | grep -q '^{"return": {}}' || fail "migrate"
passes=()
for _ in 1 2 3 4 5 6; do
    api -X POST -d '{"seconds": 2}' http://fakeqemu/clock/advance | grep -q '"status": "active"' || fail "not active after advancing"
    view=$(api http://fakeqemu/migration)
    total=$(echo "$view" | number total)
    pass=$(echo "$view" | number pass)
    at_start=$(echo "$view" | number remaining-at-pass-start)
    passes+=("$pass")
    if [ "$pass" -ge 3 ]; then
        # 40% of RAM, in bytes: the plateau.
        [ $((at_start * 100)) -ge $((total * 40)) ] || fail "remaining fell to $at_start of $total at pass $pass"
    fi
done
[ "${passes[5]}" -gt "${passes[0]}" ] || fail "no new passes: ${passes[*]}"
echo "plateau: passes ${passes[*]}, remaining at pass start >= 40% of $total"

# 3. A higher downtime-limit lets it switch over: the migration completes.
qmp "$DIR/src.sock" '{"execute":"migrate-set-parameters","arguments":{"downtime-limit":5000}}' | grep -q '^{"return": {}}' || fail "downtime-limit"
api -X POST -d '{"seconds": 10}' http://fakeqemu/clock/advance >/dev/null
api -X POST -d '{"status": "completed", "timeout": 10}' http://fakeqemu/wait | grep -q '"status": "completed"' || fail "not completed"
qmp "$DIR/src.sock" '{"execute":"query-migrate"}' | grep -q '"status": "completed"' || fail "query-migrate"

# 4. The journal: every call, its reply, and the fault that answered migrate.
journal=$(api http://fakeqemu/journal)
echo "$journal" | grep -q '"command": "migrate-set-parameters", "arguments": {"downtime-limit": 5000}' || fail "journal calls"
echo "$journal" | grep -q "\"id\": \"$id\", \"kind\": \"error\"" || fail "journal faults"
api -X DELETE http://fakeqemu/journal | grep -q '"cleared"' || fail "clear journal"
echo "control session passed"
