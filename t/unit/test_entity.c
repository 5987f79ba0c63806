
/*
 * velro unit tests: decisions from entities (velro_authz_decide()) and
 * the entities' JSON forms (velro_entity.c): the L3 entity answer, the L2
 * values and the warm answer.
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "velro_entity.h"
#include "agree.h"
#include "util.h"


#define UID  "6f1c2b8a-3d4e-4f5a-9b6c-7d8e9fa0b1c2"
#define OID  "0f1c2b8a-3d4e-4f5a-9b6c-7d8e9fa0b1c2"
#define GID  "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#define PID  "11111111-2222-4333-8444-555555555555"
#define TID  "22222222-2222-4333-8444-555555555555"
#define T2   "33333333-2222-4333-8444-555555555555"

#define USER(teams)                                                           \
    "{\"id\":\"" UID "\",\"status\":\"active\",\"tokens_valid_after\":null,"  \
    "\"teams\":{" teams "}}"

#define GEN(creator, status)                                                  \
    "{\"id\":\"" GID "\",\"user_id\":\"" creator "\",\"project_id\":\"" PID   \
    "\",\"status\":\"" status "\",\"media_url\":\"a/b\\\"c.png\"}"

#define PROJ(team, vis)                                                       \
    "{\"id\":\"" PID "\",\"team_id\":" team ",\"visibility\":\"" vis "\"}"

#define ANSWER(u, g, p)  "{\"user\":" u ",\"generation\":" g ",\"project\":" p "}"


void test_entity(void);

static void test_decide(void);
static void test_answer(void);
static void test_answer_bad(void);
static void test_values(void);
static void test_warm_entities(void);
static void test_unstamp(void);
static void test_fast(void);
static void fast_agree(const char *what, const char *buf, size_t len,
    int expect);
static void fast_mutants(const char *what, const char *buf, size_t len);
static void fast_bench(void);
static uint32_t fast_rand(void);
static void id(const char *s, unsigned char *out);


static unsigned char  uid[16], oid[16], gid[16], pid[16], tid[16], t2[16];
static uint32_t       fast_seed = 2463534242u;


static void
id(const char *s, unsigned char *out)
{
    if (velro_uuid_parse((const unsigned char *) s, strlen(s), out) != 0) {
        abort();
    }
}


/*
 * Every combination of creator, status, project, team, membership and
 * visibility against the rule as sql/schema.sql states it.
 */

