
/*
 * velro: the invalidation follower.  A connection of its own (a
 * subscriber of ngx_http_velro_pg.c's) reads sql/schema.sql's
 * velro_invalidation_log by cursor, every velro_pg_log_poll (50ms), and,
 * unless velro_pg_listen is off, LISTENs on the velro_pg_listen channel:
 * a notification is only a doorbell that makes it read at once.  Each
 * change is handed to the caller (ngx_http_velro_invalidate.c) with its
 * seq.
 *
 * Run by one worker per nginx instance, the one elected through the
 * "velro_invalidation" zone; its cursor lives there, so that a worker
 * that takes over, or this one after a reconnect, a PostgreSQL restart or
 * a failover, continues exactly where the last read stopped.  Only when
 * the log no longer reaches back to the cursor (velro_invalidation_oldest()
 * past it) does the caller hear that changes were lost.
 *
 * seq is taken when a row is written and becomes visible at COMMIT, so
 * rows can appear out of order: a seq below the newest seen that was not
 * seen is a hole, asked for again by every read (velro_invalidations_after
 * ($1, $2, $3): seq > $1 or seq in $3) until its row appears or it is
 * older than NGX_HTTP_VELRO_PG_HOLE_MAX (a rolled back transaction leaves
 * a hole forever).
 *
 * The connection: ready -> PREPARE the read and the bounds -> read the
 * bounds (the oldest and newest seq) -> read by cursor, one command at a
 * time; any failure -> ngx_http_velro_pg.c reconnects -> ready again.
 */


#include "ngx_http_velro_module.h"
#include "ngx_http_velro_pg_conn.h"
#include "ngx_http_velro_pg_listen.h"


#define NGX_HTTP_VELRO_PG_LOG_LIMIT     "1000"
#define NGX_HTTP_VELRO_PG_LOG_LIMIT_N   1000
#define NGX_HTTP_VELRO_PG_HOLE_MAX      30000   /* ms */

#define NGX_HTTP_VELRO_PG_AFTER_STMT    "velro_log_after"
#define NGX_HTTP_VELRO_PG_AFTER_SQL                                           \
    "SELECT seq, kind, id, (SELECT velro_invalidation_oldest()), "            \
    "(SELECT pg_current_wal_insert_lsn()::text) FROM "                        \
    "velro_invalidations_after($1::bigint, $2::int, $3::bigint[])"

#define NGX_HTTP_VELRO_PG_BOUNDS_STMT   "velro_log_bounds"
#define NGX_HTTP_VELRO_PG_BOUNDS_SQL                                          \
    "SELECT velro_invalidation_oldest(), "                                    \
    "(SELECT coalesce(max(seq), 0) FROM velro_invalidation_log)"


/* the steps of a connection */
#define NGX_HTTP_VELRO_PG_STEP_PREPARE  0
#define NGX_HTTP_VELRO_PG_STEP_BOUNDS_PREPARE  1
#define NGX_HTTP_VELRO_PG_STEP_BOUNDS   2
#define NGX_HTTP_VELRO_PG_STEP_READ     3


typedef struct {
    ngx_http_velro_pg_sub_t       sub;          /* first */
    ngx_str_t                     channel;      /* empty: no LISTEN */
    ngx_log_t                    *log;
    ngx_msec_t                    interval;
    ngx_http_velro_pg_cursor_t   *cursor;
    ngx_http_velro_pg_change_pt   change;
    ngx_http_velro_pg_lost_pt     lost;
    ngx_http_velro_pg_batch_pt    batch;

    ngx_event_t                   timer;        /* every interval */
    ngx_uint_t                    step;

    /* a replay of the log for the caller's L2: (from, until] */
    int64_t                       replay_from;
    int64_t                       replay_until;
    ngx_http_velro_pg_change_pt   replay;

    u_char                        after[NGX_INT64_LEN + 1];
    u_char                        holes[NGX_HTTP_VELRO_PG_HOLES
                                        * (NGX_INT64_LEN + 1) + 3];

    unsigned                      connected:1;  /* ready, not failed */
    unsigned                      busy:1;       /* a command under way */
    unsigned                      again:1;      /* read once it is over */
    unsigned                      failing:1;    /* a failure was logged */
    unsigned                      query_failing:1;  /* logged too */
    unsigned                      replaying:1;  /* the command is a replay */
} ngx_http_velro_pg_listen_t;


