
/*
 * ngx_http_velro_module: cache warming on login (velro_warm_on_login).
 *
 * On the login location, a 2xx answer carrying a JWT (an "Authorization:
 * Bearer" response header, or "access_token" in a JSON body) is verified
 * with the location's keys; then one background subrequest asks L3 for the
 * user, the user's memberships, the user's most recent generations and
 * their projects (the warm form: velro_authz_fallback?user=UUID&warm=1&
 * limit=N), and what comes back goes into this worker's L1 and, in one
 * pipeline of SETs, into L2.  An answer in issue 3's form (access rows)
 * fills the user and the pairs, in L1.  The login answer is passed on
 * untouched and never waits for any of it; a failure is logged, no more.
 */


#include "ngx_http_velro_module.h"
#include "ngx_http_velro_warm.h"


#define NGX_HTTP_VELRO_WARM_BODY_MAX  65536


typedef struct {
    u_char                        user_id[16];
    ngx_http_velro_mark_t         mark;
    ngx_uint_t                    limit;
} ngx_http_velro_warm_t;


static void ngx_http_velro_warm_start(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, u_char *token, size_t len);
static ngx_int_t ngx_http_velro_warm_done(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static ngx_int_t ngx_http_velro_warm_entities(ngx_http_request_t *sr,
    ngx_http_velro_warm_t *w, ngx_buf_t *b);
static ngx_int_t ngx_http_velro_warm_pairs(ngx_http_request_t *sr,
    ngx_http_velro_warm_t *w, ngx_buf_t *b);
static ngx_int_t ngx_http_velro_warm_rejected(ngx_http_request_t *sr,
    const char *err);


ngx_int_t
ngx_http_velro_warm_header(ngx_http_request_t *r)
{
    ngx_uint_t                  i;
    ngx_list_part_t            *part;
    ngx_table_elt_t            *h;
    ngx_http_velro_ctx_t       *ctx;
    ngx_http_velro_loc_conf_t  *vlcf;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    vlcf = ngx_http_get_module_loc_conf(r, ngx_http_velro_module);

    if (!vlcf->warm_on_login
        || r->headers_out.status < NGX_HTTP_OK
        || r->headers_out.status >= NGX_HTTP_SPECIAL_RESPONSE)
    {
        return NGX_DECLINED;
    }

    ctx = ngx_http_velro_get_ctx(r);
    if (ctx == NULL || ctx->warm_started) {
        return NGX_DECLINED;
    }

    /* a token in the answer's headers */

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

        if (h[i].hash && h[i].key.len == 13
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Authorization", 13)
               == 0
            && h[i].value.len > 7
            && ngx_strncasecmp(h[i].value.data, (u_char *) "Bearer ", 7)
               == 0)
        {
            ctx->warm_started = 1;
            ngx_http_velro_warm_start(r, vlcf, h[i].value.data + 7,
                                      h[i].value.len - 7);
            return NGX_OK;
        }
    }

    /* or in a JSON body: keep a copy as it goes by */

    if (r->headers_out.content_type.len >= 16
        && ngx_strncasecmp(r->headers_out.content_type.data,
                           (u_char *) "application/json", 16) == 0)
    {
        ctx->warm_capture = 1;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_velro_warm_body(ngx_http_request_t *r, ngx_chain_t *in)
{
    u_char                     *p;
    size_t                      n;
    json_t                     *j, *t;
    ngx_chain_t                *cl;
    ngx_uint_t                  last;
    ngx_http_velro_ctx_t       *ctx;
    ngx_http_velro_loc_conf_t  *vlcf;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_velro_module);

    if (ctx == NULL || !ctx->warm_capture || ctx->warm_started) {
        return NGX_DECLINED;
    }

    last = 0;

    for (cl = in; cl; cl = cl->next) {

        if (cl->buf->last_buf) {
            last = 1;
        }

        if (!ngx_buf_in_memory(cl->buf)) {
            continue;
        }

        n = cl->buf->last - cl->buf->pos;

        if (n == 0) {
            continue;
        }

        if (ctx->warm_len + n > NGX_HTTP_VELRO_WARM_BODY_MAX) {
            ctx->warm_capture = 0;
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "velro: login answer too large to look for a "
                          "token, no warming");
            return NGX_DECLINED;
        }

        if (ctx->warm_buf == NULL) {
            ctx->warm_buf = ngx_pnalloc(r->pool, NGX_HTTP_VELRO_WARM_BODY_MAX);
            if (ctx->warm_buf == NULL) {
                ctx->warm_capture = 0;
                return NGX_DECLINED;
            }
        }

        ngx_memcpy(ctx->warm_buf + ctx->warm_len, cl->buf->pos, n);
        ctx->warm_len += n;
    }

    if (!last) {
        return NGX_OK;
    }

    ctx->warm_capture = 0;
    ctx->warm_started = 1;

    j = json_loadb((char *) ctx->warm_buf, ctx->warm_len, 0, NULL);
    t = json_object_get(j, "access_token");

    if (json_is_string(t)) {
        vlcf = ngx_http_get_module_loc_conf(r, ngx_http_velro_module);

        p = ngx_pnalloc(r->pool, json_string_length(t));
        if (p != NULL) {
            n = json_string_length(t);
            ngx_memcpy(p, json_string_value(t), n);
            ngx_http_velro_warm_start(r, vlcf, p, n);
        }

    } else {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "velro: no access_token in the login answer, "
                      "no warming");
    }

    if (j) {
        json_decref(j);
    }

    return NGX_OK;
}