static void
test_decide(void)
{
    int                 creator, completed, hasproj, hasteam, member, vis;
    int                 role, want_role, bad, rc;
    velro_roles_t       roles;
    velro_access_t      a;
    velro_project_t     p;
    velro_team_role_t   teams[2];
    velro_generation_t  g;

    bad = 0;

    for (creator = 0; creator <= 1; creator++)
    for (completed = 0; completed <= 1; completed++)
    for (hasproj = 0; hasproj <= 1; hasproj++)
    for (hasteam = 0; hasteam <= 1; hasteam++)
    for (member = 0; member <= 4; member++)      /* 0: none, else a role */
    for (vis = 0; vis <= 3; vis++) {

        memset(&g, 0, sizeof(g));
        g.exists = 1;
        g.completed = (uint8_t) completed;
        g.has_project = (uint8_t) hasproj;
        memcpy(g.creator, creator ? uid : oid, 16);
        memcpy(g.project, pid, 16);

        memset(&p, 0, sizeof(p));
        memcpy(p.id, pid, 16);
        p.valid = 1;
        p.has_team = (uint8_t) hasteam;
        memcpy(p.team_id, tid, 16);
        p.visibility = (uint8_t) vis;

        memcpy(teams[0].team, t2, 16);
        teams[0].role = VELRO_ROLE_ADMIN;
        memcpy(teams[1].team, tid, 16);
        teams[1].role = (uint8_t) member;

        roles.exists = 1;
        roles.more = 0;
        roles.n = member ? 2 : 1;
        roles.teams = teams;

        rc = velro_authz_decide(uid, &roles, &g, hasproj ? &p : NULL, &a);

        role = member && hasproj && hasteam;     /* a member of P's team */

        if (creator) {
            want_role = VELRO_ROLE_OWNER;

        } else if (!completed) {
            want_role = VELRO_ROLE_NONE;

        } else if (role) {
            want_role = (member == VELRO_ROLE_OWNER) ? VELRO_ROLE_ADMIN
                                                      : member;

        } else if (hasproj && vis == VELRO_VIS_PUBLIC) {
            want_role = VELRO_ROLE_VIEWER;

        } else {
            want_role = VELRO_ROLE_NONE;
        }

        if (rc != 0 || !a.exists || a.role != want_role
            || a.direct != creator
            || a.team != (completed && role)
            || a.public_access != ((completed || creator) && hasproj
                                   && (vis == VELRO_VIS_PUBLIC
                                       || vis == VELRO_VIS_TEAM_OPEN))
            || a.has_project != hasproj
            || (hasproj && memcmp(a.project, pid, 16) != 0))
        {
            if (bad++ < 5) {
                diag("decide: creator %d completed %d project %d team %d "
                     "member %d visibility %d: role %d (want %d)", creator,
                     completed, hasproj, hasteam, member, vis, a.role,
                     want_role);
            }
        }
    }

    ok(bad == 0, "decide: 320 combinations follow the rule");

    /* an unknown generation: no row; an unknown project: none */

    memset(&g, 0, sizeof(g));
    roles.exists = 0;
    roles.n = 0;
    roles.more = 0;
    ok(velro_authz_decide(uid, &roles, &g, NULL, &a) == 0 && !a.exists,
       "decide: unknown generation, no row");

    g.exists = 1;
    g.completed = 1;
    g.has_project = 1;
    memcpy(g.creator, oid, 16);
    memcpy(g.project, pid, 16);
    memset(&p, 0, sizeof(p));
    ok(velro_authz_decide(uid, &roles, &g, &p, &a) == 0 && a.exists
       && a.role == VELRO_ROLE_NONE && !a.public_access && a.has_project,
       "decide: unknown project, no access but the project id");

    /* a partial list of memberships without the team cannot decide */

    p.valid = 1;
    p.has_team = 1;
    memcpy(p.team_id, tid, 16);
    memcpy(teams[0].team, t2, 16);
    roles.exists = 1;
    roles.n = 1;
    roles.more = 1;
    roles.teams = teams;
    ok(velro_authz_decide(uid, &roles, &g, &p, &a) == -1,
       "decide: partial memberships without the team: -1");

    memcpy(teams[0].team, tid, 16);
    teams[0].role = VELRO_ROLE_EDITOR;
    ok(velro_authz_decide(uid, &roles, &g, &p, &a) == 0
       && a.role == VELRO_ROLE_EDITOR && a.team,
       "decide: partial memberships with the team decide");

    memcpy(g.creator, uid, 16);
    memcpy(teams[0].team, t2, 16);
    ok(velro_authz_decide(uid, &roles, &g, &p, &a) == -1,
       "decide: partial, creator: still -1 (has_team_access unknown)");
}


static void
test_answer(void)
{
    const char         *err;
    velro_l3_answer_t   ans;
    velro_team_role_t   teams[VELRO_TEAMS_MAX];
    static const char   full[] =
        ANSWER(USER("\"" T2 "\":\"viewer\",\"" TID "\":\"owner\""),
               GEN(OID, "completed"), PROJ("\"" TID "\"", "team"));
    static const char   access[] =
        "{\"user\":{\"id\":\"" UID "\",\"status\":\"active\","
        "\"tokens_valid_after\":5},\"access\":{\"user_id\":\"" UID "\","
        "\"generation_id\":\"" GID "\",\"project_id\":null,"
        "\"effective_role\":\"editor\",\"has_direct_access\":false,"
        "\"has_team_access\":true,\"has_public_access\":false}}";

    err = "";
    ok(velro_l3_answer_parse(full, sizeof(full) - 1, uid, gid, &ans, teams,
                             VELRO_TEAMS_MAX, &err) == 0,
       "answer: entity form (%s)", err);
    ok(ans.form == VELRO_L3_ENTITIES && ans.user.exists && ans.user.active
       && ans.roles.exists && ans.roles.n == 2 && !ans.roles.more,
       "answer: user and two memberships");
    ok(memcmp(ans.roles.teams[0].team, tid, 16) == 0
       && ans.roles.teams[0].role == VELRO_ROLE_OWNER,
       "answer: the project's team comes first");
    ok(ans.gen.exists && ans.gen.completed && ans.gen.has_project
       && memcmp(ans.gen.creator, oid, 16) == 0
       && ans.gen.status_len == 9 && ans.gen.has_media
       && ans.gen.media_len == 9
       && memcmp(ans.gen.media_url, "a/b\"c.png", 9) == 0,
       "answer: generation fields");
    ok(ans.project.valid && ans.project.has_team
       && ans.project.visibility == VELRO_VIS_TEAM,
       "answer: project fields");

    /* at most max_teams memberships, the project's team among them */

    ok(velro_l3_answer_parse(full, sizeof(full) - 1, uid, gid, &ans, teams, 1,
                             &err) == 0
       && ans.roles.n == 1 && ans.roles.more
       && memcmp(ans.roles.teams[0].team, tid, 16) == 0,
       "answer: bounded memberships keep the project's team, more set");

    ok(velro_l3_answer_parse(access, sizeof(access) - 1, uid, gid, &ans,
                             teams, VELRO_TEAMS_MAX, &err) == 0
       && ans.form == VELRO_L3_ACCESS && ans.access.exists
       && ans.access.role == VELRO_ROLE_EDITOR && ans.user.has_tva,
       "answer: issue 3's access form");

    {
        static const char  unknown[] =
            "{\"user\":null,\"generation\":null,\"project\":null}";
        static const char  nores[] =
            "{\"user\":" USER("") "}";

        ok(velro_l3_answer_parse(unknown, sizeof(unknown) - 1, uid, gid,
                                 &ans, teams, VELRO_TEAMS_MAX, &err) == 0
           && !ans.user.exists && !ans.gen.exists && !ans.project.valid
           && ans.has_generation,
           "answer: unknown user and generation");

        ok(velro_l3_answer_parse(nores, sizeof(nores) - 1, uid, NULL, &ans,
                                 teams, VELRO_TEAMS_MAX, &err) == 0
           && ans.user.exists && ans.roles.exists && ans.roles.n == 0
           && !ans.has_generation,
           "answer: no resource: the user alone");
    }
}


