
/*
 * ngx_http_velro_module: authorization, the L2 read.
 *
 * One round trip asks Redis for what L1 lacks of the user, the memberships
 * and the generation (and the project when its id is known).  When the
 * generation is asked for, a Lua script (EVALSHA) does that MGET and, if
 * the generation names a project the decision needs, GETs the project in
 * the same round trip.  Without the script (velro_redis scripts=off, a
 * refused load or run) it is a plain MGET, and a second one asks for the
 * project, only when L1 lacks it and its id was first learnt from the
 * first answer.  Every value is checked against the notices seen
 * (ngx_http_velro_cache_l2_fresh()) and kept in L1.
 */


#include "ngx_http_velro_module.h"
#include "ngx_http_velro_authz.h"
#include "ngx_http_velro_authz_l2.h"
#include "ngx_http_velro_cache.h"
#include "ngx_http_velro_redis_script.h"


static void ngx_http_velro_authz_l2_reply(void *data, redisReply *reply);
static ngx_uint_t ngx_http_velro_authz_l2_retry(ngx_http_request_t *r,
    ngx_http_velro_ctx_t *ctx, redisReply *reply);
static ngx_uint_t ngx_http_velro_authz_l2_value(ngx_http_request_t *r,
    ngx_http_velro_ctx_t *ctx, ngx_uint_t kind, redisReply *v);


/*
 * The L2 read in one round trip: the MGET of KEYS and, when the generation
 * (KEYS[ARGV[1]], stamped or not) is in the writer's layout, completed,
 * with a project, and not created by the user (ARGV[3]), the GET of
 * ARGV[2] .. project id as one more element.  Anything else (another
 * layout, "null", another status) adds nothing, and the caller asks again
 * if it must.
 */

static ngx_http_velro_redis_script_t  ngx_http_velro_authz_script = {
    ngx_string(
        "local v = redis.call('MGET', unpack(KEYS))\n"
        "local g = v[tonumber(ARGV[1])]\n"
        "if g then\n"
        "  local c, p = string.match(g, '^%d* ?{\"id\":\"[^\"]*\","
        "\"user_id\":\"([^\"]*)\",\"project_id\":\"([^\"]*)\","
        "\"status\":\"completed\"')\n"
        "  if p and c ~= ARGV[3] then\n"
        "    v[#KEYS + 1] = redis.call('GET', ARGV[2] .. p)\n"
        "  end\n"
        "end\n"
        "return v\n"),
    { 0 }, 0, 0
};


ngx_int_t
ngx_http_velro_authz_l2_init_process(ngx_cycle_t *cycle)
{
    return ngx_http_velro_redis_script_add(&ngx_http_velro_authz_script,
                                           cycle->log);
}


