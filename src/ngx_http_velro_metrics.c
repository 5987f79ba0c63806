
/*
 * ngx_http_velro_module: the metrics zone, what a checked request counts,
 * the velro_status handler and the Server-Timing header.
 *
 * What counts (each once per request or subrequest the module checks;
 * its own subrequests, a JWKS fetch or an L3 lookup, are not checked):
 *
 *   velro_jwt_total            the token's outcome: "valid" (L1 token
 *                              cache hits included), or "invalid" with
 *                              velro_jwt_reason(), "missing" (401 without
 *                              a token), "bad_request" (400) or
 *                              "unavailable" (503, no signing keys);
 *   velro_requests_total       the decision: allow, deny (401, 400, 403,
 *                              404; a deny in monitor mode too), error
 *                              (503, 500);
 *   velro_cache_*_total        for a decision that asked L1: an L1 hit
 *                              when L1 knew all it needed, else an L1
 *                              miss and, if L2 was asked, an L2 hit (L2
 *                              completed it) or miss, and an L3 hit when
 *                              L3 answered;
 *   stage histograms           jwt: the token's check, JWKS waits
 *                              included; user: from then until the user
 *                              was known; authz: from then until the
 *                              decision; total: from the module's first
 *                              call for the request to the decision.
 */


#include "ngx_http_velro_module.h"

#include <signal.h>


#define NGX_HTTP_VELRO_METRICS_SLOTS   128

/* a reload may bring another layout in a zone of the same size */
#define NGX_HTTP_VELRO_METRICS_LAYOUT                                        \
    (0x76656c00 ^ sizeof(ngx_http_velro_metrics_shm_t))
#define NGX_HTTP_VELRO_TIMING_LEN      256


/* one worker's L1 gauges */

typedef struct {
    ngx_atomic_t                  pid;          /* 0: free */
    ngx_atomic_t                  entries;
    ngx_atomic_t                  bytes;
} ngx_http_velro_metrics_slot_t;


typedef struct {
    ngx_uint_t                    layout;
    velro_metrics_t               m;            /* counters, as atomics */
    ngx_http_velro_metrics_slot_t slots[NGX_HTTP_VELRO_METRICS_SLOTS];
} ngx_http_velro_metrics_shm_t;


static ngx_int_t ngx_http_velro_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_velro_metrics_observe(velro_histogram_t *h,
    uint64_t us);
static ngx_uint_t ngx_http_velro_metrics_alive(ngx_atomic_uint_t pid);
static void ngx_http_velro_metrics_snapshot(velro_metrics_t *m);
static ngx_int_t ngx_http_velro_status_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_velro_timing_filter(ngx_http_request_t *r);


static ngx_http_velro_metrics_shm_t   *ngx_http_velro_metrics_sh;
static ngx_http_velro_metrics_slot_t  *ngx_http_velro_metrics_slot;

static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;


#define ngx_http_velro_count(c, n)                                           \
    (void) ngx_atomic_fetch_add((ngx_atomic_t *) &(c), n)

#define ngx_http_velro_since(a, b)  (((a) > (b)) ? (a) - (b) : 0)


ngx_int_t
ngx_http_velro_metrics_add_zone(ngx_conf_t *cf)
{
    size_t                       size;
    ngx_str_t                    name = ngx_string("velro_metrics");
    ngx_shm_zone_t              *zone;
    ngx_http_velro_main_conf_t  *vmcf;

    vmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_velro_module);

    /* the slab allocator's own pages, then the counters */

    size = 8 * ngx_pagesize
           + ngx_align(sizeof(ngx_http_velro_metrics_shm_t), ngx_pagesize);

    zone = ngx_shared_memory_add(cf, &name, size, &ngx_http_velro_module);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    zone->init = ngx_http_velro_metrics_init_zone;
    vmcf->metrics = zone;

    return NGX_OK;
}


static ngx_int_t
ngx_http_velro_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t               *shpool;
    ngx_http_velro_metrics_shm_t  *sh;

    if (data) {
        /* a reload: the counters go on, unless their layout changed */

        sh = data;

        if (sh->layout != NGX_HTTP_VELRO_METRICS_LAYOUT) {
            ngx_memzero(sh, sizeof(ngx_http_velro_metrics_shm_t));
            sh->layout = NGX_HTTP_VELRO_METRICS_LAYOUT;
        }

        shm_zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_http_velro_metrics_shm_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    sh->layout = NGX_HTTP_VELRO_METRICS_LAYOUT;

    shpool->data = sh;
    shm_zone->data = sh;

    return NGX_OK;
}


/*
 * A worker takes a slot for its L1 gauges: a free one, or one whose
 * process is gone (a crash leaves its slot behind).
 */

