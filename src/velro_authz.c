
/*
 * velro: authorization decisions, pure C.
 */


#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "velro_authz.h"
#include "velro_json.h"


static json_t *velro_json_load(const char *buf, size_t len);
static int velro_access_fast_at(const char **p, const char *end,
    const unsigned char *user, const unsigned char *resource,
    unsigned char *gen, velro_access_t *a);
static int velro_warm_fast(const char *buf, size_t len,
    const unsigned char *user, velro_user_t *u, velro_warm_row_t *rows,
    size_t max_rows, size_t *nrows, velro_project_t *projects,
    size_t max_projects, size_t *nprojects);
static int velro_fast_bool(const char **p, const char *end, uint8_t *out);
static int velro_json_flag(json_t *o, const char *name, uint8_t *out);


static const char  *velro_roles[] = {
    "", "viewer", "editor", "admin", "owner"
};


static const char  *velro_visibilities[] = {
    "private", "team", "team_open", "public"
};


int
velro_uuid_parse(const unsigned char *s, size_t len, unsigned char *out)
{
    int     hi, lo;
    size_t  i, n;

    if (len != VELRO_UUID_LEN) {
        return -1;
    }

    n = 0;

    for (i = 0; i < VELRO_UUID_LEN; i++) {

        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') {
                return -1;
            }

            continue;
        }

        hi = velro_json_hexval(s[i]);
        lo = velro_json_hexval(s[i + 1]);

        if (hi < 0 || lo < 0) {
            return -1;
        }

        out[n++] = (unsigned char) (hi << 4 | lo);
        i++;
    }

    return 0;
}


void
velro_uuid_format(const unsigned char *id, unsigned char *out)
{
    size_t                i, n;
    static const char     hex[] = "0123456789abcdef";

    n = 0;

    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out[n++] = '-';
        }

        out[n++] = hex[id[i] >> 4];
        out[n++] = hex[id[i] & 0xf];
    }
}


int
velro_access_allows(const velro_access_t *a, velro_action_e action)
{
    if (!a->exists) {
        return 0;
    }

    switch (action) {

    case VELRO_ACTION_READ:
        return a->role != VELRO_ROLE_NONE || a->public_access;

    case VELRO_ACTION_WRITE:
        return a->role == VELRO_ROLE_OWNER || a->role == VELRO_ROLE_ADMIN
               || a->role == VELRO_ROLE_EDITOR;

    case VELRO_ACTION_DELETE:
        return a->role == VELRO_ROLE_OWNER || a->role == VELRO_ROLE_ADMIN;
    }

    return 0;
}


int
velro_authz_decide(const unsigned char *user, const velro_roles_t *roles,
    const velro_generation_t *g, const velro_project_t *project,
    velro_access_t *a)
{
    size_t    i;
    uint8_t   member, creator, role;

    memset(a, 0, sizeof(velro_access_t));

    if (!g->exists) {
        return 0;
    }

    a->exists = 1;
    a->has_project = g->has_project;

    if (g->has_project) {
        memcpy(a->project, g->project, 16);
    }

    if (project && !project->valid) {
        project = NULL;
    }

    creator = (memcmp(g->creator, user, 16) == 0);

    /* the user's role in the project's team */

    member = 0;
    role = VELRO_ROLE_NONE;

    if (project && project->has_team && roles->exists) {

        for (i = 0; i < roles->n; i++) {
            if (memcmp(roles->teams[i].team, project->team_id, 16) == 0) {
                member = 1;
                role = roles->teams[i].role;
                break;
            }
        }

        if (!member && roles->more) {
            return -1;
        }
    }

    if (creator) {
        a->role = VELRO_ROLE_OWNER;

    } else if (g->completed) {

        if (member) {
            a->role = (role == VELRO_ROLE_OWNER) ? VELRO_ROLE_ADMIN : role;

        } else if (project && project->visibility == VELRO_VIS_PUBLIC) {
            a->role = VELRO_ROLE_VIEWER;
        }
    }

    a->direct = creator;
    a->team = g->completed && member;
    a->public_access = (g->completed || creator) && project
                       && (project->visibility == VELRO_VIS_PUBLIC
                           || project->visibility == VELRO_VIS_TEAM_OPEN);

    return 0;
}


velro_role_e
velro_role_parse(const char *s, size_t len)
{
    size_t  i;

    for (i = 1; i < sizeof(velro_roles) / sizeof(velro_roles[0]); i++) {
        if (len == strlen(velro_roles[i])
            && memcmp(s, velro_roles[i], len) == 0)
        {
            return (velro_role_e) i;
        }
    }

    return VELRO_ROLE_NONE;
}


