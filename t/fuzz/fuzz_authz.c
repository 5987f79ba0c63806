
/*
 * velro: libFuzzer target for the authorization JSON.
 *
 * The input is given, as the module would get it, to velro_l3_parse() (an
 * L3 answer for a fixed user, with and without a resource), to
 * velro_user_from_json() and velro_access_from_json() (L2 values) and to
 * velro_invalidation_parse() (a NOTIFY payload) and to velro_warm_parse()
 * (the warm form, read fast or by jansson).  What parses is written
 * back with velro_*_json() and read again: the structs and the texts must
 * be the same, and the access rule must be monotonic (delete implies
 * write implies read).  Any mismatch aborts.
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "velro_authz.h"


/* the ids of t/fuzz/corpus/authz */

#define FUZZ_UID  "6f1c2b8a-3d4e-4f5a-9b6c-7d8e9fa0b1c2"
#define FUZZ_GID  "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void fuzz_check_warm(const char *buf, size_t size,
    const uint8_t *data);

static void fuzz_authz_init(void);
static void fuzz_fail(const char *what, const uint8_t *data, size_t size);
static void fuzz_check_user(const velro_user_t *u, const uint8_t *data,
    size_t size);
static void fuzz_check_access(const velro_access_t *a,
    const unsigned char *resource, const uint8_t *data, size_t size);
static void fuzz_check_l3(const velro_user_t *u, const velro_access_t *a,
    const unsigned char *resource, const uint8_t *data, size_t size);
static void fuzz_check_invalidation(int kind, const unsigned char *id,
    const uint8_t *data, size_t size);
static void fuzz_check_uuid(const uint8_t *data, size_t size);


static unsigned char  fuzz_uid[16], fuzz_gid[16];
static int            fuzz_ready;

static const char    *fuzz_kinds[] = {
    "user", "team", "project", "generation"
};


static void
fuzz_authz_init(void)
{
    if (velro_uuid_parse((const unsigned char *) FUZZ_UID, 36, fuzz_uid)
        != 0
        || velro_uuid_parse((const unsigned char *) FUZZ_GID, 36, fuzz_gid)
           != 0)
    {
        fprintf(stderr, "fuzz_authz: the fixed UUIDs do not parse\n");
        abort();
    }

    fuzz_ready = 1;
}


static void
fuzz_fail(const char *what, const uint8_t *data, size_t size)
{
    fprintf(stderr, "fuzz_authz: %s; input: %.*s\n", what,
            (int) (size > 1024 ? 1024 : size), (const char *) data);
    abort();
}


/* velro_user_t: flags 0 or 1, json -> struct -> json the same */

