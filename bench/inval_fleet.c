
/*
 * bench/inval_fleet.c: what following invalidations costs PostgreSQL, for
 * a fleet of hosts, and how fresh each design is (bench/fleet.pl runs it).
 *
 *   inval_fleet CONNINFO MODE HOSTS SECONDS [INTERVAL_MS [WRITERS]]
 *
 * WRITERS connections (4) commit change-triggering writes as fast as they
 * can: UPDATE users SET tokens_valid_after = now() of users taken in turn,
 * one per autocommit transaction, each firing velro_notify() (a NOTIFY and
 * a row of velro_invalidation_log).  HOSTS more connections stand for the
 * hosts of a fleet, one subscriber each, following the changes by MODE:
 *
 *   none     nobody follows (the commit rate with no follower)
 *   listen   LISTEN velro_invalidate, notifications read as they come
 *   cursor   every INTERVAL_MS (50), staggered over the hosts:
 *              SELECT seq, id FROM velro_invalidation_log
 *               WHERE seq > $1 ORDER BY seq LIMIT 10000
 *            (prepared), the cursor moved to the last seq read
 *
 * Freshness: for every host and every change it receives, the time from
 * the writer's COMMIT returning to the host having it (0 when the host had
 * it first).  Prints one line:
 *
 *   mode=M hosts=N commits=C commits_per_s=R samples=S p50_ms= p99_ms=
 *   max_ms= follower_queries_per_s=Q
 *
 * One process, one thread, poll() over every connection: nothing here
 * waits on one connection while another has something to say.
 */

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>


#define NUSERS_MAX  10000
#define HIST_US     10000000        /* samples above 10 s: counted as 10 s */
#define HIST_STEP   100             /* 0.1 ms buckets */


typedef struct {
    PGconn    *conn;
    int        busy;
    int        user;                /* the user being written */
} writer_t;


typedef struct {
    PGconn    *conn;
    int        busy;
    int64_t    cursor;
    double     next;                /* cursor: the next poll */
} host_t;


static char      ids[NUSERS_MAX][37];
static double    sent[NUSERS_MAX];          /* last write sent at */
static double    committed[NUSERS_MAX];     /* last COMMIT returned at */
static int       nusers;
static uint64_t  hist[HIST_US / HIST_STEP + 1];
static uint64_t  samples, queries, commits;


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static void
die(const char *what, PGconn *c)
{
    fprintf(stderr, "inval_fleet: %s: %s\n", what,
            c ? PQerrorMessage(c) : strerror(errno));
    exit(1);
}


static PGconn *
connect_one(const char *conninfo)
{
    PGconn  *c;

    c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        die("connect", c);
    }

    return c;
}


static void
run(PGconn *c, const char *sql)
{
    PGresult  *res;

    res = PQexec(c, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK
        && PQresultStatus(res) != PGRES_TUPLES_OK)
    {
        die(sql, c);
    }

    PQclear(res);
}


static int
user_index(const char *id)
{
    int  lo, hi, mid, cmp;

    lo = 0;
    hi = nusers - 1;

    while (lo <= hi) {
        mid = (lo + hi) / 2;
        cmp = strcmp(ids[mid], id);

        if (cmp == 0) {
            return mid;
        }

        if (cmp < 0) {
            lo = mid + 1;

        } else {
            hi = mid - 1;
        }
    }

    return -1;
}


static void
sample(const char *id, double t)
{
    int     u;
    double  us;

    u = user_index(id);
    if (u < 0 || sent[u] == 0) {
        return;
    }

    /* the host has it before the writer learnt of its COMMIT: 0 */

    us = committed[u] < sent[u] ? 0 : (t - committed[u]) * 1e6;
    if (us < 0) {
        us = 0;
    }

    if (us > HIST_US) {
        us = HIST_US;
    }

    hist[(size_t) us / HIST_STEP]++;
    samples++;
}