static void ngx_http_velro_pg_listen_ready(ngx_http_velro_pg_sub_t *sub);
static void ngx_http_velro_pg_listen_notify(ngx_http_velro_pg_sub_t *sub,
    const char *channel, const char *payload);
static void ngx_http_velro_pg_listen_failed(ngx_http_velro_pg_sub_t *sub,
    ngx_uint_t was_up, u_char *msg, size_t len);
static void ngx_http_velro_pg_listen_result(ngx_http_velro_pg_sub_t *sub,
    PGresult *res);
static void ngx_http_velro_pg_listen_timer(ngx_event_t *ev);
static void ngx_http_velro_pg_listen_next(ngx_http_velro_pg_listen_t *ls);
static void ngx_http_velro_pg_listen_bounds(ngx_http_velro_pg_listen_t *ls,
    PGresult *res);
static ngx_uint_t ngx_http_velro_pg_listen_rows(
    ngx_http_velro_pg_listen_t *ls, PGresult *res);
static ngx_int_t ngx_http_velro_pg_listen_hole(ngx_http_velro_pg_cursor_t *c,
    int64_t seq);
static void ngx_http_velro_pg_listen_expire(ngx_http_velro_pg_cursor_t *c);
static void ngx_http_velro_pg_listen_replayed(ngx_http_velro_pg_listen_t *ls,
    PGresult *res);


static ngx_http_velro_pg_listen_t  *ngx_http_velro_pg_listen_state;


char *
ngx_http_velro_pg_listen_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    u_char                     ch;
    ngx_str_t                 *value;
    ngx_uint_t                 i;
    ngx_http_velro_pg_conf_t  *pcf;

    pcf = ngx_http_velro_pg_get_conf(cf, conf);
    if (pcf == NULL) {
        return NGX_CONF_ERROR;
    }

    if (pcf->channel_set) {
        return "is duplicate";
    }

    value = cf->args->elts;

    pcf->channel_set = 1;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        ngx_str_set(&pcf->channel, "");
        return NGX_CONF_OK;
    }

    /* an identifier: it goes into LISTEN "CHANNEL" as is */

    if (value[1].len == 0 || value[1].len > 63) {
        goto invalid;
    }

    for (i = 0; i < value[1].len; i++) {
        ch = value[1].data[i];

        if (ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
            || (i > 0 && ch >= '0' && ch <= '9'))
        {
            continue;
        }

        goto invalid;
    }

    pcf->channel = value[1];

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid channel \"%V\": an identifier "
                       "([A-Za-z_][A-Za-z0-9_]*, 63 characters at most) "
                       "or \"off\"", &value[1]);
    return NGX_CONF_ERROR;
}


char *
ngx_http_velro_pg_log_poll_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_str_t                 *value;
    ngx_msec_t                 ms;
    ngx_http_velro_pg_conf_t  *pcf;

    pcf = ngx_http_velro_pg_get_conf(cf, conf);
    if (pcf == NULL) {
        return NGX_CONF_ERROR;
    }

    if (pcf->poll != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    ms = ngx_parse_time(&value[1], 0);

    if (ms == (ngx_msec_t) NGX_ERROR || ms == 0 || ms > 60000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid interval \"%V\", 1ms to 60s", &value[1]);
        return NGX_CONF_ERROR;
    }

    pcf->poll = ms;

    return NGX_CONF_OK;
}


/* the connection is up (and LISTENs): prepare, read the bounds, follow */