velro_user_rc_e
velro_user_check(const velro_user_t *u, int64_t iat)
{
    if (!u->exists) {
        return VELRO_USER_UNKNOWN;
    }

    if (!u->active) {
        return VELRO_USER_DISABLED;
    }

    /* a token without "iat" cannot show it came after a revocation */

    if (u->has_tva && (iat == INT64_MIN || iat < u->tokens_valid_after)) {
        return VELRO_USER_REVOKED;
    }

    return VELRO_USER_OK;
}


const char *
velro_action_name(velro_action_e action)
{
    static const char  *names[] = { "read", "write", "delete" };

    return ((unsigned) action < 3) ? names[action] : "";
}


const char *
velro_role_name(velro_role_e role)
{
    if ((unsigned) role >= sizeof(velro_roles) / sizeof(velro_roles[0])) {
        return "";
    }

    return velro_roles[role];
}


const char *
velro_user_description(velro_user_rc_e rc)
{
    switch (rc) {

    case VELRO_USER_OK:
        return "";

    case VELRO_USER_UNKNOWN:
        return "unknown user";

    case VELRO_USER_DISABLED:
        return "user disabled";

    case VELRO_USER_REVOKED:
        return "token revoked";
    }

    return "";
}


static json_t *
velro_json_load(const char *buf, size_t len)
{
    return json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
}


/* a UUID string member equal to expect (when given) */

int
velro_json_uuid(json_t *o, const char *name, const unsigned char *expect,
    unsigned char *out, int nullable)
{
    json_t         *v;
    unsigned char   id[16];

    v = json_object_get(o, name);

    if (v == NULL) {
        return -1;
    }

    if (json_is_null(v)) {
        return nullable ? 1 : -1;
    }

    if (!json_is_string(v)
        || velro_uuid_parse((const unsigned char *) json_string_value(v),
                            json_string_length(v), id)
           != 0)
    {
        return -1;
    }

    if (expect && memcmp(id, expect, 16) != 0) {
        return -1;
    }

    if (out) {
        memcpy(out, id, 16);
    }

    return 0;
}


static int
velro_json_flag(json_t *o, const char *name, uint8_t *out)
{
    json_t  *v;

    v = json_object_get(o, name);

    if (!json_is_boolean(v)) {
        return -1;
    }

    *out = json_is_true(v) ? 1 : 0;

    return 0;
}


int
velro_user_parse(json_t *j, const unsigned char *user, velro_user_t *u,
    const char **err)
{
    double       d;
    json_t      *v;
    int64_t      t;
    const char  *s;

    memset(u, 0, sizeof(velro_user_t));

    if (json_is_null(j)) {
        return 0;
    }

    if (!json_is_object(j)) {
        *err = "\"user\" is not an object";
        return -1;
    }

    if (velro_json_uuid(j, "id", user, NULL, 0) != 0) {
        *err = "\"user.id\" is not the user asked for";
        return -1;
    }

    v = json_object_get(j, "status");

    if (!json_is_string(v)) {
        *err = "\"user.status\" is not a string";
        return -1;
    }

    s = json_string_value(v);

    u->exists = 1;
    u->active = (strcmp(s, "active") == 0);

    v = json_object_get(j, "tokens_valid_after");

    if (v == NULL) {
        *err = "\"user.tokens_valid_after\" is missing";
        return -1;
    }

    if (json_is_null(v)) {
        return 0;
    }

    if (json_is_integer(v)) {
        u->tokens_valid_after = json_integer_value(v);

    } else if (json_is_real(v)) {
        d = json_real_value(v);

        /* out of int64_t range the conversion is undefined */

        if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) {
            *err = "\"user.tokens_valid_after\" is out of range";
            return -1;
        }

        /* a fraction rounds up: the strict side, like iat and nbf */

        t = (int64_t) d;
        u->tokens_valid_after = ((double) t < d) ? t + 1 : t;

    } else {
        *err = "\"user.tokens_valid_after\" is not a number";
        return -1;
    }

    u->has_tva = 1;

    return 0;
}


