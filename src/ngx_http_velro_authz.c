
/*
 * ngx_http_velro_module: authorization, the tier state machine.
 *
 * A decision is velro_authz_decide() of four entities: the user, the
 * user's memberships (roles), the generation and its project; only those
 * the decision needs are looked up (a refused user needs nothing more, the
 * creator or an uncompleted generation no project, a project without a
 * team no roles).  Each comes from the first tier that has it:
 *
 *   L1  this worker's cache (ngx_http_velro_cache.c);
 *   L2  Redis, one round trip for what L1 lacks, the project included
 *       when the generation names one (ngx_http_velro_authz_l2.c);
 *   L3  a subrequest to velro_authz_fallback, whose answer has all four
 *       (the entity form), or the access row of issue 3's form, kept per
 *       pair.  Concurrent misses for the same user and resource share one
 *       subrequest.
 *
 * The decision and its answer: ngx_http_velro_decide.c; invalidations:
 * ngx_http_velro_invalidate.c.
 */


#include "ngx_http_velro_module.h"
#include "ngx_http_velro_authz.h"
#include "ngx_http_velro_breaker.h"
#include "ngx_http_velro_cache.h"
#include "ngx_http_velro_inflight.h"
#include "ngx_http_velro_authz_l2.h"
#include "ngx_http_velro_invalidate.h"
#include "ngx_http_velro_variables.h"




static ngx_int_t ngx_http_velro_authz_start(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx);
static ngx_int_t ngx_http_velro_authz_next(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx);
static ngx_int_t ngx_http_velro_authz_action(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx);
static ngx_int_t ngx_http_velro_authz_l3(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx);
static ngx_int_t ngx_http_velro_authz_l3_done(ngx_http_request_t *r,
    void *data, ngx_int_t rc);
static void ngx_http_velro_authz_l3_store(ngx_http_velro_ctx_t *ctx,
    velro_l3_answer_t *ans);
static void ngx_http_velro_authz_inflight_done(ngx_http_velro_ctx_t *ctx,
    ngx_uint_t ok);
static void ngx_http_velro_authz_adopt(ngx_http_velro_ctx_t *w,
    ngx_http_velro_ctx_t *ctx);


