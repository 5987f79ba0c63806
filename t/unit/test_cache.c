
/*
 * velro unit tests: the L1 cache (velro_cache.c).
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "velro_cache.h"
#include "util.h"


#define OVERHEAD(c)                                                           \
    (sizeof(velro_cache_t) + (c)->nbuckets * sizeof(velro_cache_entry_t *))


static int consistent(velro_cache_t *c, const char **why);
static int put_s(velro_cache_t *c, const char *k, const char *v,
    uint64_t expires);
static const char *get_s(velro_cache_t *c, const char *k, uint64_t now);
static uint64_t rnd(void);
static void test_basic(void);
static void test_expiry(void);
static void test_stale(void);
static void test_lru(void);
static void test_delete(void);
static void test_too_big(void);
static void test_grow(void);
static void test_random(void);


static uint64_t  rnd_state = 0x9e3779b97f4a7c15ULL;


static uint64_t
rnd(void)
{
    /* xorshift64*: reproducible across runs */

    rnd_state ^= rnd_state >> 12;
    rnd_state ^= rnd_state << 25;
    rnd_state ^= rnd_state >> 27;

    return rnd_state * 0x2545f4914f6cdd1dULL;
}


/*
 * The invariants: the byte bound holds, the byte count is exactly the
 * overhead plus the entries, the LRU list and the hash table hold the same
 * entries, and the counts agree.
 */

static int
consistent(velro_cache_t *c, const char **why)
{
    size_t                i, n, bytes, chained;
    velro_cache_link_t   *l;
    velro_cache_entry_t  *e;

    if (c->bytes > c->max_bytes) {
        *why = "bytes > max_bytes";
        return 0;
    }

    n = 0;
    bytes = OVERHEAD(c);

    for (l = c->lru.next; l != &c->lru; l = l->next) {
        if (l->next->prev != l || l->prev->next != l) {
            *why = "LRU links broken";
            return 0;
        }

        e = (velro_cache_entry_t *) l;
        n++;
        bytes += velro_cache_entry_size(e->klen, e->vlen);

        if (n > c->entries) {
            *why = "LRU list longer than entries";
            return 0;
        }
    }

    if (n != c->entries) {
        *why = "LRU list length != entries";
        return 0;
    }

    if (bytes != c->bytes) {
        *why = "bytes != overhead + entry sizes";
        return 0;
    }

    chained = 0;

    for (i = 0; i < c->nbuckets; i++) {
        for (e = c->buckets[i]; e; e = e->hnext) {
            if ((e->hash & (c->nbuckets - 1)) != i) {
                *why = "entry in the wrong bucket";
                return 0;
            }

            if (++chained > c->entries) {
                *why = "hash chains longer than entries";
                return 0;
            }
        }
    }

    if (chained != c->entries) {
        *why = "hash chains != entries";
        return 0;
    }

    if ((c->nbuckets & (c->nbuckets - 1)) != 0) {
        *why = "nbuckets not a power of two";
        return 0;
    }

    return 1;
}


static int
put_s(velro_cache_t *c, const char *k, const char *v, uint64_t expires)
{
    return velro_cache_put(c, 1, k, strlen(k), v, strlen(v) + 1, expires);
}


static const char *
get_s(velro_cache_t *c, const char *k, uint64_t now)
{
    velro_cache_entry_t  *e;

    e = velro_cache_get(c, k, strlen(k), now);

    return e ? (const char *) velro_cache_value(e) : NULL;
}


