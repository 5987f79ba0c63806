
/*
 * ngx_http_velro_module: user resolution and authorization through three
 * tiers.
 *
 *   L1  this worker's velro_cache_t, entries checked against the
 *       invalidations seen since they were looked up;
 *   L2  Redis, one MGET for everything the request still needs;
 *   L3  a subrequest to velro_authz_fallback (velro_authz_pg, or any
 *       location answering the L3 contract); concurrent misses for the
 *       same user and resource share one subrequest.
 *
 * Invalidations arrive from the LISTEN connection of every worker: each
 * raises its worker's sequence number and records it for the user,
 * generation or project named, so L1 entries looked up before it are
 * stale; each also deletes the L2 keys indexed under that id.
 */


#include <openssl/evp.h>

#include "ngx_http_velro_module.h"
#include "ngx_http_velro_breaker.h"
#include "ngx_http_velro_jwt.h"


#define NGX_HTTP_VELRO_AUTHZ_START    0
#define NGX_HTTP_VELRO_AUTHZ_L2_WAIT  1
#define NGX_HTTP_VELRO_AUTHZ_L2_DONE  2
#define NGX_HTTP_VELRO_AUTHZ_L3_WAIT  3
#define NGX_HTTP_VELRO_AUTHZ_DONE     4    /* all known, not decided */
#define NGX_HTTP_VELRO_AUTHZ_DECIDED  5

/* L1 key types of this file; token entries start with a 0 byte */
#define NGX_HTTP_VELRO_KEY_USER       'U'
#define NGX_HTTP_VELRO_KEY_ACCESS     'A'

/* invalidation tags */
#define NGX_HTTP_VELRO_TAG_USER       'u'
#define NGX_HTTP_VELRO_TAG_GEN        'g'
#define NGX_HTTP_VELRO_TAG_PROJECT    'p'

/* negative entries (unknown, denied) live at most this long, seconds */
#define NGX_HTTP_VELRO_NEGATIVE_TTL   30

#define NGX_HTTP_VELRO_TAGS_SIZE      (4 * 1024 * 1024)

/* prefix + "team_access:" + uuid + ":" + uuid */
#define NGX_HTTP_VELRO_L2_KEY_MAX     (256 + 12 + 36 + 1 + 36)


struct ngx_http_velro_inflight_s {
    ngx_rbtree_node_t             node;         /* key: hash of id */
    u_char                        id[33];       /* user, resource, flag */
    ngx_queue_t                   waiters;
    ngx_http_velro_ctx_t         *leader;
};


typedef struct {
    uint64_t                      seq;
    velro_user_t                  user;
} ngx_http_velro_user_entry_t;


typedef struct {
    uint64_t                      seq;
    velro_access_t                access;
} ngx_http_velro_access_entry_t;


static ngx_int_t ngx_http_velro_authz_start(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx);
static ngx_int_t ngx_http_velro_authz_next(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx);
static ngx_uint_t ngx_http_velro_authz_known(ngx_http_velro_ctx_t *ctx);
static void ngx_http_velro_authz_own_values(ngx_http_request_t *r,
    ngx_http_complex_value_t *cv);
static ngx_int_t ngx_http_velro_authz_action(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx);
static void ngx_http_velro_authz_l1_get(ngx_http_velro_main_conf_t *vmcf,
    ngx_http_velro_ctx_t *ctx);
static time_t ngx_http_velro_authz_user_ttl(time_t *ttls, velro_user_t *u);
static ngx_uint_t ngx_http_velro_authz_access_type(velro_access_t *a);
static time_t ngx_http_velro_authz_access_ttl(time_t *ttls,
    velro_access_t *a);
static void ngx_http_velro_authz_l1_put(ngx_http_velro_main_conf_t *vmcf,
    ngx_http_velro_ctx_t *ctx, ngx_uint_t user, ngx_uint_t access);
static ngx_int_t ngx_http_velro_authz_l2_get(ngx_http_request_t *r,
    ngx_http_velro_main_conf_t *vmcf, ngx_http_velro_ctx_t *ctx);
static void ngx_http_velro_authz_l2_reply(void *data, redisReply *reply);
static void ngx_http_velro_authz_l2_put(ngx_http_velro_main_conf_t *vmcf,
    ngx_http_velro_ctx_t *ctx);
static ngx_int_t ngx_http_velro_authz_l3(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx);
static ngx_int_t ngx_http_velro_authz_l3_done(ngx_http_request_t *r,
    void *data, ngx_int_t rc);
static void ngx_http_velro_authz_inflight_done(ngx_http_velro_ctx_t *ctx,
    ngx_uint_t ok);
static ngx_int_t ngx_http_velro_authz_decide(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx);
static ngx_uint_t ngx_http_velro_authz_stale(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx);
static ngx_int_t ngx_http_velro_authz_refuse(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx,
    ngx_int_t status);
static ngx_uint_t ngx_http_velro_authz_fresh(uint64_t seq,
    const u_char *user, const u_char *gen, const u_char *project);
static void ngx_http_velro_authz_tag(u_char kind, const u_char *id);
static void ngx_http_velro_authz_token_hash(ngx_http_velro_ctx_t *ctx);
static size_t ngx_http_velro_authz_l2_key(ngx_http_velro_main_conf_t *vmcf,
    u_char *buf, const char *type, const u_char *a, size_t alen,
    const u_char *b, size_t blen);
static void ngx_http_velro_authz_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_http_velro_inflight_t *ngx_http_velro_authz_inflight_find(
    u_char *id, uint32_t hash);
static time_t ngx_http_velro_authz_max_ttl(ngx_http_velro_main_conf_t *vmcf,
    ngx_uint_t l2);


static uint64_t            ngx_http_velro_authz_seq;
static velro_cache_t      *ngx_http_velro_authz_tags;
static time_t              ngx_http_velro_authz_tag_ttl;
static ngx_rbtree_t        ngx_http_velro_inflight_tree;
static ngx_rbtree_node_t   ngx_http_velro_inflight_sentinel;
static ngx_str_t           ngx_http_velro_authz_prefix;
static EVP_MD             *ngx_http_velro_authz_sha256;
static ngx_http_get_variable_pt  ngx_http_velro_capture_handler;


/* deletes every key indexed in KEYS[1], then the index */

static const char  ngx_http_velro_invalidate_script[] =
    "local m = redis.call('SMEMBERS', KEYS[1]) "
    "for i = 1, #m, 500 do "
    "redis.call('DEL', unpack(m, i, math.min(i + 499, #m))) "
    "end "
    "redis.call('DEL', KEYS[1]) "
    "return #m";


/*
 * Cache warming's one L2 write: ARGV[1] is the index sets' TTL, then
 * groups of six: key, value, TTL, and up to three index sets ("" for
 * none) that get the key.  Each set gets all its members in one SADD.
 */

static const char  ngx_http_velro_warm_script[] =
    "local s = {} "
    "for i = 2, #ARGV, 6 do "
    "redis.call('SET', ARGV[i], ARGV[i + 1], 'EX', ARGV[i + 2]) "
    "for k = i + 3, i + 5 do "
    "local x = ARGV[k] "
    "if x ~= '' then "
    "if s[x] == nil then s[x] = {} end "
    "table.insert(s[x], ARGV[i]) "
    "end "
    "end "
    "end "
    "for x, m in pairs(s) do "
    "for i = 1, #m, 500 do "
    "redis.call('SADD', x, unpack(m, i, math.min(i + 499, #m))) "
    "end "
    "redis.call('EXPIRE', x, ARGV[1]) "
    "end "
    "return 0";


static const char  *ngx_http_velro_actions[] = {
    "read", "write", "delete"
};


