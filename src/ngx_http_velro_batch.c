
/*
 * ngx_http_velro_module: the batch endpoint (velro_batch).
 *
 * The body, a JSON array of items, is parsed and checked by velro_batch.c.
 * Each item runs as a background subrequest of the batch request, with the
 * batch's own headers (so its credentials) plus the item's, its method and
 * its body.  A filter module placed under the copy filter captures what
 * the items answer instead of letting it reach the client
 * (ngx_http_velro_batch_filter.c); when every item is done, the answers go
 * out as one JSON array in request order.
 *
 * An item is checked as a request of its own would be: the module's token
 * and authorization checks run for subrequests in the precontent phase,
 * and for batch items the location's other access-phase handlers run too
 * (nginx skips the access phase for subrequests), an internal location
 * answers 404 and the batch endpoint itself 403.
 */


#include "ngx_http_velro_module.h"
#include "ngx_http_velro_batch.h"


static ngx_int_t ngx_http_velro_batch_handler(ngx_http_request_t *r);
static void ngx_http_velro_batch_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_velro_batch_start(ngx_http_request_t *r,
    ngx_http_velro_batch_ctx_t *bctx);
static ngx_int_t ngx_http_velro_batch_launch(ngx_http_request_t *r,
    ngx_http_velro_batch_ctx_t *bctx, ngx_uint_t i);
static ngx_int_t ngx_http_velro_batch_headers(ngx_http_request_t *r,
    ngx_http_request_t *sr, velro_batch_item_t *item);
static ngx_int_t ngx_http_velro_batch_done(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static void ngx_http_velro_batch_wake(ngx_http_request_t *r);
static ngx_int_t ngx_http_velro_batch_step(ngx_http_request_t *r,
    ngx_http_velro_batch_ctx_t *bctx);
static ngx_int_t ngx_http_velro_batch_send(ngx_http_request_t *r,
    ngx_int_t status, u_char *body, size_t len);
static void ngx_http_velro_batch_cleanup(void *data);


static ngx_str_t  ngx_http_velro_batch_methods[] = {
    ngx_string("GET"),
    ngx_string("HEAD"),
    ngx_string("POST"),
    ngx_string("PUT"),
    ngx_string("PATCH"),
    ngx_string("DELETE")
};


static ngx_uint_t  ngx_http_velro_batch_method_ids[] = {
    NGX_HTTP_GET,
    NGX_HTTP_HEAD,
    NGX_HTTP_POST,
    NGX_HTTP_PUT,
    NGX_HTTP_PATCH,
    NGX_HTTP_DELETE
};


/* velro_batch [max=N] [max_response=SIZE] */

char *
ngx_http_velro_batch(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_velro_loc_conf_t *vlcf = conf;

    ngx_int_t                  n;
    ngx_str_t                 *value, s;
    ngx_uint_t                 i;
    ngx_http_core_loc_conf_t  *clcf;

    if (vlcf->batch_max) {
        return "is duplicate";
    }

    vlcf->batch_max = VELRO_BATCH_DEFAULT_MAX;
    vlcf->batch_max_response = 8 * 1024 * 1024;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "max=", 4) == 0) {
            n = ngx_atoi(value[i].data + 4, value[i].len - 4);
            if (n <= 0 || n > 1000) {
                goto invalid;
            }

            vlcf->batch_max = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "max_response=", 13) == 0) {
            s.data = value[i].data + 13;
            s.len = value[i].len - 13;

            n = ngx_parse_size(&s);
            if (n <= 0) {
                goto invalid;
            }

            vlcf->batch_max_response = n;
            continue;
        }

        goto invalid;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_velro_batch_handler;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", &value[i]);

    return NGX_CONF_ERROR;
}


