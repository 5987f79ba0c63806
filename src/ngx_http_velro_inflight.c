
/*
 * velro: the L3 lookups under way in this worker, a red-black tree keyed
 * by a hash of (user, resource), the ids compared on equal hashes.
 */


#include "ngx_http_velro_module.h"
#include "ngx_http_velro_inflight.h"


static void ngx_http_velro_inflight_key(u_char *id, const u_char *user,
    const u_char *resource);
static void ngx_http_velro_inflight_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);


static ngx_rbtree_t        ngx_http_velro_inflight_tree;
static ngx_rbtree_node_t   ngx_http_velro_inflight_sentinel;


void
ngx_http_velro_inflight_init(void)
{
    ngx_rbtree_init(&ngx_http_velro_inflight_tree,
                    &ngx_http_velro_inflight_sentinel,
                    ngx_http_velro_inflight_insert);
}


static void
ngx_http_velro_inflight_key(u_char *id, const u_char *user,
    const u_char *resource)
{
    ngx_memcpy(id, user, 16);

    if (resource) {
        ngx_memcpy(id + 16, resource, 16);
        id[32] = 1;

    } else {
        ngx_memzero(id + 16, 17);
    }
}


ngx_http_velro_inflight_t *
ngx_http_velro_inflight_find(const u_char *user, const u_char *resource)
{
    u_char                      id[NGX_HTTP_VELRO_INFLIGHT_ID];
    uint32_t                    hash;
    ngx_int_t                   rc;
    ngx_rbtree_node_t          *node, *sentinel;
    ngx_http_velro_inflight_t  *fl;

    ngx_http_velro_inflight_key(id, user, resource);
    hash = ngx_murmur_hash2(id, NGX_HTTP_VELRO_INFLIGHT_ID);

    node = ngx_http_velro_inflight_tree.root;
    sentinel = ngx_http_velro_inflight_tree.sentinel;

    while (node != sentinel) {

        if (hash != node->key) {
            node = (hash < node->key) ? node->left : node->right;
            continue;
        }

        fl = (ngx_http_velro_inflight_t *) node;

        rc = ngx_memcmp(id, fl->id, NGX_HTTP_VELRO_INFLIGHT_ID);

        if (rc == 0) {
            return fl;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


ngx_http_velro_inflight_t *
ngx_http_velro_inflight_add(ngx_pool_t *pool, const u_char *user,
    const u_char *resource, void *leader)
{
    ngx_http_velro_inflight_t  *fl;

    fl = ngx_pcalloc(pool, sizeof(ngx_http_velro_inflight_t));
    if (fl == NULL) {
        return NULL;
    }

    ngx_http_velro_inflight_key(fl->id, user, resource);
    fl->node.key = ngx_murmur_hash2(fl->id, NGX_HTTP_VELRO_INFLIGHT_ID);

    ngx_queue_init(&fl->waiters);
    fl->leader = leader;

    ngx_rbtree_insert(&ngx_http_velro_inflight_tree, &fl->node);

    return fl;
}


void
ngx_http_velro_inflight_remove(ngx_http_velro_inflight_t *fl)
{
    ngx_rbtree_delete(&ngx_http_velro_inflight_tree, &fl->node);
}


static void
ngx_http_velro_inflight_insert(ngx_rbtree_node_t *temp,
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
            p = (ngx_memcmp(n->id, t->id, NGX_HTTP_VELRO_INFLIGHT_ID) < 0)
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