int
velro_access_parse(json_t *j, const unsigned char *user,
    const unsigned char *resource, velro_access_t *a, const char **err)
{
    int          rc;
    json_t      *v;
    size_t       i;
    const char  *s;

    memset(a, 0, sizeof(velro_access_t));

    if (json_is_null(j)) {
        return 0;
    }

    if (!json_is_object(j) || resource == NULL) {
        *err = "\"access\" is not an object";
        return -1;
    }

    if (velro_json_uuid(j, "user_id", user, NULL, 0) != 0
        || velro_json_uuid(j, "generation_id", resource, NULL, 0) != 0)
    {
        *err = "\"access\" is not for the user and resource asked for";
        return -1;
    }

    rc = velro_json_uuid(j, "project_id", NULL, a->project, 1);

    if (rc < 0) {
        *err = "\"access.project_id\" is not a UUID";
        return -1;
    }

    a->has_project = (rc == 0);

    v = json_object_get(j, "effective_role");

    if (v && json_is_string(v)) {
        s = json_string_value(v);

        for (i = 1; i < sizeof(velro_roles) / sizeof(velro_roles[0]); i++) {
            if (strcmp(s, velro_roles[i]) == 0) {
                a->role = (uint8_t) i;
                break;
            }
        }

        if (a->role == VELRO_ROLE_NONE) {
            *err = "\"access.effective_role\" is not a known role";
            return -1;
        }

    } else if (v == NULL || !json_is_null(v)) {
        *err = "\"access.effective_role\" is missing";
        return -1;
    }

    if (velro_json_flag(j, "has_direct_access", &a->direct) != 0
        || velro_json_flag(j, "has_team_access", &a->team) != 0
        || velro_json_flag(j, "has_public_access", &a->public_access) != 0)
    {
        *err = "an \"access.has_*\" member is not a boolean";
        return -1;
    }
    a->exists = 1;

    return 0;
}


size_t
velro_user_json(const velro_user_t *u, const unsigned char *user, char *buf)
{
    int            n;
    unsigned char  id[VELRO_UUID_LEN];

    if (!u->exists) {
        memcpy(buf, "null", 4);
        return 4;
    }

    velro_uuid_format(user, id);

    if (u->has_tva) {
        n = snprintf(buf, VELRO_USER_JSON_MAX,
                     "{\"id\":\"%.36s\",\"status\":\"%s\","
                     "\"tokens_valid_after\":%lld}",
                     id, u->active ? "active" : "disabled",
                     (long long) u->tokens_valid_after);

    } else {
        n = snprintf(buf, VELRO_USER_JSON_MAX,
                     "{\"id\":\"%.36s\",\"status\":\"%s\","
                     "\"tokens_valid_after\":null}",
                     id, u->active ? "active" : "disabled");
    }

    return (n > 0 && n < VELRO_USER_JSON_MAX) ? (size_t) n : 0;
}


/* a project entry; pr->valid says whether it is one */

int
velro_project_parse(json_t *j, velro_project_t *pr)
{
    int          rc;
    size_t       i;
    json_t      *v;
    const char  *s;

    memset(pr, 0, sizeof(velro_project_t));

    if (!json_is_object(j)
        || velro_json_uuid(j, "id", NULL, pr->id, 0) != 0)
    {
        return -1;
    }

    rc = velro_json_uuid(j, "team_id", NULL, pr->team_id, 1);

    if (rc < 0) {
        return -1;
    }

    pr->has_team = (rc == 0);

    v = json_object_get(j, "visibility");

    if (!json_is_string(v)) {
        return -1;
    }

    s = json_string_value(v);

    for (i = 0; i < sizeof(velro_visibilities) / sizeof(char *); i++) {
        if (strcmp(s, velro_visibilities[i]) == 0) {
            pr->visibility = (uint8_t) i;
            pr->valid = 1;
            return 0;
        }
    }

    return -1;
}


size_t
velro_project_json(const velro_project_t *pr, char *buf)
{
    int            n;
    unsigned char  id[VELRO_UUID_LEN], team[VELRO_UUID_LEN];

    if (!pr->valid) {
        memcpy(buf, "null", 4);
        return 4;
    }

    velro_uuid_format(pr->id, id);

    if (pr->has_team) {
        velro_uuid_format(pr->team_id, team);

        n = snprintf(buf, VELRO_PROJECT_JSON_MAX,
                     "{\"id\":\"%.36s\",\"team_id\":\"%.36s\","
                     "\"visibility\":\"%s\"}",
                     id, team, velro_visibilities[pr->visibility & 3]);

    } else {
        n = snprintf(buf, VELRO_PROJECT_JSON_MAX,
                     "{\"id\":\"%.36s\",\"team_id\":null,"
                     "\"visibility\":\"%s\"}",
                     id, velro_visibilities[pr->visibility & 3]);
    }

    return (n > 0 && n < VELRO_PROJECT_JSON_MAX) ? (size_t) n : 0;
}


