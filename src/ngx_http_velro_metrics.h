
/*
 * ngx_http_velro_module: metrics in shared memory (velro_status) and the
 * per-stage timing of a request (velro_server_timing).
 *
 * One zone, "velro_metrics", is created whenever the module is used in
 * http{}; every counter in it is an ngx_atomic_t that workers increment
 * with ngx_atomic_fetch_add(), without locks.
 *
 * Hooks for other parts of the module (each is cheap and may be called
 * from any worker at any time after init_process; before, or where the
 * zone is missing, they do nothing):
 *
 *   ngx_http_velro_metrics_breaker(backend, state, tripped)
 *       on every breaker transition: backend NGX_HTTP_VELRO_BACKEND_*,
 *       state NGX_HTTP_VELRO_BREAKER_* (the new one), tripped 1 when the
 *       transition is closed or half-open -> open (counts
 *       velro_breaker_trips_total), else 0.  The gauge
 *       velro_breaker_state is whatever was set last.
 *
 *   ngx_http_velro_metrics_stale()
 *       once per decision made from an expired (stale) cache entry.
 *
 *   ngx_http_velro_metrics_invalidation()
 *       once per invalidation notice received (only worker 0 counts: every
 *       worker receives every notice).
 *
 *   ngx_http_velro_metrics_batch_items(n)
 *       n items of a batch request started.
 */


#ifndef _NGX_HTTP_VELRO_METRICS_H_INCLUDED_
#define _NGX_HTTP_VELRO_METRICS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "velro_metrics.h"


#define NGX_HTTP_VELRO_BACKEND_REDIS     VELRO_BACKEND_REDIS
#define NGX_HTTP_VELRO_BACKEND_DATABASE  VELRO_BACKEND_DATABASE
#define NGX_HTTP_VELRO_BACKEND_JWKS      VELRO_BACKEND_JWKS


/* when the stages of a request began and ended, microseconds */

typedef struct {
    uint64_t                      start;        /* the module's first call */
    uint64_t                      jwt_start;
    uint64_t                      jwt_end;      /* token judged */
    uint64_t                      user;         /* user known */
    uint64_t                      end;          /* decision made */
    unsigned                      jwt_metered:1;
    unsigned                      metered:1;
    unsigned                      authz:1;      /* authorization ran */
    unsigned                      l1:1;         /* L1 asked */
    unsigned                      l2:1;         /* L2 asked */
} ngx_http_velro_timing_t;


#define ngx_http_velro_timing_start(t)                                       \
    do {                                                                     \
        if ((t)->start == 0) {                                               \
            (t)->start = velro_metrics_now();                                \
        }                                                                    \
    } while (0)


ngx_int_t ngx_http_velro_metrics_add_zone(ngx_conf_t *cf);
ngx_int_t ngx_http_velro_metrics_filter_init(ngx_conf_t *cf);
ngx_int_t ngx_http_velro_metrics_init_process(ngx_cycle_t *cycle);
void ngx_http_velro_metrics_exit_process(ngx_cycle_t *cycle);
char *ngx_http_velro_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

void ngx_http_velro_metrics_breaker(ngx_uint_t backend, ngx_uint_t state,
    ngx_uint_t tripped);
void ngx_http_velro_metrics_stale(void);
void ngx_http_velro_metrics_invalidation(void);
void ngx_http_velro_metrics_batch_items(ngx_uint_t n);
void ngx_http_velro_metrics_publish(void);


#endif /* _NGX_HTTP_VELRO_METRICS_H_INCLUDED_ */
