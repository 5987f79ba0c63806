
/*
 * velro unit tests: authorization decisions (velro_authz.c): UUIDs, the
 * access rule, the user checks, the L3 contract, the L2 values and the
 * invalidation notices.
 */


#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "velro_entity.h"
#include "util.h"


/* the user and the generation asked for, a project, and someone else */

#define UID     "6f1c2b8a-3d4e-4f5a-9b6c-7d8e9fa0b1c2"
#define UID_UC  "6F1C2B8A-3D4E-4F5A-9B6C-7D8E9FA0B1C2"
#define GID     "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#define PID     "11111111-2222-4333-8444-555555555555"
#define XID     "ffffffff-ffff-4fff-bfff-ffffffffffff"

#define USER_ACTIVE                                                           \
    "{\"id\":\"" UID "\",\"status\":\"active\",\"tokens_valid_after\":null}"

#define USER_TVA                                                              \
    "{\"id\":\"" UID "\",\"status\":\"active\","                              \
    "\"tokens_valid_after\":1700000000}"

/* a velro_authorize() row for UID and GID */

#define ROW_IDS(u, g)                                                         \
    "{\"user_id\":\"" u "\",\"generation_id\":\"" g "\""

#define ROW_TAIL(role, pub)                                                   \
    ",\"project_id\":\"" PID "\",\"effective_role\":" role ","                \
    "\"has_direct_access\":false,\"has_team_access\":true,"                   \
    "\"has_public_access\":" pub "}"

#define ROW(role, pub)  ROW_IDS(UID, GID) ROW_TAIL(role, pub)

#define L3(user, access)  "{\"user\":" user ",\"access\":" access "}"

#define NELTS(a)  (sizeof(a) / sizeof((a)[0]))


void test_authz(void);

static void ids_init(void);
static int l3(const char *json, int resource, velro_user_t *u,
    velro_access_t *a, const char **err);
static void test_uuid(void);
static void test_uuid_bad(void);
static void test_access_rule(void);
static void test_user_check(void);
static void test_l3_good(void);
static void test_l3_bad(void);
static void test_user_json(void);
static void test_invalidation(void);
static void test_project(void);
static void test_warm(void);


static unsigned char  uid[16], gid[16], pid[16], xid[16];

static const char    *roles[] = {
    "none", "viewer", "editor", "admin", "owner"
};


static void
ids_init(void)
{
    if (velro_uuid_parse((const unsigned char *) UID, 36, uid) != 0
        || velro_uuid_parse((const unsigned char *) GID, 36, gid) != 0
        || velro_uuid_parse((const unsigned char *) PID, 36, pid) != 0
        || velro_uuid_parse((const unsigned char *) XID, 36, xid) != 0)
    {
        fprintf(stderr, "test_authz: the fixed UUIDs do not parse\n");
        abort();
    }
}


/*
 * Issue 3's form of the L3 answer through velro_l3_answer_parse(): the
 * answer must be that form ("access" present)
 */

static int
l3_access(const char *buf, size_t len, const unsigned char *user,
    const unsigned char *resource, velro_user_t *u, velro_access_t *a,
    velro_project_t *pr, const char **err)
{
    velro_l3_answer_t  ans;
    velro_team_role_t  teams[4];

    if (velro_l3_answer_parse(buf, len, user, resource, &ans, teams, 4, err)
        != 0)
    {
        return -1;
    }

    if (ans.form != VELRO_L3_ACCESS) {
        *err = "not the access form";
        return -1;
    }

    *u = ans.user;
    *a = ans.access;

    if (pr) {
        *pr = ans.project;
    }

    return 0;
}


/* the access form of a NUL-terminated answer for UID [and GID] */

static int
l3(const char *json, int resource, velro_user_t *u, velro_access_t *a,
    const char **err)
{
    *err = NULL;

    return l3_access(json, strlen(json), uid, resource ? gid : NULL, u, a,
                     NULL, err);
}


static void
test_uuid(void)
{
    size_t          i, j, bad;
    unsigned char   id[16], id2[16], text[VELRO_UUID_LEN + 1];
    char            lower[VELRO_UUID_LEN + 1];

    static const unsigned char  want[16] = {
        0x6f, 0x1c, 0x2b, 0x8a, 0x3d, 0x4e, 0x4f, 0x5a,
        0x9b, 0x6c, 0x7d, 0x8e, 0x9f, 0xa0, 0xb1, 0xc2
    };

    static const char  *good[] = {
        UID,
        UID_UC,
        "6F1c2B8a-3D4e-4F5a-9B6c-7D8e9Fa0B1c2",
        "00000000-0000-0000-0000-000000000000",
        "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
        "0123abcd-ABCD-89ef-CDEF-456789abcdef"
    };

    memset(id, 0, sizeof(id));
    is_int(velro_uuid_parse((const unsigned char *) UID, 36, id), 0,
           "uuid: canonical lowercase parses");
    ok(memcmp(id, want, 16) == 0, "uuid: lowercase gives the right bytes");

    memset(id, 0, sizeof(id));
    is_int(velro_uuid_parse((const unsigned char *) UID_UC, 36, id), 0,
           "uuid: canonical uppercase parses");
    ok(memcmp(id, want, 16) == 0, "uuid: uppercase gives the same bytes");

    for (i = 0; i < NELTS(good); i++) {
        for (j = 0; j < VELRO_UUID_LEN; j++) {
            lower[j] = (char) tolower((unsigned char) good[i][j]);
        }

        lower[VELRO_UUID_LEN] = '\0';

        memset(text, 0, sizeof(text));

        if (velro_uuid_parse((const unsigned char *) good[i], 36, id) != 0) {
            ok(0, "uuid: %s parses", good[i]);
            continue;
        }

        velro_uuid_format(id, text);

        is_str((char *) text, lower, "uuid: format(parse(%s)) is lowercase",
               good[i]);
    }

    /* every byte value: parse(format(bytes)) == bytes */

    bad = 0;

    for (i = 0; i < 256; i += 16) {
        for (j = 0; j < 16; j++) {
            id[j] = (unsigned char) (i + j * 17);
        }

        velro_uuid_format(id, text);

        if (velro_uuid_parse(text, 36, id2) != 0
            || memcmp(id, id2, 16) != 0)
        {
            bad++;
        }
    }

    is_int(bad, 0, "uuid: parse(format(bytes)) == bytes for every byte");

    velro_uuid_format(want, text);
    ok(text[8] == '-' && text[13] == '-' && text[18] == '-'
       && text[23] == '-', "uuid: format puts the dashes at 8-4-4-4-12");
}