ngx_int_t
ngx_http_velro_authz_l2_get(ngx_http_request_t *r,
    ngx_http_velro_main_conf_t *vmcf, ngx_http_velro_ctx_t *ctx)
{
    int                             n, first;
    u_char                         *keys, *p;
    size_t                          len;
    ngx_uint_t                      need, kind, gen, script;
    const char                     *argv[3 + NGX_HTTP_VELRO_ENTITIES + 3];
    size_t                          argvlen[3 + NGX_HTTP_VELRO_ENTITIES + 3];
    ngx_http_velro_redis_script_t  *s;
    static const u_char             types[] = {
        NGX_HTTP_VELRO_AUTH, NGX_HTTP_VELRO_TEAM_ACCESS,
        NGX_HTTP_VELRO_OWNERSHIP, NGX_HTTP_VELRO_PROJECT_VIS
    };

    if (vmcf->redis == NULL || !ngx_http_velro_redis_up()) {
        return NGX_DECLINED;
    }

    need = ngx_http_velro_authz_needs(ctx) & ~ctx->l2_tried;

    /* the keys, then the script's numbers, project key head and user */

    keys = ngx_pnalloc(r->pool, (NGX_HTTP_VELRO_ENTITIES + 1)
                                * NGX_HTTP_VELRO_L2_KEY_MAX
                                + 2 * NGX_INT_T_LEN + VELRO_UUID_LEN);
    if (keys == NULL) {
        return NGX_DECLINED;
    }

    /*
     * The script when the generation is asked for and may name a project
     * the decision needs: argv "EVALSHA SHA1 NUMKEYS KEY... GEN HEAD USER"
     */

    s = &ngx_http_velro_authz_script;

    script = (need & ngx_http_velro_bit(NGX_HTTP_VELRO_ENTITY_GENERATION))
             && vmcf->ttl_l2[NGX_HTTP_VELRO_OWNERSHIP]
             && vmcf->ttl_l2[NGX_HTTP_VELRO_PROJECT_VIS]
             && !ctx->l2_no_script
             && ngx_http_velro_redis_script_usable(s);

    ctx->l2_script = script;

    if (script) {
        argv[0] = "EVALSHA";
        argvlen[0] = 7;
        argv[1] = (char *) s->sha1;
        argvlen[1] = NGX_HTTP_VELRO_REDIS_SHA1_LEN;
        first = 3;

    } else {
        argv[0] = "MGET";
        argvlen[0] = 4;
        first = 1;
    }

    n = first;
    gen = 0;
    ctx->l2_nasked = 0;

    for (kind = 0; kind < NGX_HTTP_VELRO_ENTITIES; kind++) {

        if (!(need & ngx_http_velro_bit(kind)) || !vmcf->ttl_l2[types[kind]])
        {
            continue;
        }

        argv[n] = (char *) keys + kind * NGX_HTTP_VELRO_L2_KEY_MAX;
        argvlen[n] = ngx_http_velro_l2_key((u_char *) argv[n], kind,
                                           kind == NGX_HTTP_VELRO_ENTITY_PROJECT
                                           ? ctx->gen->project
                                           : kind == NGX_HTTP_VELRO_ENTITY_GENERATION
                                           ? ctx->resource_id : ctx->user_id);
        n++;

        if (kind == NGX_HTTP_VELRO_ENTITY_GENERATION) {
            gen = n - first;
        }

        ctx->l2_asked[ctx->l2_nasked++] = (u_char) kind;
    }

    ctx->l2_tried |= need;

    if (n == first) {
        return NGX_DECLINED;
    }

    if (script) {
        p = keys + NGX_HTTP_VELRO_ENTITIES * NGX_HTTP_VELRO_L2_KEY_MAX;

        /* NUMKEYS, then ARGV: GEN */

        argv[2] = (char *) p;
        p = ngx_sprintf(p, "%d", n - first);
        argvlen[2] = p - (u_char *) argv[2];

        argv[n] = (char *) p;
        p = ngx_sprintf(p, "%ui", gen);
        argvlen[n] = p - (u_char *) argv[n];
        n++;

        /* HEAD: "PREFIX" "project_vis:", a project key without its id */

        argv[n] = (char *) p;
        len = ngx_http_velro_l2_key(p, NGX_HTTP_VELRO_ENTITY_PROJECT,
                                    ctx->resource_id);
        argvlen[n] = len - VELRO_UUID_LEN;
        p += len;
        n++;

        /* USER */

        argv[n] = (char *) p;
        velro_uuid_format(ctx->user_id, p);
        argvlen[n] = VELRO_UUID_LEN;
        n++;
    }

    /* the breaker last: a half-open trial taken here is sent */

    if (!ngx_http_velro_redis_usable(r->connection->log)) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "velro: redis breaker open, L2 skipped");
        return NGX_DECLINED;
    }

    ctx->redis_cmd = ngx_http_velro_redis_command(r->connection->log,
                                              ngx_http_velro_authz_l2_reply,
                                              r, n, argv, argvlen);
    if (ctx->redis_cmd == NULL) {
        return NGX_DECLINED;
    }

    return NGX_AGAIN;
}


