
/*
 * ngx_http_velro_module: the token of a request, verified, and the 401
 * or 400 answers when it is missing or bad (ngx_http_velro_jwt.c).
 */


#ifndef _NGX_HTTP_VELRO_JWT_H_INCLUDED_
#define _NGX_HTTP_VELRO_JWT_H_INCLUDED_


#include "ngx_http_velro_module.h"


/*
 * Checks the token once per location conf: NGX_OK, a valid token;
 * NGX_AGAIN, waiting for keys (with may_fetch); NGX_ERROR; else the
 * refusal, ctx->status, for ngx_http_velro_jwt_reject()
 */
ngx_int_t ngx_http_velro_jwt_authenticate(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx,
    ngx_uint_t may_fetch);

/* the answer to a refused token: WWW-Authenticate and a JSON body */
ngx_int_t ngx_http_velro_jwt_reject(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx,
    ngx_int_t status);

/* the verification policy of a location, from its directives */
ngx_int_t ngx_http_velro_jwt_init_policy(ngx_conf_t *cf,
    ngx_http_velro_loc_conf_t *vlcf);

/* ctx->header and ctx->claims, decoded on demand (for variables) */
ngx_int_t ngx_http_velro_jwt_decode(ngx_http_request_t *r,
    ngx_http_velro_ctx_t *ctx);


#endif /* _NGX_HTTP_VELRO_JWT_H_INCLUDED_ */
