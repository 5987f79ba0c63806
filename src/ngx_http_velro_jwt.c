
/*
 * ngx_http_velro_module: bearer token extraction, JWT verification with
 * the per-worker L1 token cache, and RFC 6750 error responses.
 */


#include "ngx_http_velro_module.h"
#include "ngx_http_velro_jwks.h"
#include "ngx_http_velro_jwt.h"

#include <openssl/evp.h>


/* L1 key: type, policy fingerprint, key-set generation, then the token */
#define NGX_HTTP_VELRO_KEY_PREFIX  (1 + 32 + sizeof(uint64_t))


/* an L1 "auth" entry: what a verified token proved */

typedef struct {
    int64_t                       exp;
    int64_t                       iat;          /* INT64_MIN if absent */
    uint16_t                      sub_len;
    u_char                        sub[];
} ngx_http_velro_auth_entry_t;


static ngx_int_t ngx_http_velro_jwt_token(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx);
static ngx_int_t ngx_http_velro_jwt_verify(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx,
    ngx_uint_t may_fetch, ngx_uint_t *provisional);
static ngx_int_t ngx_http_velro_jwt_fail(ngx_http_request_t *r,
    ngx_http_velro_ctx_t *ctx, ngx_int_t status, velro_jwt_rc_e reason,
    const char *detail);
static ngx_int_t ngx_http_velro_cstr_list(ngx_conf_t *cf, ngx_array_t *list,
    const char **out, size_t *n, size_t max, const char *what);
static u_char *ngx_http_velro_cstr(ngx_conf_t *cf, ngx_str_t *s);


ngx_int_t
ngx_http_velro_jwt_authenticate(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx,
    ngx_uint_t may_fetch)
{
    ngx_int_t   rc;
    ngx_uint_t  provisional;

    if (ctx->checked && ctx->vlcf == vlcf) {
        return ctx->status;
    }

    /* metrics: the token's stage starts with its first check */

    if (ctx->timing.jwt_start == 0) {
        ctx->timing.jwt_start = velro_metrics_now();
        ngx_http_velro_timing_start(&ctx->timing);
    }

    ctx->checked = 0;
    ctx->from_l1 = 0;
    ctx->vlcf = vlcf;
    ctx->status = NGX_OK;
    ctx->reason = VELRO_JWT_OK;
    ctx->detail = NULL;
    ngx_str_null(&ctx->sub);

    if (ctx->decoded) {
        if (ctx->header) {
            json_decref(ctx->header);
        }

        if (ctx->claims) {
            json_decref(ctx->claims);
        }

        ctx->header = NULL;
        ctx->claims = NULL;
        ctx->decoded = 0;
    }

    rc = ngx_http_velro_jwt_token(r, vlcf, ctx);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK) {
        ctx->checked = 1;
        ctx->timing.jwt_end = velro_metrics_now();      /* metrics */
        return ctx->status;
    }

    provisional = 0;

    rc = ngx_http_velro_jwt_verify(r, vlcf, ctx, may_fetch, &provisional);

    if (rc == NGX_AGAIN || rc == NGX_ERROR) {
        return rc;
    }

    /* a result reached without the right to fetch keys is not final */

    ctx->checked = !provisional;

    if (ctx->checked) {
        ctx->timing.jwt_end = velro_metrics_now();      /* metrics */
    }

    return ctx->status;
}


/*
 * Finds the bearer token: "Authorization: Bearer T" (scheme case-
 * insensitive) or the velro_jwt_token value.  Sets ctx->status to NGX_OK,
 * or to 401 (no token) or 400 (malformed credentials).
 */

