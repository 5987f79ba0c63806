
/*
 * velro: authorization, the L2 read (ngx_http_velro_authz_l2.c).
 */


#ifndef _NGX_HTTP_VELRO_AUTHZ_L2_H_INCLUDED_
#define _NGX_HTTP_VELRO_AUTHZ_L2_H_INCLUDED_


#include "ngx_http_velro_module.h"


/* registers the L2 read's script (ngx_http_velro_redis_script_add()) */
ngx_int_t ngx_http_velro_authz_l2_init_process(ngx_cycle_t *cycle);

/*
 * Asks Redis for what the decision still needs and L1 lacks: NGX_AGAIN
 * when a command is in flight (ctx->authz_state L2_WAIT until its answer,
 * then L2_DONE and ctx->wake posted), NGX_DECLINED when nothing was sent.
 */
ngx_int_t ngx_http_velro_authz_l2_get(ngx_http_request_t *r,
    ngx_http_velro_main_conf_t *vmcf, ngx_http_velro_ctx_t *ctx);

/*
 * after the L2 answer: the read sent again when the connection was lost
 * under it (ctx->l2_retry, once); NGX_AGAIN as above, else NGX_DECLINED
 */
ngx_int_t ngx_http_velro_authz_l2_again(ngx_http_request_t *r,
    ngx_http_velro_main_conf_t *vmcf, ngx_http_velro_ctx_t *ctx);


#endif /* _NGX_HTTP_VELRO_AUTHZ_L2_H_INCLUDED_ */