ngx_int_t
ngx_http_velro_metrics_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                      i;
    ngx_atomic_uint_t               pid;
    ngx_http_velro_main_conf_t     *vmcf;
    ngx_http_velro_metrics_slot_t  *s;

    ngx_http_velro_metrics_sh = NULL;
    ngx_http_velro_metrics_slot = NULL;

    if (sizeof(velro_counter_t) != sizeof(ngx_atomic_uint_t)) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "velro: metrics counters do not fit ngx_atomic_t");
        return NGX_OK;
    }

    vmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_velro_module);

    if (vmcf == NULL || vmcf->metrics == NULL) {
        return NGX_OK;
    }

    ngx_http_velro_metrics_sh = vmcf->metrics->data;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    for (i = 0; i < NGX_HTTP_VELRO_METRICS_SLOTS; i++) {
        s = &ngx_http_velro_metrics_sh->slots[i];
        pid = s->pid;

        if (pid != 0 && ngx_http_velro_metrics_alive(pid)) {
            continue;
        }

        if (ngx_atomic_cmp_set(&s->pid, pid, (ngx_atomic_uint_t) ngx_pid)) {
            s->entries = 0;
            s->bytes = 0;
            ngx_http_velro_metrics_slot = s;
            ngx_http_velro_metrics_publish();
            return NGX_OK;
        }
    }

    ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                  "velro: no metrics slot left, this worker's L1 is not "
                  "counted in velro_cache_entries");

    return NGX_OK;
}


void
ngx_http_velro_metrics_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_velro_metrics_slot_t  *s;

    s = ngx_http_velro_metrics_slot;

    if (s == NULL) {
        return;
    }

    s->entries = 0;
    s->bytes = 0;

    (void) ngx_atomic_cmp_set(&s->pid, (ngx_atomic_uint_t) ngx_pid, 0);

    ngx_http_velro_metrics_slot = NULL;
    ngx_http_velro_metrics_sh = NULL;
}


static ngx_uint_t
ngx_http_velro_metrics_alive(ngx_atomic_uint_t pid)
{
    if ((ngx_pid_t) pid == ngx_pid) {
        return 1;
    }

    return kill((ngx_pid_t) pid, 0) == 0 || ngx_errno != NGX_ESRCH;
}


static void
ngx_http_velro_metrics_observe(velro_histogram_t *h, uint64_t us)
{
    ngx_http_velro_count(h->bucket[velro_hist_bucket(us)], 1);
    ngx_http_velro_count(h->sum_us, (ngx_atomic_uint_t) us);
}


/* this worker's L1 as the gauges see it */

void
ngx_http_velro_metrics_publish(void)
{
    velro_cache_t  *l1;

    if (ngx_http_velro_metrics_slot == NULL) {
        return;
    }

    l1 = ngx_http_velro_l1();

    ngx_http_velro_metrics_slot->entries = l1 ? l1->entries : 0;
    ngx_http_velro_metrics_slot->bytes = l1 ? l1->bytes : 0;
}


void
ngx_http_velro_metrics_breaker(ngx_uint_t backend, ngx_uint_t state,
    ngx_uint_t tripped)
{
    velro_metrics_t  *m;

    if (ngx_http_velro_metrics_sh == NULL || backend >= VELRO_NBACKENDS) {
        return;
    }

    m = &ngx_http_velro_metrics_sh->m;

    *(ngx_atomic_t *) &m->breaker_state[backend] = state;

    if (tripped) {
        ngx_http_velro_count(m->breaker_trips[backend], 1);
    }
}


void
ngx_http_velro_metrics_stale(void)
{
    if (ngx_http_velro_metrics_sh) {
        ngx_http_velro_count(ngx_http_velro_metrics_sh->m.stale, 1);
    }
}


void
ngx_http_velro_metrics_invalidation(void)
{
    /* every worker hears every notice: one counts it */

    if (ngx_http_velro_metrics_sh && ngx_worker == 0) {
        ngx_http_velro_count(ngx_http_velro_metrics_sh->m.invalidations, 1);
    }
}


void
ngx_http_velro_metrics_batch_items(ngx_uint_t n)
{
    if (ngx_http_velro_metrics_sh) {
        ngx_http_velro_count(ngx_http_velro_metrics_sh->m.batch_items, n);
    }
}


/* the token's outcome, once a check of it is final */