/*
 * velro_user_json()'s own layout; tokens_valid_after of at most 18
 * digits, so that it cannot overflow.
 */

int
velro_user_fast(const char *buf, size_t len, const unsigned char *user,
    velro_user_t *u)
{
    size_t          n;
    int64_t         t;
    const char     *p, *end;
    unsigned char   id[16];

    p = buf;
    end = buf + len;

    memset(u, 0, sizeof(velro_user_t));

    if (len == 4 && memcmp(buf, "null", 4) == 0) {
        return 0;
    }

    if (velro_fast_lit(&p, end, "{\"id\":") != 0
        || velro_fast_uuid(&p, end, id) != 0
        || memcmp(id, user, 16) != 0
        || velro_fast_lit(&p, end, ",\"status\":\"") != 0)
    {
        return -1;
    }

    if (velro_fast_lit(&p, end, "active\"") == 0) {
        u->active = 1;

    } else if (velro_fast_lit(&p, end, "disabled\"") != 0) {
        return -1;
    }

    if (velro_fast_lit(&p, end, ",\"tokens_valid_after\":") != 0
        || end - p < 2 || end[-1] != '}')
    {
        return -1;
    }

    u->exists = 1;
    end--;

    if (velro_fast_lit(&p, end, "null") == 0) {
        return (p == end) ? 0 : -1;
    }

    n = (p < end && *p == '-');
    p += n;

    if (p == end || end - p > 18 || (*p == '0' && (end - p > 1 || n))) {
        return -1;
    }

    for (t = 0; p < end; p++) {
        if (*p < '0' || *p > '9') {
            return -1;
        }

        t = t * 10 + (*p - '0');
    }

    u->tokens_valid_after = n ? -t : t;
    u->has_tva = 1;

    return 0;
}


int
velro_user_from_json(const char *buf, size_t len, const unsigned char *user,
    velro_user_t *u, const char **err)
{
    if (velro_user_fast(buf, len, user, u) == 0) {
        return 0;
    }

    return velro_user_from_jansson(buf, len, user, u, err);
}


int
velro_user_from_jansson(const char *buf, size_t len,
    const unsigned char *user, velro_user_t *u, const char **err)
{
    int      rc;
    json_t  *j;

    j = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);

    if (j == NULL) {
        *err = "not JSON";
        return -1;
    }

    rc = velro_user_parse(j, user, u, err);

    json_decref(j);

    return rc;
}


/*
 * The rows of velro_l3_warm()'s own layout (issue 3's warm form), read
 * without a JSON parser; anything else goes to jansson.
 */

int
velro_fast_lit(const char **p, const char *end, const char *lit)
{
    size_t  n;

    n = strlen(lit);

    if ((size_t) (end - *p) < n || memcmp(*p, lit, n) != 0) {
        return -1;
    }

    *p += n;

    return 0;
}


int
velro_fast_uuid(const char **p, const char *end, unsigned char *id)
{
    if (end - *p < VELRO_UUID_LEN + 2 || **p != '"'
        || (*p)[VELRO_UUID_LEN + 1] != '"'
        || velro_uuid_parse((const unsigned char *) *p + 1, VELRO_UUID_LEN,
                            id)
           != 0)
    {
        return -1;
    }

    *p += VELRO_UUID_LEN + 2;

    return 0;
}


static int
velro_fast_bool(const char **p, const char *end, uint8_t *out)
{
    if (velro_fast_lit(p, end, "true") == 0) {
        *out = 1;
        return 0;
    }

    if (velro_fast_lit(p, end, "false") == 0) {
        *out = 0;
        return 0;
    }

    return -1;
}