ngx_int_t
ngx_http_velro_authz_init_process(ngx_cycle_t *cycle)
{
    uint64_t                     seed;
    ngx_http_velro_main_conf_t  *vmcf;

    ngx_rbtree_init(&ngx_http_velro_inflight_tree,
                    &ngx_http_velro_inflight_sentinel,
                    ngx_http_velro_authz_rbtree_insert);

    vmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_velro_module);

    /* a tag outlives the entries it invalidates, stale ones included */

    ngx_http_velro_authz_tag_ttl = ngx_http_velro_authz_max_ttl(vmcf, 0)
                                   + (time_t) (vmcf->stale_max / 1000) + 60;

    if (vmcf->redis) {
        ngx_http_velro_authz_prefix = vmcf->redis->prefix;
    }

    seed = ((uint64_t) ngx_random() << 32) ^ (uint64_t) ngx_random();

    ngx_http_velro_authz_tags = velro_cache_new(NGX_HTTP_VELRO_TAGS_SIZE,
                                                seed);
    if (ngx_http_velro_authz_tags == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_http_velro_authz_exit_process(ngx_cycle_t *cycle)
{
    velro_cache_free(ngx_http_velro_authz_tags);
    ngx_http_velro_authz_tags = NULL;

    EVP_MD_free(ngx_http_velro_authz_sha256);
    ngx_http_velro_authz_sha256 = NULL;
}


static time_t
ngx_http_velro_authz_max_ttl(ngx_http_velro_main_conf_t *vmcf, ngx_uint_t l2)
{
    time_t      max;
    ngx_uint_t  i;

    max = 0;

    for (i = 0; i < NGX_HTTP_VELRO_NTYPES; i++) {
        max = ngx_max(max, (l2 ? vmcf->ttl_l2[i] : vmcf->ttl_l1[i]));
    }

    return max;
}


/*
 * Returns NGX_OK to let the request go on, NGX_AGAIN while a tier is
 * asked, NGX_DONE when a response was sent, or an HTTP status.
 */

ngx_int_t
ngx_http_velro_authz_check(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx)
{
    ngx_int_t  rc;

    if (ctx->wake.posted
        && ctx->authz_state != NGX_HTTP_VELRO_AUTHZ_START
        && ctx->authz_state != NGX_HTTP_VELRO_AUTHZ_L2_WAIT
        && ctx->authz_state != NGX_HTTP_VELRO_AUTHZ_L3_WAIT)
    {
        /* here already: the wake-up would be a spurious one */
        ngx_delete_posted_event(&ctx->wake);
    }

    switch (ctx->authz_state) {

    case NGX_HTTP_VELRO_AUTHZ_START:
        rc = ngx_http_velro_authz_start(r, vlcf, ctx);
        if (rc != NGX_DECLINED) {
            return rc;
        }

        break;

    case NGX_HTTP_VELRO_AUTHZ_L2_WAIT:
    case NGX_HTTP_VELRO_AUTHZ_L3_WAIT:
        return NGX_AGAIN;

    case NGX_HTTP_VELRO_AUTHZ_DECIDED:
        return ctx->authz_status;

    default: /* NGX_HTTP_VELRO_AUTHZ_L2_DONE, NGX_HTTP_VELRO_AUTHZ_DONE */
        break;
    }

    rc = ngx_http_velro_authz_next(r, vlcf, ctx);

    if (rc == NGX_AGAIN) {
        return NGX_AGAIN;
    }

    return ngx_http_velro_authz_decide(r, vlcf, ctx);
}


static ngx_int_t
ngx_http_velro_authz_start(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx)
{
    ngx_str_t                    value;
    ngx_http_velro_main_conf_t  *vmcf;

    ctx->tier = NGX_HTTP_VELRO_TIER_NONE;
    ctx->has_user = 0;
    ctx->has_access = 0;
    ctx->has_resource = 0;
    ctx->backend_failed = 0;
    ctx->user_desc = NULL;

    if (ngx_http_velro_authz_action(r, vlcf, ctx) != NGX_OK) {
        ctx->decision = NGX_HTTP_VELRO_DECISION_DENY;
        ctx->authz_state = NGX_HTTP_VELRO_AUTHZ_DONE;
        return ngx_http_velro_authz_decide(r, vlcf, ctx);
    }

    /* ids that cannot exist are refused before any tier is asked */

    if (velro_uuid_parse(ctx->sub.data, ctx->sub.len, ctx->user_id) != 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "velro: \"sub\" is not a user id");

        ngx_memzero(&ctx->user, sizeof(velro_user_t));
        ctx->has_user = 1;
        ctx->authz_state = NGX_HTTP_VELRO_AUTHZ_DONE;
        return ngx_http_velro_authz_decide(r, vlcf, ctx);
    }

    if (vlcf->resource) {
        ngx_http_velro_authz_own_values(r, vlcf->resource);

        if (ngx_http_complex_value(r, vlcf->resource, &value) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (velro_uuid_parse(value.data, value.len, ctx->resource_id) != 0) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "velro: access denied: resource id \"%*s%s\" is "
                          "not a UUID", ngx_min(value.len, 64), value.data,
                          value.len > 64 ? "..." : "");

            ctx->decision = NGX_HTTP_VELRO_DECISION_DENY;
            ctx->authz_state = NGX_HTTP_VELRO_AUTHZ_DONE;
            return ngx_http_velro_authz_decide(r, vlcf, ctx);
        }

        ctx->has_resource = 1;
    }

    ctx->seq = ngx_http_velro_authz_seq;

    vmcf = ngx_http_get_module_main_conf(r, ngx_http_velro_module);

    ctx->timing.l1 = (ngx_http_velro_l1() != NULL);    /* metrics */

    ngx_http_velro_authz_l1_get(vmcf, ctx);

    if (ngx_http_velro_authz_known(ctx)) {
        ctx->tier = NGX_HTTP_VELRO_TIER_L1;
        ctx->authz_state = NGX_HTTP_VELRO_AUTHZ_DONE;
        return NGX_DECLINED;
    }

    if (ngx_http_velro_authz_l2_get(r, vmcf, ctx) == NGX_AGAIN) {
        ctx->authz_state = NGX_HTTP_VELRO_AUTHZ_L2_WAIT;
        ctx->timing.l2 = 1;                             /* metrics */
        return NGX_AGAIN;
    }

    ctx->authz_state = NGX_HTTP_VELRO_AUTHZ_L2_DONE;

    return NGX_DECLINED;
}


/* after L1 and L2: done, or L3 */

static ngx_int_t
ngx_http_velro_authz_next(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx)
{
    if (ctx->authz_state == NGX_HTTP_VELRO_AUTHZ_DONE) {
        return NGX_OK;
    }

    if (ngx_http_velro_authz_known(ctx)) {
        if (ctx->tier < NGX_HTTP_VELRO_TIER_L2) {
            ctx->tier = NGX_HTTP_VELRO_TIER_L1;
        }

        ctx->authz_state = NGX_HTTP_VELRO_AUTHZ_DONE;
        return NGX_OK;
    }

    return ngx_http_velro_authz_l3(r, vlcf, ctx);
}


/*
 * A subrequest shares its parent's variable values: a value cached for
 * another request (say a map of $uri, by an SSI include or a batch item
 * before this one) would name the wrong resource.  What a handler computes
 * is computed again for this request; regex captures are set by its own
 * location match and stay.
 */

static void
ngx_http_velro_authz_own_values(ngx_http_request_t *r,
    ngx_http_complex_value_t *cv)
{
    ngx_uint_t                 *index;
    ngx_http_variable_t        *v;
    ngx_http_core_main_conf_t  *cmcf;

    if (r == r->main || cv->flushes == NULL) {
        return;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_core_module);
    v = cmcf->variables.elts;

    for (index = cv->flushes; *index != (ngx_uint_t) -1; index++) {

        /*
         * Regex captures get their value from this request's own location
         * match: their handler only says "not found".
         */

        if (v[*index].get_handler
            && v[*index].get_handler != ngx_http_velro_capture_handler)
        {
            r->variables[*index].valid = 0;
            r->variables[*index].not_found = 0;
        }
    }
}


/* all a decision needs is known: a refused user needs no access row */

static ngx_uint_t
ngx_http_velro_authz_known(ngx_http_velro_ctx_t *ctx)
{
    return ctx->has_user
           && (ctx->has_access || !ctx->has_resource
               || velro_user_check(&ctx->user, ctx->iat) != VELRO_USER_OK);
}


static ngx_int_t
ngx_http_velro_authz_action(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx)
{
    ngx_str_t   value;
    ngx_uint_t  i;

    if (vlcf->action < NGX_HTTP_VELRO_ACTION_METHOD) {
        ctx->action = vlcf->action;
        return NGX_OK;
    }

    if (vlcf->action == NGX_HTTP_VELRO_ACTION_METHOD) {

        switch (r->method) {

        case NGX_HTTP_GET:
        case NGX_HTTP_HEAD:
            ctx->action = VELRO_ACTION_READ;
            break;

        case NGX_HTTP_DELETE:
            ctx->action = VELRO_ACTION_DELETE;
            break;

        default:
            /* POST, PUT, PATCH, and whatever else changes things */
            ctx->action = VELRO_ACTION_WRITE;
        }

        return NGX_OK;
    }

    ngx_http_velro_authz_own_values(r, vlcf->action_value);

    if (ngx_http_complex_value(r, vlcf->action_value, &value) != NGX_OK) {
        return NGX_ERROR;
    }

    for (i = 0; i < 3; i++) {
        if (value.len == ngx_strlen(ngx_http_velro_actions[i])
            && ngx_strncmp(value.data, ngx_http_velro_actions[i], value.len)
               == 0)
        {
            ctx->action = i;
            return NGX_OK;
        }
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "velro: access denied: unknown action \"%V\"", &value);

    return NGX_ERROR;
}