static void
test_basic(void)
{
    const char           *why = "";
    velro_cache_t        *c;
    velro_cache_entry_t  *e;

    why = "";

    c = velro_cache_new(1 << 20, 42);
    ok(c != NULL, "cache: new");
    is_int(c->entries, 0, "cache: empty");
    is_int(c->bytes, OVERHEAD(c), "cache: bytes start at the overhead");
    ok(consistent(c, &why), "cache: consistent when new %s", why);

    ok(velro_cache_get(c, "a", 1, 0) == NULL, "cache: miss on empty");

    is_int(put_s(c, "alpha", "one", 1000), 0, "cache: put");
    is_str(get_s(c, "alpha", 10), "one", "cache: get");

    e = velro_cache_get(c, "alpha", 5, 10);
    ok(e && e->type == 1 && e->klen == 5 && e->vlen == 4
       && memcmp(velro_cache_key(e), "alpha", 5) == 0,
       "cache: entry type, key and lengths");
    ok(get_s(c, "alph", 10) == NULL && get_s(c, "alphaa", 10) == NULL,
       "cache: prefix and extension of a key miss");

    is_int(put_s(c, "alpha", "a much longer value", 2000), 0,
           "cache: replace");
    is_str(get_s(c, "alpha", 1500), "a much longer value",
           "cache: replaced value");
    is_int(c->entries, 1, "cache: replace keeps one entry");
    is_int(c->bytes, OVERHEAD(c) + velro_cache_entry_size(5, 20),
           "cache: replace counts the new size only");
    ok(consistent(c, &why), "cache: consistent after replace %s", why);

    is_int(put_s(c, "alpha", "x", 3000), 0, "cache: replace with shorter");
    is_int(c->bytes, OVERHEAD(c) + velro_cache_entry_size(5, 2),
           "cache: shorter value, fewer bytes");

    /* empty key and empty value */

    is_int(velro_cache_put(c, 7, "", 0, "v", 1, 100), 0, "cache: empty key");
    e = velro_cache_get(c, "", 0, 1);
    ok(e && e->type == 7 && e->klen == 0, "cache: empty key found");

    is_int(velro_cache_put(c, 2, "nov", 3, NULL, 0, 100), 0,
           "cache: empty value (NULL)");
    e = velro_cache_get(c, "nov", 3, 1);
    ok(e && e->vlen == 0, "cache: empty value found");

    /* binary keys with NUL bytes */

    is_int(velro_cache_put(c, 3, "a\0b", 3, "1", 1, 100), 0,
           "cache: key with NUL");
    is_int(velro_cache_put(c, 3, "a\0c", 3, "2", 1, 100), 0,
           "cache: another key with NUL");
    e = velro_cache_get(c, "a\0b", 3, 1);
    ok(e && velro_cache_value(e)[0] == '1', "cache: keys differ after NUL");

    ok(consistent(c, &why), "cache: consistent %s", why);

    velro_cache_free(c);
    velro_cache_free(NULL);

    ok(velro_cache_entry_size(0, 0) >= sizeof(velro_cache_entry_t)
       && velro_cache_entry_size(0, 0) % 16 == 0
       && velro_cache_entry_size(10, 7) >= sizeof(velro_cache_entry_t) + 17
       && velro_cache_entry_size(1, 0) <= velro_cache_entry_size(100, 0),
       "cache: entry sizes cover the data, 16-byte rounded, monotonic");
}


static void
test_expiry(void)
{
    const char     *why = "";
    velro_cache_t  *c;

    c = velro_cache_new(1 << 16, 1);

    put_s(c, "k", "v", 1000);

    is_str(get_s(c, "k", 0), "v", "expiry: hit at 0");
    is_str(get_s(c, "k", 999), "v", "expiry: hit 1 ms before");
    ok(get_s(c, "k", 1000) == NULL, "expiry: miss at expires");
    is_int(c->entries, 0, "expiry: expired entry removed");
    is_int(c->expirations, 1, "expiry: counted");
    is_int(c->bytes, OVERHEAD(c), "expiry: its bytes returned");
    ok(get_s(c, "k", 0) == NULL, "expiry: gone even for an earlier now");

    put_s(c, "k", "v", 0);
    ok(get_s(c, "k", 0) == NULL, "expiry: expires 0 is never a hit");

    put_s(c, "k", "v", UINT64_MAX);
    is_str(get_s(c, "k", UINT64_MAX - 1), "v",
           "expiry: UINT64_MAX lives until UINT64_MAX");

    /* an expired entry replaced by a fresh one */

    put_s(c, "r", "old", 10);
    put_s(c, "r", "new", 100);
    is_str(get_s(c, "r", 50), "new", "expiry: replace renews");

    ok(consistent(c, &why), "expiry: consistent %s", why);

    velro_cache_free(c);
}


