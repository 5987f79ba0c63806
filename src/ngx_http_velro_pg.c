
/*
 * velro: L3, PostgreSQL through libpq's nonblocking API: the adapter.
 *
 * Per worker: a pool of "pool" connections, all opened at worker start,
 * each with the statements velro_l3 (velro_l3_entities()) and
 * velro_l3_warm (velro_l3_warm_entities()) prepared once (in that order;
 * a database without velro_l3_warm_entities() only fails warm requests;
 * with prepare=off nothing is prepared and both go as unnamed statements,
 * for a pooler in transaction mode);
 * a FIFO of queries waiting for a free connection
 * (ngx_http_velro_pg_query(), for velro_authz_pg); and the connections of
 * subscribers (ngx_http_velro_pg_subscribe(), for the invalidation
 * follower of ngx_http_velro_pg_listen.c), each of its own, outside the
 * pool, on listen_conninfo= when given (directly to PostgreSQL, not
 * through the pooler), which run their own commands one at a time
 * (ngx_http_velro_pg_sub_send()).  A multi-host conninfo follows a
 * failover: every reconnect goes through the host list
 * (ngx_http_velro_pg_conn.c).
 * Sockets are nginx connections registered level-triggered; every wait
 * has an nginx timer.  Nothing blocks: no PQexec, no PQcancel, no
 * PQgetResult before PQisBusy says it is there.
 *
 * A connection goes DOWN -> CONNECTING -> PREPARING -> PREPARING_WARM
 * (LISTEN_SENT for a subscriber's, when it has a first command) -> IDLE
 * <-> BUSY (a subscriber's: LISTENING <-> BUSY), and back
 * to DOWN on any failure, from where a timer reconnects it with an
 * exponential backoff.  Its socket, events and reading of results are
 * ngx_http_velro_pg_conn.c's; what it does with them is this file's
 * (ngx_http_velro_pg_handler).
 *
 * In this file (the velro_pg directive is ngx_http_velro_pg_conf.c): the
 * query API and its FIFO;
 * connecting and the first commands (prepare, or a subscriber's LISTEN);
 * a command's completion, a pool connection's result and its release;
 * failures and the backoff; subscribers; a connection's set-up for the
 * pools (made by ngx_http_velro_pg_pool.c).
 *
 * Queries never complete from inside the connection code: their
 * completion is a posted event (the request's wake), so a request
 * finalized (or a new one started) never finds a connection half way
 * through a state change.
 */


#include "ngx_http_velro_module.h"
#include "ngx_http_velro_pg_conn.h"


#define NGX_HTTP_VELRO_PG_BACKOFF_MIN   100
#define NGX_HTTP_VELRO_PG_BACKOFF_MAX   5000
/* a pool that is down tries a connection for a lookup at most that often */
#define NGX_HTTP_VELRO_PG_KICK          500

/* in the log */
#define ngx_http_velro_pg_name(pool)                                          \
    ((pool)->conf->replica ? "postgres replica" : "postgres")

#define NGX_HTTP_VELRO_PG_STMT          "velro_l3"
#define NGX_HTTP_VELRO_PG_SQL                                                 \
    "SELECT velro_l3_entities($1::uuid, $2::uuid)"

/* a standby's: with the LSN replayed after the answer's snapshot */
#define NGX_HTTP_VELRO_PG_REPLICA_SQL                                         \
    "SELECT velro_l3_entities($1::uuid, $2::uuid), "                          \
    "pg_last_wal_replay_lsn()::text"

#define NGX_HTTP_VELRO_PG_WARM_STMT     "velro_l3_warm"
#define NGX_HTTP_VELRO_PG_WARM_SQL                                            \
    "SELECT velro_l3_warm_entities($1::uuid, $2::int)"

/* "velro_authz_pg access": issue 3's form, unprepared */
#define NGX_HTTP_VELRO_PG_ACCESS_SQL                                          \
    "SELECT velro_l3_lookup($1::uuid, $2::uuid)"
#define NGX_HTTP_VELRO_PG_ACCESS_WARM_SQL                                     \
    "SELECT velro_l3_warm($1::uuid, $2::int)"




static void ngx_http_velro_pg_wait_timeout(ngx_event_t *ev);
static void ngx_http_velro_pg_done(ngx_http_velro_pg_req_t *pr,
    ngx_uint_t status, const char *reason);

static void ngx_http_velro_pg_connected(ngx_http_velro_pg_conn_t *pc);
static void ngx_http_velro_pg_prepare_warm(ngx_http_velro_pg_conn_t *pc);
static void ngx_http_velro_pg_prepared_warm(ngx_http_velro_pg_conn_t *pc);
static void ngx_http_velro_pg_timer_handler(ngx_event_t *ev);
static void ngx_http_velro_pg_complete(ngx_http_velro_pg_conn_t *pc);
static void ngx_http_velro_pg_result(ngx_http_velro_pg_conn_t *pc);
static void ngx_http_velro_pg_sub_result(ngx_http_velro_pg_conn_t *pc);
static void ngx_http_velro_pg_answer(ngx_http_velro_pg_req_t *pr,
    PGresult *res);
