
/*
 * ngx_http_velro_module: circuit breakers for Redis, the database (L3)
 * and JWKS fetches, shared by all workers (ngx_http_velro_breaker.c);
 * backend is NGX_HTTP_VELRO_BREAKER_REDIS, _DATABASE or _JWKS.
 */


#ifndef _NGX_HTTP_VELRO_BREAKER_H_INCLUDED_
#define _NGX_HTTP_VELRO_BREAKER_H_INCLUDED_


#include "ngx_http_velro_module.h"


/* velro_breaker redis|database|jwks [failures=N] [recovery=TIME] */
char *ngx_http_velro_breaker_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* from init main conf: defaults, and the zone */
ngx_int_t ngx_http_velro_breaker_init_conf(ngx_conf_t *cf,
    ngx_http_velro_main_conf_t *vmcf);
void ngx_http_velro_breaker_init_process(ngx_cycle_t *cycle,
    ngx_http_velro_main_conf_t *vmcf);

/* NGX_OK: a call to the backend may be made now; NGX_DECLINED: not */
ngx_int_t ngx_http_velro_breaker_allow(ngx_uint_t backend, ngx_log_t *log);

/* a call to the backend ended: ok, or failed (an error or a timeout) */
void ngx_http_velro_breaker_result(ngx_uint_t backend, ngx_uint_t ok,
    ngx_log_t *log);

/* VELRO_BREAKER_CLOSED, _OPEN or _HALF_OPEN */
ngx_uint_t ngx_http_velro_breaker_state(ngx_uint_t backend);

/* for Retry-After: seconds until a trial may run, at least 1 */
time_t ngx_http_velro_breaker_retry_after(ngx_uint_t backend);

/* an authorization answered from stale L1 entries: velro_stale_total */
void ngx_http_velro_breaker_stale(void);


#endif /* _NGX_HTTP_VELRO_BREAKER_H_INCLUDED_ */