static void
test_answer_bad(void)
{
    size_t              i;
    const char         *err;
    velro_l3_answer_t   ans;
    velro_team_role_t   teams[4];
    static const char  *bad[] = {
        "",
        "[]",
        "{}",
        ANSWER(USER(""), GEN(OID, "completed"), "null") "x",
        "{\"user\":" USER("") ",\"generation\":" GEN(OID, "x") "}",
        ANSWER(USER(""), "{\"id\":\"" PID "\"}", "null"),
        ANSWER("{\"id\":\"" OID "\",\"status\":\"active\","
               "\"tokens_valid_after\":null,\"teams\":{}}",
               GEN(OID, "completed"), "null"),
        ANSWER("{\"id\":\"" UID "\",\"status\":\"active\","
               "\"tokens_valid_after\":null}",
               GEN(OID, "completed"), "null"),
        ANSWER(USER("\"nope\":\"viewer\""), GEN(OID, "completed"), "null"),
        ANSWER(USER("\"" TID "\":\"boss\""), GEN(OID, "completed"), "null"),
        ANSWER(USER("\"" TID "\":1"), GEN(OID, "completed"), "null"),
        ANSWER(USER(""), GEN(OID, "completed"),
               "{\"id\":\"" TID "\",\"team_id\":null,"
               "\"visibility\":\"public\"}"),
        ANSWER(USER(""), GEN(OID, "completed"), PROJ("null", "secret")),
        ANSWER(USER(""), "{\"id\":\"" GID "\",\"user_id\":\"" OID "\","
               "\"project_id\":null,\"status\":\"completed\","
               "\"media_url\":null}", PROJ("null", "public")),
        ANSWER(USER(""), "{\"id\":\"" GID "\",\"user_id\":\"" OID "\","
               "\"project_id\":null,\"status\":3,\"media_url\":null}",
               "null"),
        ANSWER(USER(""), "{\"id\":\"" GID "\",\"user_id\":\"" OID "\","
               "\"project_id\":null,\"status\":\"x\",\"media_url\":7}",
               "null"),
    };

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = NULL;
        ok(velro_l3_answer_parse(bad[i], strlen(bad[i]), uid, gid, &ans,
                                 teams, 4, &err) == -1 && err != NULL,
           "answer: refused #%zu (%s)", i, err ? err : "accepted");
    }

    {
        static const char  nores[] =
            "{\"user\":" USER("") ",\"generation\":" GEN(OID, "x")
            ",\"project\":null}";

        ok(velro_l3_answer_parse(nores, sizeof(nores) - 1, uid, NULL, &ans,
                                 teams, 4, &err) == -1,
           "answer: a generation without a resource asked is refused");
    }
}