static void ngx_http_velro_pg_ready(ngx_http_velro_pg_conn_t *pc);
static void ngx_http_velro_pg_listening(ngx_http_velro_pg_conn_t *pc);
static void ngx_http_velro_pg_notifies(ngx_http_velro_pg_conn_t *pc);
static void ngx_http_velro_pg_release(ngx_http_velro_pg_conn_t *pc);
static ngx_int_t ngx_http_velro_pg_send(ngx_http_velro_pg_conn_t *pc,
    ngx_http_velro_pg_req_t *pr);
static void ngx_http_velro_pg_fail(ngx_http_velro_pg_conn_t *pc,
    const char *err, ngx_uint_t timedout);
static ngx_uint_t ngx_http_velro_pg_connecting(ngx_http_velro_pg_t *pool);
static ngx_uint_t ngx_http_velro_pg_kick(ngx_http_velro_pg_t *pool);
static void ngx_http_velro_pg_fail_waiting(ngx_http_velro_pg_t *pool);


ngx_http_velro_pg_t  *ngx_http_velro_pg_state;


/* what pool and subscriber connections do with what arrives */

static ngx_http_velro_pg_handler_t  ngx_http_velro_pg_handler = {
    ngx_http_velro_pg_connected,
    ngx_http_velro_pg_complete,
    ngx_http_velro_pg_notifies,
    ngx_http_velro_pg_fail
};


/* the queries */

/*
 * Sends the query on an idle connection, or queues the request.  NGX_OK:
 * the request will be woken; NGX_DECLINED: PostgreSQL is down, fail now;
 * NGX_ABORT: no velro_pg.
 */

ngx_int_t
ngx_http_velro_pg_query(ngx_http_velro_pg_req_t *pr)
{
    return ngx_http_velro_pg_pool_query(ngx_http_velro_pg_state, pr);
}


ngx_int_t
ngx_http_velro_pg_pool_query(ngx_http_velro_pg_t *pool,
    ngx_http_velro_pg_req_t *pr)
{
    ngx_queue_t               *q;
    ngx_http_velro_pg_conn_t  *pc;

    if (pool == NULL) {
        return NGX_ABORT;
    }

    pr->timer.handler = ngx_http_velro_pg_wait_timeout;
    pr->timer.data = pr;
    pr->timer.log = pr->request->connection->log;

#if (NGX_DEBUG)
    if (pr->warm) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, pr->request->connection->log, 0,
                       "velro: L3 warm query user=%s limit=%s",
                       pr->values[0], pr->values[1]);

    } else {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, pr->request->connection->log, 0,
                       "velro: L3 query user=%s resource=%s", pr->values[0],
                       pr->values[1] ? pr->values[1] : "NULL");
    }
#endif

    while (!ngx_queue_empty(&pool->idle)) {
        q = ngx_queue_head(&pool->idle);

        /* a replica's: one known to have replayed pr->lsn, if any */

        for (/* void */;
             pool->conf->replica && q != ngx_queue_sentinel(&pool->idle);
             q = ngx_queue_next(q))
        {
            pc = ngx_queue_data(q, ngx_http_velro_pg_conn_t, queue);

            if (pc->replay >= pr->lsn) {
                break;
            }
        }

        if (q == ngx_queue_sentinel(&pool->idle)) {
            q = ngx_queue_head(&pool->idle);
        }

        ngx_queue_remove(q);

        pc = ngx_queue_data(q, ngx_http_velro_pg_conn_t, queue);
        pc->idle = 0;

        if (ngx_http_velro_pg_send(pc, pr) == NGX_OK) {
            return NGX_OK;
        }

        ngx_http_velro_pg_fail(pc, NULL, 0);
    }

    /*
     * down, its connections waiting out their backoff (up to 5 s, which
     * would outlast a restart): a lookup tries one at once, its answer
     * waiting for it; one that fails fails the lookups queued behind it
     */

    if (pool->nup == 0 && pool->down && !ngx_http_velro_pg_kick(pool)) {
        return NGX_DECLINED;
    }

    if (pool->conf->replica) {
        return NGX_DECLINED;
    }

    /* all busy, or still connecting at worker start: wait, bounded */

    ngx_queue_insert_tail(&pool->waiting, &pr->queue);
    pr->queued = 1;

    ngx_add_timer(&pr->timer, pool->conf->timeout);

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, pr->request->connection->log, 0,
                   "velro: L3 query queued, no idle PostgreSQL connection");

    return NGX_OK;
}