/* L1 */

static void
ngx_http_velro_authz_l1_get(ngx_http_velro_main_conf_t *vmcf,
    ngx_http_velro_ctx_t *ctx)
{
    u_char                          key[33];
    velro_cache_t                  *l1;
    velro_cache_entry_t            *e;
    ngx_http_velro_user_entry_t     ue;
    ngx_http_velro_access_entry_t   ae;

    l1 = ngx_http_velro_l1();

    if (l1 == NULL) {
        return;
    }

    if (!ctx->has_user && vmcf->ttl_l1[NGX_HTTP_VELRO_AUTH]) {
        key[0] = NGX_HTTP_VELRO_KEY_USER;
        ngx_memcpy(key + 1, ctx->user_id, 16);

        e = velro_cache_get(l1, key, 17, ngx_current_msec);

        if (e) {
            ngx_memcpy(&ue, velro_cache_value(e), sizeof(ue));

            if (ngx_http_velro_authz_fresh(ue.seq, ctx->user_id, NULL, NULL))
            {
                ctx->user = ue.user;
                ctx->has_user = 1;

            } else {
                velro_cache_delete(l1, key, 17);
            }
        }
    }

    if (ctx->has_resource && !ctx->has_access
        && (vmcf->ttl_l1[NGX_HTTP_VELRO_OWNERSHIP]
            || vmcf->ttl_l1[NGX_HTTP_VELRO_TEAM_ACCESS]))
    {
        key[0] = NGX_HTTP_VELRO_KEY_ACCESS;
        ngx_memcpy(key + 1, ctx->user_id, 16);
        ngx_memcpy(key + 17, ctx->resource_id, 16);

        e = velro_cache_get(l1, key, 33, ngx_current_msec);

        if (e) {
            ngx_memcpy(&ae, velro_cache_value(e), sizeof(ae));

            if (ngx_http_velro_authz_fresh(ae.seq, ctx->user_id,
                                           ctx->resource_id,
                                           ae.access.has_project
                                           ? ae.access.project : NULL))
            {
                ctx->access = ae.access;
                ctx->has_access = 1;

            } else {
                velro_cache_delete(l1, key, 33);
            }
        }
    }
}


/*
 * What a tier keeps an answer for (ttls: vmcf->ttl_l1 or ->ttl_l2): the
 * type's TTL, and for a negative answer (an unknown or disabled user, an
 * unknown generation, no access at all) at most NGX_HTTP_VELRO_NEGATIVE_TTL.
 */

static time_t
ngx_http_velro_authz_user_ttl(time_t *ttls, velro_user_t *u)
{
    time_t  ttl;

    ttl = ttls[NGX_HTTP_VELRO_AUTH];

    if (!u->exists || !u->active) {
        ttl = ngx_min(ttl, NGX_HTTP_VELRO_NEGATIVE_TTL);
    }

    return ttl;
}


static ngx_uint_t
ngx_http_velro_authz_access_type(velro_access_t *a)
{
    return (a->role == VELRO_ROLE_OWNER) ? NGX_HTTP_VELRO_OWNERSHIP
                                         : NGX_HTTP_VELRO_TEAM_ACCESS;
}


static time_t
ngx_http_velro_authz_access_ttl(time_t *ttls, velro_access_t *a)
{
    time_t  ttl;

    ttl = ttls[ngx_http_velro_authz_access_type(a)];

    if (!a->exists
        || (a->role == VELRO_ROLE_NONE && !a->public_access))
    {
        ttl = ngx_min(ttl, NGX_HTTP_VELRO_NEGATIVE_TTL);
    }

    return ttl;
}


static void
ngx_http_velro_authz_l1_put(ngx_http_velro_main_conf_t *vmcf,
    ngx_http_velro_ctx_t *ctx, ngx_uint_t user, ngx_uint_t access)
{
    u_char                         key[33];
    time_t                         ttl;
    ngx_uint_t                     type;
    velro_cache_t                 *l1;
    ngx_http_velro_user_entry_t    ue;
    ngx_http_velro_access_entry_t  ae;

    l1 = ngx_http_velro_l1();

    if (l1 == NULL) {
        return;
    }

    /* what an invalidation overtook is not kept */

    if (user && ctx->has_user
        && ngx_http_velro_authz_fresh(ctx->seq, ctx->user_id, NULL, NULL))
    {
        ttl = ngx_http_velro_authz_user_ttl(vmcf->ttl_l1, &ctx->user);

        if (ttl) {
            key[0] = NGX_HTTP_VELRO_KEY_USER;
            ngx_memcpy(key + 1, ctx->user_id, 16);

            ngx_memzero(&ue, sizeof(ue));
            ue.seq = ctx->seq;
            ue.user = ctx->user;

            (void) velro_cache_put(l1, NGX_HTTP_VELRO_AUTH, key, 17, &ue,
                                   sizeof(ue), ngx_current_msec + ttl * 1000);
        }
    }

    if (access && ctx->has_access && ctx->has_resource
        && ngx_http_velro_authz_fresh(ctx->seq, ctx->user_id,
                                      ctx->resource_id,
                                      ctx->access.has_project
                                      ? ctx->access.project : NULL))
    {
        type = ngx_http_velro_authz_access_type(&ctx->access);
        ttl = ngx_http_velro_authz_access_ttl(vmcf->ttl_l1, &ctx->access);

        if (ttl) {
            key[0] = NGX_HTTP_VELRO_KEY_ACCESS;
            ngx_memcpy(key + 1, ctx->user_id, 16);
            ngx_memcpy(key + 17, ctx->resource_id, 16);

            ngx_memzero(&ae, sizeof(ae));
            ae.seq = ctx->seq;
            ae.access = ctx->access;

            (void) velro_cache_put(l1, type, key, 33, &ae, sizeof(ae),
                                   ngx_current_msec + ttl * 1000);
        }
    }
}


/* invalidations */

static ngx_uint_t
ngx_http_velro_authz_fresh(uint64_t seq, const u_char *user,
    const u_char *gen, const u_char *project)
{
    u_char               key[17];
    uint64_t             tseq;
    ngx_uint_t           i;
    const u_char        *ids[3];
    velro_cache_entry_t *e;
    static const u_char  kinds[3] = {
        NGX_HTTP_VELRO_TAG_USER, NGX_HTTP_VELRO_TAG_GEN,
        NGX_HTTP_VELRO_TAG_PROJECT
    };

    if (seq == ngx_http_velro_authz_seq) {
        return 1;
    }

    if (ngx_http_velro_authz_tags == NULL) {
        return 0;
    }

    ids[0] = user;
    ids[1] = gen;
    ids[2] = project;

    for (i = 0; i < 3; i++) {
        if (ids[i] == NULL) {
            continue;
        }

        key[0] = kinds[i];
        ngx_memcpy(key + 1, ids[i], 16);

        e = velro_cache_get(ngx_http_velro_authz_tags, key, 17,
                            ngx_current_msec);

        if (e) {
            ngx_memcpy(&tseq, velro_cache_value(e), sizeof(uint64_t));

            if (tseq > seq) {
                return 0;
            }
        }
    }

    return 1;
}


static void
ngx_http_velro_authz_tag(u_char kind, const u_char *id)
{
    u_char          key[17];
    uint64_t        evictions;
    velro_cache_t  *tags;

    tags = ngx_http_velro_authz_tags;

    if (tags == NULL) {
        return;
    }

    key[0] = kind;
    ngx_memcpy(key + 1, id, 16);

    evictions = tags->evictions;

    if (velro_cache_put(tags, 0, key, 17, &ngx_http_velro_authz_seq,
                        sizeof(uint64_t),
                        ngx_current_msec
                        + (ngx_msec_t) ngx_http_velro_authz_tag_ttl * 1000)
           != 0
        || tags->evictions != evictions)
    {
        /* a tag lost: older entries could pass for fresh, so none stay */

        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "velro: too many invalidations to track, "
                      "L1 flushed");

        velro_cache_flush(tags);

        if (ngx_http_velro_l1()) {
            velro_cache_flush(ngx_http_velro_l1());
        }
    }
}


