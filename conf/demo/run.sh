#!/bin/sh
# make run: lays out build/run, starts a local PostgreSQL (schema and demo
# data from sql/) and Redis with their data under build/run, makes a demo
# signing key, prints tokens and curl lines, and runs nginx until it is
# told to stop: Ctrl-C (SIGINT), SIGTERM (a supervisor, timeout, docker
# stop) or SIGHUP, to this script or to the make that started it, stops
# nginx, PostgreSQL and Redis.
#
# As root, nginx's workers run as $VELRO_WORKER_USER (nobody) and so does
# Redis, whose socket is private to its owner: the workers can reach it and
# nobody else but root can.
set -eu

NGINX_BIN=${1:-/usr/sbin/nginx}
MODULE=${2:-build/ngx_http_velro_module.so}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
RUN=${VELRO_RUN_DIR:-$TOP/build/run}
LISTEN=${VELRO_LISTEN:-127.0.0.1:8080}
BACKEND=${VELRO_BACKEND:-127.0.0.1:8081}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

mkdir -p "$RUN/conf/keys" "$RUN/modules" "$RUN/logs" "$RUN/redis"
cp "$MODULE" "$RUN/modules/ngx_http_velro_module.so"

# who nginx's workers run as: as root, an unprivileged user named here (and
# Redis runs as that user too); otherwise the caller, for both
WORKER_USER=${VELRO_WORKER_USER:-nobody}
WORKER_GROUP=$(id -gn "$WORKER_USER" 2>/dev/null || echo nogroup)
as_worker() {
    if [ "$(id -u)" = 0 ]; then runuser -u "$WORKER_USER" -- "$@"; else "$@"; fi
}
if [ "$(id -u)" = 0 ]; then
    chown "$WORKER_USER" "$RUN/redis"
    if ! as_worker test -x "$RUN/redis"; then
        echo "run.sh: user $WORKER_USER cannot reach $RUN (a parent" \
            "directory is private): set VELRO_RUN_DIR to a directory it" \
            "can reach, or VELRO_WORKER_USER" >&2
        exit 1
    fi
    NGINX_USER="user $WORKER_USER $WORKER_GROUP;"
else
    NGINX_USER=""
fi

# stop what a previous run left behind
if [ -f "$RUN/logs/nginx.pid" ]; then
    if "$NGINX_BIN" -p "$RUN" -c conf/nginx.conf -s stop 2>/dev/null; then
        i=0
        while [ -f "$RUN/logs/nginx.pid" ] && [ $i -lt 100 ]; do
            sleep 0.1; i=$((i + 1))
        done
    fi
fi

as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# PostgreSQL: a cluster in build/run/pg, on a unix socket only

PGDATA=$RUN/pg/data
PGSOCK=$RUN/pg/sock

