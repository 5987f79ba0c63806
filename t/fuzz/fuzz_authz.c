
/*
 * velro: libFuzzer target for the authorization JSON.
 *
 * The input is given, as the module would get it, to
 * velro_l3_answer_parse() (an L3 answer, entity or access form, for a
 * fixed user, with and without a resource), to the L2 value readers
 * (velro_user_from_json(), velro_roles_from_json(),
 * velro_generation_from_json(), velro_project_from_json()), to
 * velro_invalidation_parse() (a NOTIFY payload) and to the warm forms
 * (velro_warm_parse(), read fast or by jansson, and
 * velro_warm_entities_parse()).  What parses is written back with
 * velro_*_json() and read again: the structs and the texts must be the
 * same; velro_authz_decide() of the entities must follow the rule's
 * invariants (the creator is owner, nobody else has any access to an
 * uncompleted generation) and the access rule must be monotonic (delete
 * implies write implies read).  The L2 readers' fast path
 * (velro_*_fast(), the writers' own layout) must agree with jansson on
 * every input, stamped or not, and must read every text the writers
 * write (t/unit/agree.h).  Any mismatch aborts.
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "velro_entity.h"
#include "../unit/agree.h"


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
static void fuzz_check_answer(velro_l3_answer_t *ans,
    const unsigned char *resource, const uint8_t *data, size_t size);
static void fuzz_check_roles(const velro_roles_t *roles,
    const uint8_t *data, size_t size);
static void fuzz_check_generation(const velro_generation_t *g,
    const unsigned char *id, const uint8_t *data, size_t size);
static void fuzz_check_project(const velro_project_t *p,
    const uint8_t *data, size_t size);
static void fuzz_check_warm_entities(const char *buf, size_t size,
    const uint8_t *data);
static void fuzz_check_invalidation(int kind, const unsigned char *id,
    const uint8_t *data, size_t size);
static void fuzz_check_uuid(const uint8_t *data, size_t size);
static void fuzz_check_fast(const char *e, int fast, const char *what,
    const uint8_t *data, size_t size);


static unsigned char  fuzz_uid[16], fuzz_gid[16];
static int            fuzz_ready;

static const char    *fuzz_kinds[] = {
    "user", "team", "project", "generation", "member"
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


/* the readers agreed (e is NULL) and, when what is given, read it fast */

static void
fuzz_check_fast(const char *e, int fast, const char *what,
    const uint8_t *data, size_t size)
{
    if (e) {
        fuzz_fail(e, data, size);
    }

    if (what && !fast) {
        fuzz_fail(what, data, size);
    }
}


/* velro_user_t: flags 0 or 1, json -> struct -> json the same */