void
ngx_http_velro_authz_invalidate(ngx_str_t *payload)
{
    int          kind;
    u_char       id[16], key[NGX_HTTP_VELRO_L2_KEY_MAX];
    u_char       text[VELRO_UUID_LEN];
    size_t       argvlen[4];
    const char  *argv[4], *idx;

    ngx_http_velro_metrics_invalidation();

    kind = velro_invalidation_parse((char *) payload->data, payload->len, id);

    if (kind < 0) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "velro: invalidation \"%V\" not understood, "
                      "L1 flushed", payload);

        ngx_http_velro_authz_flush();
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "velro: invalidation \"%V\"", payload);

    ngx_http_velro_authz_seq++;

    switch (kind) {

    case VELRO_INVALIDATE_USER:
        ngx_http_velro_authz_tag(NGX_HTTP_VELRO_TAG_USER, id);
        idx = "idx:user:";
        break;

    case VELRO_INVALIDATE_GENERATION:
        ngx_http_velro_authz_tag(NGX_HTTP_VELRO_TAG_GEN, id);
        idx = "idx:gen:";
        break;

    case VELRO_INVALIDATE_PROJECT:
        ngx_http_velro_authz_tag(NGX_HTTP_VELRO_TAG_PROJECT, id);
        idx = "idx:project:";

        if (ngx_http_velro_l1()) {
            key[0] = 'P';
            ngx_memcpy(key + 1, id, 16);
            (void) velro_cache_delete(ngx_http_velro_l1(), key, 17);
        }

        if (ngx_http_velro_redis_up()) {
            velro_uuid_format(id, text);

            argv[0] = "DEL";
            argvlen[0] = 3;
            argv[1] = (char *) key;
            argvlen[1] = ngx_sprintf(key, "%Vproject_vis:%*s",
                                     &ngx_http_velro_authz_prefix,
                                     (size_t) VELRO_UUID_LEN, text)
                         - key;

            (void) ngx_http_velro_redis_send(2, argv, argvlen);
        }

        break;

    default: /* VELRO_INVALIDATE_TEAM */

        /*
         * A team goes only by deletion, which also deletes its members
         * and detaches its projects: their own notices clear L2.  L1
         * entries do not record teams, so they all go.
         */

        if (ngx_http_velro_l1()) {
            velro_cache_flush(ngx_http_velro_l1());
        }

        return;
    }

    if (!ngx_http_velro_redis_up()) {
        return;
    }

    velro_uuid_format(id, text);

    argv[0] = "EVAL";
    argvlen[0] = 4;
    argv[1] = ngx_http_velro_invalidate_script;
    argvlen[1] = sizeof(ngx_http_velro_invalidate_script) - 1;
    argv[2] = "1";
    argvlen[2] = 1;
    argv[3] = (char *) key;
    argvlen[3] = ngx_sprintf(key, "%V%s%*s", &ngx_http_velro_authz_prefix,
                             idx, (size_t) VELRO_UUID_LEN, text)
                 - key;

    (void) ngx_http_velro_redis_send(4, argv, argvlen);
}


void
ngx_http_velro_authz_flush(void)
{
    ngx_http_velro_authz_seq++;

    if (ngx_http_velro_authz_tags) {
        velro_cache_flush(ngx_http_velro_authz_tags);
    }

    if (ngx_http_velro_l1()) {
        velro_cache_flush(ngx_http_velro_l1());
    }

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "velro: listening for invalidations, L1 flushed");
}


/* L2 */

static void
ngx_http_velro_authz_token_hash(ngx_http_velro_ctx_t *ctx)
{
    u_char        md[EVP_MAX_MD_SIZE];
    unsigned int  mdlen;

    if (ctx->has_token_hash) {
        return;
    }

    /* fetched once: EVP_sha256() would look the digest up every call */

    if (ngx_http_velro_authz_sha256 == NULL) {
        ngx_http_velro_authz_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    }

    if (ngx_http_velro_authz_sha256 == NULL
        || EVP_Digest(ctx->token.data, ctx->token.len, md, &mdlen,
                      ngx_http_velro_authz_sha256, NULL)
           != 1)
    {
        ngx_memzero(md, 16);
    }

    ngx_hex_dump(ctx->token_hash, md, 16);
    ctx->has_token_hash = 1;
}


static size_t
ngx_http_velro_authz_l2_key(ngx_http_velro_main_conf_t *vmcf, u_char *buf,
    const char *type, const u_char *a, size_t alen, const u_char *b,
    size_t blen)
{
    u_char  *p;

    p = ngx_sprintf(buf, "%V%s", &vmcf->redis->prefix, type);

    velro_uuid_format(a, p);
    p += VELRO_UUID_LEN;
    *p++ = ':';

    if (blen == 16) {
        velro_uuid_format(b, p);
        p += VELRO_UUID_LEN;

    } else {
        p = ngx_cpymem(p, b, blen);
    }

    return p - buf;
}


static ngx_int_t
ngx_http_velro_authz_l2_get(ngx_http_request_t *r,
    ngx_http_velro_main_conf_t *vmcf, ngx_http_velro_ctx_t *ctx)
{
    int          n;
    u_char      *keys;
    size_t       argvlen[4];
    const char  *argv[4];

    if (vmcf->redis == NULL || !ngx_http_velro_redis_up()) {
        return NGX_DECLINED;
    }

    keys = ngx_pnalloc(r->pool, 3 * NGX_HTTP_VELRO_L2_KEY_MAX);
    if (keys == NULL) {
        return NGX_DECLINED;
    }

    argv[0] = "MGET";
    argvlen[0] = 4;
    n = 1;

    if (!ctx->has_user && vmcf->ttl_l2[NGX_HTTP_VELRO_AUTH]) {
        ngx_http_velro_authz_token_hash(ctx);

        argv[n] = (char *) keys;
        argvlen[n] = ngx_http_velro_authz_l2_key(vmcf, keys, "auth:",
                                                 ctx->user_id, 16,
                                                 ctx->token_hash, 32);
        n++;
    }

    if (ctx->has_resource && !ctx->has_access
        && (vmcf->ttl_l2[NGX_HTTP_VELRO_OWNERSHIP]
            || vmcf->ttl_l2[NGX_HTTP_VELRO_TEAM_ACCESS]))
    {
        argv[n] = (char *) keys + NGX_HTTP_VELRO_L2_KEY_MAX;
        argvlen[n] = ngx_http_velro_authz_l2_key(vmcf,
                                       keys + NGX_HTTP_VELRO_L2_KEY_MAX,
                                       "ownership:", ctx->user_id, 16,
                                       ctx->resource_id, 16);
        n++;

        argv[n] = (char *) keys + 2 * NGX_HTTP_VELRO_L2_KEY_MAX;
        argvlen[n] = ngx_http_velro_authz_l2_key(vmcf,
                                       keys + 2 * NGX_HTTP_VELRO_L2_KEY_MAX,
                                       "team_access:", ctx->user_id, 16,
                                       ctx->resource_id, 16);
        n++;
    }

    if (n == 1) {
        return NGX_DECLINED;
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
    ngx_uint_t                   user, found;
    const char                  *err;
    redisReply                  *v;
    velro_access_t               access;
    ngx_http_velro_ctx_t        *ctx;
    ngx_http_velro_main_conf_t  *vmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_velro_module);
    vmcf = ngx_http_get_module_main_conf(r, ngx_http_velro_module);

    ctx->redis_cmd = NULL;
    ctx->authz_state = NGX_HTTP_VELRO_AUTHZ_L2_DONE;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "velro: L2 lookup failed");
        goto done;
    }

    i = 0;
    user = !ctx->has_user && vmcf->ttl_l2[NGX_HTTP_VELRO_AUTH];
    found = 0;

    if (user && i < reply->elements) {
        v = reply->element[i++];

        if (v->type == REDIS_REPLY_STRING) {
            if (velro_user_from_json(v->str, v->len, ctx->user_id,
                                     &ctx->user, &err)
                == 0)
            {
                ctx->has_user = 1;
                found = 1;

            } else {
                ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                              "velro: L2 user entry ignored: %s", err);
            }
        }
    }

    for ( /* void */ ; i < reply->elements; i++) {
        v = reply->element[i];

        if (v->type != REDIS_REPLY_STRING || ctx->has_access) {
            continue;
        }

        if (velro_access_from_json(v->str, v->len, ctx->user_id,
                                   ctx->resource_id, &access, &err)
            == 0)
        {
            ctx->access = access;
            ctx->has_access = 1;
            found = 1;

        } else {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "velro: L2 access entry ignored: %s", err);
        }
    }

    if (found) {
        ctx->tier = NGX_HTTP_VELRO_TIER_L2;
        ngx_http_velro_authz_l1_put(vmcf, ctx, 1, 1);
    }

done:

    ngx_post_event(&ctx->wake, &ngx_posted_events);
}


/*
 * One MULTI ... EXEC, so an invalidation running its script sees the
 * entries and their index entries together or not at all.
 */

