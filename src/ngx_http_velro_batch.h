
/*
 * ngx_http_velro_module: the velro_batch content handler, its items run
 * as subrequests (ngx_http_velro_batch.c), and the filters that capture
 * their answers (ngx_http_velro_batch_filter.c).
 */


#ifndef _NGX_HTTP_VELRO_BATCH_H_INCLUDED_
#define _NGX_HTTP_VELRO_BATCH_H_INCLUDED_


#include "ngx_http_velro_module.h"
#include "velro_batch.h"


/* a batch request's state (ctx->batch), and its items' */

#define NGX_HTTP_VELRO_ITEM_WAITING  0
#define NGX_HTTP_VELRO_ITEM_RUNNING  1
#define NGX_HTTP_VELRO_ITEM_DONE     2


typedef struct {
    ngx_http_request_t           *sr;
    ngx_uint_t                    state;
    ngx_int_t                     status;
    ngx_array_t                   headers;      /* velro_batch_header_t */
    u_char                       *body;
    size_t                        len;
    size_t                        size;
    const char                   *error;
    unsigned                      json:1;
    unsigned                      header_seen:1;
    unsigned                      located:1;
} ngx_http_velro_batch_item_t;


struct ngx_http_velro_batch_ctx_s {
    ngx_http_request_t           *request;
    velro_batch_t                 batch;
    ngx_http_velro_batch_item_t  *items;
    ngx_uint_t                    running;
    ngx_uint_t                    done;
    size_t                        total;        /* bytes captured */
    size_t                        max_response;
    unsigned                      parsed:1;
    unsigned                      finished:1;
};


/* velro_batch [max=N] [max_response=SIZE] */
char *ngx_http_velro_batch(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

ngx_int_t ngx_http_velro_batch_is_item(ngx_http_request_t *r);
ngx_int_t ngx_http_velro_batch_rewrite(ngx_http_request_t *r);
ngx_int_t ngx_http_velro_batch_access(ngx_http_request_t *r,
    ngx_http_handler_pt own);

/*
 * The batch item r is, or descends from, or NULL; *own is set when r is
 * the item's subrequest itself (not one of its own subrequests)
 */
ngx_http_velro_batch_item_t *ngx_http_velro_batch_item(
    ngx_http_request_t *r, ngx_uint_t *own);


#endif /* _NGX_HTTP_VELRO_BATCH_H_INCLUDED_ */