static void
test_values(void)
{
    char                buf[VELRO_GENERATION_JSON_MAX];
    size_t              len, i;
    const char         *err;
    velro_roles_t       roles, back;
    velro_project_t     p, pb;
    velro_team_role_t   teams[3], tback[3];
    velro_generation_t  g, gb;

    memcpy(teams[0].team, tid, 16);
    teams[0].role = VELRO_ROLE_OWNER;
    memcpy(teams[1].team, t2, 16);
    teams[1].role = VELRO_ROLE_VIEWER;

    roles.exists = 1;
    roles.more = 1;
    roles.n = 2;
    roles.teams = teams;

    len = velro_roles_json(&roles, uid, buf, sizeof(buf));
    buf[len] = '\0';
    is_str(buf, "{\"user_id\":\"" UID "\",\"teams\":{\"" TID "\":\"owner\",\""
           T2 "\":\"viewer\"},\"teams_more\":true}", "values: roles text");

    ok(velro_roles_from_json(buf, len, uid, &back, tback, 3, &err) == 0
       && back.exists && back.more && back.n == 2
       && memcmp(tback, teams, 2 * sizeof(velro_team_role_t)) == 0,
       "values: roles read back");
    ok(velro_roles_from_json(buf, len, oid, &back, tback, 3, &err) == -1,
       "values: roles of another user refused");
    ok(velro_roles_json(&roles, uid, buf, 10) == 0,
       "values: roles do not fit: 0");

    roles.exists = 0;
    roles.n = 0;
    len = velro_roles_json(&roles, uid, buf, sizeof(buf));
    ok(len == 4 && memcmp(buf, "null", 4) == 0
       && velro_roles_from_json(buf, len, uid, &back, tback, 3, &err) == 0
       && !back.exists, "values: unknown user's roles are null");

    memset(&g, 0, sizeof(g));
    g.exists = 1;
    g.completed = 0;
    g.has_project = 1;
    memcpy(g.creator, oid, 16);
    memcpy(g.project, pid, 16);
    memcpy(g.status, "in \"work\"", 9);
    g.status_len = 9;
    g.has_media = 1;
    memcpy(g.media_url, "k\\e\ty", 5);
    g.media_len = 5;

    len = velro_generation_json(&g, gid, buf, sizeof(buf));
    ok(len > 0 && velro_generation_from_json(buf, len, gid, &gb, &err) == 0,
       "values: generation read back");
    ok(gb.exists && !gb.completed && gb.has_project
       && memcmp(gb.creator, oid, 16) == 0 && memcmp(gb.project, pid, 16) == 0
       && gb.status_len == 9 && memcmp(gb.status, g.status, 9) == 0
       && gb.has_media && gb.media_len == 5
       && memcmp(gb.media_url, g.media_url, 5) == 0,
       "values: generation fields, escapes included");
    ok(velro_generation_from_json(buf, len, pid, &gb, &err) == -1,
       "values: another generation refused");

    g.exists = 0;
    len = velro_generation_json(&g, gid, buf, sizeof(buf));
    ok(len == 4 && velro_generation_from_json(buf, len, gid, &gb, &err) == 0
       && !gb.exists, "values: unknown generation is null");

    memset(&p, 0, sizeof(p));
    memcpy(p.id, pid, 16);
    p.valid = 1;
    p.visibility = VELRO_VIS_TEAM_OPEN;
    len = velro_project_json(&p, buf);
    ok(velro_project_from_json(buf, len, pid, &pb, &err) == 0 && pb.valid
       && !pb.has_team && pb.visibility == VELRO_VIS_TEAM_OPEN,
       "values: project read back");
    ok(velro_project_from_json(buf, len, tid, &pb, &err) == -1,
       "values: another project refused");

    p.valid = 0;
    len = velro_project_json(&p, buf);
    ok(len == 4 && velro_project_from_json(buf, len, pid, &pb, &err) == 0
       && !pb.valid, "values: unknown project is null");

    for (i = 0; i < 3; i++) {
        static const char  *junk[] = { "", "{", "{\"user_id\":1}" };

        ok(velro_roles_from_json(junk[i], strlen(junk[i]), uid, &back, tback,
                                 3, &err) == -1
           && velro_generation_from_json(junk[i], strlen(junk[i]), gid, &gb,
                                         &err) == -1,
           "values: junk refused #%zu", i);
    }
}


static void
test_warm_entities(void)
{
    size_t              n, np;
    const char         *err;
    velro_user_t        u;
    velro_roles_t       roles;
    unsigned char       ids[2][16];
    velro_project_t     projects[2];
    velro_team_role_t   teams[4];
    velro_generation_t  gens[2];
    static const char   warm[] =
        "{\"user\":" USER("\"" TID "\":\"editor\"") ",\"generations\":["
        GEN(UID, "pending") ",{\"id\":\"bad\"}," GEN(OID, "completed") ","
        GEN(OID, "completed") "],\"projects\":[" PROJ("\"" TID "\"", "public")
        ",{\"id\":1}]}";

    err = "";
    ok(velro_warm_entities_parse(warm, sizeof(warm) - 1, uid, &u, &roles,
                                 teams, 4, ids, gens, 2, &n, projects, 2,
                                 &np, &err) == 0,
       "warm entities: parsed (%s)", err);
    ok(u.exists && roles.n == 1 && roles.teams[0].role == VELRO_ROLE_EDITOR,
       "warm entities: user and memberships");
    ok(n == 2 && memcmp(ids[0], gid, 16) == 0 && !gens[0].completed
       && gens[1].completed, "warm entities: bad generation skipped, max kept");
    ok(np == 1 && projects[0].valid
       && projects[0].visibility == VELRO_VIS_PUBLIC,
       "warm entities: bad project skipped");

    ok(velro_warm_entities_parse("{\"user\":null,\"generations\":[],"
                                 "\"projects\":[]}", 44, uid, &u, &roles,
                                 teams, 4, ids, gens, 2, &n, projects, 2,
                                 &np, &err) == 0 && !u.exists && n == 0,
       "warm entities: unknown user");
    ok(velro_warm_entities_parse("{\"user\":null}", 13, uid, &u, &roles,
                                 teams, 4, ids, gens, 2, &n, projects, 2,
                                 &np, &err) == -1,
       "warm entities: no generations refused");
}


