
/*
 * velro: the L1 cache, one per worker process.
 *
 * A hash table with an LRU list and per-entry expiry, bounded in bytes:
 * every byte it allocates (entries, keys, values and the bucket array) is
 * counted against max_bytes, and the least recently used entries are
 * evicted to make room.  Pure C, no nginx: unit tests and fuzzers reach it.
 */


#ifndef _VELRO_CACHE_H_INCLUDED_
#define _VELRO_CACHE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


typedef struct velro_cache_link_s   velro_cache_link_t;
typedef struct velro_cache_entry_s  velro_cache_entry_t;

struct velro_cache_link_s {
    velro_cache_link_t   *prev;      /* LRU list, most recent first */
    velro_cache_link_t   *next;
};

struct velro_cache_entry_s {
    velro_cache_link_t    lru;       /* first: a link is its entry */
    velro_cache_entry_t  *hnext;     /* hash chain */
    uint64_t              hash;
    uint64_t              expires;   /* msec, monotonic clock */
    uint32_t              klen;
    uint32_t              vlen;
    unsigned              type;
    unsigned char         data[];    /* key, then value */
};


typedef struct {
    velro_cache_entry_t **buckets;
    size_t                nbuckets;  /* a power of two */
    velro_cache_link_t    lru;       /* list sentinel */
    uint64_t              seed;

    size_t                entries;
    size_t                bytes;
    size_t                max_bytes;
    uint64_t              keep;      /* msec an expired entry stays */

    uint64_t              evictions;
    uint64_t              expirations;
} velro_cache_t;


#define velro_cache_key(e)    ((e)->data)
#define velro_cache_value(e)  ((e)->data + (e)->klen)


velro_cache_t *velro_cache_new(size_t max_bytes, uint64_t seed);
void velro_cache_free(velro_cache_t *c);

/*
 * NULL on a miss.  An expired entry is a miss: it is removed, unless it
 * expired less than c->keep msec ago (0 by default), when it stays for
 * velro_cache_get_stale() until LRU pressure evicts it.
 */
velro_cache_entry_t *velro_cache_get(velro_cache_t *c, const void *key,
    size_t klen, uint64_t now);

/*
 * The entry, fresh or expired less than max_age msec ago (e->expires
 * tells which); NULL otherwise.  Nothing is removed or reordered.
 */
velro_cache_entry_t *velro_cache_get_stale(velro_cache_t *c,
    const void *key, size_t klen, uint64_t now, uint64_t max_age);

/*
 * Inserts or replaces.  Returns 0, or -1 if the entry cannot fit at all or
 * memory is short (the cache is then unchanged but for evictions).
 */
int velro_cache_put(velro_cache_t *c, unsigned type, const void *key,
    size_t klen, const void *value, size_t vlen, uint64_t expires);

int velro_cache_delete(velro_cache_t *c, const void *key, size_t klen);

/* removes every entry whose key starts with prefix; returns the count */
size_t velro_cache_delete_prefix(velro_cache_t *c, const void *prefix,
    size_t plen);

void velro_cache_flush(velro_cache_t *c);

/* bytes an entry of these sizes takes */
size_t velro_cache_entry_size(size_t klen, size_t vlen);

#endif /* _VELRO_CACHE_H_INCLUDED_ */
