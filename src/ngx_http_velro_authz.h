
/*
 * velro: authorization, the tier state machine (ngx_http_velro_authz.c)
 * and the decision with its answer (ngx_http_velro_decide.c).
 */


#ifndef _NGX_HTTP_VELRO_AUTHZ_H_INCLUDED_
#define _NGX_HTTP_VELRO_AUTHZ_H_INCLUDED_


#include "ngx_http_velro_module.h"


/* ctx->authz_state */
#define NGX_HTTP_VELRO_AUTHZ_START    0
#define NGX_HTTP_VELRO_AUTHZ_L2_WAIT  1
#define NGX_HTTP_VELRO_AUTHZ_L2_DONE  2
#define NGX_HTTP_VELRO_AUTHZ_L3_WAIT  3
#define NGX_HTTP_VELRO_AUTHZ_DONE     4    /* all known, not decided */
#define NGX_HTTP_VELRO_AUTHZ_DECIDED  5

/* what a decision still needs: bits of NGX_HTTP_VELRO_ENTITY_x */
#define ngx_http_velro_bit(kind)      (1 << (kind))


/*
 * The access phase: NGX_OK to let the request go on, NGX_AGAIN while a
 * tier is asked, NGX_DONE when a response was sent, or an HTTP status.
 */
ngx_int_t ngx_http_velro_authz_check(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx);
void ngx_http_velro_authz_cleanup(ngx_http_velro_ctx_t *ctx);
ngx_int_t ngx_http_velro_authz_init_process(ngx_cycle_t *cycle);
void ngx_http_velro_authz_exit_process(ngx_cycle_t *cycle);
char *ngx_http_velro_authz_merge(ngx_conf_t *cf,
    ngx_http_velro_loc_conf_t *prev, ngx_http_velro_loc_conf_t *conf);

/* what the decision still needs (ngx_http_velro_bit()s), 0: all known */
ngx_uint_t ngx_http_velro_authz_needs(ngx_http_velro_ctx_t *ctx);

/*
 * L1 lookups of what is still needed; stale: entries expired up to that
 * long ago too, *age raised to the oldest; tier: recorded in ctx->tiers.
 */
ngx_uint_t ngx_http_velro_authz_l1(ngx_http_velro_ctx_t *ctx,
    ngx_msec_t stale, ngx_msec_t *age, ngx_uint_t tier);

/* the decision (and the refusal, if it is one) once all is known */
ngx_int_t ngx_http_velro_authz_decide(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx);

#endif /* _NGX_HTTP_VELRO_AUTHZ_H_INCLUDED_ */