static void
test_unstamp(void)
{
    size_t     i;
    uint64_t   stamp;
    static const char  *bad[] = {
        "", "{}", "123", "123{}", " 1 {}", "0123 {}", "-1 {}",
        "123456789012345678901 {}", "12a {}"
    };

    ok(velro_l2_unstamp("1733228000123 {\"a\":1}", 21, &stamp) == 14
       && stamp == 1733228000123ull, "unstamp: stamp and its length");
    ok(velro_l2_unstamp("0 null", 6, &stamp) == 2 && stamp == 0,
       "unstamp: 0");

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ok(velro_l2_unstamp(bad[i], strlen(bad[i]), &stamp) == 0
           && stamp == 0, "unstamp: none in \"%s\"", bad[i]);
    }
}


void
test_entity(void)
{
    unsigned char  id16[16];

    diag("velro_entity.c");

    id(UID, uid);
    id(OID, oid);
    id(GID, gid);
    id(PID, pid);
    id(TID, tid);
    id(T2, t2);

    test_decide();
    test_answer();
    test_answer_bad();
    test_values();
    test_warm_entities();
    test_unstamp();
    test_fast();

    ok(velro_invalidation_parse("{\"kind\":\"member\",\"id\":\"" UID "\"}",
                                sizeof("{\"kind\":\"member\",\"id\":\"\"}") - 1
                                + 36, id16) == VELRO_INVALIDATE_MEMBER
       && memcmp(id16, uid, 16) == 0, "invalidation: member");
}


static uint32_t
fast_rand(void)
{
    fast_seed ^= fast_seed << 13;
    fast_seed ^= fast_seed >> 17;
    fast_seed ^= fast_seed << 5;

    return fast_seed;
}


/*
 * The readers agree on buf; expect: the bits of velro_agree_all() that
 * must be set (the fast reader read), or -1: none may be.
 */

static void
fast_agree(const char *what, const char *buf, size_t len, int expect)
{
    int          fast;
    const char  *e;

    e = velro_agree_all(buf, len, uid, gid, pid, VELRO_TEAMS_MAX, &fast);

    if (e == NULL) {
        e = (expect < 0) ? (fast ? "the fast reader read it" : NULL)
            : ((fast & expect) != expect) ? "the fast reader did not read it"
            : NULL;
    }

    ok(e == NULL, "fast: %s", what);

    if (e) {
        diag("%s: %.*s", e, (int) (len > 300 ? 300 : len), buf);
    }
}


/* truncated, a space or another byte anywhere: the readers agree */

static void
fast_mutants(const char *what, const char *buf, size_t len)
{
    int          fast;
    char         m[VELRO_GENERATION_JSON_MAX + 2];
    size_t       i, k, step, bad, tried;
    const char  *e;
    static const char  subst[] = { ' ', 'X', '"', '\\', '}', '0', '\x80' };

    bad = 0;
    tried = 0;
    e = NULL;
    step = (len > 400) ? 37 : 1;

    for (i = 0; i < len && !bad; i += step) {
        e = velro_agree_all(buf, i, uid, gid, pid, VELRO_TEAMS_MAX, &fast);
        bad += (e != NULL);
        tried++;

        memcpy(m, buf, i);
        m[i] = ' ';
        memcpy(m + i + 1, buf + i, len - i);

        if (e == NULL) {
            e = velro_agree_all(m, len + 1, uid, gid, pid, VELRO_TEAMS_MAX,
                                &fast);
            bad += (e != NULL);
            tried++;
        }

        for (k = 0; k < sizeof(subst) && !bad; k++) {
            memcpy(m, buf, len);
            m[i] = subst[k];
            e = velro_agree_all(m, len, uid, gid, pid, VELRO_TEAMS_MAX,
                                &fast);
            bad += (e != NULL);
            tried++;
        }
    }

    ok(bad == 0, "fast: %s: %zu truncated or changed forms agree", what,
       tried);

    if (bad) {
        diag("%s at byte %zu", e, i - step);
    }
}