ngx_int_t
ngx_http_velro_authz_init_process(ngx_cycle_t *cycle)
{
    if (ngx_http_velro_authz_l2_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_velro_inflight_init();

    return ngx_http_velro_cache_init_process(cycle);
}


void
ngx_http_velro_authz_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_velro_cache_exit_process(cycle);
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

    ctx->tier = VELRO_TIER_NONE;
    ngx_memzero(ctx->tiers, sizeof(ctx->tiers));
    ctx->has_user = 0;
    ctx->has_roles = 0;
    ctx->has_gen = 0;
    ctx->has_project = 0;
    ctx->has_access = 0;
    ctx->has_resource = 0;
    ctx->l2_tried = 0;
    ctx->l2_retry = 0;
    ctx->l2_retried = 0;
    ctx->backend_failed = 0;
    ctx->user_desc = NULL;

    if (ctx->teams == NULL) {
        ctx->teams = ngx_palloc(r->pool,
                                VELRO_TEAMS_MAX * sizeof(velro_team_role_t));
        ctx->gen = ngx_palloc(r->pool, sizeof(velro_generation_t));

        if (ctx->teams == NULL || ctx->gen == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ngx_memzero(&ctx->roles, sizeof(velro_roles_t));
    ctx->roles.teams = ctx->teams;

    if (ngx_http_velro_authz_action(r, vlcf, ctx) != NGX_OK) {
        ctx->decision = VELRO_DECISION_DENY;
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
        ngx_http_velro_variables_refresh(r, vlcf->resource);

        if (ngx_http_complex_value(r, vlcf->resource, &value) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (velro_uuid_parse(value.data, value.len, ctx->resource_id) != 0) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "velro: access denied: resource id \"%*s%s\" is "
                          "not a UUID", ngx_min(value.len, 64), value.data,
                          value.len > 64 ? "..." : "");

            ctx->decision = VELRO_DECISION_DENY;
            ctx->authz_state = NGX_HTTP_VELRO_AUTHZ_DONE;
            return ngx_http_velro_authz_decide(r, vlcf, ctx);
        }

        ctx->has_resource = 1;
    }

    ngx_http_velro_invalidate_check();
    ngx_http_velro_cache_mark(&ctx->mark);

    ctx->timing.l1 = (ngx_http_velro_l1() != NULL);    /* metrics */

    (void) ngx_http_velro_authz_l1(ctx, 0, NULL, VELRO_TIER_L1);

    if (ngx_http_velro_authz_needs(ctx) == 0) {
        ctx->tier = VELRO_TIER_L1;
        ctx->authz_state = NGX_HTTP_VELRO_AUTHZ_DONE;
        return NGX_DECLINED;
    }

    vmcf = ngx_http_get_module_main_conf(r, ngx_http_velro_module);

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
    ngx_http_velro_main_conf_t  *vmcf;

    if (ctx->authz_state == NGX_HTTP_VELRO_AUTHZ_DONE) {
        return NGX_OK;
    }

    vmcf = ngx_http_get_module_main_conf(r, ngx_http_velro_module);

    if (ngx_http_velro_authz_l2_again(r, vmcf, ctx) == NGX_AGAIN) {
        ctx->authz_state = NGX_HTTP_VELRO_AUTHZ_L2_WAIT;
        return NGX_AGAIN;
    }

    if (ngx_http_velro_authz_needs(ctx) == 0) {
        if (ctx->tier < VELRO_TIER_L2) {
            ctx->tier = VELRO_TIER_L1;
        }

        ctx->authz_state = NGX_HTTP_VELRO_AUTHZ_DONE;
        return NGX_OK;
    }

    return ngx_http_velro_authz_l3(r, vlcf, ctx);
}


/*
 * What the decision still needs, as NGX_HTTP_VELRO_ENTITY_x bits (0: all
 * known).  Before the generation is known, its project cannot be asked
 * for, and roles may be needed.
 */

ngx_uint_t
ngx_http_velro_authz_needs(ngx_http_velro_ctx_t *ctx)
{
    ngx_uint_t           need, i;
    velro_generation_t  *g;

    need = 0;

    if (!ctx->has_user) {
        need |= ngx_http_velro_bit(NGX_HTTP_VELRO_ENTITY_USER);

    } else if (velro_user_check(&ctx->user, ctx->iat) != VELRO_USER_OK) {
        return 0;                       /* refused: nothing else matters */
    }

    if (!ctx->has_resource || ctx->has_access) {
        return need;
    }

    if (!ctx->has_gen) {
        return need | ngx_http_velro_bit(NGX_HTTP_VELRO_ENTITY_GENERATION)
               | (ctx->has_roles
                  ? 0 : ngx_http_velro_bit(NGX_HTTP_VELRO_ENTITY_ROLES));
    }

    g = ctx->gen;

    if (!g->exists || !g->has_project || !g->completed
        || ngx_memcmp(g->creator, ctx->user_id, 16) == 0)
    {
        return need;
    }

    if (!ctx->has_project) {
        return need | ngx_http_velro_bit(NGX_HTTP_VELRO_ENTITY_PROJECT)
               | (ctx->has_roles
                  ? 0 : ngx_http_velro_bit(NGX_HTTP_VELRO_ENTITY_ROLES));
    }

    if (!ctx->project.valid || !ctx->project.has_team) {
        return need;
    }

    if (!ctx->has_roles) {
        return need | ngx_http_velro_bit(NGX_HTTP_VELRO_ENTITY_ROLES);
    }

    if (!ctx->roles.more) {
        return need;
    }

    /* a part of many memberships: the pair, unless the team is listed */

    for (i = 0; i < ctx->roles.n; i++) {
        if (ngx_memcmp(ctx->roles.teams[i].team, ctx->project.team_id, 16)
            == 0)
        {
            return need;
        }
    }

    return need | ngx_http_velro_bit(NGX_HTTP_VELRO_ENTITY_PAIR);
}


/*
 * L1 lookups of what is still needed, until nothing more is found (the
 * generation names the project to look for).  stale: see
 * ngx_http_velro_l1_get_user().  Returns whether anything was found.
 */

ngx_uint_t
ngx_http_velro_authz_l1(ngx_http_velro_ctx_t *ctx, ngx_msec_t stale,
    ngx_msec_t *age, ngx_uint_t tier)
{
    ngx_int_t   rc;
    ngx_msec_t  none;
    ngx_uint_t  need, tried, kind, found, i;

    static const u_char  order[] = {
        NGX_HTTP_VELRO_ENTITY_USER, NGX_HTTP_VELRO_ENTITY_GENERATION,
        NGX_HTTP_VELRO_ENTITY_PROJECT, NGX_HTTP_VELRO_ENTITY_ROLES,
        NGX_HTTP_VELRO_ENTITY_PAIR
    };

    if (ngx_http_velro_l1() == NULL) {
        return 0;
    }

    if (age == NULL) {
        none = 0;
        age = &none;
    }

    tried = 0;
    found = 0;

    for ( ;; ) {
        need = ngx_http_velro_authz_needs(ctx) & ~tried;

        if (need == 0) {
            return found;
        }

        /* the generation before the memberships: it may make them moot */

        for (i = 0; !(need & ngx_http_velro_bit(order[i])); i++) {
            /* void */
        }

        kind = order[i];

        tried |= ngx_http_velro_bit(kind);

        switch (kind) {

        case NGX_HTTP_VELRO_ENTITY_USER:
            rc = ngx_http_velro_l1_get_user(ctx->user_id, &ctx->user, stale,
                                            age);
            ctx->has_user = (rc == NGX_OK);
            break;

        case NGX_HTTP_VELRO_ENTITY_ROLES:
            rc = ngx_http_velro_l1_get_roles(ctx->user_id, &ctx->roles,
                                             stale, age);
            ctx->has_roles = (rc == NGX_OK);
            break;

        case NGX_HTTP_VELRO_ENTITY_GENERATION:
            rc = ngx_http_velro_l1_get_generation(ctx->resource_id, ctx->gen,
                                                  stale, age);
            ctx->has_gen = (rc == NGX_OK);
            break;

        case NGX_HTTP_VELRO_ENTITY_PROJECT:
            rc = ngx_http_velro_l1_get_project(ctx->gen->project,
                                               &ctx->project, stale, age);
            ctx->has_project = (rc == NGX_OK);
            break;

        default: /* NGX_HTTP_VELRO_ENTITY_PAIR */
            rc = ngx_http_velro_l1_get_pair(ctx->user_id, ctx->resource_id,
                                            &ctx->access, stale, age);
            ctx->has_access = (rc == NGX_OK);
            break;
        }

        if (rc == NGX_OK) {
            ctx->tiers[kind] = (u_char) tier;
            found = 1;
        }

        /* a pair entry also stands for a generation L1 lacks */

        if (kind == NGX_HTTP_VELRO_ENTITY_GENERATION && rc != NGX_OK
            && ngx_http_velro_l1_get_pair(ctx->user_id, ctx->resource_id,
                                          &ctx->access, stale, age)
               == NGX_OK)
        {
            ctx->has_access = 1;
            ctx->tiers[NGX_HTTP_VELRO_ENTITY_PAIR] = (u_char) tier;
            found = 1;
        }
    }
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

    ngx_http_velro_variables_refresh(r, vlcf->action_value);

    if (ngx_http_complex_value(r, vlcf->action_value, &value) != NGX_OK) {
        return NGX_ERROR;
    }

    for (i = VELRO_ACTION_READ; i <= VELRO_ACTION_DELETE; i++) {
        if (value.len == ngx_strlen(velro_action_name(i))
            && ngx_strncmp(value.data, velro_action_name(i), value.len)
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


/* L3 */

static ngx_int_t
ngx_http_velro_authz_l3(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx)
{
    u_char                      *p;
    ngx_str_t                    args;
    ngx_http_request_t          *sr;
    ngx_http_velro_inflight_t   *fl;

    if (vlcf->fallback.len == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "velro: no decision: L1 and L2 missed and there is "
                      "no \"velro_authz_fallback\"");
        ctx->decision = VELRO_DECISION_ERROR;
        ctx->authz_state = NGX_HTTP_VELRO_AUTHZ_DONE;
        return NGX_OK;
    }

    /* concurrent misses for the same user and resource share a lookup */

    fl = ngx_http_velro_inflight_find(ctx->user_id,
                                      ctx->has_resource ? ctx->resource_id
                                                        : NULL);

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
        ctx->decision = VELRO_DECISION_ERROR;
        ctx->authz_state = NGX_HTTP_VELRO_AUTHZ_DONE;
        return NGX_OK;
    }

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

    fl = ngx_http_velro_inflight_add(r->pool, ctx->user_id,
                                     ctx->has_resource ? ctx->resource_id
                                                       : NULL, ctx);
    if (fl == NULL) {
        return NGX_ERROR;
    }

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

    ngx_buf_t          *b;
    ngx_int_t           status;
    const char         *err;
    velro_l3_answer_t  *ans;
    velro_team_role_t  *teams;

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

    ans = ngx_palloc(r->pool, sizeof(velro_l3_answer_t));
    teams = ngx_palloc(r->pool, VELRO_TEAMS_MAX * sizeof(velro_team_role_t));

    if (ans == NULL || teams == NULL) {
        goto failed;
    }

    if (velro_l3_answer_parse((char *) b->pos, b->last - b->pos,
                              ctx->user_id,
                              ctx->has_resource ? ctx->resource_id : NULL,
                              ans, teams, VELRO_TEAMS_MAX, &err)
        != 0)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "velro: L3 answer from \"%V\" rejected: %s",
                      &r->uri, err);
        goto failed;
    }

    ngx_http_velro_breaker_result(NGX_HTTP_VELRO_BREAKER_DATABASE, 1,
                                  r->connection->log);

    ngx_http_velro_authz_l3_store(ctx, ans);

    ngx_http_velro_authz_inflight_done(ctx, 1);

    return rc;

failed:

    ngx_http_velro_breaker_result(NGX_HTTP_VELRO_BREAKER_DATABASE, 0,
                                  r->connection->log);

    ctx->decision = VELRO_DECISION_ERROR;
    ctx->backend_failed = 1;

    ngx_http_velro_authz_inflight_done(ctx, 0);

    return rc;
}