static void
ngx_http_velro_authz_l2_reply(void *data, redisReply *reply)
{
    ngx_http_request_t *r = data;

    size_t                       i;
    ngx_uint_t                   need;
    redisReply                  *project;
    ngx_http_velro_ctx_t        *ctx;
    ngx_http_velro_main_conf_t  *vmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_velro_module);

    ctx->redis_cmd = NULL;
    ctx->authz_state = NGX_HTTP_VELRO_AUTHZ_L2_DONE;

    if (ctx->l2_script && reply && reply->type == REDIS_REPLY_ERROR) {
        if (ngx_http_velro_authz_l2_retry(r, ctx, reply)) {
            ctx->authz_state = NGX_HTTP_VELRO_AUTHZ_L2_WAIT;
            return;
        }

        goto done;
    }

    /* the script's answer may have the project last */

    /*
     * the server closed the connection under the read: sent again once, on
     * the next connection (ngx_http_velro_authz_l2_again()), as an
     * idempotent request goes to the next upstream
     */

    if (reply == NULL && !ctx->l2_retried && ngx_http_velro_redis_retryable())
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "velro: L2 connection lost, the read goes again");

        ctx->l2_retry = 1;
        ctx->l2_retried = 1;

        for (i = 0; i < ctx->l2_nasked; i++) {
            ctx->l2_tried &= ~ngx_http_velro_bit(ctx->l2_asked[i]);
        }

        goto done;
    }

    if (reply && reply->type == REDIS_REPLY_ERROR) {
        /* an ACL without these keys or commands, say: L3 answers */

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "velro: L2 read refused by Redis: %*s",
                      (size_t) ngx_min(reply->len, 256), reply->str);
        goto done;
    }

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || (reply->elements != ctx->l2_nasked
            && (!ctx->l2_script || reply->elements != ctx->l2_nasked + 1)))
    {
        if (reply) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "velro: L2 answer refused: type %d, %uz elements "
                          "for %ui keys", reply->type, reply->elements,
                          ctx->l2_nasked);

        } else {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "velro: L2 lookup failed");
        }

        goto done;
    }

    for (i = 0; i < ctx->l2_nasked; i++) {
        if (ngx_http_velro_authz_l2_value(r, ctx, ctx->l2_asked[i],
                                          reply->element[i]))
        {
            ctx->tier = VELRO_TIER_L2;
        }
    }

    project = (reply->elements > ctx->l2_nasked)
              ? reply->element[ctx->l2_nasked] : NULL;

    /*
     * The generation came from L2 and names a project this request has
     * not asked for yet: L1 first, then the script's project, else a
     * second round trip
     */

    need = ngx_http_velro_authz_needs(ctx) & ~ctx->l2_tried;

    if (need & ngx_http_velro_bit(NGX_HTTP_VELRO_ENTITY_PROJECT)) {

        (void) ngx_http_velro_authz_l1(ctx, 0, NULL, VELRO_TIER_L1);

        if (project
            && (ngx_http_velro_authz_needs(ctx)
                & ngx_http_velro_bit(NGX_HTTP_VELRO_ENTITY_PROJECT)))
        {
            ctx->l2_tried |= ngx_http_velro_bit(NGX_HTTP_VELRO_ENTITY_PROJECT);

            if (ngx_http_velro_authz_l2_value(r, ctx,
                                              NGX_HTTP_VELRO_ENTITY_PROJECT,
                                              project))
            {
                ctx->tier = VELRO_TIER_L2;
            }
        }

        vmcf = ngx_http_get_module_main_conf(r, ngx_http_velro_module);

        if (ngx_http_velro_authz_needs(ctx) != 0
            && ngx_http_velro_authz_l2_get(r, vmcf, ctx) == NGX_AGAIN)
        {
            ctx->authz_state = NGX_HTTP_VELRO_AUTHZ_L2_WAIT;
            return;
        }
    }

done:

    ngx_post_event(&ctx->wake, &ngx_posted_events);
}


/* the read again, after a lost connection (NGX_DECLINED: not to be) */

ngx_int_t
ngx_http_velro_authz_l2_again(ngx_http_request_t *r,
    ngx_http_velro_main_conf_t *vmcf, ngx_http_velro_ctx_t *ctx)
{
    if (!ctx->l2_retry) {
        return NGX_DECLINED;
    }

    ctx->l2_retry = 0;

    (void) ngx_http_velro_redis_reconnect();

    return ngx_http_velro_authz_l2_get(r, vmcf, ctx);
}