void
ngx_http_velro_pg_cancel(ngx_http_velro_pg_req_t *pr)
{
    if (pr->queued) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, pr->request->connection->log, 0,
                       "velro: L3 request went away while waiting for "
                       "a connection");

        ngx_queue_remove(&pr->queue);
        pr->queued = 0;
    }

    if (pr->timer.timer_set) {
        ngx_del_timer(&pr->timer);
    }

    if (pr->wake.posted) {
        ngx_delete_posted_event(&pr->wake);
    }

    if (pr->conn) {
        /* the query runs on: its result is read and discarded */

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, pr->request->connection->log, 0,
                       "velro: L3 request went away, its query's result "
                       "will be discarded");

        pr->conn->req = NULL;
        pr->conn->timer.cancelable = 1;
        pr->conn = NULL;
    }
}


static void
ngx_http_velro_pg_wait_timeout(ngx_event_t *ev)
{
    ngx_http_velro_pg_req_t  *pr = ev->data;

    if (pr->queued) {
        ngx_queue_remove(&pr->queue);
        pr->queued = 0;
    }

    ngx_http_velro_pg_done(pr, NGX_HTTP_SERVICE_UNAVAILABLE,
                           "timed out waiting for a PostgreSQL connection");
}


/* the request's answer is ready: it is sent from a posted event */

static void
ngx_http_velro_pg_done(ngx_http_velro_pg_req_t *pr, ngx_uint_t status,
    const char *reason)
{
    pr->status = status;
    pr->reason = reason;
    pr->conn = NULL;

    if (pr->timer.timer_set) {
        ngx_del_timer(&pr->timer);
    }

    ngx_post_event(&pr->wake, &ngx_posted_events);
}


/* connections */

void
ngx_http_velro_pg_connect(ngx_http_velro_pg_conn_t *pc)
{
    PGconn               *pg;
    ngx_http_velro_pg_t  *pool;

    pool = pc->pool;

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, pool->log, 0,
                   "velro: postgres %s connection #%ui connecting",
                   pc->sub ? "subscriber" : "pool", pc->id);

    pg = ngx_http_velro_pg_start(pc);

    if (pg == NULL) {
        ngx_http_velro_pg_fail(pc, "out of memory", 0);
        return;
    }

    pc->pg = pg;
    pc->state = NGX_HTTP_VELRO_PG_CONNECTING;

    PQsetNoticeProcessor(pg, ngx_http_velro_pg_notice, pc);

    if (PQstatus(pg) == CONNECTION_BAD) {
        ngx_http_velro_pg_fail(pc, NULL, 0);
        return;
    }

    pc->timer.cancelable = 1;
    ngx_add_timer(&pc->timer, pool->conf->connect_timeout);

    /* as if PQconnectPoll() had returned PGRES_POLLING_WRITING */

    if (ngx_http_velro_pg_socket(pc) != NGX_OK
        || ngx_http_velro_pg_want(pc, 0, 1) != NGX_OK)
    {
        ngx_http_velro_pg_fail(pc, NULL, 0);
        return;
    }
}


/*
 * connected: prepare the statements, one after the other, or LISTEN; the
 * connect timer runs on
 */

static void
ngx_http_velro_pg_connected(ngx_http_velro_pg_conn_t *pc)
{
    int  ok;

    if (PQsetnonblocking(pc->pg, 1) != 0) {
        ngx_http_velro_pg_fail(pc, NULL, 0);
        return;
    }

    if (pc->sub && pc->sub->sql == NULL) {
        if (ngx_http_velro_pg_want(pc, 1, 0) != NGX_OK) {
            ngx_http_velro_pg_fail(pc, NULL, 0);
            return;
        }

        ngx_http_velro_pg_listening(pc);
        return;
    }

    if (pc->sub) {
        ok = PQsendQuery(pc->pg, pc->sub->sql);
        pc->state = NGX_HTTP_VELRO_PG_LISTEN_SENT;

    } else if (pc->pool->conf->noprepare) {
        /* prepare=off: nothing to prepare, queries go unnamed */
        ngx_http_velro_pg_ready(pc);
        return;

    } else {
        ok = PQsendPrepare(pc->pg, NGX_HTTP_VELRO_PG_STMT,
                           pc->pool->conf->replica
                           ? NGX_HTTP_VELRO_PG_REPLICA_SQL
                           : NGX_HTTP_VELRO_PG_SQL, 2, NULL);
        pc->state = NGX_HTTP_VELRO_PG_PREPARING;
    }

    if (!ok || ngx_http_velro_pg_flush(pc) != NGX_OK) {
        ngx_http_velro_pg_fail(pc, NULL, 0);
        return;
    }
}


/* velro_l3 is prepared: now velro_l3_warm */

