
/*
 * bench/l1_entities.c: L1 bytes when decisions come from entities, against
 * one entry per (user, generation) pair (bench/authz.pl, path "mem").
 *
 *   cc -O2 -Isrc -o l1_entities bench/l1_entities.c src/velro_cache.c
 *   ./l1_entities [PAIRS [USERS GENERATIONS PROJECTS]]
 *
 * Draws PAIRS (default 1,000,000) distinct (user, generation) pairs,
 * uniformly, from USERS x GENERATIONS (10,000 x 100,000; projects 5,000,
 * bench/gen-data.sql's shapes: generation j in project (j - 1) % PROJECTS
 * + 1, its media URL "https://media.bench.invalid/j", user i in one team,
 * every third in two), and puts into one velro_cache_t (no eviction) what
 * the module's L1 keeps for them: the user (key 17 bytes, value
 * sizeof(velro_user_t)), the memberships (17, 4 + 17 a team), the
 * generation (17, velro_generation_size()) and its project (17,
 * sizeof(velro_project_t)), each once; and into another the pair entries
 * issue 3's L1 kept (33, 32) plus the users.  Prints both byte counts as
 * the cache accounts them, per entity and per pair, after each tenth of
 * the pairs: the entity bytes level off as the entities are all seen, the
 * pair bytes grow with the pairs.
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "velro_cache.h"
#include "velro_entity.h"


static uint64_t  rng = 88172645463325252ull;


static uint64_t
next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}


static void
put(velro_cache_t *c, char kind, uint32_t a, uint32_t b, size_t vlen)
{
    unsigned char  key[33], value[sizeof(velro_generation_t)];
    size_t         klen;

    memset(key, 0, sizeof(key));
    memset(value, 0, sizeof(value));
    key[0] = (unsigned char) kind;
    memcpy(key + 1, &a, 4);
    klen = 17;

    if (b) {
        memcpy(key + 17, &b, 4);
        klen = 33;
    }

    if (velro_cache_get(c, key, klen, 0) == NULL
        && velro_cache_put(c, 0, key, klen, value, vlen, UINT64_MAX) != 0)
    {
        fprintf(stderr, "l1_entities: put failed\n");
        exit(1);
    }
}


int
main(int argc, char **argv)
{
    char            url[64];
    size_t          pairs, users, gens, projects, n, glen;
    velro_cache_t  *ent, *pair, *seen;
    velro_generation_t  g;
    uint32_t        u, j;

    pairs = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    users = argc > 2 ? strtoul(argv[2], NULL, 10) : 10000;
    gens = argc > 3 ? strtoul(argv[3], NULL, 10) : 100000;
    projects = argc > 4 ? strtoul(argv[4], NULL, 10) : 5000;

    ent = velro_cache_new((size_t) 4 << 30, 1);
    pair = velro_cache_new((size_t) 4 << 30, 2);
    seen = velro_cache_new((size_t) 4 << 30, 3);

    if (ent == NULL || pair == NULL || seen == NULL) {
        return 1;
    }

    printf("pairs entities entity_bytes per_entity pair_bytes per_pair\n");

    for (n = 0; n < pairs; /* void */) {
        u = (uint32_t) (next() % users) + 1;
        j = (uint32_t) (next() % gens) + 1;

        {
            unsigned char  key[9];

            memcpy(key, &u, 4);
            memcpy(key + 4, &j, 4);
            key[8] = 'p';

            if (velro_cache_get(seen, key, 9, 0) != NULL) {
                continue;
            }

            (void) velro_cache_put(seen, 0, key, 9, "", 0, UINT64_MAX);
        }

        n++;

        memset(&g, 0, sizeof(g));
        glen = (size_t) snprintf(url, sizeof(url),
                                 "https://media.bench.invalid/%u", j);
        g.media_len = (uint16_t) glen;

        put(ent, 'U', u, 0, sizeof(velro_user_t));
        put(ent, 'V', u, 0, 4 + (u % 3 == 0 ? 2 : 1)
                            * sizeof(velro_team_role_t));
        put(ent, 'W', j, 0, velro_generation_size(&g));

        if (j % 25) {
            put(ent, 'X', (uint32_t) ((j - 1) % projects) + 1, 0,
                sizeof(velro_project_t));
        }

        put(pair, 'U', u, 0, sizeof(velro_user_t) + 8);
        put(pair, 'A', u, j, 32);

        if (n % (pairs / 10 ? pairs / 10 : 1) == 0) {
            printf("%zu %zu %zu %.1f %zu %.1f\n", n, ent->entries,
                   ent->bytes, (double) ent->bytes / ent->entries,
                   pair->bytes, (double) pair->bytes / n);
        }
    }

    velro_cache_free(ent);
    velro_cache_free(pair);
    velro_cache_free(seen);

    return 0;
}
