
/*
 * velro unit tests: the TAP driver.  Run from the repository root, or set
 * VELRO_KEYS_DIR to the t/keys directory.  Arguments select groups:
 *
 *     velro_unit [jwt] [jwk] [cache] [authz] [batch] [json] [metrics]
 *                [breaker]
 */


#define TAP_IMPLEMENTATION

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"


static int wanted(int argc, char **argv, const char *name);

void test_authz(void);                      /* test_authz.c */
void test_entity(void);                     /* test_entity.c */
void test_batch(void);                      /* test_batch.c */
void test_json(void);                       /* test_json.c */
void test_metrics(void);                    /* test_metrics.c */
void test_breaker(void);                    /* test_breaker.c */


static int
wanted(int argc, char **argv, const char *name)
{
    int  i;

    if (argc < 2) {
        return 1;
    }

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], name) == 0) {
            return 1;
        }
    }

    return 0;
}


int
main(int argc, char **argv)
{
    int  i, rc;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "jwt") != 0 && strcmp(argv[i], "jwk") != 0
            && strcmp(argv[i], "cache") != 0 && strcmp(argv[i], "authz") != 0
            && strcmp(argv[i], "batch") != 0
            && strcmp(argv[i], "json") != 0
            && strcmp(argv[i], "metrics") != 0
            && strcmp(argv[i], "breaker") != 0)
        {
            fprintf(stderr, "usage: %s [jwt] [jwk] [cache] [authz] [batch] "
                    "[json] [metrics] [breaker]\n", argv[0]);
            return 2;
        }
    }

    ut_init();

    if (wanted(argc, argv, "jwt")) {
        test_jwt();
    }

    if (wanted(argc, argv, "jwk")) {
        test_jwk();
    }

    if (wanted(argc, argv, "cache")) {
        test_cache();
    }

    if (wanted(argc, argv, "authz")) {
        test_authz();
        test_entity();
    }

    if (wanted(argc, argv, "batch")) {
        test_batch();
    }

    if (wanted(argc, argv, "json")) {
        test_json();
    }

    if (wanted(argc, argv, "metrics")) {
        test_metrics();
    }

    if (wanted(argc, argv, "breaker")) {
        test_breaker();
    }

    rc = tap_done();

    ut_cleanup();

    return rc;
}
