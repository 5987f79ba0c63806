
/*
 * velro: L3 lookups from a standby ("velro_pg_replica", its directive in
 * ngx_http_velro_pg_conf.c).
 *
 * Per worker, a second pool of ngx_http_velro_pg.c's on the standby's
 * conninfo: same connect, backoff, timeouts and prepared statements, no
 * subscriber (the primary's pool keeps the invalidation follower).  Its
 * velro_l3 statement also returns pg_last_wal_replay_lsn(), read after
 * the answer's snapshot was taken.
 *
 * The rule: a lookup needs pr->lsn, set by the caller: the newest
 * position of the primary's WAL published with a change by the follower
 * (pg_current_wal_insert_lsn() of its log read, >= the commit of every
 * change read; ngx_http_velro_invalidate_lsn()).  Its answer from the
 * standby counts only when the connection it ran on had, with an earlier
 * answer, reported a replay position >= lsn: the snapshot of a statement
 * sent after that one sees every change committed up to that position.
 * A lookup on a connection not known to be that far is still sent there
 * (its answer brings the position up to date) and, the answer not
 * counting, sent once more to the standby if it reported a position >=
 * lsn; otherwise it goes to the primary's pool.  So do, without a round
 * trip to the standby, the lookups needing more than the standby's last
 * answer reported, for 50 ms after it; and those that find no idle
 * connection of the standby, or one down, or a failure or a timeout
 * there: nothing waits for the standby, and a dead standby costs at most
 * its query timeout to the lookups under way there.
 */


#include "ngx_http_velro_module.h"
#include "ngx_http_velro_pg_replica.h"


/* a standby that answered it is behind is skipped that long */
#define NGX_HTTP_VELRO_PG_REPLICA_BEHIND  50          /* ms */


static void ngx_http_velro_pg_replica_wake(ngx_event_t *ev);
static ngx_int_t ngx_http_velro_pg_replica_primary(
    ngx_http_velro_pg_req_t *pr, const char *why);


static ngx_http_velro_pg_t  *ngx_http_velro_pg_replica;

/* the replay position of the standby's last answer, and when */
static uint64_t              ngx_http_velro_pg_replica_replay;
static ngx_msec_t            ngx_http_velro_pg_replica_msec;


ngx_int_t
ngx_http_velro_pg_replica_query(ngx_http_velro_pg_req_t *pr)
{
    if (ngx_http_velro_pg_replica == NULL || pr->warm || pr->access) {
        return ngx_http_velro_pg_query(pr);
    }

    pr->retried = 0;
    pr->replay = 0;

    pr->handler = pr->wake.handler;
    pr->data = pr->wake.data;
    pr->wake.handler = ngx_http_velro_pg_replica_wake;
    pr->wake.data = pr;

    /* it was behind a moment ago: not worth a round trip */

    if (ngx_http_velro_pg_replica_replay < pr->lsn
        && ngx_current_msec - ngx_http_velro_pg_replica_msec
           < NGX_HTTP_VELRO_PG_REPLICA_BEHIND)
    {
        return ngx_http_velro_pg_replica_primary(pr, "behind (known)");
    }

    if (ngx_http_velro_pg_pool_query(ngx_http_velro_pg_replica, pr)
        == NGX_OK)
    {
        return NGX_OK;
    }

    return ngx_http_velro_pg_replica_primary(pr, "no idle connection");
}


static void
ngx_http_velro_pg_replica_wake(ngx_event_t *ev)
{
    ngx_http_velro_pg_req_t  *pr = ev->data;

    const char  *why;

    if (pr->status == NGX_HTTP_OK) {
        ngx_http_velro_pg_replica_replay = pr->replay;
        ngx_http_velro_pg_replica_msec = ngx_current_msec;
    }

    if (pr->status == NGX_HTTP_OK && !pr->behind) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, pr->request->connection->log, 0,
                       "velro: L3 answered by the replica, replayed "
                       "%uL >= %uL", pr->replay, pr->lsn);

        pr->wake.handler = pr->handler;
        pr->wake.data = pr->data;
        pr->wake.handler(&pr->wake);
        return;
    }

    if (pr->status == NGX_HTTP_OK) {

        if (!pr->retried && pr->replay >= pr->lsn) {

            /* the standby is there now: ask it again, once */

            pr->retried = 1;

            if (ngx_http_velro_pg_pool_query(ngx_http_velro_pg_replica, pr)
                == NGX_OK)
            {
                return;
            }
        }

        why = "behind";

    } else {
        why = pr->reason;
    }

    if (ngx_http_velro_pg_replica_primary(pr, why) != NGX_OK) {
        pr->status = NGX_HTTP_SERVICE_UNAVAILABLE;
        pr->reason = "no PostgreSQL connection";
        pr->wake.handler(&pr->wake);
    }
}


/* the lookup goes to the primary's pool, the caller woken from there */

static ngx_int_t
ngx_http_velro_pg_replica_primary(ngx_http_velro_pg_req_t *pr,
    const char *why)
{
    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, pr->request->connection->log, 0,
                   "velro: L3 lookup goes to the primary, the replica: %s "
                   "(replayed %uL, needs %uL, retried %ui)", why,
                   pr->replay, pr->lsn, (ngx_uint_t) pr->retried);

    pr->wake.handler = pr->handler;
    pr->wake.data = pr->data;

    return ngx_http_velro_pg_query(pr);
}


ngx_int_t
ngx_http_velro_pg_replica_init_process(ngx_cycle_t *cycle,
    ngx_http_velro_pg_conf_t *pcf)
{
    if (ngx_process == NGX_PROCESS_HELPER || ngx_http_velro_pg_replica) {
        return NGX_OK;
    }

    ngx_http_velro_pg_replica = ngx_http_velro_pg_pool_create(cycle, pcf);

    return ngx_http_velro_pg_replica ? NGX_OK : NGX_ERROR;
}


void
ngx_http_velro_pg_replica_exit_process(ngx_cycle_t *cycle)
{
    if (ngx_http_velro_pg_replica) {
        ngx_http_velro_pg_pool_destroy(ngx_http_velro_pg_replica);
        ngx_http_velro_pg_replica = NULL;
    }
}