static void
test_uuid_bad(void)
{
    size_t          i, j, accepted;
    unsigned char   id[16], s[VELRO_UUID_LEN + 2], *p;

    static const size_t  dashes[] = { 8, 13, 18, 23 };
    static const char    nonhex[] = "gG/:@`-x +\x7f\x80\xff";

    /* lengths: the buffer has exactly len bytes, so reading past is seen */

    p = malloc(35);
    if (p == NULL) {
        abort();
    }

    memcpy(p, UID, 35);
    is_int(velro_uuid_parse(p, 35, id), -1, "uuid: 35 characters refused");
    free(p);

    is_int(velro_uuid_parse((const unsigned char *) UID "0", 37, id), -1,
           "uuid: 37 characters refused");
    is_int(velro_uuid_parse((const unsigned char *) UID, 37, id), -1,
           "uuid: 36 characters and the NUL refused");
    is_int(velro_uuid_parse((const unsigned char *) "", 0, id), -1,
           "uuid: empty refused");
    is_int(velro_uuid_parse((const unsigned char *) "{" UID "}", 38, id), -1,
           "uuid: braces refused");
    is_int(velro_uuid_parse((const unsigned char *)
                            "6f1c2b8a3d4e4f5a9b6c7d8e9fa0b1c20000", 36, id),
           -1, "uuid: 36 hex digits without dashes refused");

    p = malloc(10240);
    if (p == NULL) {
        abort();
    }

    for (i = 0; i < 10240; i++) {
        p[i] = UID[i % 36];
    }

    is_int(velro_uuid_parse(p, 10240, id), -1, "uuid: 10 KB refused");
    is_int(velro_uuid_parse(p, 36, id), 0, "uuid: its first 36 bytes parse");
    free(p);

    /* a dash moved one place left or right */

    accepted = 0;

    for (i = 0; i < NELTS(dashes); i++) {
        memcpy(s, UID, 36);
        s[dashes[i]] = s[dashes[i] - 1];
        s[dashes[i] - 1] = '-';
        accepted += (velro_uuid_parse(s, 36, id) == 0);

        memcpy(s, UID, 36);
        s[dashes[i]] = s[dashes[i] + 1];
        s[dashes[i] + 1] = '-';
        accepted += (velro_uuid_parse(s, 36, id) == 0);
    }

    is_int(accepted, 0, "uuid: misplaced dashes refused");

    /* a dash replaced with a hex digit or another separator */

    accepted = 0;

    for (i = 0; i < NELTS(dashes); i++) {
        memcpy(s, UID, 36);
        s[dashes[i]] = '0';
        accepted += (velro_uuid_parse(s, 36, id) == 0);

        s[dashes[i]] = '_';
        accepted += (velro_uuid_parse(s, 36, id) == 0);
    }

    is_int(accepted, 0, "uuid: a dash replaced refused");

    /* every non-hex character at every digit position */

    for (j = 0; j < sizeof(nonhex) - 1; j++) {
        accepted = 0;

        for (i = 0; i < VELRO_UUID_LEN; i++) {
            if (i == 8 || i == 13 || i == 18 || i == 23) {
                continue;
            }

            memcpy(s, UID, 36);
            s[i] = (unsigned char) nonhex[j];
            accepted += (velro_uuid_parse(s, 36, id) == 0);
        }

        is_int(accepted, 0, "uuid: 0x%02x refused at every digit position",
               (unsigned char) nonhex[j]);
    }

    /* an embedded NUL */

    accepted = 0;

    for (i = 0; i < VELRO_UUID_LEN; i++) {
        memcpy(s, UID, 36);
        s[i] = '\0';
        accepted += (velro_uuid_parse(s, 36, id) == 0);
    }

    is_int(accepted, 0, "uuid: an embedded NUL refused at every position");
}


/*
 * The rule of INTERFACE.md, written out: read needs a role or public
 * access, write needs owner, admin or editor, delete needs owner or admin;
 * no row, no access.  The direct and team flags never matter.
 */