static void
ngx_http_velro_pg_prepare_warm(ngx_http_velro_pg_conn_t *pc)
{
    pc->state = NGX_HTTP_VELRO_PG_PREPARING_WARM;

    if (!PQsendPrepare(pc->pg, NGX_HTTP_VELRO_PG_WARM_STMT,
                       NGX_HTTP_VELRO_PG_WARM_SQL, 2, NULL)
        || ngx_http_velro_pg_flush(pc) != NGX_OK)
    {
        ngx_http_velro_pg_fail(pc, NULL, 0);
        return;
    }
}


/*
 * An error preparing velro_l3_warm (a database whose schema predates it)
 * leaves the connection up for lookups; warm requests then run unprepared
 * and fail, or succeed once the function is there.  Logged once until a
 * connection prepares it.
 */

static void
ngx_http_velro_pg_prepared_warm(ngx_http_velro_pg_conn_t *pc)
{
    size_t                len;
    u_char                msg[512];
    ngx_http_velro_pg_t  *pool;

    pool = pc->pool;

    if (pc->res && PQresultStatus(pc->res) == PGRES_COMMAND_OK) {
        pc->warm = 1;

        if (pool->warm_failing) {
            pool->warm_failing = 0;

            ngx_log_error(NGX_LOG_NOTICE, pool->log, 0,
                          "velro: postgres statement \"velro_l3_warm\" "
                          "prepared");
        }

    } else if (!pool->warm_failing) {
        pool->warm_failing = 1;

        len = ngx_http_velro_pg_message(pc->res
                                        ? PQresultErrorMessage(pc->res)
                                        : PQerrorMessage(pc->pg),
                                        msg, sizeof(msg));

        ngx_log_error(NGX_LOG_WARN, pool->log, 0,
                      "velro: postgres statement \"velro_l3_warm\" not "
                      "prepared: %*s; warm requests will fail", len, msg);
    }

    if (pc->res) {
        PQclear(pc->res);
        pc->res = NULL;
    }

    ngx_http_velro_pg_ready(pc);
}


static void
ngx_http_velro_pg_timer_handler(ngx_event_t *ev)
{
    ngx_http_velro_pg_conn_t  *pc = ev->data;

    switch (pc->state) {

    case NGX_HTTP_VELRO_PG_DOWN:
        ngx_http_velro_pg_connect(pc);
        return;

    case NGX_HTTP_VELRO_PG_BUSY:
        ngx_http_velro_pg_fail(pc, "query timed out", 1);
        return;

    case NGX_HTTP_VELRO_PG_CONNECTING:
        /* a host that does not answer: the next attempt skips it */
        ngx_http_velro_pg_next_host(pc);
        ngx_http_velro_pg_fail(pc, "connect timed out", 0);
        return;

    default:
        ngx_http_velro_pg_fail(pc, "connect timed out", 0);
        return;
    }
}


/* the command under way is over: pc->res has its result */

static void
ngx_http_velro_pg_complete(ngx_http_velro_pg_conn_t *pc)
{
    ExecStatusType  st;

    st = pc->res ? PQresultStatus(pc->res) : PGRES_FATAL_ERROR;

    switch (pc->state) {

    case NGX_HTTP_VELRO_PG_PREPARING:
    case NGX_HTTP_VELRO_PG_LISTEN_SENT:

        if (st != PGRES_COMMAND_OK) {
            ngx_http_velro_pg_fail(pc, pc->res ? PQresultErrorMessage(pc->res)
                                               : NULL, 0);
            return;
        }

        PQclear(pc->res);
        pc->res = NULL;

        if (pc->state == NGX_HTTP_VELRO_PG_PREPARING) {
            ngx_http_velro_pg_prepare_warm(pc);

        } else {
            ngx_http_velro_pg_listening(pc);
        }

        return;

    case NGX_HTTP_VELRO_PG_PREPARING_WARM:

        if (PQstatus(pc->pg) == CONNECTION_BAD) {
            ngx_http_velro_pg_fail(pc, NULL, 0);
            return;
        }

        ngx_http_velro_pg_prepared_warm(pc);
        return;

    default: /* NGX_HTTP_VELRO_PG_BUSY */

        if (pc->sub) {
            ngx_http_velro_pg_sub_result(pc);
            return;
        }

        ngx_http_velro_pg_result(pc);
        return;
    }
}


/* a subscriber's command is over: back to listening, then its result */

static void
ngx_http_velro_pg_sub_result(ngx_http_velro_pg_conn_t *pc)
{
    PGresult                 *res;
    ngx_http_velro_pg_sub_t  *sub;

    sub = pc->sub;

    res = pc->res;
    pc->res = NULL;

    if (pc->timer.timer_set) {
        ngx_del_timer(&pc->timer);
    }

    pc->state = NGX_HTTP_VELRO_PG_LISTENING;

    sub->result(sub, res);

    if (res) {
        PQclear(res);
    }

    /* what arrived meanwhile; sub->conn NULL: unsubscribed by result() */

    if (sub->conn == pc && pc->state == NGX_HTTP_VELRO_PG_LISTENING) {
        ngx_http_velro_pg_notifies(pc);
    }
}