static int
velro_access_fast_at(const char **pp, const char *end,
    const unsigned char *user, const unsigned char *resource,
    unsigned char *gen, velro_access_t *a)
{
    size_t          i, n;
    const char     *p;
    unsigned char   id[16];

    p = *pp;

    memset(a, 0, sizeof(velro_access_t));

    if (velro_fast_lit(&p, end, "{\"user_id\":") != 0
        || velro_fast_uuid(&p, end, id) != 0
        || memcmp(id, user, 16) != 0
        || velro_fast_lit(&p, end, ",\"generation_id\":") != 0
        || velro_fast_uuid(&p, end, id) != 0
        || (resource && memcmp(id, resource, 16) != 0)
        || velro_fast_lit(&p, end, ",\"project_id\":") != 0)
    {
        return -1;
    }

    if (gen) {
        memcpy(gen, id, 16);
    }

    if (velro_fast_lit(&p, end, "null") != 0) {
        if (velro_fast_uuid(&p, end, a->project) != 0) {
            return -1;
        }

        a->has_project = 1;
    }

    if (velro_fast_lit(&p, end, ",\"effective_role\":") != 0) {
        return -1;
    }

    if (velro_fast_lit(&p, end, "null") != 0) {

        for (i = 1; i < sizeof(velro_roles) / sizeof(velro_roles[0]); i++) {
            n = strlen(velro_roles[i]);

            if ((size_t) (end - p) > n + 1 && p[0] == '"'
                && memcmp(p + 1, velro_roles[i], n) == 0 && p[n + 1] == '"')
            {
                a->role = (uint8_t) i;
                p += n + 2;
                break;
            }
        }

        if (a->role == VELRO_ROLE_NONE) {
            return -1;
        }
    }

    if (velro_fast_lit(&p, end, ",\"has_direct_access\":") != 0
        || velro_fast_bool(&p, end, &a->direct) != 0
        || velro_fast_lit(&p, end, ",\"has_team_access\":") != 0
        || velro_fast_bool(&p, end, &a->team) != 0
        || velro_fast_lit(&p, end, ",\"has_public_access\":") != 0
        || velro_fast_bool(&p, end, &a->public_access) != 0
        || velro_fast_lit(&p, end, "}") != 0)
    {
        return -1;
    }

    a->exists = 1;
    *pp = p;

    return 0;
}


/* {"id":UUID,"team_id":UUID|null,"visibility":"WORD"} at *p */

int
velro_project_fast_at(const char **pp, const char *end, velro_project_t *pr)
{
    size_t       i, n;
    const char  *p;

    p = *pp;

    memset(pr, 0, sizeof(velro_project_t));

    if (velro_fast_lit(&p, end, "{\"id\":") != 0
        || velro_fast_uuid(&p, end, pr->id) != 0
        || velro_fast_lit(&p, end, ",\"team_id\":") != 0)
    {
        return -1;
    }

    if (velro_fast_lit(&p, end, "null") != 0) {
        if (velro_fast_uuid(&p, end, pr->team_id) != 0) {
            return -1;
        }

        pr->has_team = 1;
    }

    if (velro_fast_lit(&p, end, ",\"visibility\":") != 0) {
        return -1;
    }

    for (i = 0; i < sizeof(velro_visibilities) / sizeof(char *); i++) {
        n = strlen(velro_visibilities[i]);

        if ((size_t) (end - p) > n + 2 && p[0] == '"'
            && memcmp(p + 1, velro_visibilities[i], n) == 0
            && p[n + 1] == '"' && p[n + 2] == '}')
        {
            pr->visibility = (uint8_t) i;
            pr->valid = 1;
            *pp = p + n + 3;
            return 0;
        }
    }

    return -1;
}


int
velro_invalidation_parse(const char *buf, size_t len, unsigned char *id)
{
    int          kind;
    json_t      *j, *v;
    const char  *s;

    j = velro_json_load(buf, len);

    if (j == NULL) {
        return -1;
    }

    kind = -1;

    v = json_object_get(j, "kind");

    if (!json_is_string(v)) {
        goto done;
    }

    s = json_string_value(v);

    if (strcmp(s, "user") == 0) {
        kind = VELRO_INVALIDATE_USER;

    } else if (strcmp(s, "team") == 0) {
        kind = VELRO_INVALIDATE_TEAM;

    } else if (strcmp(s, "member") == 0) {
        kind = VELRO_INVALIDATE_MEMBER;

    } else if (strcmp(s, "project") == 0) {
        kind = VELRO_INVALIDATE_PROJECT;

    } else if (strcmp(s, "generation") == 0) {
        kind = VELRO_INVALIDATE_GENERATION;

    } else {
        goto done;
    }

    if (velro_json_uuid(j, "id", NULL, id, 0) != 0) {
        kind = -1;
    }

done:

    json_decref(j);

    return kind;
}


/*
 * The warm answer in velro_l3_warm()'s own layout (no spaces, members in
 * its order): -1 for anything else, which jansson then reads.  The user
 * object ends at its first '}': it has no nested object, and a '}' inside
 * one of its strings would leave the slice unterminated, so jansson, which
 * checks the slice, refuses it.
 */