static void
test_access_rule(void)
{
    int             exists, pub, flags, got, want, role, action;
    velro_access_t  a;

    static const char  *actions[] = { "read", "write", "delete" };

    /* [role][action] with no public access; public adds read only */

    static const int  table[5][3] = {
        /* read write delete */
        {  0,   0,    0 },                   /* none */
        {  1,   0,    0 },                   /* viewer */
        {  1,   1,    0 },                   /* editor */
        {  1,   1,    1 },                   /* admin */
        {  1,   1,    1 }                    /* owner */
    };

    for (exists = 0; exists <= 1; exists++) {
        for (pub = 0; pub <= 1; pub++) {
            for (role = VELRO_ROLE_NONE; role <= VELRO_ROLE_OWNER; role++) {
                for (action = VELRO_ACTION_READ;
                     action <= VELRO_ACTION_DELETE;
                     action++)
                {
                    want = exists
                           && (table[role][action]
                               || (pub && action == VELRO_ACTION_READ));

                    memset(&a, 0, sizeof(velro_access_t));
                    a.exists = (uint8_t) exists;
                    a.role = (uint8_t) role;
                    a.public_access = (uint8_t) pub;
                    a.has_project = 1;
                    memcpy(a.project, pid, 16);

                    is_int(!!velro_access_allows(&a, action), want,
                           "rule: %s %s public=%d exists=%d",
                           roles[role], actions[action], pub, exists);
                }
            }
        }
    }

    /* the direct and team flags change nothing */

    got = 0;

    for (flags = 0; flags < 4; flags++) {
        for (role = VELRO_ROLE_NONE; role <= VELRO_ROLE_OWNER; role++) {
            for (action = VELRO_ACTION_READ; action <= VELRO_ACTION_DELETE;
                 action++)
            {
                memset(&a, 0, sizeof(velro_access_t));
                a.exists = 1;
                a.role = (uint8_t) role;
                a.direct = (uint8_t) (flags & 1);
                a.team = (uint8_t) (flags >> 1);

                got += (!!velro_access_allows(&a, action)
                        != table[role][action]);
            }
        }
    }

    is_int(got, 0, "rule: has_direct_access and has_team_access ignored");

    for (role = VELRO_ROLE_NONE; role <= VELRO_ROLE_OWNER; role++) {
        is_str(velro_role_name(role), role ? roles[role] : "",
               "rule: velro_role_name(%s)", roles[role]);
    }

    is_str(velro_role_name(VELRO_ROLE_OWNER + 1), "",
           "rule: velro_role_name() of an unknown value");
}


static void
test_user_check(void)
{
    velro_user_t  u;

    memset(&u, 0, sizeof(velro_user_t));
    u.active = 1;
    u.has_tva = 1;
    u.tokens_valid_after = 1700000000;

    is_int(velro_user_check(&u, 1800000000), VELRO_USER_UNKNOWN,
           "user: unknown");

    u.exists = 1;
    u.active = 0;

    is_int(velro_user_check(&u, 1800000000), VELRO_USER_DISABLED,
           "user: disabled, iat after tokens_valid_after");
    is_int(velro_user_check(&u, 1600000000), VELRO_USER_DISABLED,
           "user: disabled wins over revoked");

    u.active = 1;
    u.has_tva = 0;
    u.tokens_valid_after = 0;

    is_int(velro_user_check(&u, 1700000000), VELRO_USER_OK,
           "user: tokens_valid_after null");
    is_int(velro_user_check(&u, INT64_MIN), VELRO_USER_OK,
           "user: tokens_valid_after null, token without iat");
    is_int(velro_user_check(&u, -5), VELRO_USER_OK,
           "user: tokens_valid_after null, negative iat");

    u.has_tva = 1;
    u.tokens_valid_after = 1700000000;

    is_int(velro_user_check(&u, 1699999999), VELRO_USER_REVOKED,
           "user: iat one second before tokens_valid_after");
    is_int(velro_user_check(&u, 0), VELRO_USER_REVOKED,
           "user: iat 0");
    is_int(velro_user_check(&u, 1700000000), VELRO_USER_OK,
           "user: iat equal to tokens_valid_after");
    is_int(velro_user_check(&u, 1700000001), VELRO_USER_OK,
           "user: iat after tokens_valid_after");
    is_int(velro_user_check(&u, INT64_MIN), VELRO_USER_REVOKED,
           "user: token without iat when tokens_valid_after is set");

    u.tokens_valid_after = 0;

    is_int(velro_user_check(&u, 0), VELRO_USER_OK,
           "user: tokens_valid_after 0, iat 0");
    is_int(velro_user_check(&u, -1), VELRO_USER_REVOKED,
           "user: tokens_valid_after 0, iat -1");
    is_int(velro_user_check(&u, INT64_MIN), VELRO_USER_REVOKED,
           "user: tokens_valid_after 0, no iat");

    ok(*velro_user_description(VELRO_USER_UNKNOWN) != '\0'
       && *velro_user_description(VELRO_USER_DISABLED) != '\0'
       && *velro_user_description(VELRO_USER_REVOKED) != '\0',
       "user: every refusal has a description");
    is_str(velro_user_description(VELRO_USER_OK), "",
           "user: no description for ok");
}