static void
test_fast(void)
{
    char                 what[96];
    size_t               len, i, j, k;
    const char          *err;
    velro_user_t         u;
    velro_roles_t        roles, back;
    velro_project_t      p;
    velro_team_role_t    teams[VELRO_TEAMS_MAX], tback[VELRO_TEAMS_MAX];
    static char          buf[VELRO_ROLES_JSON_MAX(VELRO_TEAMS_MAX)];
    static velro_generation_t  g, gb;

    static const size_t  ns[] = { 0, 1, 2, 5, 16, 17, 100, VELRO_TEAMS_MAX };
    static const int64_t  tvas[] = {
        0, 1, -5, 1700000000, 999999999999999999LL, -999999999999999999LL,
        INT64_MAX, INT64_MIN
    };
    static const char   *statuses[] = {
        "completed", "pending", "", "x", "completedx",
        "exactly-twenty-four-char", "in \"work\"\\", "\t\x01\x1f\xc3\xa9"
    };
    static const char   *media[] = {
        NULL, "", "https://m.example/a/b.png?sig=abc&x=1",
        "a/b\"c\\d", "tab\there\x01\x1f", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
        "\x7f\xdf\xbf\xef\xbf\xbf\xf4\x8f\xbf\xbf"
    };

    /* users */

    for (i = 0; i < 2 + 2 * (sizeof(tvas) / sizeof(tvas[0])); i++) {
        memset(&u, 0, sizeof(u));
        u.exists = (i != 0);
        u.active = (i & 1);
        u.has_tva = (i >= 2);
        u.tokens_valid_after = u.has_tva ? tvas[(i - 2) / 2] : 0;

        len = velro_user_json(&u, uid, buf);
        snprintf(what, sizeof(what), "user #%zu read back", i);
        fast_agree(what, buf, len,
                   (u.tokens_valid_after == INT64_MAX
                    || u.tokens_valid_after == INT64_MIN) ? 0 : 1);
        fast_mutants(what, buf, len);
    }

    /* roles: 0, 1, many, the most, teams_more, fewer kept than listed */

    for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        for (j = 0; j < 2; j++) {
            for (k = 0; k < ns[i]; k++) {
                memcpy(teams[k].team, pid, 16);
                teams[k].team[0] = (unsigned char) k;
                teams[k].team[1] = (unsigned char) (k >> 8);
                teams[k].team[15] = (unsigned char) fast_rand();
                teams[k].role = (uint8_t) (1 + fast_rand() % 4);
            }

            roles.exists = 1;
            roles.more = (uint8_t) j;
            roles.n = (uint16_t) ns[i];
            roles.teams = teams;

            len = velro_roles_json(&roles, uid, buf, sizeof(buf));
            snprintf(what, sizeof(what), "roles of %zu teams, more %zu",
                     ns[i], j);
            fast_agree(what, buf, len, 2);

            ok(velro_roles_from_json(buf, len, uid, &back, tback,
                                     VELRO_TEAMS_MAX, &err) == 0
               && back.exists && back.more == j && back.n == ns[i]
               && memcmp(tback, teams, ns[i] * sizeof(velro_team_role_t))
                  == 0, "fast: %s read back", what);

            if (ns[i] > 1) {
                ok(velro_roles_fast(buf, len, uid, &back, tback, ns[i] - 1)
                   == -1
                   && velro_roles_from_json(buf, len, uid, &back, tback,
                                            ns[i] - 1, &err) == 0
                   && back.more && back.n == ns[i] - 1,
                   "fast: %s, one fewer kept: jansson's", what);
            }

            if (ns[i] <= 5) {
                fast_mutants(what, buf, len);
            }
        }
    }

    roles.exists = 0;
    len = velro_roles_json(&roles, uid, buf, sizeof(buf));
    fast_agree("roles of an unknown user", buf, len, 2);

    /* generations: status, media_url, project */

    for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        for (j = 0; j < sizeof(media) / sizeof(media[0]); j++) {
            memset(&g, 0, sizeof(g));
            g.exists = 1;
            g.has_project = (i + j) & 1;
            memcpy(g.creator, (j & 1) ? uid : oid, 16);
            memcpy(g.project, g.has_project ? pid : g.project, 16);
            g.status_len = (uint8_t) strlen(statuses[i]);
            memcpy(g.status, statuses[i], g.status_len);
            g.completed = (strcmp(statuses[i], "completed") == 0);

            if (media[j]) {
                g.has_media = 1;
                g.media_len = (uint16_t) strlen(media[j]);
                memcpy(g.media_url, media[j], g.media_len);
            }

            len = velro_generation_json(&g, gid, buf, sizeof(buf));
            snprintf(what, sizeof(what), "generation status #%zu media #%zu",
                     i, j);
            fast_agree(what, buf, len, 4);

            ok(velro_generation_from_json(buf, len, gid, &gb, &err) == 0
               && (g.status_len
                   ? velro_agree_gen_same(&gb, &g)
                   : gb.exists && !gb.completed && gb.status_len == 5
                     && memcmp(gb.status, "other", 5) == 0),
               "fast: %s read back", what);

            if (j < 5) {
                fast_mutants(what, buf, len);
            }
        }
    }

    /* the longest media_url, and one longer (kept as none) */

    memset(g.media_url, 'm', VELRO_MEDIA_URL_MAX);
    g.media_len = VELRO_MEDIA_URL_MAX;
    g.has_media = 1;
    len = velro_generation_json(&g, gid, buf, sizeof(buf));
    fast_agree("generation, media_url of the most bytes", buf, len, 4);
    fast_mutants("generation, media_url of the most bytes", buf, len);

    memmove(buf + len - 2, buf + len - 3, 3);
    buf[len - 3] = 'm';
    fast_agree("generation, media_url a byte too long", buf, len + 1, 4);
    ok(velro_generation_fast(buf, len + 1, gid, &gb) == 0 && !gb.has_media
       && !gb.media_len, "fast: a media_url too long is none");

    len = sprintf(buf, "{\"id\":\"" GID "\",\"user_id\":\"" UID "\","
                  "\"project_id\":null,\"status\":\"a-status-of-thirty-"
                  "bytes-xxxx\",\"media_url\":null}");
    fast_agree("generation, a status too long to keep", buf, len, 4);

    g.exists = 0;
    len = velro_generation_json(&g, gid, buf, sizeof(buf));
    fast_agree("generation unknown", buf, len, 4);

    /* projects */

    for (i = 0; i < 9; i++) {
        memset(&p, 0, sizeof(p));
        memcpy(p.id, pid, 16);
        memcpy(p.team_id, tid, 16);
        p.valid = (i != 8);
        p.has_team = i & 1;
        p.visibility = (uint8_t) (i / 2);

        len = velro_project_json(&p, buf);
        snprintf(what, sizeof(what), "project #%zu", i);
        fast_agree(what, buf, len, 8);
        fast_mutants(what, buf, len);
    }

    /* not the writers' layout: jansson reads them */

    {
        static const char  *other[] = {
            "{\"id\": \"" UID "\",\"status\":\"active\","
            "\"tokens_valid_after\":null}",
            "{\"status\":\"active\",\"id\":\"" UID "\","
            "\"tokens_valid_after\":null}",
            "{\"id\":\"" UID "\",\"status\":\"active\","
            "\"tokens_valid_after\":1,\"x\":1}",
            "{\"id\":\"" UID "\",\"status\":\"gone\","
            "\"tokens_valid_after\":1.5}",
            "{\"id\":\"" UID "\",\"status\":\"active\","
            "\"tokens_valid_after\":1e3}",
            "{\"id\":\"" UID "\",\"status\":\"active\","
            "\"tokens_valid_after\":-0}",
            "{\"id\":\"" OID "\",\"status\":\"active\","
            "\"tokens_valid_after\":null}",
            " null",
            "null ",
            "{\"user_id\":\"" UID "\",\"teams\":{\"" TID "\":\"owner\"},"
            "\"teams_more\":false}",
            "{\"teams\":{},\"user_id\":\"" UID "\"}",
            "{\"user_id\":\"" UID "\",\"teams\":{\"" TID "\":\"owner\",\""
            TID "\":\"viewer\"}}",
            "{\"user_id\":\"" UID "\",\"teams\":{\"" TID "\":\"owner\","
            "\"22222222-2222-4333-8444-555555555555\":\"viewer\"}}",
            "{\"user_id\":\"" UID "\",\"teams\":{\"" TID "\":\"own\\u0065r\"}}",
            "{\"user_id\":\"" OID "\",\"teams\":{}}",
            "{\"user_id\":\"" UID "\",\"teams\":{}} ",
            "{\"id\":\"" GID "\",\"user_id\":\"" UID "\",\"project_id\":null,"
            "\"status\":\"completed\",\"media_url\":\"a\\/b\\u00e9\\n\"}",
            "{\"id\":\"" GID "\",\"user_id\":\"" UID "\",\"project_id\":null,"
            "\"status\":\"c\\u0000\",\"media_url\":null}",
            "{\"id\":\"" GID "\",\"user_id\":\"" UID "\",\"project_id\":null,"
            "\"status\":\"completed\"}",
            "{\"id\":\"" GID "\",\"user_id\":\"" UID "\",\"project_id\":null,"
            "\"media_url\":null,\"status\":\"completed\"}",
            "{\"id\":\"" PID "\",\"user_id\":\"" UID "\",\"project_id\":null,"
            "\"status\":\"completed\",\"media_url\":null}",
            "{\"id\":\"" GID "\",\"user_id\":\"" UID "\",\"project_id\":null,"
            "\"status\":\"\xc0\xaf\",\"media_url\":null}",
            "{\"id\":\"" GID "\",\"user_id\":\"" UID "\",\"project_id\":null,"
            "\"status\":\"\xed\xa0\x80\",\"media_url\":null}",
            "{\"id\":\"" GID "\",\"user_id\":\"" UID "\",\"project_id\":null,"
            "\"status\":\"completed\",\"media_url\":null,\"media_url\":null}",
            "{\"id\":\"" PID "\",\"visibility\":\"team\",\"team_id\":null}",
            "{\"id\":\"" PID "\",\"team_id\":null,\"visibility\":\"secret\"}",
            "{\"id\":\"" TID "\",\"team_id\":null,\"visibility\":\"team\"}",
            "{\"id\":\"" PID "\",\"team_id\":null,\"visibility\":\"team\","
            "\"x\":[]}",
            ""
        };

        for (i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
            snprintf(what, sizeof(what), "not the layout #%zu: jansson's", i);
            fast_agree(what, other[i], strlen(other[i]), -1);
        }
    }

    /* upper-case hex is read fast and is the same UUID */

    len = sprintf(buf, "{\"id\":\"%s\",\"team_id\":null,"
                  "\"visibility\":\"public\"}",
                  "11111111-2222-4333-8444-555555555555");
    fast_agree("project id in upper-case hex", buf, len, 8);

    if (getenv("VELRO_BENCH_L2")) {
        fast_bench();
    }
}


