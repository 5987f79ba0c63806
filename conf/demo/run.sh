#!/bin/sh
# make run: lays out build/run, makes a demo signing key, prints a token
# and a curl line, and runs nginx in the foreground (Ctrl-C stops it).
set -eu

NGINX_BIN=${1:-/usr/sbin/nginx}
MODULE=${2:-build/ngx_http_velro_module.so}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
RUN=${VELRO_RUN_DIR:-$TOP/build/run}

mkdir -p "$RUN/conf/keys" "$RUN/modules" "$RUN/logs"
cp "$MODULE" "$RUN/modules/ngx_http_velro_module.so"
LISTEN=${VELRO_LISTEN:-127.0.0.1:8080}
sed "s/VELRO_LISTEN/$LISTEN/" "$TOP/conf/demo/nginx.conf" \
    > "$RUN/conf/nginx.conf"

if [ ! -f "$RUN/conf/keys/demo.key" ]; then
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$RUN/conf/keys/demo.key" 2>/dev/null
    openssl pkey -in "$RUN/conf/keys/demo.key" -pubout \
        -out "$RUN/conf/keys/demo.pub"
fi

TOKEN=$(perl "$TOP/conf/demo/mint-token.pl" "$RUN/conf/keys/demo.key" \
        demo-user-1 3600)

if [ -f "$RUN/logs/nginx.pid" ]; then
    "$NGINX_BIN" -p "$RUN" -c conf/nginx.conf -s stop 2>/dev/null || true
    sleep 0.5
fi

"$NGINX_BIN" -p "$RUN" -c conf/nginx.conf -t -q

cat <<MSG

velro demo gateway on http://$LISTEN (logs in $RUN/logs)

A demo token (ES256, user demo-user-1, valid one hour):

$TOKEN

Try:

curl -i -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/hello
curl -i http://127.0.0.1:8080/api/hello

Ctrl-C stops the gateway.
MSG

exec "$NGINX_BIN" -p "$RUN" -c conf/nginx.conf -g 'daemon off;'