if [ ! -d "$PGDATA" ]; then
    mkdir -p "$PGSOCK"
    [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$RUN/pg"
    as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 \
        --locale=C >"$RUN/logs/initdb.log"
    NEW_DB=1
fi

as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -w status >/dev/null 2>&1 \
    && as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -w -m fast stop >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -w -l "$RUN/pg/postgres.log" \
    -o "-c listen_addresses='' -k $PGSOCK -c max_connections=200" \
    start >/dev/null

# the schema on every start (it is idempotent: CREATE OR REPLACE, IF NOT
# EXISTS), so that a cluster left by an older checkout gets the functions
# this module calls; the demo data once
if [ "${NEW_DB:-0}" = 1 ]; then
    as_pg "$PGBIN/createdb" -h "$PGSOCK" -U postgres velro
fi
as_pg env PGOPTIONS='-c client_min_messages=warning' "$PGBIN/psql" -X -q \
    -v ON_ERROR_STOP=1 -h "$PGSOCK" -U postgres -d velro \
    -f "$TOP/sql/schema.sql" >/dev/null
if [ "${NEW_DB:-0}" = 1 ]; then
    as_pg "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGSOCK" -U postgres \
        -d velro -f "$TOP/sql/demo.sql" >/dev/null
fi

# Redis: no persistence, a unix socket in build/run/redis

REDIS_SOCK=$RUN/redis/redis.sock

stop_redis() {
    pid=$(cat "$RUN/redis/redis.pid" 2>/dev/null) || return 0
    kill "$pid" 2>/dev/null || return 0
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
        sleep 0.1; i=$((i + 1))
    done
}

stop_redis
rm -f "$RUN/redis/redis.pid"
as_worker redis-server --port 0 --unixsocket "$REDIS_SOCK" \
    --unixsocketperm 700 --save '' --appendonly no --dir "$RUN/redis" \
    --daemonize yes --pidfile "$RUN/redis/redis.pid" \
    --logfile "$RUN/redis/redis.log"

NGINX_PID=
stop_all() {
    trap '' INT TERM HUP
    if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
        kill -TERM "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
    fi
    stop_redis
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -w -m fast stop >/dev/null 2>&1 \
        || true
}

# a caller that signals us and closes our output (t/032 does) must not
# kill us with SIGPIPE before we have stopped what we started
trap '' PIPE
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

sed -e "s|VELRO_LISTEN|$LISTEN|" -e "s|VELRO_PG_SOCK|$PGSOCK|" \
    -e "s|VELRO_BACKEND|$BACKEND|" \
    -e "s|VELRO_REDIS_SOCK|$REDIS_SOCK|" \
    "$TOP/conf/demo/nginx.conf" > "$RUN/conf/nginx.conf"

if [ ! -f "$RUN/conf/keys/demo.key" ]; then
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$RUN/conf/keys/demo.key" 2>/dev/null
    openssl pkey -in "$RUN/conf/keys/demo.key" -pubout \
        -out "$RUN/conf/keys/demo.pub"
fi

token() {
    perl "$TOP/conf/demo/mint-token.pl" "$RUN/conf/keys/demo.key" "$1" 3600
}

ALICE=$(token a11ce000-0000-4000-8000-000000000001)
BOB=$(token b0b00000-0000-4000-8000-000000000002)
CAROL=$(token ca201000-0000-4000-8000-000000000003)
DAVE=$(token da7e0000-0000-4000-8000-000000000004)
GEN=http://$LISTEN/api/generations/6e000000-0000-4000-8000-000000000001

"$NGINX_BIN" -p "$RUN" -c conf/nginx.conf -g "daemon on; $NGINX_USER" -t -q

cat <<MSG

velro demo gateway on http://$LISTEN (logs in $RUN/logs), with
PostgreSQL (socket $PGSOCK) and Redis (socket $REDIS_SOCK).

Demo tokens (ES256, valid one hour), one per demo user (sql/demo.sql):

ALICE=$ALICE
BOB=$BOB
CAROL=$CAROL
DAVE=$DAVE

Try (the generation belongs to alice; bob edits and carol views its team's
projects; dave is in no team):

curl -i -H "Authorization: Bearer \$ALICE" $GEN            # 200 owner
curl -i -H "Authorization: Bearer \$BOB" -X PUT $GEN       # 200 editor
curl -i -H "Authorization: Bearer \$CAROL" -X PUT $GEN     # 403 viewer writes
curl -i -H "Authorization: Bearer \$DAVE" $GEN             # 403 outsider
curl -i $GEN                                               # 401 no token

The response header X-Velro-Authz shows the tier that answered (L3, then
L1) and the role. Ctrl-C stops the gateway, PostgreSQL and Redis.
MSG

# nginx in the background, so that this shell's traps run as soon as a
# signal comes (a foreground child would hold them until it exits).  make
# forwards SIGTERM to this script but not SIGHUP: if make goes away, this
# script is reparented, and stops everything too.
PARENT=$PPID
"$NGINX_BIN" -p "$RUN" -c conf/nginx.conf -g "daemon off; $NGINX_USER" &
NGINX_PID=$!
while kill -0 "$NGINX_PID" 2>/dev/null; do
    read -r _ _ _ ppid _ < /proc/$$/stat
    [ "$ppid" = "$PARENT" ] || exit 129
    sleep 1 &
    wait $! || true
done
wait "$NGINX_PID" || exit $?