static ngx_int_t
ngx_http_velro_jwt_token(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx)
{
    u_char           *p, *last;
    ngx_str_t         header, value;
    ngx_table_elt_t  *h;

    ngx_str_null(&header);
    ngx_str_null(&value);

    h = r->headers_in.authorization;

    if (h) {
        p = h->value.data;
        last = p + h->value.len;

        if (h->value.len == 0) {
            return ngx_http_velro_jwt_fail(r, ctx, NGX_HTTP_BAD_REQUEST,
                                           VELRO_JWT_MALFORMED,
                                           "empty Authorization header");
        }

        if (h->value.len >= 6
            && ngx_strncasecmp(p, (u_char *) "bearer", 6) == 0
            && (h->value.len == 6 || p[6] == ' ' || p[6] == '\t'))
        {
            for (p += 6; p < last && (*p == ' ' || *p == '\t'); p++) {
                /* void */
            }

            if (p == last) {
                return ngx_http_velro_jwt_fail(r, ctx, NGX_HTTP_BAD_REQUEST,
                                               VELRO_JWT_MALFORMED,
                                               "Bearer without a token");
            }

            header.data = p;
            header.len = last - p;

            for ( /* void */ ; p < last; p++) {
                if (*p == ' ' || *p == '\t' || *p == ',') {
                    return ngx_http_velro_jwt_fail(r, ctx,
                                               NGX_HTTP_BAD_REQUEST,
                                               VELRO_JWT_MALFORMED,
                                               "malformed Bearer credentials");
                }
            }

        } else if (ngx_strlchr(p, last, ' ') == NULL) {
            return ngx_http_velro_jwt_fail(r, ctx, NGX_HTTP_BAD_REQUEST,
                                           VELRO_JWT_MALFORMED,
                                           "Authorization without a scheme");
        }

        /* another scheme (Basic, say) carries no bearer token */
    }

    if (vlcf->token) {
        if (ngx_http_complex_value(r, vlcf->token, &value) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (value.len && header.len
        && (value.len != header.len
            || ngx_strncmp(value.data, header.data, value.len) != 0))
    {
        /* RFC 6750 2: one method per request */

        return ngx_http_velro_jwt_fail(r, ctx, NGX_HTTP_BAD_REQUEST,
                                       VELRO_JWT_MALFORMED,
                                       "two different tokens in one request");
    }

    ctx->token = value.len ? value : header;

    if (ctx->token.len == 0) {
        ctx->status = NGX_HTTP_UNAUTHORIZED;
        ctx->reason = VELRO_JWT_OK;
        ctx->detail = "no token";

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "velro: no bearer token");

        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_velro_jwt_verify(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx,
    ngx_uint_t may_fetch, ngx_uint_t *provisional)
{
    size_t                        len, klen;
    time_t                        now, ttl;
    u_char                       *key;
    u_char                        buf[sizeof(ngx_http_velro_auth_entry_t)
                                      + 256];
    u_char                        kbuf[NGX_HTTP_VELRO_KEY_PREFIX + 2048];
    uint64_t                      generation;
    ngx_int_t                     rc;
    ngx_uint_t                    fetch;
    velro_jwt_t                   jwt;
    velro_cache_t                *l1;
    velro_jwt_rc_e                jrc;
    velro_keyset_t               *keys;
    velro_cache_entry_t          *e;
    ngx_http_velro_main_conf_t   *vmcf;
    ngx_http_velro_auth_entry_t  *ae;

    now = ngx_time();
    keys = vlcf->keys;
    generation = 0;
    fetch = 0;

    if (vlcf->remote) {
        keys = ngx_http_velro_jwks_current(vlcf->remote, vlcf->key_cache,
                                           &fetch);
        generation = vlcf->remote->generation;
    }

    vmcf = ngx_http_get_module_main_conf(r, ngx_http_velro_module);
    l1 = ngx_http_velro_l1();

    if (vmcf->ttl_l1[NGX_HTTP_VELRO_AUTH] == 0 || keys == NULL) {
        l1 = NULL;
    }

    /*
     * The L1 key is the whole token behind everything that judged it: the
     * location's policy fingerprint (algorithms, iss, aud, required claims,
     * leeway, key material) and the generation of a fetched key set.  A
     * hit is an exact match: no digest to compute, nothing to collide.
     */

    klen = NGX_HTTP_VELRO_KEY_PREFIX + ctx->token.len;
    key = kbuf;

    if (l1 && klen > sizeof(kbuf)) {
        key = ngx_pnalloc(r->pool, klen);
        if (key == NULL) {
            return NGX_ERROR;
        }
    }

    if (l1) {
        key[0] = NGX_HTTP_VELRO_AUTH;
        ngx_memcpy(key + 1, vlcf->fingerprint, 32);
        ngx_memcpy(key + 33, &generation, sizeof(uint64_t));
        ngx_memcpy(key + NGX_HTTP_VELRO_KEY_PREFIX, ctx->token.data,
                   ctx->token.len);

        e = velro_cache_get(l1, key, klen, ngx_current_msec);

        if (e) {
            ae = (ngx_http_velro_auth_entry_t *) velro_cache_value(e);

            /* a hit never skips the expiry check */

            if ((int64_t) now >= ae->exp + vlcf->leeway) {
                velro_cache_delete(l1, key, klen);
                return ngx_http_velro_jwt_fail(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                               VELRO_JWT_EXPIRED,
                                               "now is past \"exp\"");
            }

            ctx->exp = ae->exp;
            ctx->iat = ae->iat;

            if (ae->sub_len) {
                ctx->sub.data = ngx_pnalloc(r->pool, ae->sub_len);
                if (ctx->sub.data == NULL) {
                    return NGX_ERROR;
                }

                ctx->sub.len = ae->sub_len;
                ngx_memcpy(ctx->sub.data, ae->sub, ae->sub_len);
            }

            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "velro: token from L1");

            ctx->from_l1 = 1;
            ctx->status = NGX_OK;
            return NGX_OK;
        }
    }

    /* a malformed token is refused before it can cause a key fetch */

    jrc = velro_jwt_parse(&jwt, (char *) ctx->token.data, ctx->token.len,
                          vlcf->max_size);

    if (jrc == VELRO_JWT_OK && fetch) {

        if (!may_fetch) {
            *provisional = 1;

        } else if (!ctx->fetched) {
            rc = ngx_http_velro_jwks_fetch(r, vlcf->remote, ctx,
                                           vlcf->key_cache, 0);
            if (rc != NGX_DECLINED) {
                velro_jwt_free(&jwt);
                return rc;
            }
        }

        if (keys == NULL) {
            velro_jwt_free(&jwt);

            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "velro: no signing keys from \"%V\"",
                          &vlcf->remote->uri);

            ctx->status = NGX_HTTP_SERVICE_UNAVAILABLE;
            ctx->detail = "signing keys unavailable";
            return NGX_OK;
        }
    }

    if (jrc == VELRO_JWT_OK) {
        jrc = velro_jwt_verify(&jwt, vlcf->policy, keys);

        if (jrc == VELRO_JWT_KID && vlcf->remote) {

            if (!may_fetch) {
                *provisional = 1;

            } else if (!ctx->fetched) {
                rc = ngx_http_velro_jwks_fetch(r, vlcf->remote, ctx,
                                               vlcf->key_cache, 1);
                if (rc != NGX_DECLINED) {
                    velro_jwt_free(&jwt);
                    return rc;
                }
            }
        }
    }

    if (jrc == VELRO_JWT_OK) {
        jrc = velro_jwt_check_claims(&jwt, vlcf->policy, now);
    }

    if (jrc != VELRO_JWT_OK) {
        rc = ngx_http_velro_jwt_fail(r, ctx, jrc == VELRO_JWT_NOMEM
                                             ? NGX_HTTP_INTERNAL_SERVER_ERROR
                                             : NGX_HTTP_UNAUTHORIZED,
                                     jrc, jwt.error);
        velro_jwt_free(&jwt);
        return rc;
    }

    ctx->exp = jwt.exp;
    ctx->iat = jwt.iat;

    if (jwt.sub) {
        ctx->sub.len = ngx_strlen(jwt.sub);
        ctx->sub.data = ngx_pnalloc(r->pool, ctx->sub.len);
        if (ctx->sub.data == NULL) {
            velro_jwt_free(&jwt);
            return NGX_ERROR;
        }

        ngx_memcpy(ctx->sub.data, jwt.sub, ctx->sub.len);
    }

    /* the decoded token serves the claim variables */

    ctx->header = jwt.header;
    ctx->claims = jwt.claims;
    ctx->decoded = 1;
    jwt.header = NULL;
    jwt.claims = NULL;
    velro_jwt_free(&jwt);

    ctx->status = NGX_OK;

    ttl = ngx_min(vmcf->ttl_l1[NGX_HTTP_VELRO_AUTH],
                  (time_t) (ctx->exp + vlcf->leeway - now));

    if (l1 && ttl > 0 && ctx->sub.len <= 256) {
        ae = (ngx_http_velro_auth_entry_t *) buf;
        ae->exp = ctx->exp;
        ae->iat = ctx->iat;
        ae->sub_len = (uint16_t) ctx->sub.len;
        ngx_memcpy(ae->sub, ctx->sub.data, ctx->sub.len);

        len = sizeof(ngx_http_velro_auth_entry_t) + ctx->sub.len;

        (void) velro_cache_put(l1, NGX_HTTP_VELRO_AUTH, key, klen, buf, len,
                               ngx_current_msec + (ngx_msec_t) ttl * 1000);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_velro_jwt_fail(ngx_http_request_t *r, ngx_http_velro_ctx_t *ctx,
    ngx_int_t status, velro_jwt_rc_e reason, const char *detail)
{
    ctx->status = status;
    ctx->reason = reason;
    ctx->detail = detail;

    if (status == NGX_HTTP_BAD_REQUEST) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "velro: invalid request: %s", detail);

    } else {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "velro: invalid token: %s (%s)",
                      velro_jwt_description(reason),
                      detail ? detail : "-");
    }

    return NGX_DECLINED;
}