void
ngx_http_velro_metrics_jwt(ngx_http_velro_ctx_t *ctx, ngx_int_t rc)
{
    size_t                    reason;
    velro_metrics_t          *m;
    ngx_http_velro_timing_t  *t;

    t = &ctx->timing;

    if (t->jwt_metered) {
        return;
    }

    t->jwt_metered = 1;

    if (t->jwt_end == 0) {
        t->jwt_end = velro_metrics_now();
    }

    if (t->jwt_start == 0) {
        t->jwt_start = t->jwt_end;
    }

    if (ngx_http_velro_metrics_sh == NULL) {
        return;
    }

    m = &ngx_http_velro_metrics_sh->m;

    if (rc == NGX_ERROR) {
        reason = VELRO_JWT_NOMEM;

    } else {

        switch (ctx->status) {

        case NGX_OK:
            reason = VELRO_JWT_OK;

            if (ctx->from_l1) {
                ngx_http_velro_count(m->jwt_cache_hits, 1);
            }

            break;

        case NGX_HTTP_UNAUTHORIZED:
            reason = (ctx->reason == VELRO_JWT_OK) ? VELRO_JWT_MISSING
                                                   : ctx->reason;
            break;

        case NGX_HTTP_BAD_REQUEST:
            reason = VELRO_JWT_BAD_REQUEST;
            break;

        case NGX_HTTP_SERVICE_UNAVAILABLE:
            reason = VELRO_JWT_UNAVAILABLE;
            break;

        default:
            reason = (ctx->reason == VELRO_JWT_OK) ? VELRO_JWT_NOMEM
                                                   : ctx->reason;
        }
    }

    if (reason >= VELRO_METRICS_NREASONS) {
        reason = VELRO_JWT_NOMEM;
    }

    ngx_http_velro_count(m->jwt[reason], 1);
}


/*
 * After each step of authorization: when the user became known, and once
 * rc is final, the decision.  Called before a refusal is sent, which may
 * free the request.
 */

void
ngx_http_velro_metrics_authz(ngx_http_request_t *r,
    ngx_http_velro_ctx_t *ctx, ngx_int_t rc)
{
    ngx_http_velro_timing_t  *t;

    t = &ctx->timing;
    t->authz = 1;

    if (t->user == 0 && ctx->has_user) {
        t->user = velro_metrics_now();
    }

    if (rc != NGX_AGAIN) {
        ngx_http_velro_metrics_done(r, ctx, ctx->decision);
    }
}


void
ngx_http_velro_metrics_done(ngx_http_request_t *r, ngx_http_velro_ctx_t *ctx,
    ngx_uint_t decision)
{
    uint64_t                  from;
    ngx_uint_t                d, tier;
    velro_metrics_t          *m;
    ngx_http_velro_timing_t  *t;

    t = &ctx->timing;

    if (t->metered) {
        return;
    }

    t->metered = 1;
    t->end = velro_metrics_now();

    if (t->start == 0) {
        t->start = t->end;
    }

    if (t->authz && t->user == 0 && ctx->has_user) {
        t->user = t->end;
    }

    if (ngx_http_velro_metrics_sh == NULL) {
        return;
    }

    m = &ngx_http_velro_metrics_sh->m;

    /* a request ended without a decision is an error */

    d = (decision == VELRO_DECISION_NONE || decision >= VELRO_NDECISIONS)
        ? VELRO_DECISION_ERROR : decision;

    ngx_http_velro_count(m->requests[d], 1);

    ngx_http_velro_metrics_observe(&m->stage[VELRO_STAGE_TOTAL],
                                   ngx_http_velro_since(t->end, t->start));

    if (t->jwt_metered) {
        ngx_http_velro_metrics_observe(&m->stage[VELRO_STAGE_JWT],
                                ngx_http_velro_since(t->jwt_end,
                                                     t->jwt_start));
    }

    if (t->authz) {
        from = t->jwt_end ? t->jwt_end : t->start;

        if (t->user) {
            ngx_http_velro_metrics_observe(&m->stage[VELRO_STAGE_USER],
                                   ngx_http_velro_since(t->user, from));
            ngx_http_velro_metrics_observe(&m->stage[VELRO_STAGE_AUTHZ],
                                   ngx_http_velro_since(t->end, t->user));

        } else {
            ngx_http_velro_metrics_observe(&m->stage[VELRO_STAGE_AUTHZ],
                                   ngx_http_velro_since(t->end, from));
        }

        tier = (ctx->tier < VELRO_NTIERS) ? ctx->tier : VELRO_TIER_NONE;

        ngx_http_velro_metrics_observe(&m->authz[tier],
                                       ngx_http_velro_since(t->end, from));

        if (t->l1) {
            if (tier == VELRO_TIER_L1) {
                ngx_http_velro_count(m->hits[VELRO_TIER_L1], 1);

            } else {
                ngx_http_velro_count(m->misses[VELRO_TIER_L1], 1);

                if (t->l2) {
                    if (tier == VELRO_TIER_L2) {
                        ngx_http_velro_count(m->hits[VELRO_TIER_L2], 1);

                    } else {
                        ngx_http_velro_count(m->misses[VELRO_TIER_L2], 1);
                    }
                }

                if (tier == VELRO_TIER_L3) {
                    ngx_http_velro_count(m->hits[VELRO_TIER_L3], 1);
                }
            }
        }
    }

    ngx_http_velro_metrics_publish();
}


