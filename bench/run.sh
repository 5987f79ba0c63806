#!/bin/sh
# bench/run.sh NGINX_BIN MODULE_SO  (make bench)
#
# What the module costs a request, measured with wrk against one nginx
# worker pinned to CPU 0, wrk pinned to CPU 1, loopback only:
#
#   off         a server without the module's directives (sent the same
#               Authorization header, so only the module's work differs)
#   L1 hit      velro_jwt on, one valid token reused: after the first
#               request it is served from the per-worker L1 token cache
#   miss ALG    velro_jwt on in a second nginx with "velro_cache_ttl auth
#               l1=0": every request parses and verifies its token
#
# Every path serves the same small static file (never "return": it runs
# before the access phase, so the module would not run).  The paths are run
# in rounds (off, L1, miss..., off, L1, miss...) so that noise hits them
# all; the table gives medians over the rounds.  Then bench/verify_bench.c
# times one cache-miss verification through the module's code against the
# raw OpenSSL verification of the same signature.
#
# Environment: BENCH_RUNS (rounds, 3), BENCH_SECONDS (per wrk run, 10),
# BENCH_CONNECTIONS (32), BENCH_THREADS (wrk threads, 1), BENCH_ALGS (miss
# paths, "RS256 ES256 EdDSA HS256"), BENCH_VERIFY (0 skips verify_bench).
# Output: stdout and build/bench/results.txt; the nginx prefixes, logs and
# raw wrk outputs stay in build/bench/run.* until the next run.
#
# Besides req/s, each run records the worker's CPU time per request (from
# /proc): on a shared machine it moves much less than req/s does.  Takes
# about 3.5 minutes with the defaults.

set -eu

if [ $# -ne 2 ]; then
    echo "usage: sh bench/run.sh NGINX_BIN MODULE_SO" >&2
    exit 64
fi

NGINX_BIN=$1
MODULE=$2
TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT=$TOP/build/bench

RUNS=${BENCH_RUNS:-3}
SECS=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNECTIONS:-32}
THREADS=${BENCH_THREADS:-1}
ALGS=${BENCH_ALGS:-RS256 ES256 EdDSA HS256}
VERIFY=${BENCH_VERIFY:-1}
NGINX_CPU=0
WRK_CPU=1