/*
 * The script got an error: sent again once after NOSCRIPT (it is being
 * loaded), else, or the second time, the plain MGET.  Returns whether a
 * command is in flight.
 */

static ngx_uint_t
ngx_http_velro_authz_l2_retry(ngx_http_request_t *r,
    ngx_http_velro_ctx_t *ctx, redisReply *reply)
{
    ngx_uint_t                   i;
    ngx_http_velro_main_conf_t  *vmcf;

    if (!ngx_http_velro_redis_script_error(&ngx_http_velro_authz_script,
                                           reply, r->connection->log)
        || ctx->l2_script_again)
    {
        ctx->l2_no_script = 1;
    }

    ctx->l2_script_again = 1;

    /* what was asked is asked again */

    for (i = 0; i < ctx->l2_nasked; i++) {
        ctx->l2_tried &= ~ngx_http_velro_bit(ctx->l2_asked[i]);
    }

    vmcf = ngx_http_get_module_main_conf(r, ngx_http_velro_module);

    return ngx_http_velro_authz_l2_get(r, vmcf, ctx) == NGX_AGAIN;
}


/* one value of the MGET: nil is a miss; returns whether it was used */

static ngx_uint_t
ngx_http_velro_authz_l2_value(ngx_http_request_t *r,
    ngx_http_velro_ctx_t *ctx, ngx_uint_t kind, redisReply *v)
{
    ngx_int_t    rc;
    const char  *err, *str;
    size_t       skip, len;
    uint64_t     stamp;

    if (v->type != REDIS_REPLY_STRING) {
        return 0;
    }

    /* older than a notice seen for the entity: as if absent */

    skip = velro_l2_unstamp(v->str, v->len, &stamp);
    str = v->str + skip;
    len = v->len - skip;

    if (!ngx_http_velro_cache_l2_fresh(kind,
                                       kind == NGX_HTTP_VELRO_ENTITY_PROJECT
                                       ? ctx->gen->project
                                       : kind == NGX_HTTP_VELRO_ENTITY_GENERATION
                                       ? ctx->resource_id : ctx->user_id,
                                       stamp))
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "velro: L2 entry older than a notice, ignored");
        return 0;
    }

    err = NULL;

    switch (kind) {

    case NGX_HTTP_VELRO_ENTITY_USER:
        rc = velro_user_from_json(str, len, ctx->user_id, &ctx->user, &err);
        if (rc == 0) {
            ctx->has_user = 1;
            ngx_http_velro_cache_put_user(&ctx->mark, ctx->user_id, &ctx->user,
                                          0);
        }

        break;

    case NGX_HTTP_VELRO_ENTITY_ROLES:
        rc = velro_roles_from_json(str, len, ctx->user_id, &ctx->roles,
                                   ctx->teams, VELRO_TEAMS_MAX, &err);
        if (rc == 0) {
            ctx->has_roles = 1;
            ngx_http_velro_cache_put_roles(&ctx->mark, ctx->user_id,
                                           &ctx->roles, 0);
        }

        break;

    case NGX_HTTP_VELRO_ENTITY_GENERATION:
        rc = velro_generation_from_json(str, len, ctx->resource_id, ctx->gen,
                                        &err);
        if (rc == 0) {
            ctx->has_gen = 1;
            ngx_http_velro_cache_put_generation(&ctx->mark, ctx->resource_id,
                                                ctx->gen, 0);
        }

        break;

    default: /* NGX_HTTP_VELRO_ENTITY_PROJECT */
        rc = velro_project_from_json(str, len, ctx->gen->project,
                                     &ctx->project, &err);
        if (rc == 0) {
            ctx->has_project = 1;
            ngx_http_velro_cache_put_project(&ctx->mark, ctx->gen->project,
                                             &ctx->project, 0);
        }

        break;
    }

    if (rc != 0) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "velro: L2 entry ignored: %s", err);
        return 0;
    }

    ctx->tiers[kind] = VELRO_TIER_L2;

    return 1;
}
