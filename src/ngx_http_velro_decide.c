
/*
 * velro: the decision from what the tiers gave (velro_authz_decide() of
 * the entities, or a pair's row), velro_authz_stale's answer when a
 * backend failed, and the refusal.
 */


#include "ngx_http_velro_module.h"
#include "ngx_http_velro_authz.h"
#include "ngx_http_velro_breaker.h"
#include "ngx_http_velro_jwt.h"


static ngx_int_t ngx_http_velro_authz_access(ngx_http_velro_ctx_t *ctx);
static ngx_uint_t ngx_http_velro_authz_stale(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx);
static ngx_int_t ngx_http_velro_authz_refuse(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx,
    ngx_int_t status);


/* the access row from the entities (or the pair entry): NGX_OK */

static ngx_int_t
ngx_http_velro_authz_access(ngx_http_velro_ctx_t *ctx)
{
    velro_roles_t  roles;

    if (ctx->has_access) {
        return NGX_OK;
    }

    if (!ctx->has_gen || ngx_http_velro_authz_needs(ctx) != 0) {
        return NGX_ERROR;
    }

    if (ctx->has_roles) {
        roles = ctx->roles;

    } else {
        ngx_memzero(&roles, sizeof(velro_roles_t));
    }

    if (velro_authz_decide(ctx->user_id, &roles, ctx->gen,
                           ctx->has_project ? &ctx->project : NULL,
                           &ctx->access)
        != 0)
    {
        return NGX_ERROR;
    }

    ctx->has_access = 1;

    return NGX_OK;
}


/* the decision, and the response when it is a refusal */

ngx_int_t
ngx_http_velro_authz_decide(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx)
{
    u_char           uid[VELRO_UUID_LEN], gid[VELRO_UUID_LEN];
    ngx_int_t        status;
    ngx_uint_t       monitor;
    velro_user_rc_e  urc;

    ctx->authz_state = NGX_HTTP_VELRO_AUTHZ_DECIDED;
    monitor = (vlcf->authz == NGX_HTTP_VELRO_AUTHZ_MONITOR);

    if (ctx->decision == VELRO_DECISION_ERROR
        && ctx->backend_failed && vlcf->stale
        && ngx_http_velro_authz_stale(r, vlcf, ctx))
    {
        ctx->decision = VELRO_DECISION_NONE;
    }

    velro_uuid_format(ctx->user_id, uid);
    velro_uuid_format(ctx->resource_id, gid);

    if (ctx->decision == VELRO_DECISION_NONE && ctx->has_user) {
        urc = velro_user_check(&ctx->user, ctx->iat);

        if (urc != VELRO_USER_OK) {
            ctx->decision = VELRO_DECISION_DENY;
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

    if (ctx->decision == VELRO_DECISION_NONE) {

        if (!ctx->has_resource) {
            ctx->decision = VELRO_DECISION_ALLOW;

        } else if (ngx_http_velro_authz_access(ctx) != NGX_OK) {
            ctx->decision = VELRO_DECISION_ERROR;

        } else if (velro_access_allows(&ctx->access, ctx->action)) {
            ctx->decision = VELRO_DECISION_ALLOW;

        } else {
            ctx->decision = VELRO_DECISION_DENY;
        }
    }

    switch (ctx->decision) {

    case VELRO_DECISION_ALLOW:
        ctx->authz_status = NGX_OK;
        return NGX_OK;

    case VELRO_DECISION_DENY:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "velro: %saccess denied: user %*s, resource %*s, "
                      "action %s, role \"%s\"", monitor ? "monitor: " : "",
                      (size_t) VELRO_UUID_LEN, uid,
                      ctx->has_resource ? (size_t) VELRO_UUID_LEN : 1,
                      ctx->has_resource ? gid : (u_char *) "-",
                      velro_action_name(ctx->action),
                      velro_role_name(ctx->has_access ? ctx->access.role
                                                      : VELRO_ROLE_NONE));

        if (monitor) {
            ctx->authz_status = NGX_OK;
            return NGX_OK;
        }

        status = vlcf->deny_status;
        break;

    default: /* VELRO_DECISION_ERROR */
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
 * ago (an invalidated entry is gone, not expired).  Nothing is guessed:
 * when an entity the decision needs has no entry, there is no answer.  A
 * stale answer is the answer that was cached, a denial stays one.
 */

static ngx_uint_t
ngx_http_velro_authz_stale(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx)
{
    u_char      uid[VELRO_UUID_LEN];
    ngx_msec_t  age;

    age = 0;

    (void) ngx_http_velro_authz_l1(ctx, vlcf->stale, &age,
                                   VELRO_TIER_STALE);

    if (ngx_http_velro_authz_needs(ctx) != 0) {
        return 0;
    }

    velro_uuid_format(ctx->user_id, uid);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "velro: stale answer for user %*s, expired %Mms ago",
                  (size_t) VELRO_UUID_LEN, uid, age);

    ctx->tier = VELRO_TIER_STALE;

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