static ngx_int_t
ngx_http_velro_batch_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    if (r != r->main) {
        /* a batch inside a batch, an SSI include of it, a mirror */
        return NGX_HTTP_FORBIDDEN;
    }

    if (!(r->method & NGX_HTTP_POST)) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_velro_batch_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_velro_batch_body(ngx_http_request_t *r)
{
    u_char                      *buf, *p;
    size_t                       len;
    ssize_t                      n;
    ngx_int_t                    rc;
    ngx_chain_t                 *cl;
    ngx_pool_cleanup_t          *cln;
    ngx_http_velro_ctx_t        *ctx;
    ngx_http_velro_loc_conf_t   *vlcf;
    ngx_http_velro_batch_ctx_t  *bctx;
    u_char                       err[256];

    vlcf = ngx_http_get_module_loc_conf(r, ngx_http_velro_module);

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        len = ngx_sprintf(err, "{\"error\":\"empty body\"}\n") - err;
        rc = ngx_http_velro_batch_send(r, NGX_HTTP_BAD_REQUEST, err, len);
        ngx_http_finalize_request(r, rc);
        return;
    }

    /* the body in one piece, from memory or from its temporary file */

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    buf = ngx_pnalloc(r->pool, len + 1);
    if (buf == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = buf;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {

        if (cl->buf->in_file) {
            n = ngx_read_file(cl->buf->file, p,
                              cl->buf->file_last - cl->buf->file_pos,
                              cl->buf->file_pos);
            if (n == NGX_ERROR) {
                ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }

            p += n;
            continue;
        }

        p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
    }

    len = p - buf;

    bctx = ngx_pcalloc(r->pool, sizeof(ngx_http_velro_batch_ctx_t));
    if (bctx == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    bctx->request = r;
    bctx->max_response = vlcf->batch_max_response;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    cln->handler = ngx_http_velro_batch_cleanup;
    cln->data = bctx;

    rc = velro_batch_parse(&bctx->batch, (char *) buf, len, vlcf->batch_max,
                           (char *) r->uri.data, r->uri.len);
    bctx->parsed = 1;

    if (rc != 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "velro: batch refused: %s (item %l)",
                      bctx->batch.error, bctx->batch.error_item);

        len = velro_batch_error_json(&bctx->batch, (char *) err,
                                     sizeof(err) - 1);
        err[len++] = '\n';

        rc = ngx_http_velro_batch_send(r, rc, err, len);
        ngx_http_finalize_request(r, rc);
        return;
    }

    ctx = ngx_http_velro_get_ctx(r);
    if (ctx == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->batch = bctx;

    rc = ngx_http_velro_batch_start(r, bctx);

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    /* the answer goes out from ngx_http_velro_batch_wake() */

    r->write_event_handler = ngx_http_velro_batch_wake;

    rc = ngx_http_velro_batch_step(r, bctx);

    if (rc != NGX_AGAIN) {
        ngx_http_finalize_request(r, rc);
    }
}


static ngx_int_t
ngx_http_velro_batch_start(ngx_http_request_t *r,
    ngx_http_velro_batch_ctx_t *bctx)
{
    ngx_uint_t  i;

    bctx->items = ngx_pcalloc(r->pool, bctx->batch.nitems
                                       * sizeof(ngx_http_velro_batch_item_t));
    if (bctx->items == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < bctx->batch.nitems; i++) {
        if (ngx_array_init(&bctx->items[i].headers, r->pool, 8,
                           sizeof(velro_batch_header_t))
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ngx_http_velro_metrics_batch_items(bctx->batch.nitems);

    return NGX_OK;
}


/*
 * Starts what can start, marks what cannot run (a dependency failed);
 * NGX_AGAIN while items run, else the status the batch was answered with.
 */

static ngx_int_t
ngx_http_velro_batch_step(ngx_http_request_t *r,
    ngx_http_velro_batch_ctx_t *bctx)
{
    char                         *out;
    size_t                        len, d;
    ngx_int_t                     rc;
    ngx_uint_t                    i, ready, failed, progress;
    velro_batch_item_t           *item;
    velro_batch_result_t         *res;
    ngx_http_velro_batch_item_t  *it;

    do {
        progress = 0;

        for (i = 0; i < bctx->batch.nitems; i++) {
            it = &bctx->items[i];

            if (it->state != NGX_HTTP_VELRO_ITEM_WAITING) {
                continue;
            }

            item = &bctx->batch.items[i];
            ready = 1;
            failed = 0;

            for (d = 0; d < item->ndeps; d++) {
                if (bctx->items[item->deps[d]].state
                    != NGX_HTTP_VELRO_ITEM_DONE)
                {
                    ready = 0;
                    break;
                }

                if (bctx->items[item->deps[d]].status >= 400) {
                    failed = 1;
                }
            }

            if (!ready) {
                continue;
            }

            progress = 1;

            if (failed) {
                it->state = NGX_HTTP_VELRO_ITEM_DONE;
                it->status = 424;
                it->error = "failed_dependency";
                bctx->done++;
                continue;
            }

            rc = ngx_http_velro_batch_launch(r, bctx, i);

            if (rc != NGX_OK) {
                it->state = NGX_HTTP_VELRO_ITEM_DONE;
                it->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
                it->error = "not_started";
                bctx->done++;
            }
        }

    } while (progress);

    if (bctx->done < bctx->batch.nitems) {
        return NGX_AGAIN;
    }

    /* every item is done: the answer, in request order */

    res = ngx_pcalloc(r->pool, bctx->batch.nitems
                               * sizeof(velro_batch_result_t));
    if (res == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < bctx->batch.nitems; i++) {
        it = &bctx->items[i];

        res[i].status = (int) it->status;
        res[i].headers = it->headers.elts;
        res[i].nheaders = it->headers.nelts;
        res[i].body = (char *) it->body;
        res[i].body_len = it->len;
        res[i].json = it->json;
        res[i].error = it->error;
    }

    out = velro_batch_response(&bctx->batch, res, &len);
    if (out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    bctx->finished = 1;

    rc = ngx_http_velro_batch_send(r, NGX_HTTP_OK, (u_char *) out, len);

    free(out);

    return rc;
}


static ngx_int_t
ngx_http_velro_batch_launch(ngx_http_request_t *r,
    ngx_http_velro_batch_ctx_t *bctx, ngx_uint_t i)
{
    ngx_str_t                    uri, args;
    ngx_http_request_t          *sr;
    velro_batch_item_t          *item;
    ngx_http_post_subrequest_t  *ps;

    item = &bctx->batch.items[i];

    uri.len = item->path_len;
    uri.data = ngx_pnalloc(r->pool, uri.len);
    if (uri.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(uri.data, item->path, uri.len);

    args.len = item->args_len;
    args.data = NULL;

    if (args.len) {
        args.data = ngx_pnalloc(r->pool, args.len);
        if (args.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(args.data, item->args, args.len);
    }

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        return NGX_ERROR;
    }

    ps->handler = ngx_http_velro_batch_done;
    ps->data = bctx;

    /*
     * Background subrequests finish on their own, in any order: their
     * output never enters the batch request's own (it is captured).
     */

    if (ngx_http_subrequest(r, &uri, args.len ? &args : NULL, &sr, ps,
                            NGX_HTTP_SUBREQUEST_BACKGROUND)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    bctx->items[i].sr = sr;
    bctx->items[i].state = NGX_HTTP_VELRO_ITEM_RUNNING;
    bctx->running++;

    sr->method = ngx_http_velro_batch_method_ids[item->method];
    sr->method_name = ngx_http_velro_batch_methods[item->method];
    sr->header_only = (item->method == VELRO_BATCH_HEAD);
    sr->filter_need_in_memory = 1;

    if (ngx_http_velro_batch_headers(r, sr, item) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "velro: batch item %ui: %V \"%V\"", i, &sr->method_name,
                   &uri);

    return NGX_OK;
}


/*
 * The item's request headers: the batch request's (its credentials among
 * them) but for what describes the batch's own body, then the item's; its
 * body, if any, as application/json with its length.
 */

static ngx_int_t
ngx_http_velro_batch_headers(ngx_http_request_t *r, ngx_http_request_t *sr,
    velro_batch_item_t *item)
{
    u_char                    *p;
    size_t                     n;
    ngx_buf_t                 *b;
    ngx_uint_t                 i;
    ngx_list_part_t           *part;
    ngx_table_elt_t           *h, *src;
    ngx_http_request_body_t   *rb;

    n = 8 + item->nheaders;

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        n += part->nelts;
    }

    if (ngx_list_init(&sr->headers_in.headers, r->pool, n,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    sr->headers_in.content_length = NULL;
    sr->headers_in.content_type = NULL;
    sr->headers_in.transfer_encoding = NULL;
    sr->headers_in.chunked = 0;
    sr->headers_in.content_length_n = -1;
    sr->request_body = NULL;

    part = &r->headers_in.headers.part;
    src = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            src = part->elts;
            i = 0;
        }

        if ((src[i].key.len == 14
             && ngx_strncasecmp(src[i].key.data, (u_char *) "Content-Length",
                                14) == 0)
            || (src[i].key.len == 12
                && ngx_strncasecmp(src[i].key.data,
                                   (u_char *) "Content-Type", 12) == 0)
            || (src[i].key.len == 17
                && ngx_strncasecmp(src[i].key.data,
                                   (u_char *) "Transfer-Encoding", 17) == 0)
            || (src[i].key.len == 6
                && ngx_strncasecmp(src[i].key.data, (u_char *) "Expect", 6)
                   == 0))
        {
            continue;
        }

        h = ngx_list_push(&sr->headers_in.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        *h = src[i];
    }

    for (i = 0; i < item->nheaders; i++) {
        h = ngx_list_push(&sr->headers_in.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->key.len = ngx_strlen(item->headers[i].name);
        h->key.data = (u_char *) item->headers[i].name;
        h->value.len = ngx_strlen(item->headers[i].value);
        h->value.data = (u_char *) item->headers[i].value;

        h->lowcase_key = ngx_pnalloc(r->pool, h->key.len);
        if (h->lowcase_key == NULL) {
            return NGX_ERROR;
        }

        h->hash = ngx_hash_strlow(h->lowcase_key, h->key.data, h->key.len);
    }

    if (item->body == NULL) {
        if (item->method == VELRO_BATCH_POST || item->method == VELRO_BATCH_PUT
            || item->method == VELRO_BATCH_PATCH)
        {
            sr->headers_in.content_length_n = 0;
        }

        return NGX_OK;
    }

    /* a JSON body */

    h = ngx_list_push(&sr->headers_in.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&h->key, "Content-Type");
    ngx_str_set(&h->value, "application/json");
    h->lowcase_key = (u_char *) "content-type";
    h->hash = ngx_hash_key(h->lowcase_key, h->key.len);
    sr->headers_in.content_type = h;

    h = ngx_list_push(&sr->headers_in.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(r->pool, NGX_SIZE_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&h->key, "Content-Length");
    h->value.data = p;
    h->value.len = ngx_sprintf(p, "%uz", item->body_len) - p;
    h->lowcase_key = (u_char *) "content-length";
    h->hash = ngx_hash_key(h->lowcase_key, h->key.len);
    sr->headers_in.content_length = h;
    sr->headers_in.content_length_n = item->body_len;

    rb = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
    if (rb == NULL) {
        return NGX_ERROR;
    }

    b = ngx_create_temp_buf(r->pool, item->body_len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->last = ngx_cpymem(b->pos, item->body, item->body_len);
    b->last_buf = 1;

    rb->bufs = ngx_alloc_chain_link(r->pool);
    if (rb->bufs == NULL) {
        return NGX_ERROR;
    }

    rb->bufs->buf = b;
    rb->bufs->next = NULL;
    rb->rest = 0;

    sr->request_body = rb;

    return NGX_OK;
}


static ngx_int_t
ngx_http_velro_batch_done(ngx_http_request_t *sr, void *data, ngx_int_t rc)
{
    ngx_http_velro_batch_ctx_t  *bctx = data;

    ngx_uint_t                    i;
    ngx_http_velro_batch_item_t  *it;

    for (i = 0; i < bctx->batch.nitems; i++) {
        if (bctx->items[i].sr == sr) {
            break;
        }
    }

    if (i == bctx->batch.nitems) {
        return rc;
    }

    it = &bctx->items[i];

    if (it->state == NGX_HTTP_VELRO_ITEM_DONE) {
        return rc;
    }

    it->state = NGX_HTTP_VELRO_ITEM_DONE;
    bctx->running--;
    bctx->done++;

    if (!it->header_seen || rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        /* no answer was produced: the status it finished with */
        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            it->status = rc;

        } else if (rc == NGX_ERROR) {
            it->status = NGX_HTTP_INTERNAL_SERVER_ERROR;

        } else if (sr->headers_out.status) {
            it->status = (ngx_int_t) sr->headers_out.status;

        } else {
            it->status = NGX_HTTP_OK;
        }
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, sr->connection->log, 0,
                   "velro: batch item %ui done: %i", i, it->status);

    /*
     * The batch request decides what comes next: once every item is done,
     * or when some wait for others (this one may be what they wait for);
     * not once per item otherwise.
     */

    if (!bctx->finished
        && (bctx->done == bctx->batch.nitems
            || bctx->done + bctx->running < bctx->batch.nitems))
    {
        (void) ngx_http_post_request(bctx->request, NULL);
    }

    return rc;
}


static void
ngx_http_velro_batch_wake(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_http_velro_ctx_t        *ctx;
    ngx_http_velro_batch_ctx_t  *bctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_velro_module);

    if (ctx == NULL || ctx->batch == NULL || ctx->batch->finished) {
        return;
    }

    bctx = ctx->batch;

    rc = ngx_http_velro_batch_step(r, bctx);

    if (rc != NGX_AGAIN) {
        ngx_http_finalize_request(r, rc);
    }
}


static ngx_int_t
ngx_http_velro_batch_send(ngx_http_request_t *r, ngx_int_t status,
    u_char *body, size_t len)
{
    ngx_str_t                 type;
    ngx_http_complex_value_t  cv;

    ngx_memzero(&cv, sizeof(ngx_http_complex_value_t));

    cv.value.data = ngx_pnalloc(r->pool, len);
    if (cv.value.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cv.value.len = len;
    ngx_memcpy(cv.value.data, body, len);

    ngx_str_set(&type, "application/json");

    return ngx_http_send_response(r, status, &type, &cv);
}


static void
ngx_http_velro_batch_cleanup(void *data)
{
    ngx_http_velro_batch_ctx_t  *bctx = data;

    ngx_uint_t  i;

    if (bctx->items) {
        for (i = 0; i < bctx->batch.nitems; i++) {
            ngx_free(bctx->items[i].body);
            bctx->items[i].body = NULL;
        }
    }

    if (bctx->parsed) {
        velro_batch_free(&bctx->batch);
        bctx->parsed = 0;
    }
}


/* the batch item r is, or descends from */

ngx_http_velro_batch_item_t *
ngx_http_velro_batch_item(ngx_http_request_t *r, ngx_uint_t *own)
{
    ngx_uint_t                   i;
    ngx_http_request_t          *sr;
    ngx_http_velro_ctx_t        *ctx;
    ngx_http_velro_batch_ctx_t  *bctx;

    /* in-memory subrequests (the module's L3 and JWKS ones) keep theirs */

    if (r->subrequest_in_memory) {
        return NULL;
    }

    for (sr = r; sr->parent; sr = sr->parent) {

        ctx = ngx_http_get_module_ctx(sr->parent, ngx_http_velro_module);

        if (ctx == NULL || ctx->batch == NULL) {
            continue;
        }

        bctx = ctx->batch;

        for (i = 0; i < bctx->batch.nitems; i++) {
            if (bctx->items[i].sr == sr) {
                *own = (sr == r);
                return &bctx->items[i];
            }
        }
    }

    return NULL;
}


ngx_int_t
ngx_http_velro_batch_is_item(ngx_http_request_t *r)
{
    ngx_uint_t  own;

    return ngx_http_velro_batch_item(r, &own) != NULL;
}


/*
 * The location an item first lands in: not an internal one (as for a
 * request from outside), not the batch endpoint.  Runs in the rewrite
 * phase, before "return" could answer.  Later internal redirects of the
 * item may go anywhere a request's own could.
 */

ngx_int_t
ngx_http_velro_batch_rewrite(ngx_http_request_t *r)
{
    ngx_uint_t                    own;
    ngx_http_core_loc_conf_t     *clcf;
    ngx_http_velro_batch_item_t  *it;

    if (r == r->main) {
        return NGX_DECLINED;
    }

    it = ngx_http_velro_batch_item(r, &own);

    if (it == NULL || !own || it->located) {
        return NGX_DECLINED;
    }

    it->located = 1;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (clcf->internal) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "velro: batch item \"%V\" names an internal location",
                      &r->uri);
        return NGX_HTTP_NOT_FOUND;
    }

    if (clcf->handler == ngx_http_velro_batch_handler) {
        return NGX_HTTP_FORBIDDEN;
    }

    return NGX_DECLINED;
}


/*
 * An item is checked as if it came alone: nginx skips the access phase for
 * subrequests, so its handlers run here, with the location's "satisfy".
 */

ngx_int_t
ngx_http_velro_batch_access(ngx_http_request_t *r, ngx_http_handler_pt own)
{
    ngx_int_t                   rc, denied;
    ngx_uint_t                  i;
    ngx_http_phase_handler_t   *ph;
    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_core_main_conf_t  *cmcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_core_module);
    ph = cmcf->phase_engine.handlers;

    denied = 0;

    for (i = 0; ph[i].checker; i++) {

        /* the module's own check runs after, and may wait for L2 or L3 */

        if (ph[i].checker != ngx_http_core_access_phase
            || ph[i].handler == own)
        {
            continue;
        }

        rc = ph[i].handler(r);

        if (rc == NGX_DECLINED) {
            continue;
        }

        if (clcf->satisfy == NGX_HTTP_SATISFY_ALL) {
            if (rc == NGX_OK) {
                continue;
            }

            return (rc == NGX_AGAIN || rc == NGX_DONE)
                   ? NGX_HTTP_FORBIDDEN : rc;
        }

        /* satisfy any */

        if (rc == NGX_OK) {
            return NGX_OK;
        }

        if (rc == NGX_HTTP_FORBIDDEN || rc == NGX_HTTP_UNAUTHORIZED) {
            denied = rc;
            continue;
        }

        return (rc == NGX_AGAIN || rc == NGX_DONE) ? NGX_HTTP_FORBIDDEN : rc;
    }

    return denied ? denied : NGX_OK;
}