case $MODULE in
    /*) ;;
    *) MODULE=$(cd "$(dirname "$MODULE")" && pwd)/$(basename "$MODULE") ;;
esac

for f in "$NGINX_BIN" "$MODULE"; do
    [ -e "$f" ] || { echo "bench: $f does not exist" >&2; exit 1; }
done

for tool in wrk taskset curl perl cc; do
    command -v $tool >/dev/null 2>&1 \
        || { echo "bench: $tool is not installed" >&2; exit 1; }
done

if [ "$(getconf _NPROCESSORS_ONLN)" -lt 2 ]; then
    echo "bench: needs 2 CPUs (nginx on CPU 0, wrk on CPU 1)" >&2
    exit 1
fi

mkdir -p "$OUT"
rm -rf "$OUT"/run.*
WORK=$(mktemp -d "$OUT/run.XXXXXX")
chmod 755 "$WORK"               # the worker (nobody) serves a file from it
RESULTS=$OUT/results.txt
TSV=$WORK/runs.tsv
: > "$TSV"
: > "$RESULTS"

A=$WORK/nginx-l1                # off and L1 hit, default cache settings
B=$WORK/nginx-miss              # velro_cache_ttl auth l1=0

# --- stop what we started, whatever happens ------------------------------

stop_nginx() {
    for prefix in "$A" "$B"; do
        [ -f "$prefix/logs/nginx.pid" ] || continue
        pid=$(cat "$prefix/logs/nginx.pid" 2>/dev/null || true)
        [ -n "$pid" ] || continue
        kill -TERM "$pid" 2>/dev/null || true
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
}

trap 'stop_nginx' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() {
    printf '%s\n' "$*" | tee -a "$RESULTS"
}

# --- ports, tokens, configuration -----------------------------------------

# three free loopback ports, held together so that they differ
PORTS=$(perl -MIO::Socket::INET -e '
    for (1 .. 3) {
        my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1",
            LocalPort => 0, Listen => 1, ReuseAddr => 1) or die "$!\n";
        push @s, $s;
        print $s->sockport, " ";
    }')
set -- $PORTS
PORT_OFF=$1
PORT_L1=$2
PORT_MISS=$3

KEYS=$TOP/t/keys
TOKENS=$WORK/tokens.txt

# valid for two hours: longer than any run
for alg in ES256 $ALGS RS256 PS256 ES384 EdDSA HS256; do
    grep -q "^$alg " "$TOKENS" 2>/dev/null && continue
    printf '%s %s\n' "$alg" "$(perl -I"$TOP/t/lib" -MVelro::Token -e '
        print Velro::Token::token(alg => $ARGV[0],
                                  claims => { exp => time + 7200 })' "$alg")" \
        >> "$TOKENS"
done

token_for() {
    awk -v a="$1" '$1 == a { print $2; exit }' "$TOKENS"
}

L1_TOKEN=$(token_for ES256)

mkdir -p "$WORK/html"
printf 'ok\n' > "$WORK/html/bench.txt"
chmod 755 "$WORK/html"
chmod 644 "$WORK/html/bench.txt"

# nginx maps the module file: a "make module" elsewhere that rewrites it in
# place (cp) would crash the workers mid-run (SIGBUS, SIGSEGV).  Load a copy.
mkdir -p "$WORK/modules"
cp "$MODULE" "$WORK/modules/ngx_http_velro_module.so"
MODULE_COPY=$WORK/modules/ngx_http_velro_module.so

write_conf() {   # prefix, http-level extra, servers
    mkdir -p "$1/conf" "$1/logs"
    cat > "$1/conf/nginx.conf" <<EOF
load_module $MODULE_COPY;

worker_processes 1;
worker_cpu_affinity 01;
error_log logs/error.log warn;
pid logs/nginx.pid;

events {
    worker_connections 1024;
}

http {
    access_log off;
    default_type text/plain;
    keepalive_requests 100000000;
    keepalive_timeout 60s;
$2
$3
}
EOF
}

ALL_ALGS="HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512"
ALL_ALGS="$ALL_ALGS ES256 ES384 EdDSA"

write_conf "$A" "" "
    server {
        listen 127.0.0.1:$PORT_OFF;
        root $WORK/html;
    }

    server {
        listen 127.0.0.1:$PORT_L1;
        root $WORK/html;
        velro_jwt on;
        velro_jwt_key_file $KEYS/jwks.json;
        velro_jwt_algorithms $ALL_ALGS;
    }"

write_conf "$B" "    velro_cache_ttl auth l1=0;" "
    server {
        listen 127.0.0.1:$PORT_MISS;
        root $WORK/html;
        velro_jwt on;
        velro_jwt_key_file $KEYS/jwks.json;
        velro_jwt_algorithms $ALL_ALGS;
    }"

for prefix in "$A" "$B"; do
    "$NGINX_BIN" -p "$prefix/" -c conf/nginx.conf -t -q \
        || { echo "bench: nginx -t failed for $prefix" >&2; exit 1; }
    "$NGINX_BIN" -p "$prefix/" -c conf/nginx.conf
done

worker_pid() {   # the single worker of an nginx prefix
    ps -o pid= --ppid "$(cat "$1/logs/nginx.pid")" | awk 'NR == 1 { print $1 }'
}

status() {   # port [token]
    if [ -n "${2:-}" ]; then
        curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
            -H "Authorization: Bearer $2" "http://127.0.0.1:$1/bench.txt"
    else
        curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
            "http://127.0.0.1:$1/bench.txt"
    fi
}

expect() {   # what, want, got
    if [ "$2" != "$3" ]; then
        echo "bench: $1: expected HTTP $2, got $3" >&2
        exit 1
    fi
}

i=0
until [ "$(status "$PORT_OFF")" = 200 ] && [ "$(status "$PORT_MISS")" = 401 ]
do
    i=$((i + 1))
    [ $i -lt 50 ] || { echo "bench: nginx does not answer" >&2; exit 1; }
    sleep 0.1
done

# the module must really run where it is on, and not where it is off

expect "off, no token" 200 "$(status "$PORT_OFF")"
expect "L1, no token" 401 "$(status "$PORT_L1")"
expect "L1, token" 200 "$(status "$PORT_L1" "$L1_TOKEN")"
expect "L1, bad token" 401 "$(status "$PORT_L1" "${L1_TOKEN%?????}AAAAA")"
for alg in $ALGS; do
    expect "miss $alg" 200 "$(status "$PORT_MISS" "$(token_for "$alg")")"
done

# --- the wrk runs ----------------------------------------------------------

CLK_TCK=$(getconf CLK_TCK)

cpu_ticks() {   # utime + stime of a pid
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

busy_ticks() {   # busy ticks of all CPUs: user nice system irq softirq steal
    awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

# One wrk run; appends to the TSV: path run req/s p50 p99 non2xx errors
# worker-CPU% cpu-us/req wrk-CPU% others-CPU%.  wrk's CPU time comes from
# the cutime of the shell that waited for it; "others" is what the whole
# machine was busy with beyond the worker and wrk (other processes, and the
# loopback softirq work charged to no process).

bench_one() {   # label, run, port, seconds, token
    label=$1 run=$2 port=$3 secs=$4 token=$5
    if [ "$port" = "$PORT_MISS" ]; then wpid=$WPID_B; else wpid=$WPID_A; fi
    raw=$WORK/wrk-$label-$run.txt

    t0=$(cpu_ticks "$wpid" 2>/dev/null) \
        || { echo "bench: the nginx worker $wpid is gone (crashed?):"; \
             tail -3 "$WORK"/nginx-*/logs/error.log; exit 1; } >&2
    m0=$(busy_ticks)
    c=$(sh -c 'taskset -c "$1" wrk -t"$2" -c"$3" -d"$4s" --latency \
                   -H "Authorization: Bearer $5" "$6" > "$7" 2>&1 || exit 1
               awk "{ print \$16 + \$17 }" /proc/$$/stat' \
            sh "$WRK_CPU" "$THREADS" "$CONNS" "$secs" "$token" \
            "http://127.0.0.1:$port/bench.txt" "$raw") \
        || { echo "bench: wrk failed for $label:"; cat "$raw"; exit 1; } >&2
    t1=$(cpu_ticks "$wpid" 2>/dev/null) \
        || { echo "bench: the nginx worker $wpid died during $label run $run:"; \
             tail -3 "$WORK"/nginx-*/logs/error.log; exit 1; } >&2
    m1=$(busy_ticks)

    [ "$run" = warmup ] && return 0

    awk -v label="$label" -v run="$run" -v secs="$secs" -v dt=$((t1 - t0)) \
        -v dc="$c" -v dm=$((m1 - m0)) -v hz="$CLK_TCK" '
        function us(v) {
            if (v ~ /us$/) return v + 0
            if (v ~ /ms$/) return v * 1000
            if (v ~ /m$/)  return v * 60e6
            if (v ~ /s$/)  return v * 1e6
            return v + 0
        }
        $1 == "50%"                     { p50 = us($2) }
        $1 == "99%"                     { p99 = us($2) }
        $2 == "requests" && $3 == "in"  { n = $1 }
        /^Requests\/sec:/               { rps = $2 }
        /Non-2xx or 3xx responses:/     { bad = $NF }
        /Socket errors:/ {
            gsub(/,/, ""); err = $4 + $6 + $8 + $10
        }
        END {
            if (rps == "" || n == 0) { exit 1 }
            cpu = dt / hz
            other = (dm - dt - dc) / hz
            if (other < 0) other = 0
            printf "%s\t%s\t%.1f\t%.0f\t%.0f\t%d\t%d\t%.1f\t%.2f\t%.1f\t%.1f\n",
                   label, run, rps, p50, p99, bad + 0, err + 0,
                   100 * cpu / secs, cpu * 1e6 / n, 100 * dc / hz / secs,
                   100 * other / secs
        }' "$raw" >> "$TSV" \
        || { echo "bench: no result from wrk for $label:"; cat "$raw"; exit 1; } >&2
}