/*
 * Sends the contract's error: 401 or 400 with an RFC 6750 challenge and a
 * JSON body, or 503 with Retry-After.  Where "satisfy any" or an
 * error_page for the status is configured, nginx's own handling is used.
 */

ngx_int_t
ngx_http_velro_jwt_reject(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx,
    ngx_int_t status)
{
    u_char                    *p;
    size_t                     len;
    ngx_int_t                  rc;
    ngx_str_t                  type;
    ngx_uint_t                 i;
    const char                *error, *desc;
    ngx_table_elt_t           *h;
    ngx_http_err_page_t       *ep;
    ngx_http_complex_value_t   cv;
    ngx_http_core_loc_conf_t  *clcf;

    if (status == NGX_HTTP_UNAUTHORIZED) {
        if (ctx->user_desc) {
            /* the token is fine, its user is not */
            error = "invalid_token";
            desc = ctx->user_desc;

        } else if (ctx->reason == VELRO_JWT_OK) {
            error = NULL;
            desc = "a bearer token is required";

        } else {
            error = "invalid_token";
            desc = velro_jwt_description(ctx->reason);
        }

    } else if (status == NGX_HTTP_BAD_REQUEST) {
        error = "invalid_request";
        desc = ctx->detail;

    } else if (status == NGX_HTTP_SERVICE_UNAVAILABLE) {
        error = "temporarily_unavailable";
        desc = ctx->detail;

    } else if (status == NGX_HTTP_FORBIDDEN) {
        /* the same answer for "denied" and "no such resource" */
        error = "access_denied";
        desc = "access to this resource is denied";

    } else if (status == NGX_HTTP_NOT_FOUND) {
        error = "not_found";
        desc = "no such resource";

    } else {
        return status;
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    /* a refusal by authorization challenges nothing: the token was fine */

    if (status != NGX_HTTP_FORBIDDEN && status != NGX_HTTP_NOT_FOUND) {

        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;

        if (status == NGX_HTTP_SERVICE_UNAVAILABLE) {
            ngx_str_set(&h->key, "Retry-After");
            ngx_str_set(&h->value, "5");

            if (ctx->retry_after > 0) {
                /* a breaker is open: when its next trial may run */

                p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
                if (p == NULL) {
                    return NGX_HTTP_INTERNAL_SERVER_ERROR;
                }

                h->value.data = p;
                h->value.len = ngx_sprintf(p, "%T", ctx->retry_after) - p;
            }

            if (clcf->satisfy != NGX_HTTP_SATISFY_ALL) {
                /* another access module may still admit the request */
                h->hash = 0;
            }

        } else {
            ngx_str_set(&h->key, "WWW-Authenticate");

            len = sizeof("Bearer realm=\"\"") - 1 + vlcf->realm.len;

            if (error) {
                len += sizeof(", error=\"\", error_description=\"\"") - 1
                       + ngx_strlen(error) + ngx_strlen(desc);
            }

            p = ngx_pnalloc(r->pool, len);
            if (p == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            h->value.data = p;

            if (error) {
                p = ngx_sprintf(p, "Bearer realm=\"%V\", error=\"%s\", "
                                "error_description=\"%s\"",
                                &vlcf->realm, error, desc);
            } else {
                p = ngx_sprintf(p, "Bearer realm=\"%V\"", &vlcf->realm);
            }

            h->value.len = p - h->value.data;
            r->headers_out.www_authenticate = h;
        }
    }

    if (clcf->satisfy != NGX_HTTP_SATISFY_ALL) {
        return status;
    }

    if (clcf->error_pages) {
        ep = clcf->error_pages->elts;

        for (i = 0; i < clcf->error_pages->nelts; i++) {
            if (ep[i].status == status) {
                return status;
            }
        }
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Cache-Control");
    ngx_str_set(&h->value, "no-store");

    if (error == NULL) {
        error = "missing_token";
    }

    len = sizeof("{\"error\":\"\",\"error_description\":\"\"}\n") - 1
          + ngx_strlen(error) + ngx_strlen(desc);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memzero(&cv, sizeof(ngx_http_complex_value_t));

    cv.value.data = p;
    p = ngx_sprintf(p, "{\"error\":\"%s\",\"error_description\":\"%s\"}\n",
                    error, desc);
    cv.value.len = p - cv.value.data;

    ngx_str_set(&type, "application/json");

    rc = ngx_http_send_response(r, status, &type, &cv);

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


/* decodes header and claims of a token verified through the L1 cache */

ngx_int_t
ngx_http_velro_jwt_decode(ngx_http_request_t *r, ngx_http_velro_ctx_t *ctx)
{
    if (ctx->decoded) {
        return (ctx->claims && ctx->header) ? NGX_OK : NGX_ERROR;
    }

    ctx->decoded = 1;

    /* the signature was verified: the token bytes hash to a cached entry */

    ctx->header = velro_jwt_decode_segment((char *) ctx->token.data,
                                           ctx->token.len, 0);
    ctx->claims = velro_jwt_decode_segment((char *) ctx->token.data,
                                           ctx->token.len, 1);

    return (ctx->claims && ctx->header) ? NGX_OK : NGX_ERROR;
}


ngx_int_t
ngx_http_velro_jwt_init_policy(ngx_conf_t *cf,
    ngx_http_velro_loc_conf_t *vlcf)
{
    u_char               flag;
    ngx_uint_t           i;
    EVP_MD_CTX          *md;
    velro_jwt_policy_t  *p;

    p = ngx_pcalloc(cf->pool, sizeof(velro_jwt_policy_t));
    if (p == NULL) {
        return NGX_ERROR;
    }

    p->algs = (unsigned) vlcf->algs;
    p->leeway = (long) vlcf->leeway;
    p->max_len = vlcf->max_size;

    if (vlcf->issuer.len) {
        p->issuer = (char *) ngx_http_velro_cstr(cf, &vlcf->issuer);
        if (p->issuer == NULL) {
            return NGX_ERROR;
        }
    }

    if (ngx_http_velro_cstr_list(cf, vlcf->audiences, p->audiences,
                                 &p->naudiences, VELRO_JWT_MAX_AUDIENCES,
                                 "audiences")
        != NGX_OK
        || ngx_http_velro_cstr_list(cf, vlcf->required, p->required,
                                    &p->nrequired, VELRO_JWT_MAX_REQUIRED,
                                    "required claims")
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    vlcf->policy = p;

    /* the fingerprint: any difference in policy or keys changes it */

    md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return NGX_ERROR;
    }

    EVP_DigestUpdate(md, &p->algs, sizeof(p->algs));
    EVP_DigestUpdate(md, &p->leeway, sizeof(p->leeway));
    EVP_DigestUpdate(md, &p->max_len, sizeof(p->max_len));

    flag = 'i';
    EVP_DigestUpdate(md, &flag, 1);
    EVP_DigestUpdate(md, vlcf->issuer.data, vlcf->issuer.len + 1);

    for (i = 0; i < p->naudiences; i++) {
        flag = 'a';
        EVP_DigestUpdate(md, &flag, 1);
        EVP_DigestUpdate(md, p->audiences[i], ngx_strlen(p->audiences[i]) + 1);
    }

    for (i = 0; i < p->nrequired; i++) {
        flag = 'r';
        EVP_DigestUpdate(md, &flag, 1);
        EVP_DigestUpdate(md, p->required[i], ngx_strlen(p->required[i]) + 1);
    }

    if (vlcf->keys) {
        flag = 'k';
        EVP_DigestUpdate(md, &flag, 1);
        EVP_DigestUpdate(md, vlcf->keys_digest, 32);
    }

    if (vlcf->remote) {
        /* one remote state per directive: its address names it */

        flag = 'j';
        EVP_DigestUpdate(md, &flag, 1);
        EVP_DigestUpdate(md, &vlcf->remote, sizeof(void *));
    }

    EVP_DigestFinal_ex(md, vlcf->fingerprint, NULL);
    EVP_MD_CTX_free(md);

    return NGX_OK;
}


/* NUL-terminated copies of a list of configured strings */

static ngx_int_t
ngx_http_velro_cstr_list(ngx_conf_t *cf, ngx_array_t *list,
    const char **out, size_t *n, size_t max, const char *what)
{
    ngx_str_t   *s;
    ngx_uint_t   i;

    if (list == NULL) {
        return NGX_OK;
    }

    if (list->nelts > max) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "more than %uz %s",
                           max, what);
        return NGX_ERROR;
    }

    s = list->elts;

    for (i = 0; i < list->nelts; i++) {
        out[i] = (char *) ngx_http_velro_cstr(cf, &s[i]);
        if (out[i] == NULL) {
            return NGX_ERROR;
        }
    }

    *n = list->nelts;

    return NGX_OK;
}


static u_char *
ngx_http_velro_cstr(ngx_conf_t *cf, ngx_str_t *s)
{
    u_char  *p;

    p = ngx_pnalloc(cf->pool, s->len + 1);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, s->data, s->len);
    p[s->len] = '\0';

    return p;
}