static int
velro_warm_fast(const char *buf, size_t len, const unsigned char *user,
    velro_user_t *u, velro_warm_row_t *rows, size_t max_rows, size_t *nrows,
    velro_project_t *projects, size_t max_projects, size_t *nprojects)
{
    size_t            n;
    const char       *p, *q, *end, *err;
    velro_access_t    a;
    velro_project_t   pr;
    unsigned char     gen[16];

    p = buf;
    end = buf + len;

    if (velro_fast_lit(&p, end, "{\"user\":") != 0) {
        return -1;
    }

    if (velro_fast_lit(&p, end, "null") == 0) {
        memset(u, 0, sizeof(velro_user_t));

    } else {
        q = memchr(p, '}', end - p);

        if (q == NULL
            || velro_user_from_json(p, q + 1 - p, user, u, &err) != 0
            || !u->exists)
        {
            return -1;
        }

        p = q + 1;
    }

    if (velro_fast_lit(&p, end, ",\"access\":[") != 0) {
        return -1;
    }

    n = 0;

    if (velro_fast_lit(&p, end, "]") != 0) {

        for ( ;; ) {
            if (velro_access_fast_at(&p, end, user, NULL, gen, &a) != 0) {
                return -1;
            }

            if (n < max_rows) {
                memcpy(rows[n].generation, gen, 16);
                rows[n].access = a;
                n++;
            }

            if (velro_fast_lit(&p, end, "]") == 0) {
                break;
            }

            if (velro_fast_lit(&p, end, ",") != 0) {
                return -1;
            }
        }
    }

    *nrows = n;

    if (velro_fast_lit(&p, end, ",\"projects\":[") != 0) {
        return -1;
    }

    n = 0;

    if (velro_fast_lit(&p, end, "]") != 0) {

        for ( ;; ) {
            if (velro_project_fast_at(&p, end, &pr) != 0) {
                return -1;
            }

            if (n < max_projects) {
                projects[n++] = pr;
            }

            if (velro_fast_lit(&p, end, "]") == 0) {
                break;
            }

            if (velro_fast_lit(&p, end, ",") != 0) {
                return -1;
            }
        }
    }

    *nprojects = n;

    if (velro_fast_lit(&p, end, "}") != 0 || p != end) {
        return -1;
    }

    return 0;
}


int
velro_warm_parse(const char *buf, size_t len, const unsigned char *user,
    velro_user_t *u, velro_warm_row_t *rows, size_t max_rows, size_t *nrows,
    velro_project_t *projects, size_t max_projects, size_t *nprojects,
    const char **err)
{
    int      rc;
    size_t   i, n;
    json_t  *j, *ja, *jp, *row;

    *nrows = 0;
    *nprojects = 0;
    *err = NULL;

    if (velro_warm_fast(buf, len, user, u, rows, max_rows, nrows, projects,
                        max_projects, nprojects)
        == 0)
    {
        return 0;
    }

    *nrows = 0;
    *nprojects = 0;

    j = velro_json_load(buf, len);

    if (j == NULL) {
        *err = "not JSON";
        return -1;
    }

    rc = -1;

    if (!json_is_object(j)) {
        *err = "not a JSON object";
        goto done;
    }

    ja = json_object_get(j, "access");

    if (!json_is_array(ja)) {
        *err = "\"access\" is not an array";
        goto done;
    }

    if (velro_user_parse(json_object_get(j, "user"), user, u, err) != 0) {
        goto done;
    }

    n = 0;

    for (i = 0; i < json_array_size(ja) && n < max_rows; i++) {
        row = json_array_get(ja, i);

        if (!json_is_object(row)
            || velro_json_uuid(row, "generation_id", NULL,
                               rows[n].generation, 0)
               != 0
            || velro_access_parse(row, user, rows[n].generation,
                                  &rows[n].access, err)
               != 0)
        {
            if (*err == NULL) {
                *err = "an \"access\" row is malformed";
            }

            goto done;
        }

        n++;
    }

    *nrows = n;

    /* projects are an extra: a malformed one is skipped */

    jp = json_object_get(j, "projects");
    n = 0;

    for (i = 0; i < json_array_size(jp) && n < max_projects; i++) {
        if (velro_project_parse(json_array_get(jp, i), &projects[n]) == 0) {
            n++;
        }
    }

    *nprojects = n;
    rc = 0;

done:

    json_decref(j);

    return rc;
}