static void
ngx_http_velro_authz_l2_put(ngx_http_velro_main_conf_t *vmcf,
    ngx_http_velro_ctx_t *ctx)
{
    u_char       ukey[NGX_HTTP_VELRO_L2_KEY_MAX];
    u_char       akey[NGX_HTTP_VELRO_L2_KEY_MAX];
    u_char       ikey[NGX_HTTP_VELRO_L2_KEY_MAX];
    u_char       uval[VELRO_USER_JSON_MAX], aval[VELRO_ACCESS_JSON_MAX];
    u_char       ttl[NGX_TIME_T_LEN], maxttl[NGX_TIME_T_LEN];
    u_char       text[VELRO_UUID_LEN];
    size_t       argvlen[5], ukeylen, akeylen, maxttllen;
    time_t       t;
    ngx_uint_t   type, user, access, i;
    const char  *argv[5];
    static const char  *indexes[3] = { "idx:user:", "idx:gen:",
                                       "idx:project:" };

    if (vmcf->redis == NULL || !ngx_http_velro_redis_ready()) {
        return;
    }

    user = ctx->has_user && vmcf->ttl_l2[NGX_HTTP_VELRO_AUTH]
           && ngx_http_velro_authz_fresh(ctx->seq, ctx->user_id, NULL, NULL);

    type = ngx_http_velro_authz_access_type(&ctx->access);

    access = ctx->has_access && ctx->has_resource && vmcf->ttl_l2[type]
             && ngx_http_velro_authz_fresh(ctx->seq, ctx->user_id,
                                           ctx->resource_id,
                                           ctx->access.has_project
                                           ? ctx->access.project : NULL);

    if (!user && !access) {
        return;
    }

    ngx_http_velro_authz_token_hash(ctx);

    maxttllen = ngx_sprintf(maxttl, "%T",
                            ngx_http_velro_authz_max_ttl(vmcf, 1))
                - maxttl;

    argv[0] = "MULTI";
    argvlen[0] = 5;
    (void) ngx_http_velro_redis_send(1, argv, argvlen);

    ukeylen = 0;
    akeylen = 0;

    argv[0] = "SET";
    argvlen[0] = 3;
    argv[3] = "EX";
    argvlen[3] = 2;
    argv[4] = (char *) ttl;

    if (user) {
        ukeylen = ngx_http_velro_authz_l2_key(vmcf, ukey, "auth:",
                                              ctx->user_id, 16,
                                              ctx->token_hash, 32);
        t = ngx_http_velro_authz_user_ttl(vmcf->ttl_l2, &ctx->user);

        argv[1] = (char *) ukey;
        argvlen[1] = ukeylen;
        argv[2] = (char *) uval;
        argvlen[2] = velro_user_json(&ctx->user, ctx->user_id,
                                     (char *) uval);
        argvlen[4] = ngx_sprintf(ttl, "%T", t) - ttl;

        (void) ngx_http_velro_redis_send(5, argv, argvlen);
    }

    if (access) {
        akeylen = ngx_http_velro_authz_l2_key(vmcf, akey,
                                       type == NGX_HTTP_VELRO_OWNERSHIP
                                       ? "ownership:" : "team_access:",
                                       ctx->user_id, 16, ctx->resource_id,
                                       16);
        t = ngx_http_velro_authz_access_ttl(vmcf->ttl_l2, &ctx->access);

        argv[1] = (char *) akey;
        argvlen[1] = akeylen;
        argv[2] = (char *) aval;
        argvlen[2] = velro_access_json(&ctx->access, ctx->user_id,
                                       ctx->resource_id, (char *) aval);
        argvlen[4] = ngx_sprintf(ttl, "%T", t) - ttl;

        (void) ngx_http_velro_redis_send(5, argv, argvlen);
    }

    /* indexes: what each kind of invalidation deletes */

    for (i = 0; i < 3; i++) {

        if (i == 0) {
            velro_uuid_format(ctx->user_id, text);

        } else if (!access) {
            break;

        } else if (i == 1) {
            velro_uuid_format(ctx->resource_id, text);

        } else if (ctx->access.has_project) {
            velro_uuid_format(ctx->access.project, text);

        } else {
            break;
        }

        argv[0] = "SADD";
        argvlen[0] = 4;
        argv[1] = (char *) ikey;
        argvlen[1] = ngx_sprintf(ikey, "%V%s%*s", &vmcf->redis->prefix,
                                 indexes[i], (size_t) VELRO_UUID_LEN, text)
                     - ikey;

        if (i == 0 && user && access) {
            argv[2] = (char *) ukey;
            argvlen[2] = ukeylen;
            argv[3] = (char *) akey;
            argvlen[3] = akeylen;
            (void) ngx_http_velro_redis_send(4, argv, argvlen);

        } else {
            argv[2] = (char *) ((i == 0 && user) ? ukey : akey);
            argvlen[2] = (i == 0 && user) ? ukeylen : akeylen;
            (void) ngx_http_velro_redis_send(3, argv, argvlen);
        }

        argv[0] = "EXPIRE";
        argvlen[0] = 6;
        argv[2] = (char *) maxttl;
        argvlen[2] = maxttllen;
        (void) ngx_http_velro_redis_send(3, argv, argvlen);
    }

    argv[0] = "EXEC";
    argvlen[0] = 4;
    (void) ngx_http_velro_redis_send(1, argv, argvlen);
}


/* L3 */

static ngx_int_t
ngx_http_velro_authz_l3(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx)
{
    u_char                      *p, id[33];
    uint32_t                     hash;
    ngx_str_t                    args;
    ngx_http_request_t          *sr;
    ngx_http_velro_inflight_t   *fl;

    if (vlcf->fallback.len == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "velro: no decision: L1 and L2 missed and there is "
                      "no \"velro_authz_fallback\"");
        ctx->decision = NGX_HTTP_VELRO_DECISION_ERROR;
        ctx->authz_state = NGX_HTTP_VELRO_AUTHZ_DONE;
        return NGX_OK;
    }

    /* concurrent misses for the same user and resource share a lookup */

    ngx_memcpy(id, ctx->user_id, 16);

    if (ctx->has_resource) {
        ngx_memcpy(id + 16, ctx->resource_id, 16);
        id[32] = 1;

    } else {
        ngx_memzero(id + 16, 17);
    }

    hash = ngx_murmur_hash2(id, 33);

    fl = ngx_http_velro_authz_inflight_find(id, hash);

    if (fl) {
        ctx->inflight = fl;
        ctx->inflight_waiting = 1;
        ngx_queue_insert_tail(&fl->waiters, &ctx->inflight_link);

        ctx->authz_state = NGX_HTTP_VELRO_AUTHZ_L3_WAIT;

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "velro: waiting for the L3 lookup under way");

        return NGX_AGAIN;
    }

    if (ngx_http_velro_breaker_allow(NGX_HTTP_VELRO_BREAKER_DATABASE,
                                     r->connection->log)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "velro: breaker database open, no L3 lookup");

        ctx->backend_failed = 1;
        ctx->decision = NGX_HTTP_VELRO_DECISION_ERROR;
        ctx->authz_state = NGX_HTTP_VELRO_AUTHZ_DONE;
        return NGX_OK;
    }

    fl = ngx_pcalloc(r->pool, sizeof(ngx_http_velro_inflight_t));
    if (fl == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(fl->id, id, 33);
    fl->node.key = hash;

    args.len = sizeof("user=&resource=") - 1 + 2 * VELRO_UUID_LEN;
    args.data = ngx_pnalloc(r->pool, args.len);
    if (args.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(args.data, "user=", 5);
    velro_uuid_format(ctx->user_id, p);
    p += VELRO_UUID_LEN;

    if (ctx->has_resource) {
        p = ngx_cpymem(p, "&resource=", 10);
        velro_uuid_format(ctx->resource_id, p);
        p += VELRO_UUID_LEN;
    }

    args.len = p - args.data;

    sr = ngx_http_velro_subrequest(r, &vlcf->fallback, &args,
                                   ngx_http_velro_authz_l3_done, ctx);
    if (sr == NULL) {
        return NGX_ERROR;
    }

    /* the subrequest is a GET whatever the request's method */

    sr->method = NGX_HTTP_GET;
    ngx_str_set(&sr->method_name, "GET");
    sr->header_only = 0;
    sr->request_body = NULL;

    ngx_queue_init(&fl->waiters);
    fl->leader = ctx;
    ngx_rbtree_insert(&ngx_http_velro_inflight_tree, &fl->node);

    ctx->inflight = fl;
    ctx->inflight_leader = 1;
    ctx->authz_state = NGX_HTTP_VELRO_AUTHZ_L3_WAIT;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "velro: L3 lookup \"%V\"", &args);

    return NGX_AGAIN;
}