static void
test_l3_good(void)
{
    int              role;
    char             buf[512];
    const char      *err;
    velro_user_t     u;
    velro_access_t   a;

    /* the contract's examples */

    is_int(l3(L3(USER_ACTIVE, "null"), 0, &u, &a, &err), 0,
           "l3: active user, tokens_valid_after null, no resource");
    ok(u.exists && u.active && !u.has_tva, "l3: ... user fields");
    ok(!a.exists, "l3: ... no row");

    is_int(l3(L3(USER_TVA, ROW("\"editor\"", "false")), 1, &u, &a, &err), 0,
           "l3: tokens_valid_after and an editor row");
    ok(u.exists && u.active && u.has_tva
       && u.tokens_valid_after == 1700000000, "l3: ... user fields");
    ok(a.exists && a.role == VELRO_ROLE_EDITOR && !a.direct && a.team
       && !a.public_access && a.has_project
       && memcmp(a.project, pid, 16) == 0, "l3: ... row fields");

    is_int(l3(L3(USER_ACTIVE, "null"), 1, &u, &a, &err), 0,
           "l3: resource asked, access null (no such generation)");
    ok(u.exists && !a.exists, "l3: ... no row");

    is_int(l3(L3(USER_ACTIVE,
                 ROW_IDS(UID, GID) ",\"project_id\":null,"
                 "\"effective_role\":null,\"has_direct_access\":false,"
                 "\"has_team_access\":false,\"has_public_access\":true}"),
              1, &u, &a, &err), 0,
           "l3: row without project or role, public");
    ok(a.exists && a.role == VELRO_ROLE_NONE && !a.has_project
       && a.public_access && !a.direct && !a.team, "l3: ... row fields");

    is_int(l3(L3(USER_ACTIVE,
                 ROW_IDS(UID, GID) ",\"project_id\":null,"
                 "\"effective_role\":null,\"has_direct_access\":false,"
                 "\"has_team_access\":false,\"has_public_access\":false}"),
              1, &u, &a, &err), 0,
           "l3: row with no access at all");
    ok(a.exists && a.role == VELRO_ROLE_NONE && !a.public_access,
       "l3: ... row exists, no role");

    is_int(l3(L3("null", "null"), 0, &u, &a, &err), 0, "l3: user null");
    ok(!u.exists && !a.exists, "l3: ... unknown user");

    is_int(l3(L3("{\"id\":\"" UID "\",\"status\":\"disabled\","
                 "\"tokens_valid_after\":null}", "null"), 0, &u, &a, &err),
           0, "l3: disabled user");
    ok(u.exists && !u.active, "l3: ... not active");

    is_int(l3(L3("{\"id\":\"" UID_UC "\",\"status\":\"active\","
                 "\"tokens_valid_after\":-1}",
                 ROW_IDS(UID_UC, "0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D")
                 ROW_TAIL("\"owner\"", "true")), 1, &u, &a, &err), 0,
           "l3: uppercase ids match");
    ok(u.has_tva && u.tokens_valid_after == -1 && a.exists
       && a.role == VELRO_ROLE_OWNER && a.public_access,
       "l3: ... fields");

    is_int(l3(" {\n \"access\" : null ,\t\"user\" : " USER_ACTIVE " }\n", 0,
              &u, &a, &err), 0, "l3: other key order and white space");

    is_int(l3("{\"version\":1,\"user\":{\"id\":\"" UID "\",\"email\":\"a@b\","
              "\"status\":\"active\",\"tokens_valid_after\":null},\"access\":"
              ROW_IDS(UID, GID) ",\"status\":\"completed\""
              ROW_TAIL("\"viewer\"", "false") "}", 1, &u, &a, &err),
           0, "l3: members outside the contract are ignored");

    for (role = VELRO_ROLE_VIEWER; role <= VELRO_ROLE_OWNER; role++) {
        snprintf(buf, sizeof(buf),
                 L3(USER_ACTIVE, ROW_IDS(UID, GID) ",\"project_id\":null,"
                    "\"effective_role\":\"%s\",\"has_direct_access\":true,"
                    "\"has_team_access\":false,\"has_public_access\":false}"),
                 roles[role]);

        is_int(l3(buf, 1, &u, &a, &err), 0, "l3: role %s", roles[role]);
        ok(a.exists && a.role == role && a.direct && !a.team,
           "l3: ... role %s read back", roles[role]);
    }
}