/* VELRO_BENCH_L2=N: N reads of each writer's value, jansson and fast */

static void
fast_bench(void)
{
    int                  w;
    size_t               i, k, n, len;
    double               t[2];
    const char          *err, *v;
    velro_user_t         u;
    velro_roles_t        roles;
    velro_project_t      p;
    velro_team_role_t    teams[8];
    struct timespec      a, b;
    static velro_generation_t  g;

    static const char   *values[] = {
        "{\"id\":\"" UID "\",\"status\":\"active\","
        "\"tokens_valid_after\":1700000000}",
        "{\"user_id\":\"" UID "\",\"teams\":{\"" TID "\":\"editor\",\"" T2
        "\":\"viewer\",\"" OID "\":\"owner\"}}",
        "{\"id\":\"" GID "\",\"user_id\":\"" OID "\",\"project_id\":\"" PID
        "\",\"status\":\"completed\",\"media_url\":"
        "\"https://media.example/gen/" GID ".png\"}",
        "{\"id\":\"" PID "\",\"team_id\":\"" TID "\",\"visibility\":\"team\"}"
    };
    static const char   *names[] = {
        "user", "roles(3)", "generation", "project"
    };

    n = strtoul(getenv("VELRO_BENCH_L2"), NULL, 10);
    n = n ? n : 200000;

    for (k = 0; k < 4; k++) {
        v = values[k];
        len = strlen(v);

        for (w = 0; w < 2; w++) {
            clock_gettime(CLOCK_MONOTONIC, &a);

            for (i = 0; i < n; i++) {
                switch (k * 2 + w) {
                case 0:
                    (void) velro_user_from_jansson(v, len, uid, &u, &err);
                    break;
                case 1:
                    (void) velro_user_fast(v, len, uid, &u);
                    break;
                case 2:
                    (void) velro_roles_from_jansson(v, len, uid, &roles,
                                                    teams, 8, &err);
                    break;
                case 3:
                    (void) velro_roles_fast(v, len, uid, &roles, teams, 8);
                    break;
                case 4:
                    (void) velro_generation_from_jansson(v, len, gid, &g,
                                                         &err);
                    break;
                case 5:
                    (void) velro_generation_fast(v, len, gid, &g);
                    break;
                case 6:
                    (void) velro_project_from_jansson(v, len, pid, &p, &err);
                    break;
                default:
                    (void) velro_project_fast(v, len, pid, &p);
                    break;
                }
            }

            clock_gettime(CLOCK_MONOTONIC, &b);
            t[w] = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec))
                   / (double) n;
        }

        fast_agree(names[k], v, len, 1 << k);
        diag("bench L2 read %-10s (%3zu bytes): jansson %7.1f ns, "
             "fast %6.1f ns, %5.1fx", names[k], len, t[0], t[1],
             t[0] / t[1]);
    }
}