static void
ngx_http_velro_pg_result(ngx_http_velro_pg_conn_t *pc)
{
    char                     *state;
    size_t                    len;
    u_char                    msg[512];
    uint64_t                  replay;
    PGresult                 *res;
    ngx_uint_t                recycle;
    ngx_http_velro_pg_req_t  *pr;

    res = pc->res;
    pc->res = NULL;

    pr = pc->req;
    pc->req = NULL;

    if (pc->timer.timer_set) {
        ngx_del_timer(&pc->timer);
    }

    recycle = 0;

    if (pr == NULL) {
        ngx_log_debug1(NGX_LOG_DEBUG_EVENT, pc->pool->log, 0,
                       "velro: postgres result discarded on #%ui, "
                       "its request went away", pc->id);
    }

    if (res
        && PQresultStatus(res) == PGRES_TUPLES_OK
        && PQntuples(res) == 1
        && PQnfields(res) == (pc->pool->conf->replica ? 2 : 1))
    {
        if (pc->pool->conf->replica) {
            /* NULL: not in recovery (promoted), known to be no standby */
            replay = ngx_http_velro_pg_lsn((u_char *) PQgetvalue(res, 0, 1),
                                           PQgetlength(res, 0, 1));
            pc->replay = ngx_max(pc->replay, replay);

            if (pr) {
                pr->replay = replay;
            }
        }

        if (pr) {
            ngx_http_velro_pg_answer(pr, res);
        }

    } else {
        len = ngx_http_velro_pg_message(res ? PQresultErrorMessage(res)
                                            : PQerrorMessage(pc->pg),
                                        msg, sizeof(msg));

        ngx_log_error(NGX_LOG_ERR, pc->pool->log, 0,
                      "velro: %s query failed: %*s",
                      ngx_http_velro_pg_name(pc->pool),
                      len ? len : sizeof("unexpected result") - 1,
                      len ? msg : (u_char *) "unexpected result");

        /* a statement gone (DISCARD ALL, a pooler): prepare it again */

        state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

        if (state && ngx_strcmp(state, "26000") == 0) {
            recycle = 1;
        }

        if (pr) {
            ngx_http_velro_pg_done(pr, NGX_HTTP_SERVICE_UNAVAILABLE,
                                   "PostgreSQL query failed");
        }
    }

    if (res) {
        PQclear(res);
    }

    if (recycle) {
        ngx_http_velro_pg_fail(pc, "prepared statement lost", 1);
        return;
    }

    ngx_http_velro_pg_release(pc);
}


/* the text of the single value, verbatim; SQL NULL is JSON null */

static void
ngx_http_velro_pg_answer(ngx_http_velro_pg_req_t *pr, PGresult *res)
{
    size_t  len;

    if (PQgetisnull(res, 0, 0)) {
        ngx_str_set(&pr->body, "null");
        ngx_http_velro_pg_done(pr, NGX_HTTP_OK, NULL);
        return;
    }

    len = PQgetlength(res, 0, 0);

    pr->body.data = ngx_pnalloc(pr->request->pool, len ? len : 1);
    if (pr->body.data == NULL) {
        ngx_http_velro_pg_done(pr, NGX_HTTP_SERVICE_UNAVAILABLE,
                               "out of memory");
        return;
    }

    ngx_memcpy(pr->body.data, PQgetvalue(res, 0, 0), len);
    pr->body.len = len;

    ngx_http_velro_pg_done(pr, NGX_HTTP_OK, NULL);
}


/* a pool connection is ready for queries */

static void
ngx_http_velro_pg_ready(ngx_http_velro_pg_conn_t *pc)
{
    ngx_http_velro_pg_t  *pool;

    pool = pc->pool;

    if (pc->timer.timer_set) {
        ngx_del_timer(&pc->timer);
    }

    pc->up = 1;
    pc->backoff = 0;
    pool->nup++;
    pool->down = 0;

    if (pool->failing) {
        pool->failing = 0;

        ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                      "velro: %s connection re-established",
                      ngx_http_velro_pg_name(pool));

    } else if (pool->nup == pool->nconns) {
        ngx_log_error(NGX_LOG_INFO, pool->log, 0,
                      "velro: %s pool ready, %ui connections",
                      ngx_http_velro_pg_name(pool), pool->nup);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, pool->log, 0,
                   "velro: postgres connection #%ui ready, %ui up",
                   pc->id, pool->nup);

    ngx_http_velro_pg_release(pc);
}


/* a subscriber's LISTEN succeeded: notifications from now on */