static void
test_l3_bad(void)
{
    size_t           i;
    const char      *err;
    velro_user_t     u;
    velro_access_t   a;

    static const struct {
        const char  *name;
        const char  *json;
        int          resource;
    } bad[] = {

        { "empty", "", 0 },
        { "not JSON", "nope", 0 },
        { "truncated", "{\"user\":" USER_ACTIVE ",\"access\":nul", 0 },
        { "trailing garbage", L3(USER_ACTIVE, "null") " x", 0 },
        { "two objects", L3(USER_ACTIVE, "null") L3(USER_ACTIVE, "null"),
          0 },
        { "an array", "[" L3(USER_ACTIVE, "null") "]", 0 },
        { "a string", "\"user\"", 0 },
        { "a number", "42", 0 },
        { "null", "null", 0 },
        { "empty object", "{}", 0 },
        { "user missing", "{\"access\":null}", 0 },
        { "access missing", "{\"user\":" USER_ACTIVE "}", 0 },
        { "access missing, resource asked", "{\"user\":" USER_ACTIVE "}", 1 },

        /* the user */

        { "user a string", L3("\"" UID "\"", "null"), 0 },
        { "user an array", L3("[]", "null"), 0 },
        { "user.id mismatch",
          L3("{\"id\":\"" XID "\",\"status\":\"active\","
             "\"tokens_valid_after\":null}", "null"), 0 },
        { "user.id missing",
          L3("{\"status\":\"active\",\"tokens_valid_after\":null}", "null"),
          0 },
        { "user.id null",
          L3("{\"id\":null,\"status\":\"active\","
             "\"tokens_valid_after\":null}", "null"), 0 },
        { "user.id not a UUID",
          L3("{\"id\":\"user-1\",\"status\":\"active\","
             "\"tokens_valid_after\":null}", "null"), 0 },
        { "user.id with a NUL",
          L3("{\"id\":\"" UID "\\u0000\",\"status\":\"active\","
             "\"tokens_valid_after\":null}", "null"), 0 },
        { "user.status missing",
          L3("{\"id\":\"" UID "\",\"tokens_valid_after\":null}", "null"), 0 },
        { "user.status true",
          L3("{\"id\":\"" UID "\",\"status\":true,"
             "\"tokens_valid_after\":null}", "null"), 0 },
        { "user.status \"active\" and a NUL",
          L3("{\"id\":\"" UID "\",\"status\":\"active\\u0000\","
             "\"tokens_valid_after\":null}", "null"), 0 },
        { "tokens_valid_after a string",
          L3("{\"id\":\"" UID "\",\"status\":\"active\","
             "\"tokens_valid_after\":\"1700000000\"}", "null"), 0 },
        { "tokens_valid_after true",
          L3("{\"id\":\"" UID "\",\"status\":\"active\","
             "\"tokens_valid_after\":true}", "null"), 0 },
        { "tokens_valid_after an object",
          L3("{\"id\":\"" UID "\",\"status\":\"active\","
             "\"tokens_valid_after\":{}}", "null"), 0 },
        { "tokens_valid_after too big an integer",
          L3("{\"id\":\"" UID "\",\"status\":\"active\","
             "\"tokens_valid_after\":99999999999999999999}", "null"), 0 },

        /* the row */

        { "access non-null when no resource asked",
          L3(USER_ACTIVE, ROW("\"owner\"", "false")), 0 },
        { "access a string", L3(USER_ACTIVE, "\"owner\""), 1 },
        { "access an array", L3(USER_ACTIVE, "[]"), 1 },
        { "access.user_id mismatch",
          L3(USER_ACTIVE, ROW_IDS(XID, GID) ROW_TAIL("\"owner\"", "false")),
          1 },
        { "access.generation_id mismatch",
          L3(USER_ACTIVE, ROW_IDS(UID, XID) ROW_TAIL("\"owner\"", "false")),
          1 },
        { "access ids swapped",
          L3(USER_ACTIVE, ROW_IDS(GID, UID) ROW_TAIL("\"owner\"", "false")),
          1 },
        { "access.user_id missing",
          L3(USER_ACTIVE, "{\"generation_id\":\"" GID "\""
             ROW_TAIL("\"owner\"", "false")), 1 },
        { "access.generation_id missing",
          L3(USER_ACTIVE, "{\"user_id\":\"" UID "\""
             ROW_TAIL("\"owner\"", "false")), 1 },
        { "access.generation_id null",
          L3(USER_ACTIVE, "{\"user_id\":\"" UID "\",\"generation_id\":null"
             ROW_TAIL("\"owner\"", "false")), 1 },
        { "access.project_id not a UUID",
          L3(USER_ACTIVE, ROW_IDS(UID, GID) ",\"project_id\":\"p1\","
             "\"effective_role\":\"owner\",\"has_direct_access\":true,"
             "\"has_team_access\":false,\"has_public_access\":false}"), 1 },
        { "access.project_id a number",
          L3(USER_ACTIVE, ROW_IDS(UID, GID) ",\"project_id\":7,"
             "\"effective_role\":\"owner\",\"has_direct_access\":true,"
             "\"has_team_access\":false,\"has_public_access\":false}"), 1 },
        { "unknown role", L3(USER_ACTIVE, ROW("\"superuser\"", "false")), 1 },
        { "role in capitals", L3(USER_ACTIVE, ROW("\"Owner\"", "false")), 1 },
        { "empty role", L3(USER_ACTIVE, ROW("\"\"", "false")), 1 },
        { "role a number", L3(USER_ACTIVE, ROW("4", "false")), 1 },
        { "role \"owner\" and a NUL",
          L3(USER_ACTIVE, ROW("\"owner\\u0000\"", "false")), 1 },
        { "effective_role missing",
          L3(USER_ACTIVE, ROW_IDS(UID, GID) ",\"project_id\":null,"
             "\"has_direct_access\":true,\"has_team_access\":false,"
             "\"has_public_access\":false}"), 1 },
        { "has_public_access a string",
          L3(USER_ACTIVE, ROW("\"viewer\"", "\"true\"")), 1 },
        { "has_public_access 1", L3(USER_ACTIVE, ROW("\"viewer\"", "1")), 1 },
        { "has_public_access null",
          L3(USER_ACTIVE, ROW("\"viewer\"", "null")), 1 },
        { "has_public_access missing",
          L3(USER_ACTIVE, ROW_IDS(UID, GID) ",\"project_id\":null,"
             "\"effective_role\":\"viewer\",\"has_direct_access\":true,"
             "\"has_team_access\":false}"), 1 },

        /* duplicate keys: which one counts would be the parser's choice */

        { "duplicate user",
          "{\"user\":null,\"user\":" USER_ACTIVE ",\"access\":null}", 0 },
        { "duplicate access",
          "{\"user\":" USER_ACTIVE ",\"access\":null,\"access\":"
          ROW("\"owner\"", "false") "}", 1 },
        { "duplicate user.id",
          L3("{\"id\":\"" XID "\",\"id\":\"" UID "\",\"status\":\"active\","
             "\"tokens_valid_after\":null}", "null"), 0 },
        { "duplicate user.status",
          L3("{\"id\":\"" UID "\",\"status\":\"disabled\","
             "\"status\":\"active\",\"tokens_valid_after\":null}", "null"),
          0 },
        { "duplicate effective_role",
          L3(USER_ACTIVE, ROW_IDS(UID, GID) ",\"effective_role\":null"
             ROW_TAIL("\"owner\"", "false")), 1 },
        { "duplicate has_public_access",
          L3(USER_ACTIVE, ROW_IDS(UID, GID) ",\"has_public_access\":false"
             ROW_TAIL("\"viewer\"", "true")), 1 }
    };

    for (i = 0; i < NELTS(bad); i++) {
        is_int(l3(bad[i].json, bad[i].resource, &u, &a, &err), -1,
               "l3 refused: %s", bad[i].name);

        if (err == NULL) {
            ok(0, "l3 refused: %s: no message", bad[i].name);
        }
    }

    /* a NUL byte inside the buffer */

    err = NULL;
    is_int(l3_access(L3(USER_ACTIVE, "null") "\0",
                          sizeof(L3(USER_ACTIVE, "null")), uid, NULL, &u, &a,
                          NULL, &err),
           -1, "l3 refused: a NUL byte after the object");

    err = NULL;
    is_int(l3_access("{\"user\":\0" USER_ACTIVE ",\"access\":null}",
                          sizeof("{\"user\":\0" USER_ACTIVE
                                 ",\"access\":null}") - 1,
                          uid, NULL, &u, &a, NULL, &err),
           -1, "l3 refused: a NUL byte inside the object");

    /* the length is obeyed: a valid answer cut short */

    err = NULL;
    is_int(l3_access(L3(USER_ACTIVE, "null"),
                          sizeof(L3(USER_ACTIVE, "null")) - 2, uid, NULL,
                          &u, &a, NULL, &err),
           -1, "l3 refused: the length cuts the closing brace");
}