WPID_A=$(worker_pid "$A")
WPID_B=$(worker_pid "$B")

PATHS="off L1_hit"
for alg in $ALGS; do PATHS="$PATHS miss_$alg"; done

run_path() {   # path, run, seconds
    case $1 in
        off)    bench_one "$1" "$2" "$PORT_OFF" "$3" "$L1_TOKEN" ;;
        L1_hit) bench_one "$1" "$2" "$PORT_L1" "$3" "$L1_TOKEN" ;;
        miss_*) bench_one "$1" "$2" "$PORT_MISS" "$3" \
                    "$(token_for "${1#miss_}")" ;;
    esac
}

npaths=$(echo $PATHS | wc -w)
NGINX_VERSION=$("$NGINX_BIN" -v 2>&1 | sed 's/.*: //')
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
say "velro bench: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $NGINX_VERSION"
say "  $CPU_MODEL, $(getconf _NPROCESSORS_ONLN) CPUs;" \
    "nginx worker on CPU $NGINX_CPU, wrk on CPU $WRK_CPU"
say "  wrk -t$THREADS -c$CONNS -d${SECS}s keepalive, GET /bench.txt" \
    "(3 bytes); $RUNS rounds x $npaths paths"

# how busy the machine is before we start: other work skews everything
idle_sample() { awk '/^cpu[0-9]/ { print $1, $5 + $6 }' /proc/stat; }
idle_sample > "$WORK/idle0"
sleep 1
idle_sample > "$WORK/idle1"
BUSY=$(awk -v hz="$CLK_TCK" 'NR == FNR { i[$1] = $2; next }
    { printf "%s%s %.0f%%", sep, $1, 100 - 100 * ($2 - i[$1]) / hz; sep = ", " }
    ' "$WORK/idle0" "$WORK/idle1")
say "  load average $(cut -d' ' -f1-3 /proc/loadavg); busy before start: $BUSY"
if awk -v hz="$CLK_TCK" 'NR == FNR { i[$1] = $2; next }
        $2 - i[$1] < 0.8 * hz { busy = 1 } END { exit !busy }' \
        "$WORK/idle0" "$WORK/idle1"
then
    say "  WARNING: other processes are using the CPUs: expect noisy numbers"
fi

# warm-up, not counted: connections, caches, the L1 entry
for p in off L1_hit miss_$(echo $ALGS | awk '{ print $1 }'); do
    run_path "$p" warmup 1
done

r=1
while [ $r -le "$RUNS" ]; do
    for p in $PATHS; do
        [ -t 2 ] && printf '  round %d/%d: %-12s\r' "$r" "$RUNS" "$p" >&2
        run_path "$p" "$r" "$SECS"
    done
    r=$((r + 1))
done
if [ -t 2 ]; then printf '%40s\r' '' >&2; fi

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the table -------------------------------------------------------------

say ""
awk -F'\t' -v paths="$PATHS" -v cpu0="$NGINX_CPU" -v cpu1="$WRK_CPU" '
    function median(key,    n, i, j, t, v) {
        n = cnt[key]
        for (i = 1; i <= n; i++) v[i] = val[key, i]
        for (i = 2; i <= n; i++)
            for (j = i; j > 1 && v[j - 1] > v[j]; j--) {
                t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
            }
        return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    function add(key, x) { val[key, ++cnt[key]] = x }
    {
        add($1 SUBSEP "rps", $3); add($1 SUBSEP "p50", $4)
        add($1 SUBSEP "p99", $5); add($1 SUBSEP "cpu", $8)
        add($1 SUBSEP "cpr", $9); add($1 SUBSEP "wrk", $10)
        add($1 SUBSEP "oth", $11)
        bad[$1] += $6 + $7
        runs[$1] = runs[$1] " " sprintf("%.0f", $3)
    }
    END {
        printf "%-11s %7s %7s %7s %6s %7s %6s %5s %5s %5s %5s  %s\n",
               "path", "req/s", "p50", "p99", "ratio", "cpu/req", "ratio",
               "nginx", "wrk", "other", "non-", "req/s"
        printf "%-11s %7s %7s %7s %6s %7s %6s %5s %5s %5s %5s  %s\n",
               "", "", "us", "us", "vs off", "us", "vs off", "CPU%", "CPU%",
               "CPU%", "2xx", "of each run"
        np = split(paths, p, " ")
        off = median("off" SUBSEP "rps")
        offc = median("off" SUBSEP "cpr")
        for (i = 1; i <= np; i++) {
            k = p[i]
            printf "%-11s %7.0f %7.0f %7.0f %6.3f %7.1f %6.3f %5.0f %5.0f %5.0f %5d %s\n",
                   k, median(k SUBSEP "rps"), median(k SUBSEP "p50"),
                   median(k SUBSEP "p99"), median(k SUBSEP "rps") / off,
                   median(k SUBSEP "cpr"), offc / median(k SUBSEP "cpr"),
                   median(k SUBSEP "cpu"), median(k SUBSEP "wrk"),
                   median(k SUBSEP "oth"), bad[k], runs[k]
        }
        l1 = median("L1_hit" SUBSEP "rps") / off
        l1c = offc / median("L1_hit" SUBSEP "cpr")
        printf "\nL1 hit / off: req/s %.3f, worker CPU per request %.3f", l1, l1c
        printf " (target >= 0.90: %s)\n", (l1 >= 0.90) ? "met" : "MISSED"
        printf "Medians over the rounds.  cpu/req: nginx worker CPU time per"
        printf " request (/proc), its\nratio = off cpu/req / path cpu/req,"
        printf " the throughput ratio if nginx had CPU %s to itself.\n", cpu0
        printf "nginx CPU%%: the worker (CPU %s); wrk CPU%%: the client", cpu0
        printf " (CPU %s); other CPU%%: the rest of the\n", cpu1
        printf "machine (other processes, softirq); all in %% of one CPU.\n"
}' "$TSV" | tee -a "$RESULTS"

say "load average after: $LOAD_AFTER"

if awk -F'\t' '$6 + $7 > 0 { bad = 1 } END { exit !bad }' "$TSV"; then
    say "  WARNING: non-2xx responses or socket errors: these runs" \
        "measured errors"
fi

if awk -F'\t' '$8 < 90 { low = 1 } END { exit !low }' "$TSV"; then
    say "  NOTE: the nginx worker was under 90% busy in some runs: the client"
    say "  or other processes on CPU $NGINX_CPU limited them (see worker CPU %)"
fi

for prefix in "$A" "$B"; do
    log=$prefix/logs/error.log
    if grep -q 'exited on signal' "$log" 2>/dev/null; then
        say "  WARNING: an nginx worker crashed ($(basename "$prefix")): see $log"
    fi
    if [ -s "$log" ]; then
        say ""
        say "error log $(basename "$prefix") ($(wc -l < "$log") lines," \
            "warn and up), last lines:"
        tail -5 "$log" | tee -a "$RESULTS"
    fi
done

stop_nginx

# --- verification alone: module vs raw OpenSSL -----------------------------

if [ "$VERIFY" != 0 ]; then
    say ""
    cc -O2 -Wall -I"$TOP/src" -o "$OUT/verify_bench" \
        "$TOP/bench/verify_bench.c" "$TOP/src/velro_jwt.c" \
        "$TOP/src/velro_jwk.c" -lssl -lcrypto -ljansson -lm
    for alg in RS256 PS256 ES256 ES384 EdDSA HS256; do
        grep "^$alg " "$TOKENS"
    done > "$WORK/verify-tokens.txt"
    rc=0
    taskset -c $WRK_CPU "$OUT/verify_bench" "$KEYS/jwks.json" \
        "$WORK/verify-tokens.txt" > "$WORK/verify.txt" || rc=$?
    tee -a "$RESULTS" < "$WORK/verify.txt"
    case $rc in
        0|2) ;;     # 2: a ratio over the target, shown in the table
        *) echo "bench: verify_bench failed ($rc)" >&2; exit 1 ;;
    esac
fi

say ""
say "results: $RESULTS; logs and raw wrk output: $WORK"