static void
ngx_http_velro_pg_listening(ngx_http_velro_pg_conn_t *pc)
{
    if (pc->timer.timer_set) {
        ngx_del_timer(&pc->timer);
    }

    pc->state = NGX_HTTP_VELRO_PG_LISTENING;
    pc->backoff = 0;

    pc->sub->ready(pc->sub);

    ngx_http_velro_pg_notifies(pc);
}


/* a subscriber's are passed on; any other connection's dropped */

static void
ngx_http_velro_pg_notifies(ngx_http_velro_pg_conn_t *pc)
{
    PGnotify  *n;

    while ((n = PQnotifies(pc->pg)) != NULL) {

        if (pc->sub && pc->state == NGX_HTTP_VELRO_PG_LISTENING) {
            pc->sub->notify(pc->sub, n->relname, n->extra);
        }

        PQfreemem(n);
    }
}


/* a pool connection is free: the first waiting request gets it */

static void
ngx_http_velro_pg_release(ngx_http_velro_pg_conn_t *pc)
{
    ngx_queue_t              *q;
    ngx_http_velro_pg_t      *pool;
    ngx_http_velro_pg_req_t  *pr;

    pool = pc->pool;

    pc->state = NGX_HTTP_VELRO_PG_IDLE;

    if (!ngx_queue_empty(&pool->waiting)) {
        q = ngx_queue_head(&pool->waiting);
        pr = ngx_queue_data(q, ngx_http_velro_pg_req_t, queue);

        if (ngx_http_velro_pg_send(pc, pr) != NGX_OK) {
            /* the request stays first in line */
            ngx_http_velro_pg_fail(pc, NULL, 0);
            return;
        }

        ngx_queue_remove(q);
        pr->queued = 0;

        if (pr->timer.timer_set) {
            ngx_del_timer(&pr->timer);
        }

        return;
    }

    ngx_queue_insert_tail(&pool->idle, &pc->queue);
    pc->idle = 1;
}


static ngx_int_t
ngx_http_velro_pg_send(ngx_http_velro_pg_conn_t *pc,
    ngx_http_velro_pg_req_t *pr)
{
    int  ok;

    if (pr->access) {
        ok = PQsendQueryParams(pc->pg,
                               pr->warm ? NGX_HTTP_VELRO_PG_ACCESS_WARM_SQL
                                        : NGX_HTTP_VELRO_PG_ACCESS_SQL,
                               2, NULL, pr->values, NULL, NULL, 0);

    } else if (!pr->warm && pc->pool->conf->noprepare) {
        /*
         * prepare=off: the unnamed statement, parsed, bound and run in
         * one round trip (Parse, Bind, Execute, Sync): one transaction,
         * which a pooler in transaction mode keeps on one server
         */

        ok = PQsendQueryParams(pc->pg, pc->pool->conf->replica
                                       ? NGX_HTTP_VELRO_PG_REPLICA_SQL
                                       : NGX_HTTP_VELRO_PG_SQL,
                               2, NULL, pr->values, NULL, NULL, 0);

    } else if (!pr->warm) {
        ok = PQsendQueryPrepared(pc->pg, NGX_HTTP_VELRO_PG_STMT, 2,
                                 pr->values, NULL, NULL, 0);

    } else if (pc->warm) {
        ok = PQsendQueryPrepared(pc->pg, NGX_HTTP_VELRO_PG_WARM_STMT, 2,
                                 pr->values, NULL, NULL, 0);

    } else {
        /*
         * velro_l3_warm was not there when the connection came up: ask
         * anyway, unprepared; the error, if any, fails this request only
         */

        ok = PQsendQueryParams(pc->pg, NGX_HTTP_VELRO_PG_WARM_SQL, 2, NULL,
                               pr->values, NULL, NULL, 0);
    }

    if (!ok) {
        return NGX_ERROR;
    }

    if (ngx_http_velro_pg_flush(pc) != NGX_OK) {
        return NGX_ERROR;
    }

    pc->state = NGX_HTTP_VELRO_PG_BUSY;
    pc->req = pr;
    pr->conn = pc;
    pr->behind = (pc->replay < pr->lsn);

    /* a request depends on it: graceful shutdown waits for this one */

    pc->timer.cancelable = 0;
    ngx_add_timer(&pc->timer, pc->pool->conf->timeout);

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, pc->pool->log, 0,
                   "velro: postgres query sent on #%ui", pc->id);

    return NGX_OK;
}


/*
 * The connection failed, was lost, or its query timed out: close it, fail
 * its request, and reconnect later (at once after a timeout, the server
 * being there).  Transitions are logged, retries are not.
 */