static void
test_user_json(void)
{
    size_t         i, n;
    char           buf[VELRO_USER_JSON_MAX + 1], l3buf[512];
    const char    *err;
    velro_user_t   u, u2, u3;
    velro_access_t a;

    static const char  *dup = "{\"id\":\"" UID "\",\"id\":\"" UID "\","
                              "\"status\":\"active\"}";

    static const struct {
        uint8_t   exists;
        uint8_t   active;
        uint8_t   has_tva;
        int64_t   tva;
    } cases[] = {
        { 0, 0, 0, 0 },
        { 1, 1, 0, 0 },
        { 1, 0, 0, 0 },
        { 1, 1, 1, 0 },
        { 1, 1, 1, 1700000000 },
        { 1, 0, 1, 1700000000 },
        { 1, 1, 1, -1 },
        { 1, 1, 1, INT64_MAX },
        { 1, 0, 1, INT64_MIN }
    };

    for (i = 0; i < NELTS(cases); i++) {
        memset(&u, 0, sizeof(velro_user_t));
        u.exists = cases[i].exists;
        u.active = cases[i].active;
        u.has_tva = cases[i].has_tva;
        u.tokens_valid_after = cases[i].tva;

        n = velro_user_json(&u, uid, buf);

        if (n == 0 || n >= VELRO_USER_JSON_MAX) {
            ok(0, "user json %zu: length %zu", i, n);
            continue;
        }

        buf[n] = '\0';

        memset(&u2, 0xa5, sizeof(velro_user_t));
        err = NULL;

        is_int(velro_user_from_json(buf, n, uid, &u2, &err), 0,
               "user json %zu: %s reads back", i, buf);
        ok(memcmp(&u, &u2, sizeof(velro_user_t)) == 0,
           "user json %zu: the same struct", i);

        /* the L2 value is the L3 answer's part */

        snprintf(l3buf, sizeof(l3buf), "{\"user\":%s,\"access\":null}", buf);

        memset(&u3, 0xa5, sizeof(velro_user_t));

        is_int(l3(l3buf, 0, &u3, &a, &err), 0,
               "user json %zu: a valid L3 user", i);
        ok(memcmp(&u, &u3, sizeof(velro_user_t)) == 0,
           "user json %zu: L3 gives the same struct", i);
    }

    memset(&u, 0, sizeof(velro_user_t));
    u.exists = 1;
    u.active = 1;
    u.has_tva = 1;
    u.tokens_valid_after = 1700000000;

    n = velro_user_json(&u, uid, buf);
    buf[n] = '\0';
    is_str(buf, USER_TVA, "user json: the text");

    u.exists = 0;
    n = velro_user_json(&u, uid, buf);
    buf[n] = '\0';
    is_str(buf, "null", "user json: unknown user is null");

    /* read back for another user: refused */

    u.exists = 1;
    n = velro_user_json(&u, uid, buf);

    err = NULL;
    is_int(velro_user_from_json(buf, n, xid, &u2, &err), -1,
           "user json: refused for another user");
    ok(err != NULL, "user json: ... with a message");

    err = NULL;
    is_int(velro_user_from_json("nul", 3, uid, &u2, &err), -1,
           "user json: not JSON refused");
    is_int(velro_user_from_json("[]", 2, uid, &u2, &err), -1,
           "user json: an array refused");
    is_int(velro_user_from_json("\"x\"", 3, uid, &u2, &err), -1,
           "user json: a string refused");
    is_int(velro_user_from_json(dup, strlen(dup), uid, &u2, &err), -1,
           "user json: duplicate keys refused");
}