/* expired entries kept for velro_authz_stale */

static void
test_stale(void)
{
    const char           *why = "";
    velro_cache_t        *c;
    velro_cache_entry_t  *e;

    c = velro_cache_new(1 << 16, 2);

    c->keep = 500;

    put_s(c, "k", "v", 1000);

    e = velro_cache_get_stale(c, "k", 1, 10, 100);
    ok(e != NULL && e->expires == 1000, "stale: a fresh entry is returned");

    ok(get_s(c, "k", 1000) == NULL, "stale: expired is a miss for get");
    is_int(c->entries, 1, "stale: expired within keep stays");
    is_int(c->expirations, 0, "stale: not counted as expired");

    e = velro_cache_get_stale(c, "k", 1, 1200, 300);
    ok(e != NULL, "stale: 200 ms expired, max age 300: returned");
    ok(e != NULL && e->vlen == 2
       && memcmp(velro_cache_value(e), "v", 1) == 0,
       "stale: with its value");
    ok(e != NULL && e->expires == 1000, "stale: with its expiry");

    ok(velro_cache_get_stale(c, "k", 1, 1300, 300) == NULL,
       "stale: expired exactly max age ago: not returned");
    ok(velro_cache_get_stale(c, "k", 1, 1200, 0) == NULL,
       "stale: max age 0: expired entries are not returned");
    ok(velro_cache_get_stale(c, "x", 1, 1200, 300) == NULL,
       "stale: unknown key");
    is_int(c->entries, 1, "stale: get_stale removes nothing");

    ok(get_s(c, "k", 1499) == NULL, "stale: still a miss within keep");
    is_int(c->entries, 1, "stale: still kept 499 ms after");

    ok(get_s(c, "k", 1500) == NULL, "stale: a miss past keep");
    is_int(c->entries, 0, "stale: removed once expired keep ago");
    is_int(c->expirations, 1, "stale: counted then");
    is_int(c->bytes, OVERHEAD(c), "stale: its bytes returned");

    /* kept entries go by LRU pressure like any other */

    c->keep = UINT64_MAX;
    put_s(c, "old", "1", 10);
    ok(get_s(c, "old", 5000) == NULL, "stale: keep forever, a miss");
    ok(velro_cache_get_stale(c, "old", 3, 5000, UINT64_MAX) != NULL,
       "stale: keep forever, stale hit");

    velro_cache_flush(c);
    is_int(c->entries, 0, "stale: flush removes kept entries");

    ok(consistent(c, &why), "stale: consistent %s", why);

    velro_cache_free(c);
}