static void
ngx_http_velro_warm_start(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, u_char *token, size_t len)
{
    u_char                 *p;
    ngx_str_t               args;
    velro_jwt_t             jwt;
    velro_jwt_rc_e          rc;
    velro_keyset_t         *keys;
    ngx_http_velro_warm_t  *w;

    keys = vlcf->keys;

    if (keys == NULL && vlcf->remote) {
        keys = vlcf->remote->keys;
    }

    if (keys == NULL || vlcf->fallback.len == 0) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "velro: no warming: the login location has no keys "
                      "or no \"velro_authz_fallback\"");
        return;
    }

    rc = velro_jwt_parse(&jwt, (char *) token, len, vlcf->max_size);

    if (rc == VELRO_JWT_OK) {
        rc = velro_jwt_verify(&jwt, vlcf->policy, keys);
    }

    if (rc == VELRO_JWT_OK) {
        rc = velro_jwt_check_claims(&jwt, vlcf->policy, ngx_time());
    }

    w = NULL;

    if (rc == VELRO_JWT_OK && jwt.sub) {
        w = ngx_pcalloc(r->pool, sizeof(ngx_http_velro_warm_t));

        if (w && velro_uuid_parse((u_char *) jwt.sub, ngx_strlen(jwt.sub),
                                  w->user_id)
                 != 0)
        {
            w = NULL;
        }
    }

    velro_jwt_free(&jwt);

    if (w == NULL) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "velro: no warming: the login token does not verify "
                      "or names no user id");
        return;
    }

    ngx_http_velro_cache_mark(&w->mark);
    w->limit = vlcf->warm_limit;

    args.data = ngx_pnalloc(r->pool, sizeof("user=&warm=1&limit=")
                                     + VELRO_UUID_LEN + NGX_INT_T_LEN);
    if (args.data == NULL) {
        return;
    }

    p = ngx_cpymem(args.data, "user=", 5);
    velro_uuid_format(w->user_id, p);
    p += VELRO_UUID_LEN;
    p = ngx_sprintf(p, "&warm=1&limit=%ui", w->limit);
    args.len = p - args.data;

    if (ngx_http_velro_subrequest(r, &vlcf->fallback, &args,
                                  ngx_http_velro_warm_done, w)
        == NULL)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "velro: warming not started");
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "velro: warming \"%V\"", &args);
}


static ngx_int_t
ngx_http_velro_warm_done(ngx_http_request_t *sr, void *data, ngx_int_t rc)
{
    ngx_http_velro_warm_t  *w = data;

    ngx_buf_t  *b;
    ngx_int_t   ok;

    if (w->limit == 0) {
        return rc;                          /* done already */
    }

    b = sr->out ? sr->out->buf : NULL;

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE || rc == NGX_ERROR
        || sr->headers_out.status != NGX_HTTP_OK || b == NULL)
    {
        ngx_log_error(NGX_LOG_WARN, sr->connection->log, 0,
                      "velro: warming failed: \"%V?%V\" answered %i",
                      &sr->uri, &sr->args,
                      rc >= NGX_HTTP_SPECIAL_RESPONSE
                      ? rc : (ngx_int_t) sr->headers_out.status);
        w->limit = 0;
        return rc;
    }

    /* the form: issue 3's has "access" rows */

    if (ngx_strlcasestrn(b->pos, b->last, (u_char *) "\"access\"", 8 - 1)
        != NULL
        && ngx_strlcasestrn(b->pos, b->last, (u_char *) "\"generations\"",
                            13 - 1)
           == NULL)
    {
        ok = ngx_http_velro_warm_pairs(sr, w, b);

    } else {
        ok = ngx_http_velro_warm_entities(sr, w, b);
    }

    if (ok != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, sr->connection->log, 0,
                      "velro: warming: the caches were not filled");
    }

    w->limit = 0;

    return rc;
}