static ngx_int_t
ngx_http_velro_authz_l3_done(ngx_http_request_t *r, void *data, ngx_int_t rc)
{
    ngx_http_velro_ctx_t  *ctx = data;

    ngx_buf_t                   *b;
    ngx_int_t                    status;
    const char                  *err;
    velro_user_t                 user;
    velro_access_t               access;
    velro_project_t              project;
    ngx_http_velro_main_conf_t  *vmcf;

    if (!ctx->inflight_leader) {
        /* the lookup was given up (the request goes away) */
        return rc;
    }

    status = (rc >= NGX_HTTP_SPECIAL_RESPONSE || rc == NGX_ERROR)
             ? rc : (ngx_int_t) r->headers_out.status;

    b = r->out ? r->out->buf : NULL;

    if (status != NGX_HTTP_OK || b == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "velro: L3 lookup \"%V?%V\" failed with status %i",
                      &r->uri, &r->args, status);
        goto failed;
    }

    /* parsed aside: a rejected answer leaves what L1 and L2 gave */

    if (velro_l3_parse((char *) b->pos, b->last - b->pos, ctx->user_id,
                       ctx->has_resource ? ctx->resource_id : NULL,
                       &user, &access, &project, &err)
        != 0)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "velro: L3 answer from \"%V\" rejected: %s",
                      &r->uri, err);
        goto failed;
    }

    ngx_http_velro_breaker_result(NGX_HTTP_VELRO_BREAKER_DATABASE, 1,
                                  r->connection->log);

    ctx->user = user;
    ctx->access = access;
    ctx->has_user = 1;
    ctx->has_access = ctx->has_resource;
    ctx->tier = NGX_HTTP_VELRO_TIER_L3;

    vmcf = ngx_http_get_module_main_conf(r, ngx_http_velro_module);

    ngx_http_velro_authz_l1_put(vmcf, ctx, 1, 1);
    ngx_http_velro_authz_l2_put(vmcf, ctx);

    if (ctx->has_resource && project.valid) {
        ngx_http_velro_authz_projects(vmcf, &project, 1, 1);
    }

    ngx_http_velro_authz_inflight_done(ctx, 1);

    return rc;

failed:

    ngx_http_velro_breaker_result(NGX_HTTP_VELRO_BREAKER_DATABASE, 0,
                                  r->connection->log);

    ctx->decision = NGX_HTTP_VELRO_DECISION_ERROR;
    ctx->backend_failed = 1;

    ngx_http_velro_authz_inflight_done(ctx, 0);

    return rc;
}


/* the leader hands its answer to the waiters, or lets them try again */

static void
ngx_http_velro_authz_inflight_done(ngx_http_velro_ctx_t *ctx, ngx_uint_t ok)
{
    ngx_queue_t                *q;
    ngx_http_velro_ctx_t       *w;
    ngx_http_velro_inflight_t  *fl;

    fl = ctx->inflight;

    ctx->inflight = NULL;
    ctx->inflight_leader = 0;
    ctx->authz_state = NGX_HTTP_VELRO_AUTHZ_DONE;

    if (fl == NULL) {
        return;
    }

    ngx_rbtree_delete(&ngx_http_velro_inflight_tree, &fl->node);

    while (!ngx_queue_empty(&fl->waiters)) {
        q = ngx_queue_head(&fl->waiters);
        ngx_queue_remove(q);

        w = ngx_queue_data(q, ngx_http_velro_ctx_t, inflight_link);
        w->inflight = NULL;
        w->inflight_waiting = 0;

        if (ok == 2) {
            /* the leader went away: start over */
            w->authz_state = NGX_HTTP_VELRO_AUTHZ_START;

        } else {
            w->authz_state = NGX_HTTP_VELRO_AUTHZ_DONE;

            if (ok) {
                w->user = ctx->user;
                w->has_user = 1;

                if (w->has_resource) {
                    w->access = ctx->access;
                    w->has_access = 1;
                }

                w->tier = NGX_HTTP_VELRO_TIER_L3;

            } else {
                w->decision = NGX_HTTP_VELRO_DECISION_ERROR;
                w->backend_failed = 1;
            }
        }

        ngx_post_event(&w->wake, &ngx_posted_events);
    }
}


void
ngx_http_velro_authz_cleanup(ngx_http_velro_ctx_t *ctx)
{
    if (ctx->redis_cmd) {
        ngx_http_velro_redis_cancel(ctx->redis_cmd);
        ctx->redis_cmd = NULL;
    }

    if (ctx->inflight_waiting) {
        ngx_queue_remove(&ctx->inflight_link);
        ctx->inflight_waiting = 0;
        ctx->inflight = NULL;
    }

    if (ctx->inflight_leader) {
        ngx_http_velro_authz_inflight_done(ctx, 2);
    }
}


