
/*
 * ngx_http_velro_module: the velro_batch content handler, its items run
 * as subrequests, and the filters that capture their answers
 * (ngx_http_velro_batch.c).
 */


#ifndef _NGX_HTTP_VELRO_BATCH_H_INCLUDED_
#define _NGX_HTTP_VELRO_BATCH_H_INCLUDED_


#include "ngx_http_velro_module.h"


/* velro_batch [max=N] */
char *ngx_http_velro_batch(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

ngx_int_t ngx_http_velro_batch_is_item(ngx_http_request_t *r);
ngx_int_t ngx_http_velro_batch_rewrite(ngx_http_request_t *r);
ngx_int_t ngx_http_velro_batch_access(ngx_http_request_t *r,
    ngx_http_handler_pt own);


#endif /* _NGX_HTTP_VELRO_BATCH_H_INCLUDED_ */
