
/*
 * ngx_http_velro_module: signing keys from files (read once at
 * configuration time) and from a JWKS fetched through a subrequest
 * (per worker, cached, refetched at most once per cache period).
 */


#include "ngx_http_velro_module.h"
#include "ngx_http_velro_breaker.h"
#include "ngx_http_velro_jwks.h"

#include <openssl/evp.h>


#define NGX_HTTP_VELRO_KEY_FILE_MAX  (1024 * 1024)
#define NGX_HTTP_VELRO_JWKS_RETRY    5000


static ngx_int_t ngx_http_velro_jwks_read(ngx_conf_t *cf, ngx_str_t *path,
    ngx_str_t *text);
static void ngx_http_velro_keyset_cleanup(void *data);
static void ngx_http_velro_jwks_remote_cleanup(void *data);
static ngx_int_t ngx_http_velro_jwks_done(ngx_http_request_t *r, void *data,
    ngx_int_t rc);
static void ngx_http_velro_jwks_wake_all(ngx_http_velro_jwks_remote_t *remote,
    ngx_uint_t fetched);


/* the per-worker state of one velro_jwt_key_request */

ngx_http_velro_jwks_remote_t *
ngx_http_velro_jwks_remote(ngx_conf_t *cf, ngx_str_t *uri)
{
    u_char                        *q;
    ngx_pool_cleanup_t            *cln;
    ngx_http_velro_jwks_remote_t  *remote;

    remote = ngx_pcalloc(cf->pool, sizeof(ngx_http_velro_jwks_remote_t));
    if (remote == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_velro_jwks_remote_cleanup;
    cln->data = remote;

    remote->uri = *uri;

    q = ngx_strlchr(uri->data, uri->data + uri->len, '?');

    if (q) {
        remote->uri.len = q - uri->data;
        remote->args.data = q + 1;
        remote->args.len = uri->data + uri->len - q - 1;
    }

    ngx_queue_init(&remote->waiters);

    return remote;
}


static void
ngx_http_velro_jwks_remote_cleanup(void *data)
{
    ngx_http_velro_jwks_remote_t  *remote = data;

    velro_keyset_free(remote->keys);
    remote->keys = NULL;
}


ngx_int_t
ngx_http_velro_jwks_load_files(ngx_conf_t *cf, ngx_http_velro_loc_conf_t *vlcf)
{
    int                  n;
    char                 err[256];
    ngx_str_t           *path, text;
    ngx_uint_t           i;
    EVP_MD_CTX          *md;
    velro_keyset_t      *ks;
    ngx_pool_cleanup_t  *cln;

    ks = velro_keyset_new();
    if (ks == NULL) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        velro_keyset_free(ks);
        return NGX_ERROR;
    }

    cln->handler = ngx_http_velro_keyset_cleanup;
    cln->data = ks;

    md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return NGX_ERROR;
    }

    path = vlcf->key_files->elts;

    for (i = 0; i < vlcf->key_files->nelts; i++) {

        if (ngx_http_velro_jwks_read(cf, &path[i], &text) != NGX_OK) {
            EVP_MD_CTX_free(md);
            return NGX_ERROR;
        }

        n = velro_keyset_add_text(ks, (char *) text.data, text.len,
                                  err, sizeof(err));

        if (n <= 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "velro_jwt_key_file \"%V\": %s", &path[i],
                               n < 0 ? err : "no usable signing key");
            EVP_MD_CTX_free(md);
            return NGX_ERROR;
        }

        EVP_DigestUpdate(md, text.data, text.len);
    }

    EVP_DigestFinal_ex(md, vlcf->keys_digest, NULL);
    EVP_MD_CTX_free(md);

    vlcf->keys = ks;

    return NGX_OK;
}


static ngx_int_t
ngx_http_velro_jwks_read(ngx_conf_t *cf, ngx_str_t *path, ngx_str_t *text)
{
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_file_info_t  fi;

    fd = ngx_open_file(path->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", path);
        return NGX_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) > NGX_HTTP_VELRO_KEY_FILE_MAX)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "velro_jwt_key_file \"%V\": not a file "
                           "of 1m or less", path);
        ngx_close_file(fd);
        return NGX_ERROR;
    }

    text->len = (size_t) ngx_file_size(&fi);
    text->data = ngx_pnalloc(cf->temp_pool, text->len + 1);
    if (text->data == NULL) {
        ngx_close_file(fd);
        return NGX_ERROR;
    }

    n = ngx_read_fd(fd, text->data, text->len);

    ngx_close_file(fd);

    if (n != (ssize_t) text->len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_read_fd_n " \"%V\" failed", path);
        return NGX_ERROR;
    }

    text->data[text->len] = '\0';

    return NGX_OK;
}


static void
ngx_http_velro_keyset_cleanup(void *data)
{
    velro_keyset_free(data);
}


/*
 * The key set to verify with now.  *fetch is set when a fetch is due:
 * no keys yet, or keys older than the cache period.
 */

velro_keyset_t *
ngx_http_velro_jwks_current(ngx_http_velro_jwks_remote_t *remote,
    ngx_msec_t cache, ngx_uint_t *fetch)
{
    *fetch = remote->keys == NULL
             || (ngx_msec_int_t) (ngx_current_msec - remote->fetched)
                >= (ngx_msec_int_t) cache;

    return remote->keys;
}


/*
 * Starts a fetch, or waits for the one under way.  NGX_AGAIN: the request
 * is resumed when keys arrive; NGX_DECLINED: no fetch is allowed now (one
 * ran less than the minimum interval ago), go on with the keys there are.
 */

