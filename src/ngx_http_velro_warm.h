
/*
 * velro: cache warming on login (velro_warm_on_login): the header and
 * body filters' hooks.
 */


#ifndef _NGX_HTTP_VELRO_WARM_H_INCLUDED_
#define _NGX_HTTP_VELRO_WARM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* a login answer's headers and body: a token found starts the warming */
ngx_int_t ngx_http_velro_warm_header(ngx_http_request_t *r);
ngx_int_t ngx_http_velro_warm_body(ngx_http_request_t *r, ngx_chain_t *in);

#endif /* _NGX_HTTP_VELRO_WARM_H_INCLUDED_ */
