
/*
 * velro: the entities of a decision in L1 (this worker's velro_cache_t)
 * and L2 (Redis): their keys, what each tier keeps them for, and the
 * invalidation records that keep an answer overtaken by a notice out of
 * both.
 */


#ifndef _NGX_HTTP_VELRO_CACHE_H_INCLUDED_
#define _NGX_HTTP_VELRO_CACHE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "velro_entity.h"


/*
 * What is cached; also the L1 key's first byte ('U' + kind) and the index
 * of its L2 key name.  A pair (user, generation) is what issue 3's L3 form
 * answers, and what a user with more memberships than VELRO_TEAMS_MAX
 * gets: L1 only.
 */
#define NGX_HTTP_VELRO_ENTITY_USER        0     /* auth:{user} */
#define NGX_HTTP_VELRO_ENTITY_ROLES       1     /* team_access:{user} */
#define NGX_HTTP_VELRO_ENTITY_GENERATION  2     /* ownership:{generation} */
#define NGX_HTTP_VELRO_ENTITY_PROJECT     3     /* project_vis:{project} */
#define NGX_HTTP_VELRO_ENTITY_PAIR        4
#define NGX_HTTP_VELRO_ENTITIES           4     /* without the pair */

/* a kind byte and one id, or two for a pair */
#define NGX_HTTP_VELRO_L1_KEY_MAX         (1 + 16 + 16)

/* prefix + "team_access:" + uuid */
#define NGX_HTTP_VELRO_L2_KEY_MAX         (256 + 12 + 36)


/*
 * When a lookup started: the invalidations this worker had seen (what an
 * answer overtaken by a notice is told by) and the wall clock in
 * milliseconds (the stamp of what it writes to L2).
 */
typedef struct {
    uint64_t                      seq;
    uint64_t                      msec;
} ngx_http_velro_mark_t;


ngx_int_t ngx_http_velro_cache_init_process(ngx_cycle_t *cycle);
void ngx_http_velro_cache_exit_process(ngx_cycle_t *cycle);

void ngx_http_velro_cache_mark(ngx_http_velro_mark_t *mark);

/*
 * An L2 value of the entity, stamped stamp: 1 if no notice this worker saw
 * for it came at or after that stamp, else 0 (the value may predate the
 * change, and another worker's DEL may not have landed yet).
 */
ngx_uint_t ngx_http_velro_cache_l2_fresh(ngx_uint_t kind, const u_char *id,
    uint64_t stamp);

size_t ngx_http_velro_l1_key(u_char *key, ngx_uint_t kind, const u_char *id,
    const u_char *id2);
size_t ngx_http_velro_l2_key(u_char *buf, ngx_uint_t kind, const u_char *id);

/*
 * L1 reads: NGX_OK with the entity, or NGX_DECLINED.  stale 0: fresh
 * entries only; else also entries expired less than stale msec ago, *age
 * raised to how long ago.  roles->teams has room for VELRO_TEAMS_MAX.
 */
ngx_int_t ngx_http_velro_l1_get_user(const u_char *id, velro_user_t *u,
    ngx_msec_t stale, ngx_msec_t *age);
ngx_int_t ngx_http_velro_l1_get_roles(const u_char *id, velro_roles_t *roles,
    ngx_msec_t stale, ngx_msec_t *age);
ngx_int_t ngx_http_velro_l1_get_generation(const u_char *id,
    velro_generation_t *g, ngx_msec_t stale, ngx_msec_t *age);
ngx_int_t ngx_http_velro_l1_get_project(const u_char *id, velro_project_t *p,
    ngx_msec_t stale, ngx_msec_t *age);
ngx_int_t ngx_http_velro_l1_get_pair(const u_char *user, const u_char *gen,
    velro_access_t *a, ngx_msec_t stale, ngx_msec_t *age);

/*
 * L1 and L2 writes of what a lookup started at mark learnt: nothing that
 * an invalidation overtook is kept.  l2: also into Redis (SET EX, the
 * value stamped with mark->msec).
 */
void ngx_http_velro_cache_put_user(const ngx_http_velro_mark_t *mark,
    const u_char *id, const velro_user_t *u, ngx_uint_t l2);
void ngx_http_velro_cache_put_roles(const ngx_http_velro_mark_t *mark,
    const u_char *id, const velro_roles_t *roles, ngx_uint_t l2);
void ngx_http_velro_cache_put_generation(const ngx_http_velro_mark_t *mark,
    const u_char *id, const velro_generation_t *g, ngx_uint_t l2);
void ngx_http_velro_cache_put_project(const ngx_http_velro_mark_t *mark,
    const u_char *id, const velro_project_t *p, ngx_uint_t l2);
void ngx_http_velro_cache_put_pair(const ngx_http_velro_mark_t *mark,
    const u_char *user, const u_char *gen, const velro_access_t *a);

/*
 * Invalidation: the entity's L1 entry goes, and answers of lookups
 * started before now are no longer kept.  Returns whether this worker
 * wrote the entity to L2 lately (it then deletes it there too).
 */
ngx_uint_t ngx_http_velro_cache_invalidate(ngx_uint_t kind, const u_char *id);

/*
 * everything in L1 goes, and what L2 holds from before now is taken as
 * absent by this worker: changes were missed (the log no longer reaches
 * back to the cursor: pruned past it, a database restored, or a failover
 * that lost its newest commits), so an L2 entry read from the database
 * before one of them may be wrong, and nothing tells which
 */
void ngx_http_velro_cache_flush(void);

#endif /* _NGX_HTTP_VELRO_CACHE_H_INCLUDED_ */
