
/*
 * ngx_http_velro_module: the capture filters, a module of their own
 * (ngx_http_velro_batch_filter_module) placed under the copy filter, so
 * that file data reaches them read into memory, and above the postpone
 * filter.  A batch item's answer (status, headers, body) is kept for the
 * batch's answer instead of going to the client; a main request's goes
 * through the login capture of velro_warm_on_login.
 */


#include "ngx_http_velro_module.h"
#include "ngx_http_velro_batch.h"


static ngx_int_t ngx_http_velro_batch_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_velro_batch_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_velro_batch_filter_init(ngx_conf_t *cf);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


/* response headers an item's answer leaves out */

static ngx_str_t  ngx_http_velro_batch_skip[] = {
    ngx_string("Connection"),
    ngx_string("Keep-Alive"),
    ngx_string("Transfer-Encoding"),
    ngx_string("Set-Cookie"),
    ngx_null_string
};


static ngx_http_module_t  ngx_http_velro_batch_filter_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_velro_batch_filter_init,      /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_velro_batch_filter_module = {
    NGX_MODULE_V1,
    &ngx_http_velro_batch_filter_module_ctx, /* module context */
    NULL,                                  /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_http_velro_batch_header_filter(ngx_http_request_t *r)
{
    ngx_str_t                    *skip;
    ngx_uint_t                    i, own;
    ngx_list_part_t              *part;
    ngx_table_elt_t              *h;
    velro_batch_header_t         *bh;
    ngx_http_velro_batch_item_t  *it;

    if (r == r->main) {
        if (ngx_http_velro_warm_header(r) == NGX_ERROR) {
            return NGX_ERROR;
        }

        return ngx_http_next_header_filter(r);
    }

    it = ngx_http_velro_batch_item(r, &own);

    if (it == NULL) {
        return ngx_http_next_header_filter(r);
    }

    if (!own || it->header_seen) {
        return NGX_OK;
    }

    it->header_seen = 1;
    it->status = r->headers_out.status ? (ngx_int_t) r->headers_out.status
                                       : NGX_HTTP_OK;

    if (r->headers_out.content_type.len >= 16
        && ngx_strncasecmp(r->headers_out.content_type.data,
                           (u_char *) "application/json", 16) == 0)
    {
        it->json = 1;
    }

    if (r->headers_out.content_type.len) {
        bh = ngx_array_push(&it->headers);
        if (bh == NULL) {
            return NGX_ERROR;
        }

        bh->name = "Content-Type";
        bh->value = (char *) ngx_pnalloc(r->pool,
                                         r->headers_out.content_type.len + 1);
        if (bh->value == NULL) {
            return NGX_ERROR;
        }

        *ngx_cpymem(bh->value, r->headers_out.content_type.data,
                    r->headers_out.content_type.len) = '\0';
    }

    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash == 0) {
            continue;
        }

        for (skip = ngx_http_velro_batch_skip; skip->len; skip++) {
            if (h[i].key.len == skip->len
                && ngx_strncasecmp(h[i].key.data, skip->data, skip->len)
                   == 0)
            {
                break;
            }
        }

        if (skip->len) {
            continue;
        }

        bh = ngx_array_push(&it->headers);
        if (bh == NULL) {
            return NGX_ERROR;
        }

        bh->name = ngx_pnalloc(r->pool, h[i].key.len + 1);
        bh->value = ngx_pnalloc(r->pool, h[i].value.len + 1);
        if (bh->name == NULL || bh->value == NULL) {
            return NGX_ERROR;
        }

        *ngx_cpymem(bh->name, h[i].key.data, h[i].key.len) = '\0';
        *ngx_cpymem(bh->value, h[i].value.data, h[i].value.len) = '\0';
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_velro_batch_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    u_char                       *p;
    size_t                        n, size;
    ngx_uint_t                    own;
    ngx_chain_t                  *cl;
    ngx_http_velro_ctx_t         *ctx;
    ngx_http_velro_batch_ctx_t   *bctx;
    ngx_http_velro_batch_item_t  *it;

    if (r == r->main) {
        if (in && ngx_http_velro_warm_body(r, in) == NGX_ERROR) {
            return NGX_ERROR;
        }

        return ngx_http_next_body_filter(r, in);
    }

    it = ngx_http_velro_batch_item(r, &own);

    if (it == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_velro_module);
    bctx = ctx->batch;

    for (cl = in; cl; cl = cl->next) {

        if (!ngx_buf_in_memory(cl->buf)) {
            /* filter_need_in_memory: file data is read above this filter */
            cl->buf->pos = cl->buf->last;
            cl->buf->file_pos = cl->buf->file_last;
            continue;
        }

        n = cl->buf->last - cl->buf->pos;

        if (n == 0 || it->error) {
            cl->buf->pos = cl->buf->last;
            continue;
        }

        if (bctx->total + n > bctx->max_response) {
            it->error = "response_too_large";
            it->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
            ngx_free(it->body);
            bctx->total -= it->len;
            it->body = NULL;
            it->len = 0;
            it->size = 0;
            cl->buf->pos = cl->buf->last;
            continue;
        }

        if (it->len + n > it->size) {
            size = ngx_max(it->size * 2, it->len + n);
            size = ngx_max(size, 1024);

            p = ngx_alloc(size, r->connection->log);
            if (p == NULL) {
                return NGX_ERROR;
            }

            if (it->body) {
                ngx_memcpy(p, it->body, it->len);
                ngx_free(it->body);
            }

            it->body = p;
            it->size = size;
        }

        ngx_memcpy(it->body + it->len, cl->buf->pos, n);
        it->len += n;
        bctx->total += n;

        cl->buf->pos = cl->buf->last;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_velro_batch_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_velro_batch_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_velro_batch_body_filter;

    return NGX_OK;
}