static void
fuzz_check_user(const velro_user_t *u, const uint8_t *data, size_t size)
{
    int            fast;
    char           buf[VELRO_USER_JSON_MAX], buf2[VELRO_USER_JSON_MAX];
    size_t         n, n2;
    const char    *err, *e;
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

    /* of more than 18 digits, tokens_valid_after is left to jansson */

    e = velro_agree_user(buf, n, fuzz_uid, &fast);
    fuzz_check_fast(e, fast,
                    (u->tokens_valid_after <= -1000000000000000000LL
                     || u->tokens_valid_after >= 1000000000000000000LL)
                    ? NULL : "user: own JSON not read fast", data, size);

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


/* velro_access_t: fields in range, the rule monotonic */

static void
fuzz_check_access(const velro_access_t *a, const unsigned char *resource,
    const uint8_t *data, size_t size)
{
    int     r, w, d;
    size_t  i;

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

    if (resource == NULL && a->exists) {
        fuzz_fail("access: a row without a resource", data, size);
    }
}


/* memberships: in range, json -> struct -> json the same */

static void
fuzz_check_roles(const velro_roles_t *roles, const uint8_t *data,
    size_t size)
{
    int                fast;
    char               buf[VELRO_ROLES_JSON_MAX(8)];
    char               buf2[VELRO_ROLES_JSON_MAX(8)];
    size_t             i, n, n2;
    const char        *err;
    velro_roles_t      r2;
    velro_team_role_t  teams[8];

    if (roles->exists > 1 || roles->more > 1 || roles->n > 8
        || (!roles->exists && (roles->n || roles->more)))
    {
        fuzz_fail("roles: fields out of range", data, size);
    }

    for (i = 0; i < roles->n; i++) {
        if (roles->teams[i].role < VELRO_ROLE_VIEWER
            || roles->teams[i].role > VELRO_ROLE_OWNER)
        {
            fuzz_fail("roles: a role out of range", data, size);
        }
    }

    n = velro_roles_json(roles, fuzz_uid, buf, sizeof(buf));

    if (n == 0) {
        fuzz_fail("roles: no JSON", data, size);
    }

    fuzz_check_fast(velro_agree_roles(buf, n, fuzz_uid, 8, &fast), fast,
                    "roles: own JSON not read fast", data, size);

    err = NULL;

    if (velro_roles_from_json(buf, n, fuzz_uid, &r2, teams, 8, &err) != 0) {
        fprintf(stderr, "fuzz_authz: %s: %.*s\n", err ? err : "-", (int) n,
                buf);
        fuzz_fail("roles: own JSON refused", data, size);
    }

    if (r2.exists != roles->exists || r2.more != roles->more
        || r2.n != roles->n
        || memcmp(teams, roles->teams, roles->n * sizeof(velro_team_role_t))
           != 0)
    {
        fuzz_fail("roles: JSON round trip differs", data, size);
    }

    n2 = velro_roles_json(&r2, fuzz_uid, buf2, sizeof(buf2));

    if (n2 != n || memcmp(buf, buf2, n) != 0) {
        fuzz_fail("roles: JSON text differs", data, size);
    }
}


static void
fuzz_check_generation(const velro_generation_t *g, const unsigned char *id,
    const uint8_t *data, size_t size)
{
    int                  fast;
    static char          buf[VELRO_GENERATION_JSON_MAX];
    const char          *err;
    size_t               n;
    velro_generation_t   g2;

    if (g->exists > 1 || g->completed > 1 || g->has_project > 1
        || g->has_media > 1 || g->media_len > VELRO_MEDIA_URL_MAX
        || g->status_len > VELRO_STATUS_MAX
        || (!g->has_media && g->media_len)
        || (g->status_len == 9 && memcmp(g->status, "completed", 9) == 0
            && !g->completed))
    {
        fuzz_fail("generation: fields out of range", data, size);
    }

    n = velro_generation_json(g, id, buf, sizeof(buf));

    if (n == 0) {
        fuzz_fail("generation: no JSON", data, size);
    }

    fuzz_check_fast(velro_agree_generation(buf, n, id, &fast), fast,
                    "generation: own JSON not read fast", data, size);

    err = NULL;

    if (velro_generation_from_json(buf, n, id, &g2, &err) != 0) {
        fprintf(stderr, "fuzz_authz: %s: %.*s\n", err ? err : "-",
                (int) (n > 2048 ? 2048 : n), buf);
        fuzz_fail("generation: own JSON refused", data, size);
    }

    if (g2.exists != g->exists
        || (g->exists
            && (g2.completed != g->completed
                || g2.has_project != g->has_project
                || memcmp(g2.creator, g->creator, 16) != 0
                || (g->has_project
                    && memcmp(g2.project, g->project, 16) != 0)
                || g2.has_media != g->has_media
                || g2.media_len != g->media_len
                || memcmp(g2.media_url, g->media_url, g->media_len) != 0
                || (g->status_len
                    && (g2.status_len != g->status_len
                        || memcmp(g2.status, g->status, g->status_len)
                           != 0)))))
    {
        fuzz_fail("generation: JSON round trip differs", data, size);
    }
}


static void
fuzz_check_project(const velro_project_t *p, const uint8_t *data,
    size_t size)
{
    int               fast;
    char              buf[VELRO_PROJECT_JSON_MAX];
    size_t            n;
    const char       *err;
    velro_project_t   p2;

    if (p->valid > 1 || p->has_team > 1 || p->visibility > VELRO_VIS_PUBLIC) {
        fuzz_fail("project: fields out of range", data, size);
    }

    n = velro_project_json(p, buf);

    if (n == 0) {
        fuzz_fail("project: no JSON", data, size);
    }

    fuzz_check_fast(velro_agree_project(buf, n, p->id, &fast), fast,
                    "project: own JSON not read fast", data, size);

    err = NULL;

    if (velro_project_from_json(buf, n, p->id, &p2, &err) != 0
        || p2.valid != p->valid
        || (p->valid && memcmp(&p2, p, sizeof(velro_project_t)) != 0))
    {
        fuzz_fail("project: JSON round trip differs", data, size);
    }
}


/* an answer's parts read back; the decision from them keeps the rule */

static void
fuzz_check_answer(velro_l3_answer_t *ans, const unsigned char *resource,
    const uint8_t *data, size_t size)
{
    int              rc;
    velro_access_t   a;
    velro_roles_t    roles;

    fuzz_check_user(&ans->user, data, size);

    if (ans->form == VELRO_L3_ACCESS) {
        fuzz_check_access(&ans->access, resource, data, size);
        return;
    }

    if (ans->user.exists) {
        fuzz_check_roles(&ans->roles, data, size);
    }

    if (resource == NULL) {
        if (ans->has_generation || ans->project.valid) {
            fuzz_fail("answer: entities without a resource", data, size);
        }

        return;
    }

    fuzz_check_generation(&ans->gen, resource, data, size);

    if (ans->project.valid) {
        if (!ans->gen.has_project
            || memcmp(ans->project.id, ans->gen.project, 16) != 0)
        {
            fuzz_fail("answer: not the generation's project", data, size);
        }

        fuzz_check_project(&ans->project, data, size);
    }

    roles = ans->roles;
    roles.more = 0;

    rc = velro_authz_decide(fuzz_uid, &roles, &ans->gen,
                            ans->project.valid ? &ans->project : NULL, &a);

    if (rc != 0) {
        fuzz_fail("decide: a full list of memberships refused", data, size);
    }

    fuzz_check_access(&a, resource, data, size);

    if (ans->gen.exists != a.exists
        || (ans->gen.exists
            && memcmp(ans->gen.creator, fuzz_uid, 16) == 0
            && (a.role != VELRO_ROLE_OWNER || !a.direct))
        || (ans->gen.exists && !ans->gen.completed
            && memcmp(ans->gen.creator, fuzz_uid, 16) != 0
            && (a.role != VELRO_ROLE_NONE || a.public_access || a.team)))
    {
        fuzz_fail("decide: the rule's invariants broken", data, size);
    }

    /* a partial list decides the same or not at all */

    if (ans->roles.more) {
        velro_access_t  b;

        roles.more = 1;

        if (velro_authz_decide(fuzz_uid, &roles, &ans->gen,
                               ans->project.valid ? &ans->project : NULL, &b)
            == 0
            && memcmp(&a, &b, sizeof(velro_access_t)) != 0)
        {
            fuzz_fail("decide: a partial list decides otherwise", data,
                      size);
        }
    }
}


static void
fuzz_check_warm_entities(const char *buf, size_t size, const uint8_t *data)
{
    size_t               i, n, np;
    const char          *err;
    velro_user_t         u;
    velro_roles_t        roles;
    unsigned char        ids[4][16];
    velro_project_t      pr[4];
    velro_team_role_t    teams[8];
    static velro_generation_t  gens[4];

    err = NULL;

    if (velro_warm_entities_parse(buf, size, fuzz_uid, &u, &roles, teams, 8,
                                  ids, gens, 4, &n, pr, 4, &np, &err)
        != 0)
    {
        if (err == NULL) {
            fuzz_fail("warm entities: refused without a message", data,
                      size);
        }

        return;
    }

    if (n > 4 || np > 4) {
        fuzz_fail("warm entities: more than asked for", data, size);
    }

    fuzz_check_user(&u, data, size);

    if (u.exists) {
        fuzz_check_roles(&roles, data, size);
    }

    for (i = 0; i < n; i++) {
        if (!gens[i].exists) {
            fuzz_fail("warm entities: an unknown generation kept", data,
                      size);
        }

        fuzz_check_generation(&gens[i], ids[i], data, size);
    }

    for (i = 0; i < np; i++) {
        if (!pr[i].valid) {
            fuzz_fail("warm entities: an invalid project kept", data, size);
        }

        fuzz_check_project(&pr[i], data, size);
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

    if (kind < VELRO_INVALIDATE_USER || kind > VELRO_INVALIDATE_MEMBER) {
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
    char               ptext[VELRO_PROJECT_JSON_MAX + 64];
    size_t             i, n, np, n2, np2, len;
    const char        *err;
    velro_user_t       u;
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
        fuzz_check_access(&rows[i].access, rows[i].generation, data, size);
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
    int                       kind;
    const char               *buf, *err;
    velro_user_t              u;
    velro_roles_t             roles;
    unsigned char             id[16];
    velro_team_role_t         teams[8];
    static velro_l3_answer_t  ans;

    if (!fuzz_ready) {
        fuzz_authz_init();
    }

    buf = (const char *) data;

    /* the L3 answer, with and without a resource */

    err = NULL;

    if (velro_l3_answer_parse(buf, size, fuzz_uid, fuzz_gid, &ans, teams, 8,
                              &err)
        == 0)
    {
        fuzz_check_answer(&ans, fuzz_gid, data, size);

    } else if (err == NULL) {
        fuzz_fail("l3: refused without a message", data, size);
    }

    err = NULL;

    if (velro_l3_answer_parse(buf, size, fuzz_uid, NULL, &ans, teams, 8,
                              &err)
        == 0)
    {
        fuzz_check_answer(&ans, NULL, data, size);

    } else if (err == NULL) {
        fuzz_fail("l3: refused without a message", data, size);
    }

    /* the warm forms: bounded, and everything reads back as written */

    fuzz_check_warm(buf, size, data);
    fuzz_check_warm_entities(buf, size, data);

    /* the L2 values, and their stamp */

    {
        int       fast;
        size_t    skip;
        uint64_t  stamp;

        skip = velro_l2_unstamp(buf, size, &stamp);

        if (skip > size || (skip == 0 && stamp != 0)
            || (skip && (skip < 2 || buf[skip - 1] != ' ')))
        {
            fuzz_fail("unstamp: out of the value", data, size);
        }

        /* the fast readers and jansson agree, as read and unstamped; a
         * bound of 2 teams sends longer lists to jansson */

        fuzz_check_fast(velro_agree_all(buf, size, fuzz_uid, fuzz_gid,
                                        fuzz_gid, 8, &fast),
                        fast, NULL, data, size);
        fuzz_check_fast(velro_agree_all(buf, size, fuzz_uid, fuzz_gid,
                                        fuzz_gid, 2, &fast),
                        fast, NULL, data, size);

        if (skip) {
            fuzz_check_fast(velro_agree_all(buf + skip, size - skip,
                                            fuzz_uid, fuzz_gid, fuzz_gid, 8,
                                            &fast),
                            fast, NULL, data, size);
        }
    }

    err = NULL;

    if (velro_user_from_json(buf, size, fuzz_uid, &u, &err) == 0) {
        fuzz_check_user(&u, data, size);

    } else if (err == NULL) {
        fuzz_fail("user: refused without a message", data, size);
    }

    err = NULL;

    if (velro_roles_from_json(buf, size, fuzz_uid, &roles, teams, 8, &err)
        == 0)
    {
        fuzz_check_roles(&roles, data, size);

    } else if (err == NULL) {
        fuzz_fail("roles: refused without a message", data, size);
    }

    err = NULL;

    if (velro_generation_from_json(buf, size, fuzz_gid, &ans.gen, &err) == 0)
    {
        fuzz_check_generation(&ans.gen, fuzz_gid, data, size);

    } else if (err == NULL) {
        fuzz_fail("generation: refused without a message", data, size);
    }

    err = NULL;

    if (velro_project_from_json(buf, size, fuzz_gid, &ans.project, &err) == 0)
    {
        fuzz_check_project(&ans.project, data, size);

    } else if (err == NULL) {
        fuzz_fail("project: refused without a message", data, size);
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