/* velro_status */

char *
ngx_http_velro_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_velro_status_handler;

    return NGX_CONF_OK;
}


/* the counters as they are now, the gauges summed over live workers */

static void
ngx_http_velro_metrics_snapshot(velro_metrics_t *m)
{
    size_t                          i, n;
    ngx_atomic_uint_t               pid;
    velro_counter_t                *dst;
    ngx_http_velro_metrics_slot_t  *s;

    n = sizeof(velro_metrics_t) / sizeof(velro_counter_t);
    dst = (velro_counter_t *) m;

    for (i = 0; i < n; i++) {
        dst[i] = ((ngx_atomic_t *) &ngx_http_velro_metrics_sh->m)[i];
    }

    m->cache_entries = 0;
    m->cache_bytes = 0;

    for (i = 0; i < NGX_HTTP_VELRO_METRICS_SLOTS; i++) {
        s = &ngx_http_velro_metrics_sh->slots[i];
        pid = s->pid;

        if (pid == 0 || !ngx_http_velro_metrics_alive(pid)) {
            continue;
        }

        m->cache_entries += s->entries;
        m->cache_bytes += s->bytes;
    }
}


static ngx_int_t
ngx_http_velro_status_handler(ngx_http_request_t *r)
{
    size_t            len;
    ngx_int_t         rc;
    ngx_str_t         format;
    ngx_buf_t        *b;
    ngx_uint_t        prometheus;
    ngx_chain_t       out;
    velro_metrics_t   m;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_velro_metrics_sh == NULL) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    prometheus = ngx_http_arg(r, (u_char *) "format", 6, &format) == NGX_OK
                 && format.len == 10
                 && ngx_strncmp(format.data, "prometheus", 10) == 0;

    ngx_http_velro_metrics_publish();
    ngx_http_velro_metrics_snapshot(&m);

    len = prometheus ? velro_metrics_prometheus(&m, NULL, 0)
                     : velro_metrics_json(&m, NULL, 0);

    b = ngx_create_temp_buf(r->pool, len + 1);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = prometheus ? velro_metrics_prometheus(&m, (char *) b->pos, len + 1)
                     : velro_metrics_json(&m, (char *) b->pos, len + 1);

    b->last = b->pos + len;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = len;

    if (prometheus) {
        ngx_str_set(&r->headers_out.content_type,
                    "text/plain; version=0.0.4; charset=utf-8");

    } else {
        ngx_str_set(&r->headers_out.content_type, "application/json");
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* Server-Timing, for a request the module checked */

ngx_int_t
ngx_http_velro_metrics_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_velro_timing_filter;

    return NGX_OK;
}


static ngx_int_t
ngx_http_velro_timing_filter(ngx_http_request_t *r)
{
    u_char                     *p;
    size_t                      len;
    uint64_t                    from, user, authz;
    const char                 *tier;
    ngx_table_elt_t            *h;
    ngx_http_velro_ctx_t       *ctx;
    ngx_http_velro_timing_t    *t;
    ngx_http_velro_loc_conf_t  *vlcf;

    static const char  *tiers[] = { NULL, "L1", "L2", "L3", "stale" };

    if (r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    vlcf = ngx_http_get_module_loc_conf(r, ngx_http_velro_module);

    if (!vlcf->server_timing) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_velro_module);

    if (ctx == NULL || !ctx->timing.metered) {
        return ngx_http_next_header_filter(r);
    }

    t = &ctx->timing;
    user = VELRO_METRICS_NONE;
    authz = VELRO_METRICS_NONE;
    tier = NULL;

    if (t->authz) {
        from = t->jwt_end ? t->jwt_end : t->start;

        if (t->user) {
            user = ngx_http_velro_since(t->user, from);
            from = t->user;
        }

        authz = ngx_http_velro_since(t->end, from);

        tier = (ctx->tier <= VELRO_TIER_STALE) ? tiers[ctx->tier] : NULL;
    }

    p = ngx_pnalloc(r->pool, NGX_HTTP_VELRO_TIMING_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    len = velro_metrics_server_timing((char *) p, NGX_HTTP_VELRO_TIMING_LEN,
                                      t->jwt_metered
                                      ? ngx_http_velro_since(t->jwt_end,
                                                             t->jwt_start)
                                      : VELRO_METRICS_NONE,
                                      user, authz, tier,
                                      ngx_http_velro_since(t->end, t->start));

    if (len == 0 || len >= NGX_HTTP_VELRO_TIMING_LEN) {
        return ngx_http_next_header_filter(r);
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Server-Timing");
    h->value.data = p;
    h->value.len = len;

    return ngx_http_next_header_filter(r);
}