static double
percentile(double p)
{
    size_t    i;
    uint64_t  want, seen;

    if (samples == 0) {
        return 0;
    }

    want = (uint64_t) (p * samples);
    if (want == 0) {
        want = 1;
    }

    seen = 0;

    for (i = 0; i <= HIST_US / HIST_STEP; i++) {
        seen += hist[i];
        if (seen >= want) {
            return (i + 1) * HIST_STEP / 1000.0;
        }
    }

    return HIST_US / 1000.0;
}


static void
writer_send(writer_t *w, int user)
{
    const char  *param[1];

    w->user = user;
    param[0] = ids[user];
    sent[user] = now();

    if (!PQsendQueryPrepared(w->conn, "w", 1, param, NULL, NULL, 0)) {
        die("send write", w->conn);
    }

    w->busy = 1;
}


static void
host_poll(host_t *h)
{
    char         cur[32];
    const char  *param[1];

    snprintf(cur, sizeof(cur), "%lld", (long long) h->cursor);
    param[0] = cur;

    if (!PQsendQueryPrepared(h->conn, "c", 1, param, NULL, NULL, 0)) {
        die("send poll", h->conn);
    }

    h->busy = 1;
    queries++;
}


int
main(int argc, char **argv)
{
    int             mode, nhosts, nwriters, interval, i, n, next_user, rc;
    double          secs, start, end, t, wait;
    host_t         *hosts;
    writer_t       *writers;
    PGconn         *c;
    PGresult       *res;
    PGnotify       *nt;
    struct pollfd  *pfd;
    const char     *conninfo, *id;

    if (argc < 5) {
        fprintf(stderr, "usage: inval_fleet CONNINFO none|listen|cursor "
                "HOSTS SECONDS [INTERVAL_MS [WRITERS]]\n");
        return 2;
    }

    conninfo = argv[1];
    mode = strcmp(argv[2], "listen") == 0 ? 1
           : strcmp(argv[2], "cursor") == 0 ? 2 : 0;
    nhosts = mode ? atoi(argv[3]) : 0;
    secs = atof(argv[4]);
    interval = argc > 5 ? atoi(argv[5]) : 50;
    nwriters = argc > 6 ? atoi(argv[6]) : 4;

    c = connect_one(conninfo);
    res = PQexec(c, "SELECT id::text FROM users ORDER BY id::text LIMIT 10000");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) == 0) {
        die("users", c);
    }

    nusers = PQntuples(res);
    for (i = 0; i < nusers; i++) {
        snprintf(ids[i], sizeof(ids[i]), "%s", PQgetvalue(res, i, 0));
    }

    PQclear(res);
    PQfinish(c);

    writers = calloc(nwriters, sizeof(writer_t));
    hosts = calloc(nhosts ? nhosts : 1, sizeof(host_t));
    pfd = calloc(nwriters + nhosts, sizeof(struct pollfd));
    if (writers == NULL || hosts == NULL || pfd == NULL) {
        die("calloc", NULL);
    }

    start = now();

    for (i = 0; i < nhosts; i++) {
        hosts[i].conn = connect_one(conninfo);

        if (mode == 1) {
            run(hosts[i].conn, "LISTEN velro_invalidate");

        } else {
            run(hosts[i].conn, "SET synchronous_commit = off");
            res = PQprepare(hosts[i].conn, "c",
                            "SELECT seq, id::text FROM velro_invalidation_log"
                            " WHERE seq > $1::bigint ORDER BY seq"
                            " LIMIT 10000", 1, NULL);
            if (PQresultStatus(res) != PGRES_COMMAND_OK) {
                die("prepare poll", hosts[i].conn);
            }

            PQclear(res);
            res = PQexec(hosts[i].conn, "SELECT coalesce(max(seq), 0)"
                                        " FROM velro_invalidation_log");
            hosts[i].cursor = atoll(PQgetvalue(res, 0, 0));
            PQclear(res);
        }

        if (PQsetnonblocking(hosts[i].conn, 1) != 0) {
            die("nonblocking", hosts[i].conn);
        }
    }

    for (i = 0; i < nwriters; i++) {
        writers[i].conn = connect_one(conninfo);
        run(writers[i].conn, "SET synchronous_commit = off");
        res = PQprepare(writers[i].conn, "w",
                        "UPDATE users SET tokens_valid_after = now()"
                        " WHERE id = $1::uuid", 1, NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            die("prepare write", writers[i].conn);
        }

        PQclear(res);
    }

    start = now();
    end = start + secs;

    for (i = 0; i < nhosts; i++) {
        hosts[i].next = start + (double) interval / 1000 * i / nhosts;
    }

    next_user = 0;

    for (i = 0; i < nwriters; i++) {
        writer_send(&writers[i], next_user);
        next_user = (next_user + 1) % nusers;
    }

    for ( ;; ) {
        t = now();
        if (t >= end) {
            break;
        }

        wait = end - t;

        for (i = 0; mode == 2 && i < nhosts; i++) {
            if (!hosts[i].busy && hosts[i].next <= t) {
                host_poll(&hosts[i]);
                hosts[i].next += (double) interval / 1000;
            }

            if (!hosts[i].busy && hosts[i].next - t < wait) {
                wait = hosts[i].next - t;
            }
        }

        n = 0;

        for (i = 0; i < nwriters; i++) {
            pfd[n].fd = PQsocket(writers[i].conn);
            pfd[n].events = POLLIN;
            pfd[n].revents = 0;
            n++;
        }

        for (i = 0; i < nhosts; i++) {
            pfd[n].fd = PQsocket(hosts[i].conn);
            pfd[n].events = POLLIN;
            pfd[n].revents = 0;
            n++;
        }

        rc = poll(pfd, n, (int) (wait * 1000) + 1);
        if (rc < 0 && errno != EINTR) {
            die("poll", NULL);
        }

        t = now();

        for (i = 0; i < nwriters; i++) {
            if (!(pfd[i].revents & (POLLIN | POLLERR | POLLHUP))) {
                continue;
            }

            if (!PQconsumeInput(writers[i].conn)) {
                die("write input", writers[i].conn);
            }

            if (PQisBusy(writers[i].conn)) {
                continue;
            }

            while ((res = PQgetResult(writers[i].conn)) != NULL) {
                if (PQresultStatus(res) != PGRES_COMMAND_OK) {
                    die("write", writers[i].conn);
                }

                PQclear(res);
            }

            committed[writers[i].user] = t;
            commits++;
            writer_send(&writers[i], next_user);
            next_user = (next_user + 1) % nusers;
        }

        for (i = 0; i < nhosts; i++) {
            host_t  *h = &hosts[i];
            int      r;

            if (!(pfd[nwriters + i].revents & (POLLIN | POLLERR | POLLHUP))) {
                continue;
            }

            if (!PQconsumeInput(h->conn)) {
                die("host input", h->conn);
            }

            if (mode == 1) {
                while ((nt = PQnotifies(h->conn)) != NULL) {
                    id = strstr(nt->extra, "\"id\":\"");
                    if (id != NULL) {
                        char  buf[37];

                        snprintf(buf, sizeof(buf), "%s", id + 6);
                        sample(buf, t);
                    }

                    PQfreemem(nt);
                }

                continue;
            }

            if (PQisBusy(h->conn)) {
                continue;
            }

            while ((res = PQgetResult(h->conn)) != NULL) {
                if (PQresultStatus(res) != PGRES_TUPLES_OK) {
                    die("poll", h->conn);
                }

                for (r = 0; r < PQntuples(res); r++) {
                    h->cursor = atoll(PQgetvalue(res, r, 0));
                    sample(PQgetvalue(res, r, 1), t);
                }

                PQclear(res);
            }

            h->busy = 0;
        }
    }

    t = now() - start;

    printf("mode=%s hosts=%d commits=%llu commits_per_s=%.0f samples=%llu"
           " p50_ms=%.1f p99_ms=%.1f max_ms=%.1f follower_queries_per_s=%.0f"
           "\n", argv[2], nhosts, (unsigned long long) commits, commits / t,
           (unsigned long long) samples, percentile(0.5), percentile(0.99),
           percentile(1.0), queries / t);

    return 0;
}
