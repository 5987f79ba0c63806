
/*
 * velro: the L3 lookups under way in this worker, by (user, resource):
 * concurrent misses for the same key wait for one lookup.
 */


#ifndef _NGX_HTTP_VELRO_INFLIGHT_H_INCLUDED_
#define _NGX_HTTP_VELRO_INFLIGHT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* the user, the resource (zeros for none) and whether there is one */
#define NGX_HTTP_VELRO_INFLIGHT_ID    (16 + 16 + 1)


struct ngx_http_velro_inflight_s {
    ngx_rbtree_node_t             node;         /* key: hash of id */
    u_char                        id[NGX_HTTP_VELRO_INFLIGHT_ID];
    ngx_queue_t                   waiters;      /* their inflight_link */
    void                         *leader;       /* its ctx */
};


void ngx_http_velro_inflight_init(void);

/* resource NULL: a lookup of the user alone */
ngx_http_velro_inflight_t *ngx_http_velro_inflight_find(const u_char *user,
    const u_char *resource);
ngx_http_velro_inflight_t *ngx_http_velro_inflight_add(ngx_pool_t *pool,
    const u_char *user, const u_char *resource, void *leader);
void ngx_http_velro_inflight_remove(ngx_http_velro_inflight_t *fl);

#endif /* _NGX_HTTP_VELRO_INFLIGHT_H_INCLUDED_ */