static void
fuzz_check_user(const velro_user_t *u, const uint8_t *data, size_t size)
{
    char           buf[VELRO_USER_JSON_MAX], buf2[VELRO_USER_JSON_MAX];
    size_t         n, n2;
    const char    *err;
    velro_user_t   u2;

    if (u->exists > 1 || u->active > 1 || u->has_tva > 1
        || (!u->exists && (u->active || u->has_tva || u->tokens_valid_after))
        || (!u->has_tva && u->tokens_valid_after)
        || u->pad[0] || u->pad[1] || u->pad[2] || u->pad[3] || u->pad[4])
    {
        fuzz_fail("user: fields out of range", data, size);
    }

    n = velro_user_json(u, fuzz_uid, buf);

    if (n == 0 || n >= VELRO_USER_JSON_MAX) {
        fuzz_fail("user: no JSON", data, size);
    }

    err = NULL;
    memset(&u2, 0xa5, sizeof(velro_user_t));

    if (velro_user_from_json(buf, n, fuzz_uid, &u2, &err) != 0) {
        fprintf(stderr, "fuzz_authz: %s: %.*s\n", err ? err : "-", (int) n,
                buf);
        fuzz_fail("user: own JSON refused", data, size);
    }

    if (memcmp(u, &u2, sizeof(velro_user_t)) != 0) {
        fuzz_fail("user: JSON round trip differs", data, size);
    }

    n2 = velro_user_json(&u2, fuzz_uid, buf2);

    if (n2 != n || memcmp(buf, buf2, n) != 0) {
        fuzz_fail("user: JSON text differs", data, size);
    }

    /* a later iat is never refused when an earlier one is accepted */

    if (velro_user_check(u, INT64_MIN) == VELRO_USER_OK
        && velro_user_check(u, 0) != VELRO_USER_OK)
    {
        fuzz_fail("user: check not monotonic", data, size);
    }

    /* INT64_MIN is "no iat", not a time */

    if (u->has_tva && u->tokens_valid_after > INT64_MIN
        && u->tokens_valid_after < INT64_MAX
        && (velro_user_check(u, u->tokens_valid_after)
            != (u->active ? VELRO_USER_OK : VELRO_USER_DISABLED)
            || velro_user_check(u, u->tokens_valid_after + 1)
               != velro_user_check(u, u->tokens_valid_after)))
    {
        fuzz_fail("user: iat == tokens_valid_after refused", data, size);
    }

    if (u->has_tva && u->tokens_valid_after > INT64_MIN + 1
        && u->exists && u->active
        && velro_user_check(u, u->tokens_valid_after - 1)
           != VELRO_USER_REVOKED)
    {
        fuzz_fail("user: iat < tokens_valid_after accepted", data, size);
    }
}


/* velro_access_t: fields in range, the rule monotonic, round trip */

static void
fuzz_check_access(const velro_access_t *a, const unsigned char *resource,
    const uint8_t *data, size_t size)
{
    int              r, w, d;
    char             buf[VELRO_ACCESS_JSON_MAX], buf2[VELRO_ACCESS_JSON_MAX];
    size_t           n, n2, i;
    const char      *err;
    velro_access_t   a2;

    if (a->exists > 1 || a->role > VELRO_ROLE_OWNER || a->direct > 1
        || a->team > 1 || a->public_access > 1 || a->has_project > 1
        || a->pad[0] || a->pad[1])
    {
        fuzz_fail("access: fields out of range", data, size);
    }

    if (!a->exists) {
        for (i = 0; i < sizeof(velro_access_t); i++) {
            if (((const unsigned char *) a)[i] != 0) {
                fuzz_fail("access: no row but fields set", data, size);
            }
        }
    }

    if (!a->has_project) {
        for (i = 0; i < 16; i++) {
            if (a->project[i] != 0) {
                fuzz_fail("access: no project but its id set", data, size);
            }
        }
    }

    r = velro_access_allows(a, VELRO_ACTION_READ);
    w = velro_access_allows(a, VELRO_ACTION_WRITE);
    d = velro_access_allows(a, VELRO_ACTION_DELETE);

    if ((d && !w) || (w && !r) || (!a->exists && r)
        || (r && a->role == VELRO_ROLE_NONE && !a->public_access))
    {
        fuzz_fail("access: rule not monotonic", data, size);
    }

    if (resource == NULL) {
        if (a->exists) {
            fuzz_fail("access: a row without a resource", data, size);
        }

        return;
    }

    n = velro_access_json(a, fuzz_uid, resource, buf);

    if (n == 0 || n >= VELRO_ACCESS_JSON_MAX) {
        fuzz_fail("access: no JSON", data, size);
    }

    err = NULL;
    memset(&a2, 0xa5, sizeof(velro_access_t));

    if (velro_access_from_json(buf, n, fuzz_uid, resource, &a2, &err) != 0) {
        fprintf(stderr, "fuzz_authz: %s: %.*s\n", err ? err : "-", (int) n,
                buf);
        fuzz_fail("access: own JSON refused", data, size);
    }

    if (memcmp(a, &a2, sizeof(velro_access_t)) != 0) {
        fuzz_fail("access: JSON round trip differs", data, size);
    }

    n2 = velro_access_json(&a2, fuzz_uid, resource, buf2);

    if (n2 != n || memcmp(buf, buf2, n) != 0) {
        fuzz_fail("access: JSON text differs", data, size);
    }
}


