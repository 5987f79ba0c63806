
/*
 * ngx_http_velro_module: the hub.  The command table (the setters of its
 * own directives: ngx_http_velro_conf.c; those of the adapters and
 * content handlers: their files), the main and location confs, the phase
 * handlers and their registration, the request's ctx, the subrequest
 * helper, and the per-worker L1 cache.
 */


#include "ngx_http_velro_module.h"
#include "ngx_http_velro_authz.h"
#include "ngx_http_velro_authz_pg.h"
#include "ngx_http_velro_batch.h"
#include "ngx_http_velro_breaker.h"
#include "ngx_http_velro_conf.h"
#include "ngx_http_velro_invalidate.h"
#include "ngx_http_velro_jwks.h"
#include "ngx_http_velro_jwt.h"
#include "ngx_http_velro_pg_listen.h"
#include "ngx_http_velro_pg_replica.h"
#include "ngx_http_velro_variables.h"


static ngx_int_t ngx_http_velro_access_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_velro_subrequest_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_velro_check(ngx_http_request_t *r);
static void ngx_http_velro_ctx_cleanup(void *data);
static ngx_int_t ngx_http_velro_shm_init(ngx_shm_zone_t *shm_zone,
    void *data);

static ngx_int_t ngx_http_velro_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_velro_postconfiguration(ngx_conf_t *cf);
static void *ngx_http_velro_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_velro_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_velro_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_velro_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_velro_init_process(ngx_cycle_t *cycle);
static void ngx_http_velro_exit_process(ngx_cycle_t *cycle);


static velro_cache_t  *ngx_http_velro_l1_cache;


static ngx_conf_enum_t  ngx_http_velro_authz_modes[] = {
    { ngx_string("off"), NGX_HTTP_VELRO_AUTHZ_OFF },
    { ngx_string("on"), NGX_HTTP_VELRO_AUTHZ_ON },
    { ngx_string("monitor"), NGX_HTTP_VELRO_AUTHZ_MONITOR },
    { ngx_null_string, 0 }
};


/* the seed's TTLs, L1 / L2 */

static time_t  ngx_http_velro_ttl_defaults[NGX_HTTP_VELRO_NTYPES][2] = {
    { 300, 900 },
    { 600, 1800 },
    { 300, 900 },
    { 900, 3600 },
    { 180, 600 }
};