static void
ngx_http_velro_pg_listen_ready(ngx_http_velro_pg_sub_t *sub)
{
    ngx_http_velro_pg_listen_t  *ls = (ngx_http_velro_pg_listen_t *) sub;

    if (ls->channel.len && ls->failing) {
        ngx_log_error(NGX_LOG_ERR, ls->log, 0,
                      "velro: postgres LISTEN \"%V\" re-established",
                      &ls->channel);

    } else if (ls->channel.len) {
        ngx_log_error(NGX_LOG_INFO, ls->log, 0,
                      "velro: postgres LISTEN \"%V\"", &ls->channel);

    } else if (ls->failing) {
        ngx_log_error(NGX_LOG_ERR, ls->log, 0,
                      "velro: postgres subscriber connection re-established");

    } else {
        ngx_log_error(NGX_LOG_INFO, ls->log, 0,
                      "velro: postgres subscriber connected");
    }

    ls->failing = 0;
    ls->connected = 1;
    ls->busy = 0;
    ls->step = NGX_HTTP_VELRO_PG_STEP_PREPARE;

    ngx_http_velro_pg_listen_next(ls);
}


/* the doorbell: read now, or as soon as the command under way is over */

static void
ngx_http_velro_pg_listen_notify(ngx_http_velro_pg_sub_t *sub,
    const char *channel, const char *payload)
{
    ngx_http_velro_pg_listen_t  *ls = (ngx_http_velro_pg_listen_t *) sub;

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, ls->log, 0,
                   "velro: postgres notification \"%s\"", payload);

    ls->again = 1;

    if (!ls->busy) {
        ngx_http_velro_pg_listen_next(ls);
    }
}


/* the transitions are logged, the retries are not */

static void
ngx_http_velro_pg_listen_failed(ngx_http_velro_pg_sub_t *sub,
    ngx_uint_t was_up, u_char *msg, size_t len)
{
    ngx_http_velro_pg_listen_t  *ls = (ngx_http_velro_pg_listen_t *) sub;

    ls->connected = 0;
    ls->busy = 0;
    ls->step = NGX_HTTP_VELRO_PG_STEP_PREPARE;

    if (was_up || !ls->failing) {
        ngx_log_error(NGX_LOG_ERR, ls->log, 0,
                      "velro: postgres subscriber connection %s: %*s, "
                      "reconnecting; the invalidation log is followed from "
                      "seq %L when it is back", was_up ? "lost" : "failed",
                      len, msg, ls->cursor->seq);
        ls->failing = 1;
    }
}


static void
ngx_http_velro_pg_listen_result(ngx_http_velro_pg_sub_t *sub, PGresult *res)
{
    ngx_http_velro_pg_listen_t  *ls = (ngx_http_velro_pg_listen_t *) sub;

    size_t          len;
    u_char          msg[512];
    ngx_uint_t      full;
    ExecStatusType  st;

    ls->busy = 0;

    st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {

        /* the same step again on the next tick */

        if (!ls->query_failing) {
            ls->query_failing = 1;

            len = ngx_http_velro_pg_message(res ? PQresultErrorMessage(res)
                                                : "no result",
                                            msg, sizeof(msg));

            ngx_log_error(NGX_LOG_ERR, ls->log, 0,
                          "velro: invalidation log query failed: %*s",
                          len, msg);
        }

        return;
    }

    if (ls->query_failing) {
        ls->query_failing = 0;

        ngx_log_error(NGX_LOG_NOTICE, ls->log, 0,
                      "velro: invalidation log query succeeded again");
    }

    switch (ls->step) {

    case NGX_HTTP_VELRO_PG_STEP_PREPARE:
    case NGX_HTTP_VELRO_PG_STEP_BOUNDS_PREPARE:
        ls->step++;
        ngx_http_velro_pg_listen_next(ls);
        return;

    case NGX_HTTP_VELRO_PG_STEP_BOUNDS:
        ngx_http_velro_pg_listen_bounds(ls, res);
        ls->step++;
        ls->again = 1;
        ngx_http_velro_pg_listen_next(ls);
        return;

    default: /* NGX_HTTP_VELRO_PG_STEP_READ */

        if (ls->replaying) {
            ls->replaying = 0;
            ngx_http_velro_pg_listen_replayed(ls, res);
            ngx_http_velro_pg_listen_next(ls);
            return;
        }

        full = ngx_http_velro_pg_listen_rows(ls, res);

        if (ls->batch) {
            ls->batch();
        }

        if (full) {
            ls->again = 1;
        }

        if (ls->again || ls->replay) {
            ngx_http_velro_pg_listen_next(ls);
        }

        return;
    }
}