static ngx_http_velro_inflight_t *
ngx_http_velro_authz_inflight_find(u_char *id, uint32_t hash)
{
    ngx_int_t                   rc;
    ngx_rbtree_node_t          *node, *sentinel;
    ngx_http_velro_inflight_t  *fl;

    node = ngx_http_velro_inflight_tree.root;
    sentinel = ngx_http_velro_inflight_tree.sentinel;

    while (node != sentinel) {

        if (hash != node->key) {
            node = (hash < node->key) ? node->left : node->right;
            continue;
        }

        fl = (ngx_http_velro_inflight_t *) node;

        rc = ngx_memcmp(id, fl->id, 33);

        if (rc == 0) {
            return fl;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


static void
ngx_http_velro_authz_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t          **p;
    ngx_http_velro_inflight_t   *n, *t;

    for ( ;; ) {

        n = (ngx_http_velro_inflight_t *) node;
        t = (ngx_http_velro_inflight_t *) temp;

        if (node->key != temp->key) {
            p = (node->key < temp->key) ? &temp->left : &temp->right;

        } else {
            p = (ngx_memcmp(n->id, t->id, 33) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


/* the decision, and the response when it is a refusal */

static ngx_int_t
ngx_http_velro_authz_decide(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx)
{
    u_char           uid[VELRO_UUID_LEN], gid[VELRO_UUID_LEN];
    ngx_int_t        status;
    ngx_uint_t       monitor;
    velro_user_rc_e  urc;

    ctx->authz_state = NGX_HTTP_VELRO_AUTHZ_DECIDED;
    monitor = (vlcf->authz == NGX_HTTP_VELRO_AUTHZ_MONITOR);

    if (ctx->decision == NGX_HTTP_VELRO_DECISION_ERROR
        && ctx->backend_failed && vlcf->stale
        && ngx_http_velro_authz_stale(r, vlcf, ctx))
    {
        ctx->decision = NGX_HTTP_VELRO_DECISION_NONE;
    }

    velro_uuid_format(ctx->user_id, uid);
    velro_uuid_format(ctx->resource_id, gid);

    if (ctx->decision == NGX_HTTP_VELRO_DECISION_NONE && ctx->has_user) {
        urc = velro_user_check(&ctx->user, ctx->iat);

        if (urc != VELRO_USER_OK) {
            ctx->decision = NGX_HTTP_VELRO_DECISION_DENY;
            ctx->has_access = 0;        /* no role for a refused user */
            ctx->user_desc = velro_user_description(urc);

            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "velro: %sinvalid token: %s (user \"%V\")",
                          monitor ? "monitor: " : "", ctx->user_desc,
                          &ctx->sub);

            if (monitor) {
                ctx->authz_status = NGX_OK;
                return NGX_OK;
            }

            return ngx_http_velro_authz_refuse(r, vlcf, ctx,
                                               NGX_HTTP_UNAUTHORIZED);
        }
    }

    if (ctx->decision == NGX_HTTP_VELRO_DECISION_NONE) {

        if (!ctx->has_resource
            || velro_access_allows(&ctx->access, ctx->action))
        {
            ctx->decision = NGX_HTTP_VELRO_DECISION_ALLOW;

        } else {
            ctx->decision = NGX_HTTP_VELRO_DECISION_DENY;
        }
    }

    switch (ctx->decision) {

    case NGX_HTTP_VELRO_DECISION_ALLOW:
        ctx->authz_status = NGX_OK;
        return NGX_OK;

    case NGX_HTTP_VELRO_DECISION_DENY:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "velro: %saccess denied: user %*s, resource %*s, "
                      "action %s, role \"%s\"", monitor ? "monitor: " : "",
                      (size_t) VELRO_UUID_LEN, uid,
                      ctx->has_resource ? (size_t) VELRO_UUID_LEN : 1,
                      ctx->has_resource ? gid : (u_char *) "-",
                      ngx_http_velro_actions[ctx->action],
                      velro_role_name(ctx->access.role));

        if (monitor) {
            ctx->authz_status = NGX_OK;
            return NGX_OK;
        }

        status = vlcf->deny_status;
        break;

    default: /* NGX_HTTP_VELRO_DECISION_ERROR */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "velro: %sno authorization decision for user %*s",
                      monitor ? "monitor: " : "",
                      (size_t) VELRO_UUID_LEN, uid);

        if (monitor) {
            ctx->authz_status = NGX_OK;
            return NGX_OK;
        }

        status = NGX_HTTP_SERVICE_UNAVAILABLE;
        ctx->detail = "no authorization decision possible";

        if (ngx_http_velro_breaker_state(NGX_HTTP_VELRO_BREAKER_DATABASE)
            != VELRO_BREAKER_CLOSED)
        {
            ctx->retry_after = ngx_http_velro_breaker_retry_after(
                                             NGX_HTTP_VELRO_BREAKER_DATABASE);
        }

        break;
    }

    return ngx_http_velro_authz_refuse(r, vlcf, ctx, status);
}


/*
 * velro_authz_stale: L3 failed or its breaker is open.  What L1 and L2
 * did not give comes from L1 entries expired no longer than vlcf->stale
 * ago and not overtaken by an invalidation.  Nothing is guessed: with no
 * user entry, or no access entry where the decision needs one, there is
 * no answer.  A stale answer is the answer that was cached, a denial
 * stays one.
 */

static ngx_uint_t
ngx_http_velro_authz_stale(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx)
{
    u_char                          key[33], uid[VELRO_UUID_LEN];
    ngx_msec_t                      age;
    velro_cache_t                  *l1;
    velro_cache_entry_t            *e;
    ngx_http_velro_user_entry_t     ue;
    ngx_http_velro_access_entry_t   ae;

    l1 = ngx_http_velro_l1();

    if (l1 == NULL) {
        return 0;
    }

    age = 0;

    if (!ctx->has_user) {
        key[0] = NGX_HTTP_VELRO_KEY_USER;
        ngx_memcpy(key + 1, ctx->user_id, 16);

        e = velro_cache_get_stale(l1, key, 17, ngx_current_msec,
                                  vlcf->stale);
        if (e == NULL) {
            return 0;
        }

        ngx_memcpy(&ue, velro_cache_value(e), sizeof(ue));

        if (!ngx_http_velro_authz_fresh(ue.seq, ctx->user_id, NULL, NULL)) {
            return 0;
        }

        if (e->expires <= ngx_current_msec) {
            age = ngx_current_msec - (ngx_msec_t) e->expires;
        }

        ctx->user = ue.user;
        ctx->has_user = 1;
    }

    if (ctx->has_resource && !ctx->has_access
        && velro_user_check(&ctx->user, ctx->iat) == VELRO_USER_OK)
    {
        key[0] = NGX_HTTP_VELRO_KEY_ACCESS;
        ngx_memcpy(key + 1, ctx->user_id, 16);
        ngx_memcpy(key + 17, ctx->resource_id, 16);

        e = velro_cache_get_stale(l1, key, 33, ngx_current_msec,
                                  vlcf->stale);
        if (e == NULL) {
            return 0;
        }

        ngx_memcpy(&ae, velro_cache_value(e), sizeof(ae));

        if (!ngx_http_velro_authz_fresh(ae.seq, ctx->user_id,
                                        ctx->resource_id,
                                        ae.access.has_project
                                        ? ae.access.project : NULL))
        {
            return 0;
        }

        if (e->expires <= ngx_current_msec) {
            age = ngx_max(age, ngx_current_msec - (ngx_msec_t) e->expires);
        }

        ctx->access = ae.access;
        ctx->has_access = 1;
    }

    velro_uuid_format(ctx->user_id, uid);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "velro: stale answer for user %*s, expired %Mms ago",
                  (size_t) VELRO_UUID_LEN, uid, age);

    ctx->tier = NGX_HTTP_VELRO_TIER_STALE;

    ngx_http_velro_breaker_stale();

    return 1;
}


/*
 * The refusal is sent and the request finalized (NGX_DONE), which may free
 * the request and its ctx at once; or the status is left to nginx
 * ("satisfy any", error_page) and kept for a second call.
 */

static ngx_int_t
ngx_http_velro_authz_refuse(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx,
    ngx_int_t status)
{
    ngx_int_t  rc;

    /* metrics: counted now, the response may free the request */

    ngx_http_velro_metrics_authz(r, ctx, NGX_DONE);

    ctx->authz_status = NGX_DONE;

    /* ctx->status stays the token's: $velro_user_id still has a value */

    rc = ngx_http_velro_jwt_reject(r, vlcf, ctx, status);

    if (rc != NGX_DONE) {
        ctx->authz_status = rc;
    }

    return rc;
}


char *
ngx_http_velro_authz_merge(ngx_conf_t *cf, ngx_http_velro_loc_conf_t *prev,
    ngx_http_velro_loc_conf_t *conf)
{
    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_velro_main_conf_t  *vmcf;

    ngx_conf_merge_uint_value(conf->authz, prev->authz,
                              NGX_HTTP_VELRO_AUTHZ_OFF);
    ngx_conf_merge_ptr_value(conf->resource, prev->resource, NULL);

    if (conf->action == NGX_CONF_UNSET_UINT) {
        conf->action = (prev->action == NGX_CONF_UNSET_UINT)
                       ? NGX_HTTP_VELRO_ACTION_METHOD : prev->action;
        conf->action_value = prev->action_value;
    }

    ngx_conf_merge_str_value(conf->fallback, prev->fallback, "");
    ngx_conf_merge_value(conf->warm_on_login, prev->warm_on_login, 0);
    ngx_conf_merge_uint_value(conf->warm_limit, prev->warm_limit, 100);

    if (conf->warm_limit == 0 || conf->warm_limit > 1000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"velro_warm_limit\" must be 1 to 1000");
        return NGX_CONF_ERROR;
    }

    ngx_conf_merge_uint_value(conf->deny_status, prev->deny_status,
                              NGX_HTTP_FORBIDDEN);
    ngx_conf_merge_msec_value(conf->stale, prev->stale, 0);

    vmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_velro_module);

    if (conf->stale > vmcf->stale_max) {
        vmcf->stale_max = conf->stale;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (conf->authz != NGX_HTTP_VELRO_AUTHZ_OFF
        && conf->jwt == NGX_HTTP_VELRO_JWT_OFF
        && clcf->name.len)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"velro_authz\" needs \"velro_jwt\": "
                           "the user comes from the token");
        return NGX_CONF_ERROR;
    }

    if (conf->authz != NGX_HTTP_VELRO_AUTHZ_OFF
        && conf->fallback.len == 0
        && clcf->name.len)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"velro_authz\" needs \"velro_authz_fallback\"");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


uint64_t
ngx_http_velro_authz_sequence(void)
{
    return ngx_http_velro_authz_seq;
}


/*
 * The seed's project_vis entries: the projects an L3 answer names
 * ("project", or "projects" in the warm form), into L1 ('P' + id: the
 * JSON) and into L2 (project_vis:{id}), with the project_vis TTLs.  A
 * "project" invalidation removes them.
 */

void
ngx_http_velro_authz_projects(ngx_http_velro_main_conf_t *vmcf,
    const velro_project_t *projects, size_t n, ngx_uint_t l2)
{
    u_char        key[17], rkey[NGX_HTTP_VELRO_L2_KEY_MAX];
    u_char        ttl[NGX_TIME_T_LEN], uuid[VELRO_UUID_LEN];
    char          text[VELRO_PROJECT_JSON_MAX];
    size_t        i, len, argvlen[5];
    const char   *argv[5];

    for (i = 0; i < n; i++) {

        len = velro_project_json(&projects[i], text);

        if (len == 0) {
            continue;
        }

        if (ngx_http_velro_l1() && vmcf->ttl_l1[NGX_HTTP_VELRO_PROJECT_VIS]) {
            key[0] = 'P';
            ngx_memcpy(key + 1, projects[i].id, 16);

            (void) velro_cache_put(ngx_http_velro_l1(),
                           NGX_HTTP_VELRO_PROJECT_VIS, key, 17, text, len,
                           ngx_current_msec
                           + vmcf->ttl_l1[NGX_HTTP_VELRO_PROJECT_VIS] * 1000);
        }

        if (!l2 || vmcf->redis == NULL
            || vmcf->ttl_l2[NGX_HTTP_VELRO_PROJECT_VIS] == 0
            || !ngx_http_velro_redis_ready())
        {
            continue;
        }

        velro_uuid_format(projects[i].id, uuid);

        argv[0] = "SET";
        argvlen[0] = 3;
        argv[1] = (char *) rkey;
        argvlen[1] = ngx_sprintf(rkey, "%Vproject_vis:%*s",
                                 &vmcf->redis->prefix,
                                 (size_t) VELRO_UUID_LEN, uuid)
                     - rkey;
        argv[2] = text;
        argvlen[2] = len;
        argv[3] = "EX";
        argvlen[3] = 2;
        argv[4] = (char *) ttl;
        argvlen[4] = ngx_sprintf(ttl, "%T",
                                 vmcf->ttl_l2[NGX_HTTP_VELRO_PROJECT_VIS])
                     - ttl;

        (void) ngx_http_velro_redis_send(5, argv, argvlen);
    }
}


