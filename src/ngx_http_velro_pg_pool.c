
/*
 * velro: L3, PostgreSQL: the pools of ngx_http_velro_pg.c, made at worker
 * start: the worker's (velro_pg's, ngx_http_velro_pg_state), and a
 * replica's (ngx_http_velro_pg_replica.c); each connection of a pool is
 * opened at once.
 */


#include "ngx_http_velro_module.h"
#include "ngx_http_velro_pg_conn.h"


ngx_int_t
ngx_http_velro_pg_init_process(ngx_cycle_t *cycle,
    ngx_http_velro_pg_conf_t *pcf)
{
    if (ngx_process == NGX_PROCESS_HELPER || ngx_http_velro_pg_state) {
        return NGX_OK;
    }

    if (pcf->conninfo.len == 0) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "velro: \"velro_pg_listen\" without \"velro_pg\", "
                      "no PostgreSQL");
        return NGX_OK;
    }

    ngx_http_velro_pg_state = ngx_http_velro_pg_pool_create(cycle, pcf);

    return ngx_http_velro_pg_state ? NGX_OK : NGX_ERROR;
}


ngx_http_velro_pg_t *
ngx_http_velro_pg_pool_create(ngx_cycle_t *cycle,
    ngx_http_velro_pg_conf_t *pcf)
{
    ngx_uint_t            i;
    ngx_http_velro_pg_t  *pool;

    pool = ngx_calloc(sizeof(ngx_http_velro_pg_t)
                      + pcf->pool * sizeof(ngx_http_velro_pg_conn_t),
                      cycle->log);
    if (pool == NULL) {
        return NULL;
    }

    pool->conf = pcf;
    pool->log = cycle->log;
    pool->conns = (ngx_http_velro_pg_conn_t *) (pool + 1);
    pool->nconns = pcf->pool;

    ngx_queue_init(&pool->idle);
    ngx_queue_init(&pool->waiting);

    if (ngx_http_velro_pg_params(&pool->params, &pcf->conninfo, cycle->pool,
                                 cycle->log)
        != NGX_OK
        || (pcf->listen_conninfo.len
            && ngx_http_velro_pg_params(&pool->listen_params,
                                        &pcf->listen_conninfo, cycle->pool,
                                        cycle->log)
               != NGX_OK))
    {
        ngx_free(pool);
        return NULL;
    }

    for (i = 0; i < pool->nconns; i++) {
        ngx_http_velro_pg_conn_init(&pool->conns[i], pool, &pool->params, i,
                                    cycle->log);
    }

    for (i = 0; i < pool->nconns; i++) {
        ngx_http_velro_pg_connect(&pool->conns[i]);
    }

    return pool;
}


/* after the subscribers' ngx_http_velro_pg_unsubscribe() */

void
ngx_http_velro_pg_exit_process(ngx_cycle_t *cycle)
{
    if (ngx_http_velro_pg_state) {
        ngx_http_velro_pg_pool_destroy(ngx_http_velro_pg_state);
        ngx_http_velro_pg_state = NULL;
    }
}


void
ngx_http_velro_pg_pool_destroy(ngx_http_velro_pg_t *pool)
{
    ngx_uint_t                i;
    ngx_queue_t              *q;
    ngx_http_velro_pg_req_t  *pr;

    for (i = 0; i < pool->nconns; i++) {
        if (pool->conns[i].req) {
            pool->conns[i].req->conn = NULL;
            pool->conns[i].req = NULL;
        }

        ngx_http_velro_pg_close(&pool->conns[i]);
    }

    /* requests still waiting are never answered now: just unlink them */

    while (!ngx_queue_empty(&pool->waiting)) {
        q = ngx_queue_head(&pool->waiting);
        ngx_queue_remove(q);

        pr = ngx_queue_data(q, ngx_http_velro_pg_req_t, queue);
        pr->queued = 0;
    }

    ngx_free(pool);
}
