
/*
 * velro: the byte-bounded LRU cache with expiry (L1).
 */


#include <stdlib.h>
#include <string.h>

#include "velro_cache.h"


#define VELRO_CACHE_MIN_BUCKETS  64


static uint64_t velro_cache_hash(velro_cache_t *c, const void *key,
    size_t klen);
static void velro_cache_unlink(velro_cache_t *c, velro_cache_entry_t *e);
static void velro_cache_grow(velro_cache_t *c);


velro_cache_t *
velro_cache_new(size_t max_bytes, uint64_t seed)
{
    velro_cache_t  *c;

    c = calloc(1, sizeof(velro_cache_t));
    if (c == NULL) {
        return NULL;
    }

    c->buckets = calloc(VELRO_CACHE_MIN_BUCKETS,
                        sizeof(velro_cache_entry_t *));
    if (c->buckets == NULL) {
        free(c);
        return NULL;
    }

    c->nbuckets = VELRO_CACHE_MIN_BUCKETS;
    c->lru.next = &c->lru;
    c->lru.prev = &c->lru;
    c->seed = seed;
    c->max_bytes = max_bytes;
    c->bytes = sizeof(velro_cache_t)
               + c->nbuckets * sizeof(velro_cache_entry_t *);

    return c;
}


void
velro_cache_free(velro_cache_t *c)
{
    if (c == NULL) {
        return;
    }

    velro_cache_flush(c);
    free(c->buckets);
    free(c);
}


/* what malloc() really takes: a size word, rounded up to 16 bytes */

size_t
velro_cache_entry_size(size_t klen, size_t vlen)
{
    return (sizeof(velro_cache_entry_t) + klen + vlen + 8 + 15) & ~15UL;
}


/*
 * A word at a time, seeded per process: keys are up to a few kilobytes
 * (whole tokens), so the hash must not cost a multiply per byte.
 */

static uint64_t
velro_cache_hash(velro_cache_t *c, const void *key, size_t klen)
{
    uint64_t              h, w;
    const unsigned char  *p;

    p = key;
    h = c->seed ^ ((uint64_t) klen * 0x9e3779b97f4a7c15ULL);

    while (klen >= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
        p += 8;
        klen -= 8;
    }

    w = 0;
    memcpy(&w, p, klen);

    h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 29;
    h *= 0xff51afd7ed558ccdULL;

    return h ^ (h >> 32);
}


velro_cache_entry_t *
velro_cache_get(velro_cache_t *c, const void *key, size_t klen, uint64_t now)
{
    uint64_t              h;
    velro_cache_entry_t  *e;

    h = velro_cache_hash(c, key, klen);

    for (e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->hnext) {

        if (e->hash != h || e->klen != klen
            || memcmp(e->data, key, klen) != 0)
        {
            continue;
        }

        if (e->expires <= now) {

            if (now - e->expires < c->keep) {
                /* kept for velro_cache_get_stale() */
                return NULL;
            }

            c->expirations++;
            velro_cache_unlink(c, e);
            return NULL;
        }

        /* move to the front of the LRU list */

        e->lru.prev->next = e->lru.next;
        e->lru.next->prev = e->lru.prev;
        e->lru.next = c->lru.next;
        e->lru.prev = &c->lru;
        c->lru.next->prev = &e->lru;
        c->lru.next = &e->lru;

        return e;
    }

    return NULL;
}


velro_cache_entry_t *
velro_cache_get_stale(velro_cache_t *c, const void *key, size_t klen,
    uint64_t now, uint64_t max_age)
{
    uint64_t              h;
    velro_cache_entry_t  *e;

    h = velro_cache_hash(c, key, klen);

    for (e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->hnext) {

        if (e->hash != h || e->klen != klen
            || memcmp(e->data, key, klen) != 0)
        {
            continue;
        }

        if (e->expires > now || now - e->expires < max_age) {
            return e;
        }

        return NULL;
    }

    return NULL;
}