/*
 * Cache warming: the user and every row into L1 as ngx_http_velro_authz_
 * store() would put them, the projects too, and all of it into L2 with
 * one EVAL (ngx_http_velro_warm_script) instead of a MULTI/EXEC group a
 * row.  Rows that an invalidation overtook are left out of both.
 */

ngx_int_t
ngx_http_velro_authz_warm_store(ngx_http_velro_main_conf_t *vmcf,
    ngx_pool_t *pool, ngx_http_velro_ctx_t *ctx, velro_warm_row_t *rows,
    size_t n, velro_project_t *projects, size_t np)
{
    u_char       *p, *ukey, *ikey, *text;
    size_t        i, k, na, *argvlen, len, ilen;
    time_t        t;
    ngx_uint_t    type, user;
    const char  **argv;

    /* L1 */

    ctx->has_user = 1;
    ctx->has_resource = 0;
    ctx->has_access = 0;

    ngx_http_velro_authz_l1_put(vmcf, ctx, 1, 0);

    ctx->has_user = 0;
    ctx->has_resource = 1;
    ctx->has_access = 1;

    for (i = 0; i < n; i++) {
        ngx_memcpy(ctx->resource_id, rows[i].generation, 16);
        ctx->access = rows[i].access;

        ngx_http_velro_authz_l1_put(vmcf, ctx, 0, 1);
    }

    ngx_http_velro_authz_projects(vmcf, projects, np, 0);

    /* L2 */

    if (vmcf->redis == NULL || !ngx_http_velro_redis_ready()) {
        return NGX_OK;
    }

    /* EVAL, script, 0, index TTL, then 6 per entry */

    na = 4 + 6 * (1 + n + np);

    argv = ngx_palloc(pool, na * sizeof(char *));
    argvlen = ngx_palloc(pool, na * sizeof(size_t));

    /* per entry: a key, its value, a TTL, and three index set names */

    len = (1 + n + np) * (4 * NGX_HTTP_VELRO_L2_KEY_MAX
                          + VELRO_ACCESS_JSON_MAX + NGX_TIME_T_LEN);

    text = ngx_pnalloc(pool, len);

    if (argv == NULL || argvlen == NULL || text == NULL) {
        return NGX_ERROR;
    }

    p = text;

    argv[0] = "EVAL";
    argvlen[0] = 4;
    argv[1] = ngx_http_velro_warm_script;
    argvlen[1] = sizeof(ngx_http_velro_warm_script) - 1;
    argv[2] = "0";
    argvlen[2] = 1;
    argv[3] = (char *) p;
    p = ngx_sprintf(p, "%T", ngx_http_velro_authz_max_ttl(vmcf, 1));
    argvlen[3] = p - (u_char *) argv[3];

    k = 4;

#define ngx_http_velro_warm_arg(start)                                        \
    argv[k] = (char *) (start);                                               \
    argvlen[k] = p - (u_char *) (start);                                      \
    k++

    /* the user, under the login token's key */

    user = vmcf->ttl_l2[NGX_HTTP_VELRO_AUTH]
           && ngx_http_velro_authz_fresh(ctx->seq, ctx->user_id, NULL, NULL);

    ikey = p;
    p = ngx_sprintf(p, "%Vidx:user:", &vmcf->redis->prefix);
    velro_uuid_format(ctx->user_id, p);
    p += VELRO_UUID_LEN;

    /* not an argument itself: the user's index set name, used below */

    ilen = p - ikey;

    if (user) {
        ngx_http_velro_authz_token_hash(ctx);

        ukey = p;
        p += ngx_http_velro_authz_l2_key(vmcf, p, "auth:", ctx->user_id, 16,
                                         ctx->token_hash, 32);
        ngx_http_velro_warm_arg(ukey);

        ukey = p;
        p += velro_user_json(&ctx->user, ctx->user_id, (char *) p);
        ngx_http_velro_warm_arg(ukey);

        t = ngx_http_velro_authz_user_ttl(vmcf->ttl_l2, &ctx->user);

        ukey = p;
        p = ngx_sprintf(p, "%T", t);
        ngx_http_velro_warm_arg(ukey);

        argv[k] = (char *) ikey;
        argvlen[k++] = ilen;
        argv[k] = "";
        argvlen[k++] = 0;
        argv[k] = "";
        argvlen[k++] = 0;
    }

    for (i = 0; i < n; i++) {
        type = ngx_http_velro_authz_access_type(&rows[i].access);

        if (vmcf->ttl_l2[type] == 0
            || !ngx_http_velro_authz_fresh(ctx->seq, ctx->user_id,
                                           rows[i].generation,
                                           rows[i].access.has_project
                                           ? rows[i].access.project : NULL))
        {
            continue;
        }

        ukey = p;
        p += ngx_http_velro_authz_l2_key(vmcf, p,
                                         type == NGX_HTTP_VELRO_OWNERSHIP
                                         ? "ownership:" : "team_access:",
                                         ctx->user_id, 16,
                                         rows[i].generation, 16);
        ngx_http_velro_warm_arg(ukey);

        ukey = p;
        p += velro_access_json(&rows[i].access, ctx->user_id,
                               rows[i].generation, (char *) p);
        ngx_http_velro_warm_arg(ukey);

        t = ngx_http_velro_authz_access_ttl(vmcf->ttl_l2, &rows[i].access);

        ukey = p;
        p = ngx_sprintf(p, "%T", t);
        ngx_http_velro_warm_arg(ukey);

        argv[k] = (char *) ikey;
        argvlen[k++] = ilen;

        ukey = p;
        p = ngx_sprintf(p, "%Vidx:gen:", &vmcf->redis->prefix);
        velro_uuid_format(rows[i].generation, p);
        p += VELRO_UUID_LEN;
        ngx_http_velro_warm_arg(ukey);

        ukey = p;

        if (rows[i].access.has_project) {
            p = ngx_sprintf(p, "%Vidx:project:", &vmcf->redis->prefix);
            velro_uuid_format(rows[i].access.project, p);
            p += VELRO_UUID_LEN;
        }

        ngx_http_velro_warm_arg(ukey);
    }

    for (i = 0; i < np && vmcf->ttl_l2[NGX_HTTP_VELRO_PROJECT_VIS]; i++) {
        ukey = p;
        p = ngx_sprintf(p, "%Vproject_vis:", &vmcf->redis->prefix);
        velro_uuid_format(projects[i].id, p);
        p += VELRO_UUID_LEN;
        ngx_http_velro_warm_arg(ukey);

        ukey = p;
        p += velro_project_json(&projects[i], (char *) p);
        ngx_http_velro_warm_arg(ukey);

        ukey = p;
        p = ngx_sprintf(p, "%T", vmcf->ttl_l2[NGX_HTTP_VELRO_PROJECT_VIS]);
        ngx_http_velro_warm_arg(ukey);

        argv[k] = "";
        argvlen[k++] = 0;
        argv[k] = "";
        argvlen[k++] = 0;
        argv[k] = "";
        argvlen[k++] = 0;
    }

#undef ngx_http_velro_warm_arg

    /* text was sized for four keys an entry, where three at most are used */

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "velro: warm L2: %uz arguments, %uz bytes",
                   k, (size_t) (p - text));

    if (k == 4) {
        return NGX_OK;
    }

    return ngx_http_velro_redis_send((int) k, argv, argvlen);
}


/*
 * The handler nginx gives a regex's named capture (its value comes from
 * the match, the handler only says "not found"): learned from a capture of
 * our own, since nginx does not export it.
 */

ngx_int_t
ngx_http_velro_authz_probe_captures(ngx_conf_t *cf)
{
#if (NGX_PCRE)
    u_char                errstr[NGX_MAX_CONF_ERRSTR];
    ngx_str_t             name;
    ngx_regex_compile_t   rc;
    ngx_http_variable_t  *v;

    ngx_memzero(&rc, sizeof(ngx_regex_compile_t));

    ngx_str_set(&rc.pattern, "(?<velro_capture_probe>)");
    rc.pool = cf->pool;
    rc.err.len = NGX_MAX_CONF_ERRSTR;
    rc.err.data = errstr;

    if (ngx_http_regex_compile(cf, &rc) == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&name, "velro_capture_probe");

    v = ngx_http_add_variable(cf, &name, NGX_HTTP_VAR_CHANGEABLE);
    if (v == NULL) {
        return NGX_ERROR;
    }

    ngx_http_velro_capture_handler = v->get_handler;
#endif

    return NGX_OK;
}