static void
test_lru(void)
{
    int             i;
    char            k[16];
    size_t          max, per;
    const char     *why = "";
    velro_cache_t  *c;

    /* room for exactly 8 entries of this size */

    per = velro_cache_entry_size(2, 2);
    max = sizeof(velro_cache_t) + 64 * sizeof(velro_cache_entry_t *)
          + 8 * per;

    c = velro_cache_new(max, 7);

    for (i = 0; i < 8; i++) {
        snprintf(k, sizeof(k), "k%d", i);
        put_s(c, k, "v", 100);
    }

    is_int(c->entries, 8, "lru: 8 entries fit");
    is_int(c->evictions, 0, "lru: nothing evicted yet");
    is_int(c->bytes, max, "lru: the cache is exactly full");

    /* touch k0 and k1: k2 is now the least recently used */

    get_s(c, "k0", 1);
    get_s(c, "k1", 1);

    put_s(c, "k8", "v", 100);
    is_int(c->evictions, 1, "lru: one eviction for one more entry");
    ok(get_s(c, "k2", 1) == NULL, "lru: k2 (least recently used) evicted");
    ok(get_s(c, "k0", 1) && get_s(c, "k1", 1) && get_s(c, "k3", 1),
       "lru: k0, k1 (touched) and k3 kept");

    /* now k4 is the oldest; a replace of k4 makes it the newest */

    put_s(c, "k4", "w", 100);
    put_s(c, "k9", "v", 100);
    ok(get_s(c, "k4", 1) && get_s(c, "k5", 1) == NULL,
       "lru: a replaced entry is the newest; k5 evicted instead");

    /* a larger entry evicts as many as needed, oldest first */

    put_s(c, "big", "0123456789012345678901234567890123456789", 100);
    ok(get_s(c, "k6", 1) == NULL && get_s(c, "k7", 1) == NULL,
       "lru: a large entry evicts the two oldest");
    ok(get_s(c, "big", 1) != NULL && get_s(c, "k8", 1) != NULL,
       "lru: the large entry and newer ones stay");
    ok(c->bytes <= c->max_bytes, "lru: within the bound");

    /* an expired entry on lookup is not an eviction */

    put_s(c, "e", "v", 5);
    i = (int) c->evictions;
    get_s(c, "e", 10);
    ok(c->evictions == (uint64_t) i && c->expirations == 1,
       "lru: expiry is counted apart from evictions");

    ok(consistent(c, &why), "lru: consistent %s", why);

    velro_cache_free(c);
}


static void
test_delete(void)
{
    int             i;
    char            k[32];
    const char     *why = "";
    velro_cache_t  *c;

    c = velro_cache_new(1 << 20, 3);

    put_s(c, "jwt:a", "1", 100);
    put_s(c, "jwt:b", "2", 100);
    put_s(c, "jwks:x", "3", 100);
    put_s(c, "jw", "4", 100);

    is_int(velro_cache_delete(c, "jwt:a", 5), 1, "delete: present");
    is_int(velro_cache_delete(c, "jwt:a", 5), 0, "delete: again");
    is_int(velro_cache_delete(c, "nope", 4), 0, "delete: absent");
    is_int(velro_cache_delete(c, "jwt:", 4), 0, "delete: a prefix is absent");
    is_int(c->entries, 3, "delete: 3 left");

    is_int(velro_cache_delete_prefix(c, "jwt:", 4), 1,
           "delete_prefix jwt: removes 1");
    ok(get_s(c, "jwks:x", 1) && get_s(c, "jw", 1),
       "delete_prefix: other keys stay, shorter keys too");

    is_int(velro_cache_delete_prefix(c, "jwks:xyz", 8), 0,
           "delete_prefix longer than every key: 0");
    is_int(velro_cache_delete_prefix(c, "jw", 2), 2,
           "delete_prefix jw: removes the key equal to it too");
    is_int(c->entries, 0, "delete_prefix: empty");
    is_int(c->bytes, OVERHEAD(c), "delete_prefix: bytes back to overhead");

    for (i = 0; i < 500; i++) {
        snprintf(k, sizeof(k), "%s:%d", (i % 3) ? "t" : "u", i);
        put_s(c, k, "v", 100);
    }

    is_int(velro_cache_delete_prefix(c, "u:", 2), 167,
           "delete_prefix over 500 entries removes 167");
    is_int(c->entries, 333, "delete_prefix: 333 left");
    ok(consistent(c, &why), "delete_prefix: consistent %s", why);

    is_int(velro_cache_delete_prefix(c, "", 0), 333,
           "delete_prefix \"\" removes all");

    for (i = 0; i < 500; i++) {
        snprintf(k, sizeof(k), "f:%d", i);
        put_s(c, k, "v", 100);
    }

    velro_cache_flush(c);
    is_int(c->entries, 0, "flush: no entries");
    is_int(c->bytes, OVERHEAD(c), "flush: bytes back to overhead");
    ok(get_s(c, "f:1", 1) == NULL, "flush: entries gone");
    ok(consistent(c, &why), "flush: consistent %s", why);

    put_s(c, "after", "flush", 100);
    is_str(get_s(c, "after", 1), "flush", "flush: usable after");

    velro_cache_free(c);
}