ngx_int_t
ngx_http_velro_jwks_fetch(ngx_http_request_t *r,
    ngx_http_velro_jwks_remote_t *remote, ngx_http_velro_ctx_t *ctx,
    ngx_msec_t cache, ngx_uint_t unknown_kid)
{
    ngx_msec_t                   interval;
    ngx_http_request_t          *sr;

    if (remote->fetching) {

        if (remote->keys && !unknown_kid) {
            /* a refresh is under way: the current keys serve meanwhile */
            return NGX_DECLINED;
        }

        ctx->waiting = 1;

        ngx_queue_insert_tail(&remote->waiters, &ctx->queue);

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "velro: waiting for the JWKS fetch under way");

        return NGX_AGAIN;
    }

    /*
     * An unknown kid may refetch once per cache period; missing or stale
     * keys are retried every few seconds while their fetch fails.
     */

    interval = unknown_kid ? cache : NGX_HTTP_VELRO_JWKS_RETRY;

    if (remote->attempted_once
        && (ngx_msec_int_t) (ngx_current_msec - remote->attempted)
           < (ngx_msec_int_t) interval)
    {
        return NGX_DECLINED;
    }

    /*
     * The jwks breaker, shared by the workers: while it is open nobody
     * fetches, the keys there are serve (an unknown kid is refused)
     */

    if (ngx_http_velro_breaker_allow(NGX_HTTP_VELRO_BREAKER_JWKS,
                                     r->connection->log)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "velro: breaker jwks open, no JWKS fetch from \"%V\"",
                      &remote->uri);

        remote->attempted = ngx_current_msec;
        remote->attempted_once = 1;

        ctx->retry_after = ngx_http_velro_breaker_retry_after(
                                                 NGX_HTTP_VELRO_BREAKER_JWKS);
        return NGX_DECLINED;
    }

    sr = ngx_http_velro_subrequest(r, &remote->uri,
                                   remote->args.len ? &remote->args : NULL,
                                   ngx_http_velro_jwks_done, ctx);
    if (sr == NULL) {
        return NGX_ERROR;
    }

    remote->fetching = 1;
    remote->owner = ctx;
    remote->attempted = ngx_current_msec;
    remote->attempted_once = 1;
    ctx->remote = remote;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "velro: fetching JWKS from \"%V\"%s", &remote->uri,
                  unknown_kid ? " for an unknown kid" : "");

    return NGX_AGAIN;
}


static ngx_int_t
ngx_http_velro_jwks_done(ngx_http_request_t *r, void *data, ngx_int_t rc)
{
    ngx_http_velro_ctx_t  *ctx = data;

    int                            n;
    char                           err[256];
    ngx_buf_t                     *b;
    ngx_int_t                      status;
    velro_keyset_t                *ks;
    ngx_http_velro_jwks_remote_t  *remote;

    remote = ctx->remote;
    ctx->fetched = 1;

    if (remote == NULL || remote->owner != ctx) {
        return rc;
    }

    /* an error is passed in rc before its response is made */

    status = (rc >= NGX_HTTP_SPECIAL_RESPONSE || rc == NGX_ERROR)
             ? rc : (ngx_int_t) r->headers_out.status;

    b = r->out ? r->out->buf : NULL;

    if (status != NGX_HTTP_OK || b == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "velro: JWKS request \"%V\" failed with status %i, "
                      "keeping the previous keys", &remote->uri, status);
        goto failed;
    }

    ks = velro_keyset_new();
    if (ks == NULL) {
        goto done;
    }

    n = velro_keyset_add_jwks(ks, (char *) b->pos, b->last - b->pos,
                              err, sizeof(err));

    if (n <= 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "velro: JWKS from \"%V\" rejected: %s, "
                      "keeping the previous keys", &remote->uri,
                      n < 0 ? err : "no usable signing key");
        velro_keyset_free(ks);
        goto failed;
    }

    velro_keyset_free(remote->keys);

    remote->keys = ks;
    remote->generation++;
    remote->fetched = ngx_current_msec;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "velro: JWKS from \"%V\": %d keys", &remote->uri, n);

    ngx_http_velro_breaker_result(NGX_HTTP_VELRO_BREAKER_JWKS, 1,
                                  r->connection->log);

    goto done;

failed:

    ngx_http_velro_breaker_result(NGX_HTTP_VELRO_BREAKER_JWKS, 0,
                                  r->connection->log);

done:

    remote->fetching = 0;
    remote->owner = NULL;

    ngx_http_velro_jwks_wake_all(remote, 1);

    return rc;
}


/*
 * A request goes away (its pool's cleanup): it leaves the waiters; if its
 * fetch is under way, the waiters are woken to fetch instead.
 */

void
ngx_http_velro_jwks_cleanup(ngx_http_velro_ctx_t *ctx)
{
    ngx_http_velro_jwks_remote_t  *remote;

    if (ctx->waiting) {
        ngx_queue_remove(&ctx->queue);
        ctx->waiting = 0;
    }

    remote = ctx->remote;

    if (remote && remote->fetching && remote->owner == ctx) {
        remote->fetching = 0;
        remote->owner = NULL;

        ngx_http_velro_jwks_wake_all(remote, 0);
    }
}


/* the waiters resume: fetched, when the fetch ended, else to fetch again */

static void
ngx_http_velro_jwks_wake_all(ngx_http_velro_jwks_remote_t *remote,
    ngx_uint_t fetched)
{
    ngx_queue_t           *q;
    ngx_http_velro_ctx_t  *w;

    while (!ngx_queue_empty(&remote->waiters)) {
        q = ngx_queue_head(&remote->waiters);
        ngx_queue_remove(q);

        w = ngx_queue_data(q, ngx_http_velro_ctx_t, queue);
        w->waiting = 0;

        if (fetched) {
            w->fetched = 1;
        }

        ngx_post_event(&w->wake, &ngx_posted_events);
    }
}