static ngx_command_t  ngx_http_velro_commands[] = {

    { ngx_string("velro_jwt"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_velro_jwt,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("velro_jwt_key_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_velro_key_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("velro_jwt_key_request"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_velro_key_request,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("velro_jwt_key_cache"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_velro_loc_conf_t, key_cache),
      NULL },

    { ngx_string("velro_jwt_algorithms"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_velro_algorithms,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("velro_jwt_issuer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_velro_loc_conf_t, issuer),
      NULL },

    { ngx_string("velro_jwt_audience"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_velro_str_list,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_velro_loc_conf_t, audiences),
      NULL },

    { ngx_string("velro_jwt_require"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_velro_str_list,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_velro_loc_conf_t, required),
      NULL },

    { ngx_string("velro_jwt_leeway"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_velro_loc_conf_t, leeway),
      NULL },

    { ngx_string("velro_jwt_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_velro_loc_conf_t, max_size),
      NULL },

    { ngx_string("velro_jwt_token"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_velro_token,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("velro_jwt_claim_set"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_velro_claim_set,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("velro_cache_l1"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_velro_cache_l1,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("velro_authz"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_velro_loc_conf_t, authz),
      &ngx_http_velro_authz_modes },

    { ngx_string("velro_authz_resource"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_velro_authz_resource,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("velro_authz_action"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_velro_authz_action,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("velro_authz_fallback"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_velro_loc_conf_t, fallback),
      NULL },

    { ngx_string("velro_authz_deny_status"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_velro_authz_deny_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("velro_authz_stale"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_velro_loc_conf_t, stale),
      NULL },

    { ngx_string("velro_warm_on_login"),
      NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_velro_loc_conf_t, warm_on_login),
      NULL },

    { ngx_string("velro_warm_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_velro_loc_conf_t, warm_limit),
      NULL },

    { ngx_string("velro_batch"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE12,
      ngx_http_velro_batch,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("velro_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_velro_redis_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("velro_pg"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_velro_pg_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("velro_pg_replica"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_velro_pg_replica_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("velro_pg_listen"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_velro_pg_listen_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("velro_pg_log_poll"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_velro_pg_log_poll_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("velro_breaker"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE123,
      ngx_http_velro_breaker_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("velro_authz_pg"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_velro_authz_pg,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("velro_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_velro_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("velro_server_timing"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_velro_loc_conf_t, server_timing),
      NULL },

    { ngx_string("velro_cache_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE23,
      ngx_http_velro_cache_ttl,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_velro_module_ctx = {
    ngx_http_velro_preconfiguration,       /* preconfiguration */
    ngx_http_velro_postconfiguration,      /* postconfiguration */

    ngx_http_velro_create_main_conf,       /* create main configuration */
    ngx_http_velro_init_main_conf,         /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_velro_create_loc_conf,        /* create location configuration */
    ngx_http_velro_merge_loc_conf          /* merge location configuration */
};


ngx_module_t  ngx_http_velro_module = {
    NGX_MODULE_V1,
    &ngx_http_velro_module_ctx,            /* module context */
    ngx_http_velro_commands,               /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_velro_init_process,           /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_velro_exit_process,           /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


velro_cache_t *
ngx_http_velro_l1(void)
{
    return ngx_http_velro_l1_cache;
}


/*
 * A subrequest of the module's own (a JWKS fetch, an L3 lookup): its answer
 * kept in memory, and the module's checks skipped for it.  It runs in the
 * background, so that it finishes whatever its parent is (a batch item, a
 * background subrequest itself, is never the connection's active request),
 * and wakes its parent when done.
 */

typedef struct {
    ngx_http_post_subrequest_pt   handler;
    void                         *data;
} ngx_http_velro_sub_t;


static ngx_int_t
ngx_http_velro_subrequest_done(ngx_http_request_t *sr, void *data,
    ngx_int_t rc)
{
    ngx_http_velro_sub_t  *s = data;

    rc = s->handler(sr, s->data, rc);

    if (ngx_http_post_request(sr->parent, NULL) != NGX_OK) {
        return NGX_ERROR;
    }

    return rc;
}


/*
 * A shared memory zone of the module holding one zeroed struct of "size"
 * bytes (the breakers, the invalidation ring), kept as limit_req keeps its
 * zones: a reload takes the old cycle's struct, a binary upgrade's
 * inherited zone the slab pool's.  Until the zone's init runs, its data is
 * the struct's size.
 */

ngx_shm_zone_t *
ngx_http_velro_shm_zone(ngx_conf_t *cf, char *name, size_t zone_size,
    size_t size)
{
    size_t          *sz;
    ngx_str_t        n;
    ngx_shm_zone_t  *zone;

    n.len = ngx_strlen(name);
    n.data = (u_char *) name;

    zone = ngx_shared_memory_add(cf, &n, zone_size, &ngx_http_velro_module);
    if (zone == NULL) {
        return NULL;
    }

    if (zone->init == NULL) {
        sz = ngx_palloc(cf->pool, sizeof(size_t));
        if (sz == NULL) {
            return NULL;
        }

        *sz = size;

        zone->init = ngx_http_velro_shm_init;
        zone->data = sz;
    }

    return zone;
}


static ngx_int_t
ngx_http_velro_shm_init(ngx_shm_zone_t *shm_zone, void *data)
{
    void             *sh;
    ngx_slab_pool_t  *shpool;

    if (data) {
        /* a reload: the struct and what it holds go on */
        shm_zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(shpool, *(size_t *) shm_zone->data);
    if (sh == NULL) {
        return NGX_ERROR;
    }

    shpool->data = sh;
    shm_zone->data = sh;

    return NGX_OK;
}


ngx_http_request_t *
ngx_http_velro_subrequest(ngx_http_request_t *r, ngx_str_t *uri,
    ngx_str_t *args, ngx_http_post_subrequest_pt handler, void *data)
{
    ngx_http_request_t          *sr;
    ngx_http_velro_sub_t        *s;
    ngx_http_velro_ctx_t        *sctx;
    ngx_http_post_subrequest_t  *ps;

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        return NULL;
    }

    s = ngx_palloc(r->pool, sizeof(ngx_http_velro_sub_t));
    if (s == NULL) {
        return NULL;
    }

    s->handler = handler;
    s->data = data;

    ps->handler = ngx_http_velro_subrequest_done;
    ps->data = s;

    if (ngx_http_subrequest(r, uri, args, &sr, ps,
                            NGX_HTTP_SUBREQUEST_IN_MEMORY
                            |NGX_HTTP_SUBREQUEST_BACKGROUND)
        != NGX_OK)
    {
        return NULL;
    }

    sctx = ngx_pcalloc(r->pool, sizeof(ngx_http_velro_ctx_t));
    if (sctx == NULL) {
        return NULL;
    }

    sctx->internal = 1;
    ngx_http_set_ctx(sr, sctx, ngx_http_velro_module);

    return sr;
}


ngx_http_velro_ctx_t *
ngx_http_velro_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t    *cln;
    ngx_http_velro_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_velro_module);
    if (ctx) {
        return ctx;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_velro_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_velro_ctx_cleanup;
    cln->data = ctx;

    /* whatever the request comes to wait for, this resumes it */

    ctx->wake.handler = ngx_http_velro_wake;
    ctx->wake.data = r;
    ctx->wake.log = r->connection->log;

    ngx_http_set_ctx(r, ctx, ngx_http_velro_module);

    return ctx;
}


/*
 * A request that waited for the module (a JWKS fetch, an L2 reply, another
 * request's L3 lookup) goes on where it stopped.
 */

void
ngx_http_velro_wake(ngx_event_t *ev)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ev->data;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0, "velro: wait over");

    r->write_event_handler(r);

    ngx_http_run_posted_requests(c);
}


static void
ngx_http_velro_ctx_cleanup(void *data)
{
    ngx_http_velro_ctx_t  *ctx = data;

    ngx_http_velro_authz_cleanup(ctx);
    ngx_http_velro_jwks_cleanup(ctx);

    if (ctx->wake.posted) {
        ngx_delete_posted_event(&ctx->wake);
    }

    if (ctx->header) {
        json_decref(ctx->header);
    }

    if (ctx->claims) {
        json_decref(ctx->claims);
    }
}


/*
 * The access phase runs for main requests only; subrequests (SSI includes,
 * add_before_body, batch items) are checked in the precontent phase, which
 * nginx runs for them too, so whatever a location protects is protected
 * however it is reached.
 */

static ngx_int_t
ngx_http_velro_access_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    rc = ngx_http_velro_check(r);

    return (rc == NGX_DECLINED) ? NGX_DECLINED : rc;
}


static ngx_int_t
ngx_http_velro_subrequest_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    if (r == r->main) {
        return NGX_DECLINED;
    }

    /* a batch item is checked as if it had come alone */

    if (ngx_http_velro_batch_is_item(r)) {
        rc = ngx_http_velro_batch_access(r, ngx_http_velro_access_handler);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    rc = ngx_http_velro_check(r);

    /* NGX_OK would skip the rest of this phase (try_files, mirror) */

    return (rc == NGX_OK) ? NGX_DECLINED : rc;
}


static ngx_int_t
ngx_http_velro_check(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_http_velro_ctx_t       *ctx;
    ngx_http_velro_loc_conf_t  *vlcf;

    vlcf = ngx_http_get_module_loc_conf(r, ngx_http_velro_module);

    if (vlcf->jwt == NGX_HTTP_VELRO_JWT_OFF) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_velro_module);

    if (ctx && ctx->internal) {
        return NGX_DECLINED;
    }

    if (ctx == NULL) {
        ctx = ngx_http_velro_get_ctx(r);
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ngx_http_velro_timing_start(&ctx->timing);

    /* waiting for another's JWKS fetch, or for its own */

    if (ctx->waiting
        || (ctx->remote && ctx->remote->fetching
            && ctx->remote->owner == ctx))
    {
        return NGX_AGAIN;
    }

    rc = ngx_http_velro_jwt_authenticate(r, vlcf, ctx, 1);

    /* metrics: what a response may free is counted before it is sent */

    if (rc != NGX_AGAIN) {
        ngx_http_velro_metrics_jwt(ctx, rc);
    }

    switch (rc) {

    case NGX_OK:
        if (vlcf->authz == NGX_HTTP_VELRO_AUTHZ_OFF) {
            ngx_http_velro_metrics_done(r, ctx,
                                        VELRO_DECISION_ALLOW);
            return NGX_OK;
        }

        rc = ngx_http_velro_authz_check(r, vlcf, ctx);

        if (rc != NGX_DONE) {
            ngx_http_velro_metrics_authz(r, ctx, rc);
        }

        return (rc == NGX_ERROR) ? NGX_HTTP_INTERNAL_SERVER_ERROR : rc;

    case NGX_AGAIN:
        return NGX_AGAIN;

    case NGX_ERROR:
        ngx_http_velro_metrics_done(r, ctx, VELRO_DECISION_ERROR);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;

    default:
        ngx_http_velro_metrics_done(r, ctx,
                                    (ctx->status == NGX_HTTP_UNAUTHORIZED
                                     || ctx->status == NGX_HTTP_BAD_REQUEST)
                                    ? VELRO_DECISION_DENY
                                    : VELRO_DECISION_ERROR);

        return ngx_http_velro_jwt_reject(r, vlcf, ctx, ctx->status);
    }
}


static ngx_int_t
ngx_http_velro_preconfiguration(ngx_conf_t *cf)
{
    if (ngx_http_velro_variables_probe_captures(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_velro_metrics_add_zone(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_velro_add_variables(cf);
}


static ngx_int_t
ngx_http_velro_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    ngx_http_velro_authz_pg_postconfiguration(cf);

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_velro_access_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_REWRITE_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_velro_batch_rewrite;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_velro_subrequest_handler;

    return ngx_http_velro_metrics_filter_init(cf);
}


static void *
ngx_http_velro_create_main_conf(ngx_conf_t *cf)
{
    ngx_uint_t                   i;
    ngx_http_velro_main_conf_t  *vmcf;

    vmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_velro_main_conf_t));
    if (vmcf == NULL) {
        return NULL;
    }

    vmcf->l1_size = NGX_CONF_UNSET_SIZE;

    for (i = 0; i < NGX_HTTP_VELRO_BREAKERS; i++) {
        vmcf->breaker_failures[i] = NGX_CONF_UNSET_UINT;
    }

    for (i = 0; i < NGX_HTTP_VELRO_NTYPES; i++) {
        vmcf->ttl_l1[i] = NGX_CONF_UNSET;
        vmcf->ttl_l2[i] = NGX_CONF_UNSET;
    }

    return vmcf;
}


static char *
ngx_http_velro_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_velro_main_conf_t  *vmcf = conf;

    ngx_uint_t  i;

    ngx_conf_init_size_value(vmcf->l1_size, 200 * 1024 * 1024);

    for (i = 0; i < NGX_HTTP_VELRO_NTYPES; i++) {
        ngx_conf_init_value(vmcf->ttl_l1[i], ngx_http_velro_ttl_defaults[i][0]);
        ngx_conf_init_value(vmcf->ttl_l2[i], ngx_http_velro_ttl_defaults[i][1]);
    }

    if (vmcf->pg && vmcf->pg->conninfo.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"velro_pg_listen\" needs \"velro_pg\"");
        return NGX_CONF_ERROR;
    }

    if (vmcf->authz_pg && (vmcf->pg == NULL || vmcf->pg->conninfo.len == 0))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"velro_authz_pg\" needs \"velro_pg\"");
        return NGX_CONF_ERROR;
    }

    if (vmcf->pg_replica) {
        if (vmcf->pg == NULL || vmcf->pg->conninfo.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"velro_pg_replica\" needs \"velro_pg\"");
            return NGX_CONF_ERROR;
        }

        vmcf->pg_replica->noprepare = vmcf->pg->noprepare;
    }

    if (ngx_http_velro_breaker_init_conf(cf, vmcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (vmcf->pg && ngx_http_velro_invalidate_init_conf(cf, vmcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_velro_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_velro_loc_conf_t  *vlcf;

    vlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_velro_loc_conf_t));
    if (vlcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     vlcf->realm = { 0, NULL };
     *     vlcf->key_files = NULL;
     *     vlcf->keys = NULL;
     *     vlcf->issuer = { 0, NULL };
     *     vlcf->policy = NULL;
     */

    vlcf->jwt = NGX_CONF_UNSET_UINT;
    vlcf->remote = NGX_CONF_UNSET_PTR;
    vlcf->key_cache = NGX_CONF_UNSET_MSEC;
    vlcf->algs = NGX_CONF_UNSET_UINT;
    vlcf->audiences = NGX_CONF_UNSET_PTR;
    vlcf->required = NGX_CONF_UNSET_PTR;
    vlcf->leeway = NGX_CONF_UNSET;
    vlcf->max_size = NGX_CONF_UNSET_SIZE;
    vlcf->token = NGX_CONF_UNSET_PTR;

    vlcf->authz = NGX_CONF_UNSET_UINT;
    vlcf->resource = NGX_CONF_UNSET_PTR;
    vlcf->action = NGX_CONF_UNSET_UINT;
    vlcf->deny_status = NGX_CONF_UNSET_UINT;
    vlcf->stale = NGX_CONF_UNSET_MSEC;
    vlcf->warm_on_login = NGX_CONF_UNSET;
    vlcf->warm_limit = NGX_CONF_UNSET_UINT;
    vlcf->server_timing = NGX_CONF_UNSET;

    return vlcf;
}


static char *
ngx_http_velro_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_velro_loc_conf_t  *prev = parent;
    ngx_http_velro_loc_conf_t  *conf = child;

    ngx_http_core_loc_conf_t  *clcf;

    if (conf->jwt == NGX_CONF_UNSET_UINT) {
        conf->jwt = (prev->jwt == NGX_CONF_UNSET_UINT)
                    ? NGX_HTTP_VELRO_JWT_OFF : prev->jwt;
        conf->realm = prev->realm;
    }

    /* keys from files are loaded once, where they are configured */

    if (prev->key_files && prev->keys == NULL) {
        if (ngx_http_velro_jwks_load_files(cf, prev) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    if (conf->key_files == NULL) {
        conf->key_files = prev->key_files;
        conf->keys = prev->keys;
        ngx_memcpy(conf->keys_digest, prev->keys_digest, 32);

    } else if (conf->keys == NULL) {
        if (ngx_http_velro_jwks_load_files(cf, conf) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    ngx_conf_merge_ptr_value(conf->remote, prev->remote, NULL);
    ngx_conf_merge_msec_value(conf->key_cache, prev->key_cache, 300000);
    ngx_conf_merge_uint_value(conf->algs, prev->algs, VELRO_ALG_DEFAULT);
    ngx_conf_merge_str_value(conf->issuer, prev->issuer, "");
    ngx_conf_merge_ptr_value(conf->audiences, prev->audiences, NULL);
    ngx_conf_merge_ptr_value(conf->required, prev->required, NULL);
    ngx_conf_merge_sec_value(conf->leeway, prev->leeway, 0);
    ngx_conf_merge_size_value(conf->max_size, prev->max_size, 8192);
    ngx_conf_merge_ptr_value(conf->token, prev->token, NULL);
    ngx_conf_merge_value(conf->server_timing, prev->server_timing, 0);

    /* a location (not a server{} level) that would have nothing to check */

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (conf->jwt != NGX_HTTP_VELRO_JWT_OFF
        && conf->keys == NULL && conf->remote == NULL
        && clcf->name.len)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"velro_jwt\" needs \"velro_jwt_key_file\" or "
                           "\"velro_jwt_key_request\"");
        return NGX_CONF_ERROR;
    }

    if (ngx_http_velro_jwt_init_policy(cf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return ngx_http_velro_authz_merge(cf, prev, conf);
}


static ngx_int_t
ngx_http_velro_init_process(ngx_cycle_t *cycle)
{
    uint64_t                     seed;
    ngx_http_velro_main_conf_t  *vmcf;

    vmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_velro_module);

    if (vmcf == NULL) {
        return NGX_OK;
    }

    seed = ((uint64_t) ngx_random() << 32) ^ (uint64_t) ngx_random()
           ^ (uint64_t) ngx_pid;

    ngx_http_velro_breaker_init_process(cycle, vmcf);

    ngx_http_velro_l1_cache = velro_cache_new(vmcf->l1_size, seed);

    if (ngx_http_velro_l1_cache == NULL) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "velro: L1 cache not created, running without it");

    } else {
        /* expired entries stay for velro_authz_stale */
        ngx_http_velro_l1_cache->keep = vmcf->stale_max;
    }

    if (ngx_http_velro_authz_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_velro_metrics_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    if (vmcf->redis
        && ngx_http_velro_redis_init_process(cycle, vmcf->redis) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (vmcf->pg
        && ngx_http_velro_pg_init_process(cycle, vmcf->pg) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (vmcf->pg_replica
        && ngx_http_velro_pg_replica_init_process(cycle, vmcf->pg_replica)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_velro_invalidate_init_process(cycle, vmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_velro_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_velro_redis_exit_process(cycle);
    ngx_http_velro_invalidate_exit_process(cycle);
    ngx_http_velro_pg_replica_exit_process(cycle);
    ngx_http_velro_pg_exit_process(cycle);
    ngx_http_velro_authz_exit_process(cycle);
    ngx_http_velro_metrics_exit_process(cycle);

    velro_cache_free(ngx_http_velro_l1_cache);
    ngx_http_velro_l1_cache = NULL;

    velro_jwt_cleanup();
}
