
/*
 * ngx_http_velro_module: signing keys from files and from a JWKS fetched
 * through a subrequest (ngx_http_velro_jwks.c).
 */


#ifndef _NGX_HTTP_VELRO_JWKS_H_INCLUDED_
#define _NGX_HTTP_VELRO_JWKS_H_INCLUDED_


#include "ngx_http_velro_module.h"


/* the per-worker state of one velro_jwt_key_request URI */
ngx_http_velro_jwks_remote_t *ngx_http_velro_jwks_remote(ngx_conf_t *cf,
    ngx_str_t *uri);

/* the velro_jwt_key_file keys of a location, and their digest */
ngx_int_t ngx_http_velro_jwks_load_files(ngx_conf_t *cf,
    ngx_http_velro_loc_conf_t *vlcf);

/* the key set to verify with now; *fetch: a fetch is due */
velro_keyset_t *ngx_http_velro_jwks_current(
    ngx_http_velro_jwks_remote_t *remote, ngx_msec_t cache,
    ngx_uint_t *fetch);

/*
 * Starts a fetch, or waits for the one under way: NGX_AGAIN (the request
 * is resumed when keys arrive), NGX_DECLINED (no fetch now), NGX_ERROR.
 */
ngx_int_t ngx_http_velro_jwks_fetch(ngx_http_request_t *r,
    ngx_http_velro_jwks_remote_t *remote, ngx_http_velro_ctx_t *ctx,
    ngx_msec_t cache, ngx_uint_t unknown_kid);

/* the request goes away: out of the waiters, its fetch handed on */
void ngx_http_velro_jwks_cleanup(ngx_http_velro_ctx_t *ctx);


#endif /* _NGX_HTTP_VELRO_JWKS_H_INCLUDED_ */