static void
ngx_http_velro_pg_listen_timer(ngx_event_t *ev)
{
    ngx_http_velro_pg_listen_t  *ls = ev->data;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    ngx_add_timer(&ls->timer, ls->interval);

    ls->again = 1;

    if (!ls->busy) {
        ngx_http_velro_pg_listen_next(ls);
    }
}


/* sends the step's command, if the connection is up and free */

static void
ngx_http_velro_pg_listen_next(ngx_http_velro_pg_listen_t *ls)
{
    u_char                      *p, *last;
    ngx_int_t                    rc;
    ngx_uint_t                   i;
    const char                  *values[3];
    ngx_http_velro_pg_cursor_t  *c;

    if (!ls->connected || ls->busy) {
        return;
    }

    switch (ls->step) {

    case NGX_HTTP_VELRO_PG_STEP_PREPARE:
        rc = ngx_http_velro_pg_sub_send(&ls->sub, NGX_HTTP_VELRO_PG_AFTER_STMT,
                                        NGX_HTTP_VELRO_PG_AFTER_SQL, 3, NULL);
        break;

    case NGX_HTTP_VELRO_PG_STEP_BOUNDS_PREPARE:
        rc = ngx_http_velro_pg_sub_send(&ls->sub,
                                        NGX_HTTP_VELRO_PG_BOUNDS_STMT,
                                        NGX_HTTP_VELRO_PG_BOUNDS_SQL, 0, NULL);
        break;

    case NGX_HTTP_VELRO_PG_STEP_BOUNDS:
        rc = ngx_http_velro_pg_sub_send(&ls->sub,
                                        NGX_HTTP_VELRO_PG_BOUNDS_STMT, NULL,
                                        0, NULL);
        break;

    default: /* NGX_HTTP_VELRO_PG_STEP_READ */

        if (ls->replay && !ls->again) {
            *ngx_sprintf(ls->after, "%L", ls->replay_from) = '\0';

            values[0] = (const char *) ls->after;
            values[1] = NGX_HTTP_VELRO_PG_LOG_LIMIT;
            values[2] = "{}";

            rc = ngx_http_velro_pg_sub_send(&ls->sub,
                                            NGX_HTTP_VELRO_PG_AFTER_STMT,
                                            NULL, 3, values);
            if (rc == NGX_OK) {
                ls->replaying = 1;
            }

            break;
        }

        c = ls->cursor;

        ngx_http_velro_pg_listen_expire(c);

        *ngx_sprintf(ls->after, "%L", c->seq) = '\0';

        p = ls->holes;
        last = p + sizeof(ls->holes) - 2;
        *p++ = '{';

        for (i = 0; i < c->nholes && p + NGX_INT64_LEN + 1 < last; i++) {
            p = ngx_sprintf(p, i ? ",%L" : "%L", c->hole[i]);
        }

        *p++ = '}';
        *p = '\0';

        values[0] = (const char *) ls->after;
        values[1] = NGX_HTTP_VELRO_PG_LOG_LIMIT;
        values[2] = (const char *) ls->holes;

        ls->again = 0;

        rc = ngx_http_velro_pg_sub_send(&ls->sub, NGX_HTTP_VELRO_PG_AFTER_STMT,
                                        NULL, 3, values);
        break;
    }

    if (rc == NGX_OK) {
        ls->busy = 1;
    }

    /* NGX_ERROR: failed() was called, ready() follows the reconnect */
}


/*
 * The log's oldest and newest seq: a first cursor (nginx started, or a
 * binary upgrade: L1 is empty anyway), or the check that the log still
 * reaches back to ours
 */