int
velro_cache_put(velro_cache_t *c, unsigned type, const void *key,
    size_t klen, const void *value, size_t vlen, uint64_t expires)
{
    size_t                size;
    uint64_t              h;
    velro_cache_entry_t  *e, **b;

    size = velro_cache_entry_size(klen, vlen);

    if (klen > UINT32_MAX || vlen > UINT32_MAX
        || size + sizeof(velro_cache_t) + c->nbuckets * sizeof(void *)
           > c->max_bytes)
    {
        return -1;
    }

    velro_cache_delete(c, key, klen);

    while (c->bytes + size > c->max_bytes && c->lru.prev != &c->lru) {
        c->evictions++;
        velro_cache_unlink(c, (velro_cache_entry_t *) c->lru.prev);
    }

    /* size is what malloc() takes for this request, its overhead included */

    e = malloc(sizeof(velro_cache_entry_t) + klen + vlen);
    if (e == NULL) {
        return -1;
    }

    h = velro_cache_hash(c, key, klen);

    e->hash = h;
    e->expires = expires;
    e->klen = (uint32_t) klen;
    e->vlen = (uint32_t) vlen;
    e->type = type;
    memcpy(e->data, key, klen);

    if (vlen) {
        memcpy(e->data + klen, value, vlen);
    }

    b = &c->buckets[h & (c->nbuckets - 1)];
    e->hnext = *b;
    *b = e;

    e->lru.next = c->lru.next;
    e->lru.prev = &c->lru;
    c->lru.next->prev = &e->lru;
    c->lru.next = &e->lru;

    c->entries++;
    c->bytes += size;

    if (c->entries > c->nbuckets) {
        velro_cache_grow(c);
    }

    return 0;
}


/* doubles the bucket array when the table is loaded and memory allows */

static void
velro_cache_grow(velro_cache_t *c)
{
    size_t                 i, n, extra;
    velro_cache_entry_t   *e, *next, **buckets;

    n = c->nbuckets * 2;
    extra = (n - c->nbuckets) * sizeof(velro_cache_entry_t *);

    if (c->bytes + extra > c->max_bytes) {
        return;
    }

    buckets = calloc(n, sizeof(velro_cache_entry_t *));
    if (buckets == NULL) {
        return;
    }

    for (i = 0; i < c->nbuckets; i++) {
        for (e = c->buckets[i]; e; e = next) {
            next = e->hnext;
            e->hnext = buckets[e->hash & (n - 1)];
            buckets[e->hash & (n - 1)] = e;
        }
    }

    free(c->buckets);
    c->buckets = buckets;
    c->nbuckets = n;
    c->bytes += extra;
}


static void
velro_cache_unlink(velro_cache_t *c, velro_cache_entry_t *e)
{
    velro_cache_entry_t  **pp;

    pp = &c->buckets[e->hash & (c->nbuckets - 1)];

    for ( /* void */ ; *pp; pp = &(*pp)->hnext) {
        if (*pp == e) {
            *pp = e->hnext;
            break;
        }
    }

    e->lru.prev->next = e->lru.next;
    e->lru.next->prev = e->lru.prev;

    c->entries--;
    c->bytes -= velro_cache_entry_size(e->klen, e->vlen);

    free(e);
}


int
velro_cache_delete(velro_cache_t *c, const void *key, size_t klen)
{
    uint64_t              h;
    velro_cache_entry_t  *e;

    h = velro_cache_hash(c, key, klen);

    for (e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->hnext) {
        if (e->hash == h && e->klen == klen
            && memcmp(e->data, key, klen) == 0)
        {
            velro_cache_unlink(c, e);
            return 1;
        }
    }

    return 0;
}


size_t
velro_cache_delete_prefix(velro_cache_t *c, const void *prefix, size_t plen)
{
    size_t                n;
    velro_cache_link_t   *l, *prev;
    velro_cache_entry_t  *e;

    n = 0;

    for (l = c->lru.prev; l != &c->lru; l = prev) {
        prev = l->prev;
        e = (velro_cache_entry_t *) l;

        if (e->klen >= plen && memcmp(e->data, prefix, plen) == 0) {
            velro_cache_unlink(c, e);
            n++;
        }
    }

    return n;
}


void
velro_cache_flush(velro_cache_t *c)
{
    velro_cache_link_t  *l, *next;

    for (l = c->lru.next; l != &c->lru; l = next) {
        next = l->next;
        free(l);
    }

    memset(c->buckets, 0, c->nbuckets * sizeof(velro_cache_entry_t *));

    c->lru.next = &c->lru;
    c->lru.prev = &c->lru;
    c->entries = 0;
    c->bytes = sizeof(velro_cache_t)
               + c->nbuckets * sizeof(velro_cache_entry_t *);
}