static void
test_too_big(void)
{
    size_t          room;
    char           *big;
    const char     *why = "";
    velro_cache_t  *c;

    c = velro_cache_new(4096, 9);

    put_s(c, "keep", "me", 100);

    big = calloc(1, 8192);

    is_int(velro_cache_put(c, 1, "big", 3, big, 8192, 100), -1,
           "too big: value larger than the cache refused");
    is_str(get_s(c, "keep", 1), "me", "too big: cache unchanged");
    is_int(c->evictions, 0, "too big: nothing evicted for it");

    /* the largest value that fits: the entry plus the overhead */

    room = 4096 - OVERHEAD(c);

    for (;;) {
        if (velro_cache_entry_size(3, room) + OVERHEAD(c) <= 4096) {
            break;
        }
        room--;
    }

    is_int(velro_cache_put(c, 1, "big", 3, big, room + 1, 100), -1,
           "too big: one byte over the room refused");
    is_int(velro_cache_put(c, 1, "big", 3, big, room, 100), 0,
           "too big: exactly the room accepted");
    ok(get_s(c, "keep", 1) == NULL && c->entries == 1,
       "too big: it evicted everything else");
    ok(c->bytes <= c->max_bytes, "too big: within the bound");

    /* a huge key is refused before any arithmetic can wrap */

    is_int(velro_cache_put(c, 1, big, (size_t) UINT32_MAX + 1, "v", 1, 100),
           -1, "too big: key over 4 GB refused");
    is_int(velro_cache_put(c, 1, "k", 1, big, SIZE_MAX - 64, 100), -1,
           "too big: value of SIZE_MAX - 64 refused");

    ok(consistent(c, &why), "too big: consistent %s", why);

    velro_cache_free(c);
    free(big);

    /*
     * A cache smaller than its own overhead (about 600 bytes) takes
     * nothing; velro_l1_cache refuses sizes under 64k anyway.
     */

    c = velro_cache_new(256, 1);
    is_int(put_s(c, "a", "b", 100), -1, "tiny cache: refuses an entry");
    is_int(c->entries, 0, "tiny cache: stays empty");
    velro_cache_free(c);
}


static void
test_grow(void)
{
    int             i, miss;
    char            k[32];
    size_t          nb;
    const char     *why = "";
    velro_cache_t  *c;

    c = velro_cache_new(1 << 22, 5);
    nb = c->nbuckets;

    for (i = 0; i < 5000; i++) {
        snprintf(k, sizeof(k), "key-%d", i);
        put_s(c, k, "value", 100);
    }

    ok(c->nbuckets > nb && c->nbuckets >= 4096,
       "grow: buckets grew to %zu", c->nbuckets);
    is_int(c->evictions, 0, "grow: nothing evicted in a large cache");

    miss = 0;

    for (i = 0; i < 5000; i++) {
        snprintf(k, sizeof(k), "key-%d", i);
        if (get_s(c, k, 1) == NULL) {
            miss++;
        }
    }

    is_int(miss, 0, "grow: every key found after rehashing");
    ok(consistent(c, &why), "grow: consistent %s", why);

    velro_cache_flush(c);
    ok(consistent(c, &why) && c->bytes == OVERHEAD(c),
       "grow: flush keeps the grown table counted");

    velro_cache_free(c);

    /* no growth when the bucket array would break the bound */

    c = velro_cache_new(sizeof(velro_cache_t) + 64 * sizeof(void *)
                        + 70 * velro_cache_entry_size(6, 2), 5);

    for (i = 0; i < 200; i++) {
        snprintf(k, sizeof(k), "k-%04d", i);
        put_s(c, k, "v", 100);
        if (c->bytes > c->max_bytes) {
            break;
        }
    }

    is_int(i, 200, "grow: a tight cache never exceeds its bound");
    ok(consistent(c, &why), "grow: tight cache consistent %s", why);

    velro_cache_free(c);
}