static void
test_invalidation(void)
{
    int             kind;
    size_t          i;
    unsigned char   id[16];

    static const struct {
        const char  *json;
        int          kind;
    } good[] = {
        { "{\"kind\":\"user\",\"id\":\"" UID "\"}", VELRO_INVALIDATE_USER },
        { "{\"kind\":\"team\",\"id\":\"" UID "\"}", VELRO_INVALIDATE_TEAM },
        { "{\"kind\":\"project\",\"id\":\"" UID "\"}",
          VELRO_INVALIDATE_PROJECT },
        { "{\"kind\":\"generation\",\"id\":\"" UID "\"}",
          VELRO_INVALIDATE_GENERATION },
        { "{\"id\":\"" UID_UC "\",\"kind\":\"user\"}", VELRO_INVALIDATE_USER },
        { " {\"kind\" : \"team\", \"id\" : \"" UID "\", \"op\":\"UPDATE\"} ",
          VELRO_INVALIDATE_TEAM }
    };

    static const char  *bad[] = {
        "",
        "user",
        "{",
        "{\"kind\":\"user\",\"id\":\"" UID "\"",
        "[\"user\",\"" UID "\"]",
        "null",
        "{}",
        "{\"id\":\"" UID "\"}",
        "{\"kind\":\"user\"}",
        "{\"kind\":null,\"id\":\"" UID "\"}",
        "{\"kind\":1,\"id\":\"" UID "\"}",
        "{\"kind\":\"users\",\"id\":\"" UID "\"}",
        "{\"kind\":\"User\",\"id\":\"" UID "\"}",
        "{\"kind\":\"\",\"id\":\"" UID "\"}",
        "{\"kind\":\"media\",\"id\":\"" UID "\"}",
        "{\"kind\":\"user\\u0000\",\"id\":\"" UID "\"}",
        "{\"kind\":\"user\",\"id\":null}",
        "{\"kind\":\"user\",\"id\":42}",
        "{\"kind\":\"user\",\"id\":\"user-1\"}",
        "{\"kind\":\"user\",\"id\":\"6f1c2b8a-3d4e-4f5a-9b6c-7d8e9fa0b1c\"}",
        "{\"kind\":\"user\",\"id\":\"" UID "0\"}",
        "{\"kind\":\"user\",\"id\":\"6f1c2b8a3d4e-4f5a-9b6c-7d8e9fa0b1c2-\"}",
        "{\"kind\":\"user\",\"id\":\"6g1c2b8a-3d4e-4f5a-9b6c-7d8e9fa0b1c2\"}",
        "{\"kind\":\"user\",\"kind\":\"team\",\"id\":\"" UID "\"}",
        "{\"kind\":\"user\",\"id\":\"" XID "\",\"id\":\"" UID "\"}",
        "{\"kind\":\"user\",\"id\":\"" UID "\"} x"
    };

    for (i = 0; i < NELTS(good); i++) {
        memset(id, 0, sizeof(id));
        kind = velro_invalidation_parse(good[i].json, strlen(good[i].json),
                                        id);

        is_int(kind, good[i].kind, "invalidation: %s", good[i].json);
        ok(memcmp(id, uid, 16) == 0, "invalidation: ... the id");
    }

    for (i = 0; i < NELTS(bad); i++) {
        is_int(velro_invalidation_parse(bad[i], strlen(bad[i]), id), -1,
               "invalidation refused: %s", bad[i]);
    }
}


void
test_authz(void)
{
    diag("velro_authz.c");

    ids_init();

    test_uuid();
    test_uuid_bad();
    test_access_rule();
    test_user_check();
    test_l3_good();
    test_l3_bad();
    test_user_json();
    test_invalidation();
    test_project();
    test_warm();
}


#define PROJ_TEAM                                                             \
    "{\"id\":\"" PID "\",\"team_id\":\"" XID "\","                          \
    "\"visibility\":\"team_open\"}"

#define PROJ_NOTEAM                                                           \
    "{\"id\":\"" XID "\",\"team_id\":null,\"visibility\":\"private\"}"

#define PROJ_BAD                                                              \
    "{\"id\":\"" PID "\",\"team_id\":null,\"visibility\":\"x\"}"


static void
test_project(void)
{
    char              buf[VELRO_PROJECT_JSON_MAX];
    size_t            n;
    const char       *err;
    velro_user_t      u;
    velro_access_t    a;
    velro_project_t   pr;

    /* the single L3 answer's "project" */

    err = NULL;
#define L3A  L3(USER_ACTIVE, ROW("\"admin\"", "false"))

    is_int(l3_access(L3A, sizeof(L3A) - 1, uid, gid, &u, &a, &pr,
                          &err),
           0, "l3 without a project");
    is_int(pr.valid, 0, "l3 without a project: not valid");

#define L3P(p)                                                                \
    "{\"user\":" USER_ACTIVE ",\"access\":" ROW("\"admin\"", "false")     \
    ",\"project\":" p "}"

    is_int(l3_access(L3P(PROJ_TEAM), sizeof(L3P(PROJ_TEAM)) - 1, uid,
                          gid, &u, &a, &pr, &err),
           0, "l3 with a project");
    ok(pr.valid && pr.has_team && pr.visibility == VELRO_VIS_TEAM_OPEN
       && memcmp(pr.id, pid, 16) == 0 && memcmp(pr.team_id, xid, 16) == 0,
       "l3 with a project: id, team, visibility");

    n = velro_project_json(&pr, buf);
    is_str(buf, PROJ_TEAM, "project json with a team");
    is_int(n, sizeof(PROJ_TEAM) - 1, "project json with a team: length");

    is_int(l3_access(L3P(PROJ_NOTEAM), sizeof(L3P(PROJ_NOTEAM)) - 1,
                          uid, gid, &u, &a, &pr, &err),
           0, "l3 with a project without team");
    ok(pr.valid && !pr.has_team && pr.visibility == VELRO_VIS_PRIVATE,
       "l3 with a project without team: parsed");

    n = velro_project_json(&pr, buf);
    is_str(buf, PROJ_NOTEAM, "project json without team");
    is_int(n, sizeof(PROJ_NOTEAM) - 1, "project json without team: length");

    /* a malformed project does not refuse the answer */

    is_int(l3_access(L3P(PROJ_BAD), sizeof(L3P(PROJ_BAD)) - 1, uid,
                          gid, &u, &a, &pr, &err),
           0, "l3 with an unknown visibility: still parsed");
    is_int(pr.valid, 0, "l3 with an unknown visibility: no project");
}