/* the L2 parts put together are the same L3 answer */

static void
fuzz_check_l3(const velro_user_t *u, const velro_access_t *a,
    const unsigned char *resource, const uint8_t *data, size_t size)
{
    char             l3[VELRO_USER_JSON_MAX + VELRO_ACCESS_JSON_MAX + 32];
    size_t           n;
    const char      *err;
    velro_user_t     u2;
    velro_access_t   a2;

    fuzz_check_user(u, data, size);
    fuzz_check_access(a, resource, data, size);

    n = 0;
    memcpy(l3, "{\"user\":", 8);
    n += 8;
    n += velro_user_json(u, fuzz_uid, l3 + n);
    memcpy(l3 + n, ",\"access\":", 10);
    n += 10;

    if (resource) {
        n += velro_access_json(a, fuzz_uid, resource, l3 + n);

    } else {
        memcpy(l3 + n, "null", 4);
        n += 4;
    }

    l3[n++] = '}';

    err = NULL;

    if (velro_l3_parse(l3, n, fuzz_uid, resource, &u2, &a2, NULL, &err)
        != 0)
    {
        fprintf(stderr, "fuzz_authz: %s: %.*s\n", err ? err : "-", (int) n,
                l3);
        fuzz_fail("l3: own answer refused", data, size);
    }

    if (memcmp(u, &u2, sizeof(velro_user_t)) != 0
        || memcmp(a, &a2, sizeof(velro_access_t)) != 0)
    {
        fuzz_fail("l3: round trip differs", data, size);
    }
}


static void
fuzz_check_invalidation(int kind, const unsigned char *id,
    const uint8_t *data, size_t size)
{
    int             kind2;
    char            buf[96];
    size_t          n;
    unsigned char   text[VELRO_UUID_LEN], id2[16];

    if (kind < VELRO_INVALIDATE_USER || kind > VELRO_INVALIDATE_GENERATION) {
        fuzz_fail("invalidation: unknown kind returned", data, size);
    }

    velro_uuid_format(id, text);

    n = (size_t) snprintf(buf, sizeof(buf),
                          "{\"kind\":\"%s\",\"id\":\"%.36s\"}",
                          fuzz_kinds[kind], text);

    memset(id2, 0xa5, sizeof(id2));
    kind2 = velro_invalidation_parse(buf, n, id2);

    if (kind2 != kind || memcmp(id, id2, 16) != 0) {
        fuzz_fail("invalidation: round trip differs", data, size);
    }
}


/* a bare UUID: parse(format(parse(x))) and format == lowercase x */

static void
fuzz_check_uuid(const uint8_t *data, size_t size)
{
    size_t          i;
    unsigned char   id[16], id2[16], text[VELRO_UUID_LEN], c;

    if (velro_uuid_parse(data, size, id) != 0) {
        return;
    }

    velro_uuid_format(id, text);

    for (i = 0; i < VELRO_UUID_LEN; i++) {
        c = data[i];

        if (c >= 'A' && c <= 'F') {
            c |= 0x20;
        }

        if (c != text[i]) {
            fuzz_fail("uuid: format is not the lowercase input", data, size);
        }
    }

    if (velro_uuid_parse(text, VELRO_UUID_LEN, id2) != 0
        || memcmp(id, id2, 16) != 0)
    {
        fuzz_fail("uuid: round trip differs", data, size);
    }
}