static void
ngx_http_velro_pg_listen_bounds(ngx_http_velro_pg_listen_t *ls,
    PGresult *res)
{
    int64_t                      oldest, newest;
    ngx_http_velro_pg_cursor_t  *c;

    c = ls->cursor;

    if (PQntuples(res) != 1 || PQnfields(res) != 2) {
        return;
    }

    oldest = ngx_atoof((u_char *) PQgetvalue(res, 0, 0),
                       PQgetlength(res, 0, 0));
    newest = ngx_atoof((u_char *) PQgetvalue(res, 0, 1),
                       PQgetlength(res, 0, 1));

    if (oldest < 0 || newest < 0) {
        return;
    }

    if (!c->valid) {
        c->seq = newest;
        c->nholes = 0;
        c->valid = 1;

    } else if ((oldest > c->seq + 1) || newest < c->seq) {

        /* pruned past the cursor, or another log (a database restored) */

        ngx_log_error(NGX_LOG_WARN, ls->log, 0,
                      "velro: invalidation log no longer reaches back to "
                      "seq %L (oldest %L, newest %L), changes were missed, "
                      "L1 flushed", c->seq + 1, oldest, newest);

        c->seq = newest;
        c->nholes = 0;

        if (ls->lost) {
            ls->lost();
        }
    }

    ngx_log_error(NGX_LOG_INFO, ls->log, 0,
                  "velro: invalidation log followed from seq %L", c->seq);
}


/*
 * A replay's rows: handed to its callback up to replay_until; the replay
 * ends there, or when the log has no more.  The changes themselves were
 * applied when they were first read: only the caller's L2 wants them.
 */

static void
ngx_http_velro_pg_listen_replayed(ngx_http_velro_pg_listen_t *ls,
    PGresult *res)
{
    int         i, n;
    u_char      id[16];
    int64_t     seq;
    ngx_str_t   kind;
    ngx_uint_t  k;

    n = PQntuples(res);

    if (PQnfields(res) != 5) {
        ls->replay = NULL;
        return;
    }

    for (i = 0; i < n; i++) {
        seq = ngx_atoof((u_char *) PQgetvalue(res, i, 0),
                        PQgetlength(res, i, 0));

        if (seq <= 0 || seq > ls->replay_until) {
            break;
        }

        ls->replay_from = seq;

        kind.data = (u_char *) PQgetvalue(res, i, 1);
        kind.len = PQgetlength(res, i, 1);

        if (velro_uuid_parse((u_char *) PQgetvalue(res, i, 2),
                             PQgetlength(res, i, 2), id) != 0)
        {
            continue;
        }

        if (kind.len == 4 && ngx_strncmp(kind.data, "user", 4) == 0) {
            k = VELRO_INVALIDATE_USER;

        } else if (kind.len == 6 && ngx_strncmp(kind.data, "member", 6) == 0) {
            k = VELRO_INVALIDATE_MEMBER;

        } else if (kind.len == 10
                   && ngx_strncmp(kind.data, "generation", 10) == 0)
        {
            k = VELRO_INVALIDATE_GENERATION;

        } else if (kind.len == 7 && ngx_strncmp(kind.data, "project", 7) == 0)
        {
            k = VELRO_INVALIDATE_PROJECT;

        } else {
            continue;
        }

        ls->replay(k, id, seq);
    }

    if (i < n || n < NGX_HTTP_VELRO_PG_LOG_LIMIT_N
        || ls->replay_from >= ls->replay_until)
    {
        ngx_log_error(NGX_LOG_NOTICE, ls->log, 0,
                      "velro: invalidation log replayed for L2 up to seq %L",
                      ls->replay_from);

        ls->replay = NULL;
    }
}


/*
 * The caller's L2 missed the changes (from, until]: they are read from the
 * log again, between the reads that follow it, and handed to del
 */

void
ngx_http_velro_pg_listen_replay(int64_t from, int64_t until,
    ngx_http_velro_pg_change_pt del)
{
    ngx_http_velro_pg_listen_t  *ls;

    ls = ngx_http_velro_pg_listen_state;

    if (ls == NULL || until <= from) {
        return;
    }

    if (ls->replay && ls->replay_from < from) {
        from = ls->replay_from;             /* one under way: extended */
    }

    if (ls->replay && ls->replay_until > until) {
        until = ls->replay_until;
    }

    ngx_log_error(NGX_LOG_NOTICE, ls->log, 0,
                  "velro: invalidation log replayed for L2 from seq %L to "
                  "%L", from + 1, until);

    ls->replay_from = from;
    ls->replay_until = until;
    ls->replay = del;

    if (!ls->busy) {
        ngx_http_velro_pg_listen_next(ls);
    }
}


/* the rows of a read, in seq order; 1: as many as asked, read again */