static void
ngx_http_velro_pg_fail(ngx_http_velro_pg_conn_t *pc, const char *err,
    ngx_uint_t timedout)
{
    size_t                    len;
    u_char                    msg[512];
    ngx_msec_t                delay;
    ngx_uint_t                was_up;
    ngx_http_velro_pg_t      *pool;
    ngx_http_velro_pg_req_t  *pr;

    pool = pc->pool;

    if (err == NULL) {
        err = pc->pg ? PQerrorMessage(pc->pg) : "";
    }

    len = ngx_http_velro_pg_message(err, msg, sizeof(msg));

    if (len == 0) {
        len = ngx_cpystrn(msg, (u_char *) "connection closed", sizeof(msg))
              - msg;
    }

    was_up = pc->up || pc->state == NGX_HTTP_VELRO_PG_LISTENING
             || (pc->sub && pc->state == NGX_HTTP_VELRO_PG_BUSY);

    pr = pc->req;
    pc->req = NULL;

    ngx_http_velro_pg_close(pc);

    if (pr) {
        pr->conn = NULL;
    }

    if (timedout && pc->sub) {
        pc->sub->failed(pc->sub, was_up, msg, len);
        delay = 1;

    } else if (timedout) {
        ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                      "velro: %s %*s on connection #%ui, reconnecting",
                      ngx_http_velro_pg_name(pool), len, msg, pc->id);
        delay = 1;

    } else {
        delay = pc->backoff ? ngx_min(pc->backoff * 2,
                                      NGX_HTTP_VELRO_PG_BACKOFF_MAX)
                            : NGX_HTTP_VELRO_PG_BACKOFF_MIN;
        pc->backoff = delay;

        if (pc->sub) {
            pc->sub->failed(pc->sub, was_up, msg, len);

        } else if (!pool->failing) {
            ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                          "velro: %s connection %s: %*s, reconnecting",
                          ngx_http_velro_pg_name(pool),
                          was_up ? "lost" : "failed", len, msg);
            pool->failing = 1;
        }

        ngx_log_debug3(NGX_LOG_DEBUG_EVENT, pool->log, 0,
                       "velro: postgres #%ui: %*s", pc->id, len, msg);

        if (pc->sub == NULL && pool->nup == 0
            && !ngx_http_velro_pg_connecting(pool))
        {
            if (!pool->down) {
                ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                              pool->conf->replica
                              ? "velro: postgres replica is down, L3 lookups "
                                "go to the primary"
                              : "velro: postgres is down, L3 lookups fail "
                                "until a connection is back");
                pool->down = 1;
            }

            ngx_http_velro_pg_fail_waiting(pool);
        }
    }

    if (pr) {
        /*
         * a connection lost under a query (a pooled one the server closed
         * while idle, say) costs it one more try; a timeout does not
         */

        if (!timedout && !pr->resent) {
            pr->resent = 1;

            if (ngx_http_velro_pg_pool_query(pool, pr) == NGX_OK) {
                pr = NULL;
            }
        }

        if (pr) {
            ngx_http_velro_pg_done(pr, NGX_HTTP_SERVICE_UNAVAILABLE,
                                   timedout ? "PostgreSQL query timed out"
                                            : "PostgreSQL connection lost");
        }
    }

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    pc->timer.cancelable = 1;
    ngx_add_timer(&pc->timer, delay);

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, pool->log, 0,
                   "velro: postgres #%ui reconnects in %M ms", pc->id, delay);
}


void
ngx_http_velro_pg_close(ngx_http_velro_pg_conn_t *pc)
{
    if (pc->idle) {
        ngx_queue_remove(&pc->queue);
        pc->idle = 0;
    }

    if (pc->up) {
        pc->up = 0;
        pc->pool->nup--;
    }

    if (pc->timer.timer_set) {
        ngx_del_timer(&pc->timer);
    }

    if (pc->c) {
        ngx_http_velro_pg_free_socket(pc);
    }

    if (pc->res) {
        PQclear(pc->res);
        pc->res = NULL;
    }

    if (pc->pg) {
        PQfinish(pc->pg);
        pc->pg = NULL;
    }

    pc->flushing = 0;
    pc->warm = 0;
    pc->replay = 0;
    pc->state = NGX_HTTP_VELRO_PG_DOWN;
}


/* some connection may still come up: requests wait for it */