/*
 * An L3 answer into the ctx, and what the request lacked of it into L1
 * and L2 (into L2 only what L2 did not have): entities L1 or L2 gave
 * stay, unless the generation now names another project, when the
 * answer's generation and project are taken together.  The entity form
 * lists the project's team first when the user is in it, so a partial
 * list of memberships decides this request: that decision is kept per
 * pair.
 */

static void
ngx_http_velro_authz_l3_store(ngx_http_velro_ctx_t *ctx,
    velro_l3_answer_t *ans)
{
    ngx_uint_t      l2;
    velro_roles_t   roles;
    velro_access_t  access;

#define ngx_http_velro_l3_l2(kind)                                            \
    (ctx->tiers[kind] != VELRO_TIER_L2)

    ctx->tier = VELRO_TIER_L3;

    if (!ctx->has_user) {
        l2 = ngx_http_velro_l3_l2(NGX_HTTP_VELRO_ENTITY_USER);
        ctx->user = ans->user;
        ctx->has_user = 1;
        ctx->tiers[NGX_HTTP_VELRO_ENTITY_USER] = VELRO_TIER_L3;
        ngx_http_velro_cache_put_user(&ctx->mark, ctx->user_id, &ctx->user, l2);
    }

    if (ans->form == VELRO_L3_ACCESS) {

        if (ctx->has_resource) {
            ctx->access = ans->access;
            ctx->has_access = 1;
            ctx->tiers[NGX_HTTP_VELRO_ENTITY_PAIR] = VELRO_TIER_L3;
            ngx_http_velro_cache_put_pair(&ctx->mark, ctx->user_id,
                                          ctx->resource_id, &ctx->access);

            if (ans->project.valid) {
                ngx_http_velro_cache_put_project(&ctx->mark, ans->project.id,
                                                 &ans->project, 1);
            }
        }

        return;
    }

    if (!ctx->has_roles) {
        l2 = ngx_http_velro_l3_l2(NGX_HTTP_VELRO_ENTITY_ROLES);
        ctx->roles = ans->roles;
        ctx->roles.teams = ctx->teams;
        ngx_memcpy(ctx->teams, ans->roles.teams,
                   ans->roles.n * sizeof(velro_team_role_t));
        ctx->has_roles = 1;
        ctx->tiers[NGX_HTTP_VELRO_ENTITY_ROLES] = VELRO_TIER_L3;
        ngx_http_velro_cache_put_roles(&ctx->mark, ctx->user_id, &ctx->roles,
                                       l2);
    }

    if (!ctx->has_resource) {
        return;
    }

    if (ctx->has_gen
        && (ctx->gen->has_project != ans->gen.has_project
            || (ans->gen.has_project
                && ngx_memcmp(ctx->gen->project, ans->gen.project, 16) != 0)))
    {
        ctx->has_gen = 0;
        ctx->has_project = 0;
    }

    if (!ctx->has_gen) {
        l2 = ngx_http_velro_l3_l2(NGX_HTTP_VELRO_ENTITY_GENERATION);
        ngx_memcpy(ctx->gen, &ans->gen, velro_generation_size(&ans->gen));
        ctx->has_gen = 1;
        ctx->tiers[NGX_HTTP_VELRO_ENTITY_GENERATION] = VELRO_TIER_L3;
        ngx_http_velro_cache_put_generation(&ctx->mark, ctx->resource_id,
                                            ctx->gen, l2);
    }

    if (!ctx->has_project && ctx->gen->exists && ctx->gen->has_project
        && ngx_http_velro_l1_get_project(ctx->gen->project, &ctx->project, 0,
                                         NULL)
           == NGX_OK)
    {
        /* learnt from the answer's generation, and in L1 */
        ctx->has_project = 1;
        ctx->tiers[NGX_HTTP_VELRO_ENTITY_PROJECT] = VELRO_TIER_L1;
    }

    if (!ctx->has_project && ctx->gen->exists && ctx->gen->has_project) {
        l2 = ngx_http_velro_l3_l2(NGX_HTTP_VELRO_ENTITY_PROJECT);
        ctx->project = ans->project;
        ctx->has_project = 1;
        ctx->tiers[NGX_HTTP_VELRO_ENTITY_PROJECT] = VELRO_TIER_L3;

        /* a project that is gone: a negative entry under the id asked */

        ngx_http_velro_cache_put_project(&ctx->mark, ctx->gen->project,
                                         &ctx->project, l2);
    }

#undef ngx_http_velro_l3_l2

    if (ctx->roles.more
        && ngx_http_velro_authz_needs(ctx)
           == ngx_http_velro_bit(NGX_HTTP_VELRO_ENTITY_PAIR))
    {
        roles = ans->roles;
        roles.more = 0;                 /* the team is listed if it is one */

        if (velro_authz_decide(ctx->user_id, &roles, ctx->gen, &ctx->project,
                               &access)
            == 0)
        {
            ctx->access = access;
            ctx->has_access = 1;
            ctx->tiers[NGX_HTTP_VELRO_ENTITY_PAIR] = VELRO_TIER_L3;
            ngx_http_velro_cache_put_pair(&ctx->mark, ctx->user_id,
                                          ctx->resource_id, &access);
        }
    }
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

    ngx_http_velro_inflight_remove(fl);

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
                ngx_http_velro_authz_adopt(w, ctx);

            } else {
                w->decision = VELRO_DECISION_ERROR;
                w->backend_failed = 1;
            }
        }

        ngx_post_event(&w->wake, &ngx_posted_events);
    }
}


/* a waiter takes what its leader knows (same user, same resource) */

static void
ngx_http_velro_authz_adopt(ngx_http_velro_ctx_t *w, ngx_http_velro_ctx_t *ctx)
{
    w->user = ctx->user;
    w->has_user = ctx->has_user;

    w->roles = ctx->roles;
    w->roles.teams = w->teams;
    ngx_memcpy(w->teams, ctx->teams,
               ctx->roles.n * sizeof(velro_team_role_t));
    w->has_roles = ctx->has_roles;

    if (ctx->has_gen) {
        ngx_memcpy(w->gen, ctx->gen, velro_generation_size(ctx->gen));
    }

    w->has_gen = ctx->has_gen;
    w->project = ctx->project;
    w->has_project = ctx->has_project;

    if (w->has_resource) {
        w->access = ctx->access;
        w->has_access = ctx->has_access;
    }

    ngx_memcpy(w->tiers, ctx->tiers, sizeof(w->tiers));
    w->tier = VELRO_TIER_L3;
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