static void
fuzz_check_warm(const char *buf, size_t size, const uint8_t *data)
{
    char               text[VELRO_ACCESS_JSON_MAX];
    char               ptext[VELRO_PROJECT_JSON_MAX + 64];
    size_t             i, n, np, n2, np2, len;
    const char        *err;
    velro_user_t       u;
    velro_access_t     a;
    velro_project_t    pr[8], pr2[2];
    velro_warm_row_t   rows[8], rows2[2];

    err = NULL;

    if (velro_warm_parse(buf, size, fuzz_uid, &u, rows, 8, &n, pr, 8, &np,
                         &err)
        != 0)
    {
        if (err == NULL) {
            fuzz_fail("warm: refused without a message", data, size);
        }

        return;
    }

    if (n > 8 || np > 8) {
        fuzz_fail("warm: more than asked for", data, size);
    }

    for (i = 0; i < n; i++) {
        len = velro_access_json(&rows[i].access, fuzz_uid,
                                rows[i].generation, text);

        if (len == 0
            || velro_access_from_json(text, len, fuzz_uid,
                                      rows[i].generation, &a, &err)
               != 0
            || memcmp(&a, &rows[i].access, sizeof(velro_access_t)) != 0)
        {
            fuzz_fail("warm: a row does not read back", data, size);
        }
    }

    for (i = 0; i < np; i++) {
#define FUZZ_WARM_HEAD  "{\"user\":null,\"access\":[],\"projects\":["
#define FUZZ_WARM_HLEN  (sizeof(FUZZ_WARM_HEAD) - 1)

        memcpy(ptext, FUZZ_WARM_HEAD, FUZZ_WARM_HLEN);
        len = velro_project_json(&pr[i], ptext + FUZZ_WARM_HLEN);

        if (!pr[i].valid || len == 0) {
            fuzz_fail("warm: an invalid project kept", data, size);
        }

        memcpy(ptext + FUZZ_WARM_HLEN + len, "]}", 2);

        if (velro_warm_parse(ptext, FUZZ_WARM_HLEN + len + 2, fuzz_uid, &u,
                             rows2, 2, &n2, pr2, 2, &np2, &err)
            != 0
            || np2 != 1
            || memcmp(&pr2[0], &pr[i], sizeof(velro_project_t)) != 0)
        {
            fuzz_fail("warm: a project does not read back", data, size);
        }
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int              kind;
    const char      *buf, *err;
    velro_user_t     u;
    velro_access_t   a;
    unsigned char    id[16];

    if (!fuzz_ready) {
        fuzz_authz_init();
    }

    buf = (const char *) data;

    /* the L3 answer, with and without a resource */

    err = NULL;

    if (velro_l3_parse(buf, size, fuzz_uid, fuzz_gid, &u, &a, NULL, &err)
        == 0)
    {
        fuzz_check_l3(&u, &a, fuzz_gid, data, size);

    } else if (err == NULL) {
        fuzz_fail("l3: refused without a message", data, size);
    }

    err = NULL;

    if (velro_l3_parse(buf, size, fuzz_uid, NULL, &u, &a, NULL, &err)
        == 0)
    {
        fuzz_check_l3(&u, &a, NULL, data, size);

    } else if (err == NULL) {
        fuzz_fail("l3: refused without a message", data, size);
    }

    /* the warm form: bounded, and every row reads back as written */

    fuzz_check_warm(buf, size, data);

    /* the L2 values */

    err = NULL;

    if (velro_user_from_json(buf, size, fuzz_uid, &u, &err) == 0) {
        fuzz_check_user(&u, data, size);

    } else if (err == NULL) {
        fuzz_fail("user: refused without a message", data, size);
    }

    err = NULL;

    if (velro_access_from_json(buf, size, fuzz_uid, fuzz_gid, &a, &err) == 0)
    {
        fuzz_check_access(&a, fuzz_gid, data, size);

    } else if (err == NULL) {
        fuzz_fail("access: refused without a message", data, size);
    }

    err = NULL;

    if (velro_access_from_json(buf, size, fuzz_uid, NULL, &a, &err) == 0) {
        fuzz_check_access(&a, NULL, data, size);

    } else if (err == NULL) {
        fuzz_fail("access: refused without a message", data, size);
    }

    /* the NOTIFY payload */

    memset(id, 0, sizeof(id));
    kind = velro_invalidation_parse(buf, size, id);

    if (kind != -1) {
        fuzz_check_invalidation(kind, id, data, size);
    }

    fuzz_check_uuid(data, size);

    return 0;
}
