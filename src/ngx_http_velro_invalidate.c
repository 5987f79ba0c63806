
/*
 * velro: invalidations.
 *
 * Every worker LISTENs and gets every notice.  Each drops exactly the
 * entity the notice names from its own L1 (ngx_http_velro_cache_
 * invalidate(): O(1), no index, no flush), and the L2 key of that entity
 * is deleted once per host: by worker 0, and by any worker that wrote
 * the key within the last seconds (its value may have been read before
 * the change committed, and written after worker 0's DEL).
 *
 *   user        auth:{id}          status, tokens_valid_after
 *   member      team_access:{id}   the user's memberships
 *   generation  ownership:{id}     creator, project, status
 *   project     project_vis:{id}   team, visibility
 *   team        nothing: a team goes only by deletion, whose cascades
 *               send "member" for each member and "project" for each of
 *               its projects
 */


#include "ngx_http_velro_module.h"
#include "ngx_http_velro_cache.h"
#include "ngx_http_velro_invalidate.h"


void
ngx_http_velro_invalidate(ngx_str_t *payload)
{
    int          kind;
    u_char       id[16], key[NGX_HTTP_VELRO_L2_KEY_MAX];
    size_t       argvlen[2];
    ngx_uint_t   entity, wrote;
    const char  *argv[2];

    ngx_http_velro_metrics_invalidation();

    kind = velro_invalidation_parse((char *) payload->data, payload->len, id);

    if (kind < 0) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "velro: invalidation \"%V\" not understood, "
                      "L1 flushed", payload);

        ngx_http_velro_cache_flush();
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "velro: invalidation \"%V\"", payload);

    switch (kind) {

    case VELRO_INVALIDATE_USER:
        entity = NGX_HTTP_VELRO_ENTITY_USER;
        break;

    case VELRO_INVALIDATE_MEMBER:
        entity = NGX_HTTP_VELRO_ENTITY_ROLES;
        break;

    case VELRO_INVALIDATE_GENERATION:
        entity = NGX_HTTP_VELRO_ENTITY_GENERATION;
        break;

    case VELRO_INVALIDATE_PROJECT:
        entity = NGX_HTTP_VELRO_ENTITY_PROJECT;
        break;

    default: /* VELRO_INVALIDATE_TEAM */
        return;
    }

    wrote = ngx_http_velro_cache_invalidate(entity, id);

    if ((ngx_worker != 0 && !wrote) || !ngx_http_velro_redis_up()) {
        return;
    }

    argv[0] = "DEL";
    argvlen[0] = 3;
    argv[1] = (char *) key;
    argvlen[1] = ngx_http_velro_l2_key(key, entity, id);

    (void) ngx_http_velro_redis_send(2, argv, argvlen);
}


void
ngx_http_velro_invalidate_listening(void)
{
    ngx_http_velro_cache_flush();

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "velro: listening for invalidations, L1 flushed");
}