static ngx_uint_t
ngx_http_velro_pg_listen_rows(ngx_http_velro_pg_listen_t *ls, PGresult *res)
{
    int                          i, n;
    int64_t                      seq, s, oldest;
    uint64_t                     lsn;
    ngx_str_t                    kind;
    ngx_uint_t                   k, j;
    u_char                       id[16];
    ngx_http_velro_pg_cursor_t  *c;

    c = ls->cursor;

    n = PQntuples(res);

    if (PQnfields(res) != 5) {
        return 0;
    }

    /*
     * the lookups from a standby need it (ngx_http_velro_pg_replica.c):
     * set before any change of this read is published, or L1 flushed
     */

    if (n > 0) {
        lsn = ngx_http_velro_pg_lsn((u_char *) PQgetvalue(res, 0, 4),
                                    PQgetlength(res, 0, 4));

        if (lsn > c->lsn) {
            c->lsn = lsn;
            ngx_memory_barrier();
        }
    }

    /*
     * the log pruned past the cursor while we were following it (rows
     * older than velro.log_keep: the cursor was stuck that long)
     */

    if (n > 0) {
        oldest = ngx_atoof((u_char *) PQgetvalue(res, 0, 3),
                           PQgetlength(res, 0, 3));

        if (oldest > c->seq + 1) {
            ngx_log_error(NGX_LOG_WARN, ls->log, 0,
                          "velro: invalidation log no longer reaches back to "
                          "seq %L (oldest %L), changes were missed, "
                          "L1 flushed", c->seq + 1, oldest);

            c->seq = oldest - 1;
            c->nholes = 0;

            if (ls->lost) {
                ls->lost();
            }
        }
    }

    for (i = 0; i < n; i++) {
        seq = ngx_atoof((u_char *) PQgetvalue(res, i, 0),
                        PQgetlength(res, i, 0));

        kind.data = (u_char *) PQgetvalue(res, i, 1);
        kind.len = PQgetlength(res, i, 1);

        if (seq <= 0
            || velro_uuid_parse((u_char *) PQgetvalue(res, i, 2),
                                PQgetlength(res, i, 2), id) != 0)
        {
            continue;
        }

        if (seq > c->seq) {

            /* the seqs skipped are holes: asked for again */

            for (s = c->seq + 1; s < seq; s++) {
                if (ngx_http_velro_pg_listen_hole(c, s) != NGX_OK) {
                    ngx_log_error(NGX_LOG_WARN, ls->log, 0,
                                  "velro: invalidation log: more than %d "
                                  "changes not yet committed, L1 flushed",
                                  NGX_HTTP_VELRO_PG_HOLES);

                    c->nholes = 0;

                    if (ls->lost) {
                        ls->lost();
                    }

                    break;
                }
            }

            c->seq = seq;

        } else {
            for (j = 0; j < c->nholes; j++) {
                if (c->hole[j] == seq) {
                    break;
                }
            }

            if (j == c->nholes) {
                continue;               /* seen already */
            }

            ngx_log_debug1(NGX_LOG_DEBUG_EVENT, ls->log, 0,
                           "velro: invalidation log: hole %L filled", seq);

            c->nholes--;
            c->hole[j] = c->hole[c->nholes];
            c->hole_msec[j] = c->hole_msec[c->nholes];
        }

        if (kind.len == 4 && ngx_strncmp(kind.data, "user", 4) == 0) {
            k = VELRO_INVALIDATE_USER;

        } else if (kind.len == 6 && ngx_strncmp(kind.data, "member", 6) == 0) {
            k = VELRO_INVALIDATE_MEMBER;

        } else if (kind.len == 10
                   && ngx_strncmp(kind.data, "generation", 10) == 0)
        {
            k = VELRO_INVALIDATE_GENERATION;

        } else if (kind.len == 7 && ngx_strncmp(kind.data, "project", 7) == 0)
        {
            k = VELRO_INVALIDATE_PROJECT;

        } else if (kind.len == 4 && ngx_strncmp(kind.data, "team", 4) == 0) {
            k = VELRO_INVALIDATE_TEAM;

        } else {
            ngx_log_error(NGX_LOG_ERR, ls->log, 0,
                          "velro: invalidation log: seq %L of unknown kind "
                          "\"%V\", L1 flushed", seq, &kind);

            if (ls->lost) {
                ls->lost();
            }

            continue;
        }

        ls->change(k, id, seq);
    }

    return n >= NGX_HTTP_VELRO_PG_LOG_LIMIT_N;
}