static void
test_random(void)
{
    int             ok_all;
    char            key[64], val[600];
    size_t          i, klen, vlen, n, max;
    uint64_t        r, now, puts, hits, fails;
    const char     *why = "";
    velro_cache_t  *c;
    velro_cache_entry_t  *e;

    /* 100k random operations on random keys, invariants after each */

    max = 256 * 1024;
    c = velro_cache_new(max, rnd());

    why = "";
    ok_all = 1;
    now = 0;
    puts = hits = fails = 0;

    for (i = 0; i < 100000 && ok_all; i++) {
        r = rnd();
        now += r % 3;

        klen = (size_t) snprintf(key, sizeof(key), "k%llu",
                                 (unsigned long long) (rnd() % 20000));

        switch (r >> 60) {

        case 0: case 1: case 2: case 3: case 4: case 5: case 6: case 7:
        case 8:
            vlen = (size_t) (rnd() % sizeof(val));
            memset(val, (int) (klen + vlen), vlen);

            if (velro_cache_put(c, (unsigned) vlen, key, klen, val, vlen,
                                now + 1 + rnd() % 5000) == 0)
            {
                puts++;
                e = velro_cache_get(c, key, klen, now);

                if (e == NULL || e->vlen != vlen || e->type != vlen
                    || (vlen && velro_cache_value(e)[vlen - 1]
                                != (unsigned char) (klen + vlen)))
                {
                    why = "a put entry is not found as put";
                    ok_all = 0;
                }

            } else {
                fails++;
            }

            break;

        case 9: case 10: case 11: case 12:
            e = velro_cache_get(c, key, klen, now);

            if (e) {
                hits++;

                if (e->klen != klen || memcmp(velro_cache_key(e), key, klen)
                    || e->expires <= now)
                {
                    why = "get returned a wrong or expired entry";
                    ok_all = 0;
                }
            }

            break;

        case 13: case 14:
            velro_cache_delete(c, key, klen);

            if (velro_cache_get(c, key, klen, now) != NULL) {
                why = "a deleted key is still found";
                ok_all = 0;
            }

            break;

        default:
            if (r % 64 == 0) {
                n = (size_t) snprintf(key, sizeof(key), "k%llu",
                                      (unsigned long long) (rnd() % 20));
                velro_cache_delete_prefix(c, key, n);

            } else if (r % 997 == 0) {
                velro_cache_flush(c);
            }
        }

        if (ok_all && !consistent(c, &why)) {
            ok_all = 0;
        }
    }

    ok(ok_all, "random: 100000 operations keep every invariant%s%s",
       ok_all ? "" : ": ", why);

    if (!ok_all) {
        diag("failed at operation %zu", i);
    }

    ok(c->bytes <= c->max_bytes && c->evictions > 0 && puts > 50000
       && hits > 0 && fails == 0,
       "random: evictions %llu, puts %llu, hits %llu",
       (unsigned long long) c->evictions, (unsigned long long) puts,
       (unsigned long long) hits);

    velro_cache_free(c);

    /* 100k distinct random keys through a small cache */

    c = velro_cache_new(64 * 1024, 12345);
    ok_all = 1;

    for (i = 0; i < 100000; i++) {
        r = rnd();
        klen = 1 + (size_t) (r % 48);

        for (n = 0; n < klen; n++) {
            key[n] = (char) rnd();
        }

        vlen = (size_t) (rnd() % 300);

        if (velro_cache_put(c, 0, key, klen, val, vlen, UINT64_MAX) != 0
            || c->bytes > c->max_bytes)
        {
            ok_all = 0;
            break;
        }
    }

    ok(ok_all, "random: 100000 binary keys, bytes <= max_bytes after each");
    ok(consistent(c, &why), "random: consistent at the end %s",
       ok_all ? "" : why);

    velro_cache_free(c);
}


void
test_cache(void)
{
    diag("velro_cache.c");

    test_basic();
    test_expiry();
    test_stale();
    test_lru();
    test_delete();
    test_too_big();
    test_grow();
    test_random();
}
