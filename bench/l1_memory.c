
/*
 * bench/l1_memory.c: what the L1 cache really takes from the heap, against
 * its configured bound (bench/authz.pl, path "mem").
 *
 *   cc -O2 -Isrc -o l1_memory bench/l1_memory.c src/velro_cache.c
 *   ./l1_memory SIZE [ENTRIES [USER_VLEN ACCESS_VLEN]]
 *
 * SIZE is the velro_cache_l1 size (bytes, or with k/m/g).  Inserts ENTRIES
 * (default 1,000,000, raised to three times what SIZE holds) distinct
 * authorization-sized entries, alternating the module's two kinds:
 *
 *   user entry     key 17 bytes ('U' + 16-byte user id),
 *                  value USER_VLEN (24: sequence + velro_user_t)
 *   access entry   key 33 bytes ('A' + user id + generation id),
 *                  value ACCESS_VLEN (40 by default; the module's
 *                  sequence + velro_access_t is 32, the same malloc size
 *                  class)
 *
 * so that the cache fills up and then evicts (LRU) for most of the run.
 * Then measures the heap the process really uses, from glibc's
 * mallinfo2(): uordblks (in-use bytes of the main arena: chunk sizes,
 * headers included) plus hblkhd (mmapped chunks: the big bucket arrays),
 * each minus the same figures before the cache existed; and the RSS growth
 * (VmRSS in /proc/self/status), which also counts freed memory malloc kept.
 * Each is given as a ratio to SIZE.  Then the cache is flushed and filled
 * again with other keys (fragmentation after churn) and measured again.
 *
 * One line of key=value pairs per measurement on stdout; exit 0.
 */


#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "velro_cache.h"


typedef struct {
    size_t  heap;       /* uordblks + hblkhd */
    size_t  rss;        /* VmRSS, bytes */
    size_t  hwm;        /* VmHWM, bytes */
} mem_t;


static void
mem_now(mem_t *m)
{
    char            line[256];
    FILE           *f;
    unsigned long   kb;
    struct mallinfo2  mi;

    mi = mallinfo2();
    m->heap = mi.uordblks + mi.hblkhd;
    m->rss = 0;
    m->hwm = 0;

    f = fopen("/proc/self/status", "r");
    if (f == NULL) {
        return;
    }

    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "VmRSS: %lu kB", &kb) == 1) {
            m->rss = kb * 1024;
        } else if (sscanf(line, "VmHWM: %lu kB", &kb) == 1) {
            m->hwm = kb * 1024;
        }
    }

    fclose(f);
}


static size_t
parse_size(const char *s)
{
    char    *end;
    double   v;

    v = strtod(s, &end);

    switch (*end) {
    case 'k': case 'K': v *= 1024; break;
    case 'm': case 'M': v *= 1024 * 1024; break;
    case 'g': case 'G': v *= 1024.0 * 1024 * 1024; break;
    case '\0': break;
    default:
        fprintf(stderr, "l1_memory: bad size \"%s\"\n", s);
        exit(64);
    }

    return (size_t) v;
}


/* a 16-byte id from a counter: distinct, spread like random uuids */

static void
make_id(unsigned char *id, uint64_t n, uint64_t salt)
{
    uint64_t  a, b;

    a = (n + salt) * 0x9e3779b97f4a7c15ULL;
    a ^= a >> 31;
    b = (n ^ (salt << 1)) * 0xc2b2ae3d27d4eb4fULL + 0x165667b19e3779f9ULL;
    b ^= b >> 29;

    memcpy(id, &a, 8);
    memcpy(id + 8, &b, 8);
}


static void
fill(velro_cache_t *c, size_t entries, uint64_t salt, size_t uvlen,
    size_t avlen, size_t *failed)
{
    size_t         i;
    unsigned char  key[33], value[64];

    memset(value, 0x5a, sizeof(value));

    for (i = 0; i < entries; i++) {

        /* users: one per 4 entries; accesses the rest, 3 per user */

        if (i % 4 == 0) {
            key[0] = 'U';
            make_id(key + 1, i / 4, salt);

            if (velro_cache_put(c, 1, key, 17, value, uvlen,
                                UINT64_MAX) != 0)
            {
                (*failed)++;
            }

        } else {
            key[0] = 'A';
            make_id(key + 1, i / 4, salt);
            make_id(key + 17, i, salt + 7);

            if (velro_cache_put(c, 2, key, 33, value, avlen,
                                UINT64_MAX) != 0)
            {
                (*failed)++;
            }
        }
    }
}


static void
report(const char *phase, size_t max, velro_cache_t *c, mem_t *base,
    size_t inserted, size_t failed, double secs)
{
    mem_t   m;
    size_t  heap, rss;

    mem_now(&m);

    heap = m.heap - base->heap;
    rss = m.rss > base->rss ? m.rss - base->rss : 0;

    printf("phase=%s size=%zu inserted=%zu failed=%zu entries=%zu "
           "accounted=%zu evictions=%llu buckets=%zu heap=%zu "
           "heap_ratio=%.4f rss=%zu rss_ratio=%.4f hwm=%zu ns_per_put=%.1f\n",
           phase, max, inserted, failed, c->entries, c->bytes,
           (unsigned long long) c->evictions, c->nbuckets, heap,
           (double) heap / max, rss, (double) rss / max,
           m.hwm > base->rss ? m.hwm - base->rss : 0,
           inserted ? secs * 1e9 / inserted : 0.0);
}


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}


int
main(int argc, char **argv)
{
    size_t          max, entries, uvlen, avlen, failed, per, fits;
    double          t0;
    mem_t           base;
    velro_cache_t  *c;

    if (argc < 2) {
        fprintf(stderr, "usage: l1_memory SIZE [ENTRIES [USER_VLEN "
                        "ACCESS_VLEN]]\n");
        return 64;
    }

    max = parse_size(argv[1]);
    entries = argc > 2 ? (size_t) strtoull(argv[2], NULL, 10) : 1000000;
    uvlen = argc > 3 ? (size_t) strtoull(argv[3], NULL, 10) : 24;
    avlen = argc > 4 ? (size_t) strtoull(argv[4], NULL, 10) : 40;

    if (uvlen > 64 || avlen > 64) {
        fprintf(stderr, "l1_memory: values up to 64 bytes\n");
        return 64;
    }

    /* enough entries to fill the cache three times over */

    per = (velro_cache_entry_size(17, uvlen)
           + 3 * velro_cache_entry_size(33, avlen)) / 4;
    fits = max / per;

    if (entries < 3 * fits) {
        entries = 3 * fits;
    }

    /* no arena per thread, no trimming surprises: the defaults, measured */

    mem_now(&base);

    c = velro_cache_new(max, 1234567);
    if (c == NULL) {
        fprintf(stderr, "l1_memory: velro_cache_new failed\n");
        return 1;
    }

    printf("entry_bytes user=%zu access=%zu fits=%zu\n",
           velro_cache_entry_size(17, uvlen),
           velro_cache_entry_size(33, avlen), fits);

    failed = 0;
    t0 = now();
    fill(c, entries, 1, uvlen, avlen, &failed);
    report("fill", max, c, &base, entries, failed, now() - t0);

    velro_cache_flush(c);
    failed = 0;
    t0 = now();
    fill(c, entries, 99, uvlen, avlen, &failed);
    report("refill", max, c, &base, entries, failed, now() - t0);

    velro_cache_free(c);

    return 0;
}