static ngx_int_t
ngx_http_velro_pg_listen_hole(ngx_http_velro_pg_cursor_t *c, int64_t seq)
{
    if (c->nholes == NGX_HTTP_VELRO_PG_HOLES) {
        return NGX_ERROR;
    }

    c->hole[c->nholes] = seq;
    c->hole_msec[c->nholes] = ngx_current_msec;
    c->nholes++;

    return NGX_OK;
}


/* holes older than any transaction still running are given up */

static void
ngx_http_velro_pg_listen_expire(ngx_http_velro_pg_cursor_t *c)
{
    ngx_uint_t  i;

    for (i = 0; i < c->nholes; /* void */) {

        if ((ngx_msec_int_t) (ngx_current_msec - c->hole_msec[i])
            < NGX_HTTP_VELRO_PG_HOLE_MAX)
        {
            i++;
            continue;
        }

        c->nholes--;
        c->hole[i] = c->hole[c->nholes];
        c->hole_msec[i] = c->hole_msec[c->nholes];
    }
}


/* the elected worker */

ngx_int_t
ngx_http_velro_pg_listen_start(ngx_cycle_t *cycle,
    ngx_http_velro_pg_conf_t *pcf, ngx_http_velro_pg_cursor_t *cursor,
    ngx_http_velro_pg_change_pt change, ngx_http_velro_pg_lost_pt lost,
    ngx_http_velro_pg_batch_pt batch)
{
    u_char                      *p;
    ngx_int_t                    rc;
    ngx_http_velro_pg_listen_t  *ls;

    if (ngx_http_velro_pg_listen_state) {
        return NGX_OK;
    }

    ls = ngx_calloc(sizeof(ngx_http_velro_pg_listen_t)
                    + sizeof("LISTEN \"\"") + pcf->channel.len, cycle->log);
    if (ls == NULL) {
        return NGX_ERROR;
    }

    if (pcf->channel.len) {
        p = (u_char *) (ls + 1);
        ls->sub.sql = (const char *) p;
        p = ngx_sprintf(p, "LISTEN \"%V\"", &pcf->channel);
        *p = '\0';
    }

    ls->sub.ready = ngx_http_velro_pg_listen_ready;
    ls->sub.notify = ngx_http_velro_pg_listen_notify;
    ls->sub.failed = ngx_http_velro_pg_listen_failed;
    ls->sub.result = ngx_http_velro_pg_listen_result;

    ls->channel = pcf->channel;
    ls->log = cycle->log;
    ls->interval = (pcf->poll == NGX_CONF_UNSET_MSEC) ? 50 : pcf->poll;
    ls->cursor = cursor;
    ls->change = change;
    ls->lost = lost;
    ls->batch = batch;

    ls->timer.handler = ngx_http_velro_pg_listen_timer;
    ls->timer.data = ls;
    ls->timer.log = cycle->log;
    ls->timer.cancelable = 1;

    ngx_http_velro_pg_listen_state = ls;

    rc = ngx_http_velro_pg_subscribe(cycle, &ls->sub);

    if (rc != NGX_OK) {
        ngx_http_velro_pg_listen_state = NULL;
        ngx_free(ls);

        /* NGX_DECLINED: no velro_pg, as the pool has said */

        return rc;
    }

    ngx_add_timer(&ls->timer, ls->interval);

    return NGX_OK;
}


void
ngx_http_velro_pg_listen_stop(void)
{
    ngx_http_velro_pg_listen_t  *ls;

    ls = ngx_http_velro_pg_listen_state;

    if (ls == NULL) {
        return;
    }

    if (ls->timer.timer_set) {
        ngx_del_timer(&ls->timer);
    }

    ngx_http_velro_pg_unsubscribe(&ls->sub);
    ngx_free(ls);

    ngx_http_velro_pg_listen_state = NULL;
}