/*
 * The entity form into L1 and L2: the user, the memberships, each
 * generation and each project; L2 gets them as one pipeline of SETs
 * (the Redis adapter sends what is queued in one write).  What an
 * invalidation overtook is left out.
 */

static ngx_int_t
ngx_http_velro_warm_entities(ngx_http_request_t *sr,
    ngx_http_velro_warm_t *w, ngx_buf_t *b)
{
    size_t               i, n, np;
    const char          *err;
    velro_user_t         user;
    velro_roles_t        roles;
    velro_project_t     *projects;
    velro_team_role_t   *teams;
    velro_generation_t  *gens;
    unsigned char      (*ids)[16];

    teams = ngx_palloc(sr->pool, VELRO_TEAMS_MAX * sizeof(velro_team_role_t));
    gens = ngx_palloc(sr->pool, w->limit * sizeof(velro_generation_t));
    ids = ngx_palloc(sr->pool, w->limit * 16);
    projects = ngx_palloc(sr->pool, w->limit * sizeof(velro_project_t));

    if (teams == NULL || gens == NULL || ids == NULL || projects == NULL) {
        return NGX_ERROR;
    }

    if (velro_warm_entities_parse((char *) b->pos, b->last - b->pos,
                                  w->user_id, &user, &roles, teams,
                                  VELRO_TEAMS_MAX, ids, gens, w->limit, &n,
                                  projects, w->limit, &np, &err)
        != 0)
    {
        return ngx_http_velro_warm_rejected(sr, err);
    }

    ngx_http_velro_cache_put_user(&w->mark, w->user_id, &user, 1);

    if (user.exists) {
        ngx_http_velro_cache_put_roles(&w->mark, w->user_id, &roles, 1);
    }

    for (i = 0; i < n; i++) {
        ngx_http_velro_cache_put_generation(&w->mark, ids[i], &gens[i], 1);
    }

    for (i = 0; i < np; i++) {
        ngx_http_velro_cache_put_project(&w->mark, projects[i].id,
                                         &projects[i], 1);
    }

    ngx_log_error(NGX_LOG_INFO, sr->connection->log, 0,
                  "velro: warmed the caches: a user, %ui memberships, "
                  "%uz generations, %uz projects", (ngx_uint_t) roles.n, n,
                  np);

    return NGX_OK;
}


/* issue 3's form: the user, and the rows as pairs (L1 only) */

static ngx_int_t
ngx_http_velro_warm_pairs(ngx_http_request_t *sr, ngx_http_velro_warm_t *w,
    ngx_buf_t *b)
{
    size_t             i, n, np;
    const char        *err;
    velro_user_t       user;
    velro_project_t   *projects;
    velro_warm_row_t  *rows;

    rows = ngx_palloc(sr->pool, w->limit * sizeof(velro_warm_row_t));
    projects = ngx_palloc(sr->pool, w->limit * sizeof(velro_project_t));

    if (rows == NULL || projects == NULL) {
        return NGX_ERROR;
    }

    if (velro_warm_parse((char *) b->pos, b->last - b->pos, w->user_id,
                         &user, rows, w->limit, &n, projects, w->limit, &np,
                         &err)
        != 0)
    {
        return ngx_http_velro_warm_rejected(sr, err);
    }

    ngx_http_velro_cache_put_user(&w->mark, w->user_id, &user, 1);

    for (i = 0; i < n; i++) {
        ngx_http_velro_cache_put_pair(&w->mark, w->user_id, rows[i].generation,
                                      &rows[i].access);
    }

    for (i = 0; i < np; i++) {
        ngx_http_velro_cache_put_project(&w->mark, projects[i].id,
                                         &projects[i], 1);
    }

    ngx_log_error(NGX_LOG_INFO, sr->connection->log, 0,
                  "velro: warmed the caches: a user and %uz generations", n);

    return NGX_OK;
}


static ngx_int_t
ngx_http_velro_warm_rejected(ngx_http_request_t *sr, const char *err)
{
    ngx_log_error(NGX_LOG_WARN, sr->connection->log, 0,
                  "velro: warming failed: the answer of \"%V\" is "
                  "rejected: %s", &sr->uri, err);

    return NGX_ERROR;
}