static void
test_warm(void)
{
    size_t             i, n, np;
    const char        *err;
    velro_user_t       u;
    velro_project_t    pr[4];
    velro_warm_row_t   rows[4];

    static const char  fast[] =
        "{\"user\":" USER_TVA ",\"access\":["
        ROW_IDS(UID, GID) ROW_TAIL("\"admin\"", "false") ","
        ROW_IDS(UID, XID) ",\"project_id\":null,\"effective_role\":null,"
        "\"has_direct_access\":false,\"has_team_access\":false,"
        "\"has_public_access\":false}"
        "],\"projects\":[" PROJ_TEAM "," PROJ_NOTEAM "]}";

    /* the same answer as another writer could lay it out */

    static const char  spaced[] =
        "{ \"projects\" : [" PROJ_TEAM ", " PROJ_BAD ", " PROJ_NOTEAM "],"
        " \"access\" : [ "
        ROW_IDS(UID, GID) ROW_TAIL("\"admin\"", "false") " , "
        ROW_IDS(UID, XID) ",\"project_id\":null,\"effective_role\":null,"
        "\"has_direct_access\":false,\"has_team_access\":false,"
        "\"has_public_access\":false} ], \"user\": " USER_TVA " }";

    const char        *both[2] = { fast, spaced };

    for (i = 0; i < 2; i++) {
        err = NULL;
        is_int(velro_warm_parse(both[i], strlen(both[i]), uid, &u, rows, 4,
                                &n, pr, 4, &np, &err),
               0, "warm %s", i ? "spaced" : "fast");
        ok(u.exists && u.active && u.has_tva
           && u.tokens_valid_after == 1700000000,
           "warm %s: user", i ? "spaced" : "fast");
        is_int(n, 2, "warm %s: two rows", i ? "spaced" : "fast");
        ok(memcmp(rows[0].generation, gid, 16) == 0
           && rows[0].access.exists
           && rows[0].access.role == VELRO_ROLE_ADMIN
           && rows[0].access.team && rows[0].access.has_project
           && memcmp(rows[0].access.project, pid, 16) == 0,
           "warm %s: row 1", i ? "spaced" : "fast");
        ok(memcmp(rows[1].generation, xid, 16) == 0
           && rows[1].access.exists
           && rows[1].access.role == VELRO_ROLE_NONE
           && !rows[1].access.has_project,
           "warm %s: row 2", i ? "spaced" : "fast");
        is_int(np, 2, "warm %s: two projects (a malformed one skipped)",
               i ? "spaced" : "fast");
        ok(pr[0].valid && pr[0].has_team
           && memcmp(pr[0].id, pid, 16) == 0
           && pr[1].valid && !pr[1].has_team
           && memcmp(pr[1].id, xid, 16) == 0,
           "warm %s: projects", i ? "spaced" : "fast");

        /* max_rows and max_projects are obeyed */

        is_int(velro_warm_parse(both[i], strlen(both[i]), uid, &u, rows, 1,
                                &n, pr, 1, &np, &err),
               0, "warm %s, one of each", i ? "spaced" : "fast");
        ok(n == 1 && np == 1
           && memcmp(rows[0].generation, gid, 16) == 0,
           "warm %s, one of each: the first", i ? "spaced" : "fast");

        /* rows of another user are refused */

        err = NULL;
        is_int(velro_warm_parse(both[i], strlen(both[i]), xid, &u, rows, 4,
                                &n, pr, 4, &np, &err),
               -1, "warm %s for another user refused",
               i ? "spaced" : "fast");
        ok(err != NULL, "... with a message");

        /* cut short */

        err = NULL;
        is_int(velro_warm_parse(both[i], strlen(both[i]) - 1, uid, &u, rows,
                                4, &n, pr, 4, &np, &err),
               -1, "warm %s cut short refused", i ? "spaced" : "fast");
    }

    /* an unknown user */

    err = NULL;
#define WARM_NOUSER  "{\"user\":null,\"access\":[],\"projects\":[]}"

    is_int(velro_warm_parse(WARM_NOUSER, sizeof(WARM_NOUSER) - 1, uid, &u,
                            rows, 4, &n, pr, 4, &np, &err),
           0, "warm: unknown user");
    ok(!u.exists && n == 0 && np == 0, "warm: unknown user, nothing");

    /* the user object ends at its first brace: a brace in a string */

    err = NULL;
#define WARM_BRACE                                                            \
    "{\"user\":{\"id\":\"" UID "\",\"status\":\"a}\","                      \
    "\"tokens_valid_after\":null},\"access\":[],\"projects\":[]}"

    is_int(velro_warm_parse(WARM_BRACE, sizeof(WARM_BRACE) - 1, uid, &u,
                            rows, 4, &n, pr, 4, &np, &err),
           0, "warm: a brace inside the user's status");
    ok(u.exists && !u.active, "warm: ... read by jansson, not active");

    /* not an array, not JSON, a row that is not an object */

    err = NULL;
    is_int(velro_warm_parse("{\"user\":null,\"access\":{}}", 27, uid, &u,
                            rows, 4, &n, pr, 4, &np, &err),
           -1, "warm: access not an array");

    err = NULL;
    is_int(velro_warm_parse("{\"user\":null,\"access\":[1]}", 27, uid, &u,
                            rows, 4, &n, pr, 4, &np, &err),
           -1, "warm: a row not an object");

    err = NULL;
    is_int(velro_warm_parse("nope", 4, uid, &u, rows, 4, &n, pr, 4, &np,
                            &err),
           -1, "warm: not JSON");
}