static ngx_uint_t
ngx_http_velro_pg_connecting(ngx_http_velro_pg_t *pool)
{
    ngx_uint_t  i;

    for (i = 0; i < pool->nconns; i++) {
        if (pool->conns[i].state == NGX_HTTP_VELRO_PG_CONNECTING
            || pool->conns[i].state == NGX_HTTP_VELRO_PG_PREPARING
            || pool->conns[i].state == NGX_HTTP_VELRO_PG_PREPARING_WARM)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * The pool is down: one connection waiting out its backoff connects now,
 * at most once per NGX_HTTP_VELRO_PG_KICK (its backoff goes on if it
 * fails).  1: a connection is under way, a request may wait for it.
 */

static ngx_uint_t
ngx_http_velro_pg_kick(ngx_http_velro_pg_t *pool)
{
    ngx_uint_t                 i;
    ngx_http_velro_pg_conn_t  *pc;

    if (ngx_http_velro_pg_connecting(pool)) {
        return 1;
    }

    if (ngx_exiting || ngx_current_msec - pool->kicked
                       < NGX_HTTP_VELRO_PG_KICK)
    {
        return 0;
    }

    for (i = 0; i < pool->nconns; i++) {
        pc = &pool->conns[i];

        if (pc->state != NGX_HTTP_VELRO_PG_DOWN || !pc->timer.timer_set) {
            continue;
        }

        pool->kicked = ngx_current_msec;

        ngx_log_debug2(NGX_LOG_DEBUG_EVENT, pool->log, 0,
                       "velro: %s down, connection #%ui tried at once",
                       ngx_http_velro_pg_name(pool), pc->id);

        ngx_del_timer(&pc->timer);
        ngx_http_velro_pg_connect(pc);

        return ngx_http_velro_pg_connecting(pool);
    }

    return 0;
}


/* nothing is up: the waiting requests fail now rather than time out */

static void
ngx_http_velro_pg_fail_waiting(ngx_http_velro_pg_t *pool)
{
    ngx_queue_t              *q;
    ngx_http_velro_pg_req_t  *pr;

    while (!ngx_queue_empty(&pool->waiting)) {
        q = ngx_queue_head(&pool->waiting);
        ngx_queue_remove(q);

        pr = ngx_queue_data(q, ngx_http_velro_pg_req_t, queue);
        pr->queued = 0;

        ngx_http_velro_pg_done(pr, NGX_HTTP_SERVICE_UNAVAILABLE,
                               "no PostgreSQL connection");
    }
}


/* subscribers */

ngx_int_t
ngx_http_velro_pg_subscribe(ngx_cycle_t *cycle, ngx_http_velro_pg_sub_t *sub)
{
    ngx_http_velro_pg_t       *pool;
    ngx_http_velro_pg_conn_t  *pc;

    pool = ngx_http_velro_pg_state;

    if (pool == NULL) {
        return NGX_DECLINED;
    }

    pc = ngx_calloc(sizeof(ngx_http_velro_pg_conn_t), cycle->log);
    if (pc == NULL) {
        return NGX_ERROR;
    }

    /* numbered after the pool's connections */

    ngx_http_velro_pg_conn_init(pc, pool,
                                pool->conf->listen_conninfo.len
                                ? &pool->listen_params : &pool->params,
                                pool->nconns + pool->nsubs++, cycle->log);
    pc->sub = sub;

    sub->conn = pc;

    ngx_http_velro_pg_connect(pc);

    return NGX_OK;
}


ngx_int_t
ngx_http_velro_pg_sub_send(ngx_http_velro_pg_sub_t *sub, const char *stmt,
    const char *sql, int nparams, const char **values)
{
    int                        ok;
    ngx_http_velro_pg_conn_t  *pc;

    pc = sub->conn;

    if (pc == NULL || pc->state != NGX_HTTP_VELRO_PG_LISTENING) {
        return NGX_DECLINED;
    }

    if (sql) {
        ok = PQsendPrepare(pc->pg, stmt, sql, nparams, NULL);

    } else {
        ok = PQsendQueryPrepared(pc->pg, stmt, nparams, values, NULL, NULL,
                                 0);
    }

    if (!ok || ngx_http_velro_pg_flush(pc) != NGX_OK) {
        ngx_http_velro_pg_fail(pc, NULL, 0);
        return NGX_ERROR;
    }

    pc->state = NGX_HTTP_VELRO_PG_BUSY;

    /* nothing waits for it: graceful shutdown does not either */

    pc->timer.cancelable = 1;
    ngx_add_timer(&pc->timer, pc->pool->conf->timeout);

    return NGX_OK;
}


void
ngx_http_velro_pg_unsubscribe(ngx_http_velro_pg_sub_t *sub)
{
    if (sub->conn == NULL) {
        return;
    }

    ngx_http_velro_pg_close(sub->conn);
    ngx_free(sub->conn);

    sub->conn = NULL;
}


/* a connection of pool's, down */

void
ngx_http_velro_pg_conn_init(ngx_http_velro_pg_conn_t *pc,
    ngx_http_velro_pg_t *pool, ngx_http_velro_pg_params_t *params,
    ngx_uint_t id, ngx_log_t *log)
{
    pc->handler = &ngx_http_velro_pg_handler;
    pc->params = params;
    pc->log = log;
    pc->pool = pool;
    pc->id = id;

    pc->timer.handler = ngx_http_velro_pg_timer_handler;
    pc->timer.data = pc;
    pc->timer.log = log;
    pc->timer.cancelable = 1;
}
