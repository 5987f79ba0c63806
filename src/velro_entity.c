
/*
 * velro: the entities of a decision in their JSON forms, pure C.
 */


#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "velro_entity.h"


static int velro_teams_parse(json_t *ju, const velro_project_t *first,
    velro_roles_t *roles, velro_team_role_t *teams, size_t max_teams,
    const char **err);
static int velro_generation_parse(json_t *j, const unsigned char *id,
    velro_generation_t *g, const char **err);
static size_t velro_json_escape(const char *s, size_t len, char *out);
static json_t *velro_entity_load(const char *buf, size_t len);
static int velro_fast_str(const char **p, const char *end, char *out,
    size_t max, size_t *len);
static size_t velro_utf8_len(const unsigned char *s, size_t n);
static int velro_teams_unique(const velro_team_role_t *teams, size_t n);


static json_t *
velro_entity_load(const char *buf, size_t len)
{
    return json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                      NULL);
}


/*
 * The "teams" object of a user: first the team of project (when given
 * and listed), then the others up to max_teams.
 */

static int
velro_teams_parse(json_t *ju, const velro_project_t *first,
    velro_roles_t *roles, velro_team_role_t *teams, size_t max_teams,
    const char **err)
{
    size_t          n;
    json_t         *jt, *v, *more;
    const char     *key;
    velro_role_e    role;
    unsigned char   id[16];

    jt = json_object_get(ju, "teams");

    if (!json_is_object(jt)) {
        *err = "\"user.teams\" is not an object";
        return -1;
    }

    more = json_object_get(ju, "teams_more");

    if (more && !json_is_boolean(more)) {
        *err = "\"user.teams_more\" is not a boolean";
        return -1;
    }

    roles->exists = 1;
    roles->more = json_is_true(more) ? 1 : 0;
    roles->teams = teams;
    n = 0;

    if (first && first->valid && first->has_team && max_teams) {
        unsigned char  t[VELRO_UUID_LEN + 1];

        velro_uuid_format(first->team_id, t);
        t[VELRO_UUID_LEN] = '\0';

        v = json_object_get(jt, (char *) t);

        if (json_is_string(v)) {
            role = velro_role_parse(json_string_value(v),
                                    json_string_length(v));
            if (role == VELRO_ROLE_NONE) {
                *err = "\"user.teams\" has an unknown role";
                return -1;
            }

            memcpy(teams[0].team, first->team_id, 16);
            teams[0].role = (uint8_t) role;
            n = 1;
        }
    }

    json_object_foreach(jt, key, v) {

        if (velro_uuid_parse((const unsigned char *) key, strlen(key), id)
            != 0)
        {
            *err = "\"user.teams\" has a key that is not a UUID";
            return -1;
        }

        if (!json_is_string(v)) {
            *err = "\"user.teams\" has a role that is not a string";
            return -1;
        }

        role = velro_role_parse(json_string_value(v), json_string_length(v));

        if (role == VELRO_ROLE_NONE) {
            *err = "\"user.teams\" has an unknown role";
            return -1;
        }

        if (n && first && first->has_team
            && memcmp(id, first->team_id, 16) == 0)
        {
            continue;                       /* listed first already */
        }

        if (n == max_teams) {
            roles->more = 1;
            continue;
        }

        memcpy(teams[n].team, id, 16);
        teams[n].role = (uint8_t) role;
        n++;
    }

    roles->n = (uint16_t) n;

    return 0;
}


static int
velro_generation_parse(json_t *j, const unsigned char *id,
    velro_generation_t *g, const char **err)
{
    int          rc;
    size_t       len;
    json_t      *v;
    const char  *s;

    memset(g, 0, offsetof(velro_generation_t, media_url));

    if (json_is_null(j)) {
        return 0;
    }

    if (!json_is_object(j)) {
        *err = "\"generation\" is not an object";
        return -1;
    }

    if (velro_json_uuid(j, "id", id, NULL, 0) != 0) {
        *err = "\"generation.id\" is not the resource asked for";
        return -1;
    }

    if (velro_json_uuid(j, "user_id", NULL, g->creator, 0) != 0) {
        *err = "\"generation.user_id\" is not a UUID";
        return -1;
    }

    rc = velro_json_uuid(j, "project_id", NULL, g->project, 1);

    if (rc < 0) {
        *err = "\"generation.project_id\" is not a UUID";
        return -1;
    }

    g->has_project = (rc == 0);

    v = json_object_get(j, "status");

    if (!json_is_string(v)) {
        *err = "\"generation.status\" is not a string";
        return -1;
    }

    s = json_string_value(v);
    len = json_string_length(v);

    g->completed = (len == 9 && memcmp(s, "completed", 9) == 0);

    if (len && len <= VELRO_STATUS_MAX && memchr(s, '\0', len) == NULL) {
        memcpy(g->status, s, len);
        g->status_len = (uint8_t) len;
    }

    v = json_object_get(j, "media_url");

    if (json_is_string(v)) {
        len = json_string_length(v);

        if (len <= VELRO_MEDIA_URL_MAX) {
            memcpy(g->media_url, json_string_value(v), len);
            g->media_len = (uint16_t) len;
            g->has_media = 1;
        }

    } else if (v && !json_is_null(v)) {
        *err = "\"generation.media_url\" is not a string";
        return -1;
    }

    g->exists = 1;

    return 0;
}


int
velro_l3_answer_parse(const char *buf, size_t len, const unsigned char *user,
    const unsigned char *resource, velro_l3_answer_t *ans,
    velro_team_role_t *teams, size_t max_teams, const char **err)
{
    int      rc;
    json_t  *j, *ju, *ja, *jg, *jp;

    memset(ans, 0, offsetof(velro_l3_answer_t, gen));
    memset(&ans->project, 0, sizeof(velro_project_t));
    memset(&ans->access, 0, sizeof(velro_access_t));
    ans->gen.exists = 0;
    ans->roles.teams = teams;

    j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);

    if (j == NULL) {
        *err = "not JSON";
        return -1;
    }

    rc = -1;

    if (!json_is_object(j)) {
        *err = "not a JSON object";
        goto done;
    }

    ju = json_object_get(j, "user");

    if (ju == NULL) {
        *err = "\"user\" is missing";
        goto done;
    }

    if (velro_user_parse(ju, user, &ans->user, err) != 0) {
        goto done;
    }

    ja = json_object_get(j, "access");

    if (ja) {

        /* issue 3's form: the decision row, cached per pair */

        ans->form = VELRO_L3_ACCESS;

        rc = velro_access_parse(ja, user, resource, &ans->access, err);

        if (rc == 0) {
            (void) velro_project_parse(json_object_get(j, "project"),
                                       &ans->project);
        }

        goto done;
    }

    ans->form = VELRO_L3_ENTITIES;

    jg = json_object_get(j, "generation");
    jp = json_object_get(j, "project");

    if (resource == NULL) {
        if ((jg && !json_is_null(jg)) || (jp && !json_is_null(jp))) {
            *err = "\"generation\" or \"project\" without a resource";
            goto done;
        }

    } else {
        if (jg == NULL || jp == NULL) {
            *err = "\"access\", or \"generation\" and \"project\", "
                   "are missing";
            goto done;
        }

        if (velro_generation_parse(jg, resource, &ans->gen, err) != 0) {
            goto done;
        }

        ans->has_generation = 1;

        if (!json_is_null(jp)) {
            if (!ans->gen.has_project
                || velro_project_parse(jp, &ans->project) != 0
                || memcmp(ans->project.id, ans->gen.project, 16) != 0)
            {
                *err = "\"project\" is not the generation's project";
                goto done;
            }
        }
    }

    if (ans->user.exists) {
        if (velro_teams_parse(ju, &ans->project, &ans->roles, teams,
                              max_teams, err)
            != 0)
        {
            goto done;
        }
    }

    rc = 0;

done:

    json_decref(j);

    return rc;
}


/* a JSON string's content: out has room for 6 bytes a byte of s */

static size_t
velro_json_escape(const char *s, size_t len, char *out)
{
    char                 *p;
    size_t                i;
    unsigned char         c;
    static const char     hex[] = "0123456789abcdef";

    p = out;

    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];

        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char) c;

        } else if (c < 0x20) {
            *p++ = '\\';
            *p++ = 'u';
            *p++ = '0';
            *p++ = '0';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 0xf];

        } else {
            *p++ = (char) c;
        }
    }

    return p - out;
}


size_t
velro_roles_json(const velro_roles_t *roles, const unsigned char *user,
    char *buf, size_t size)
{
    char           *p;
    size_t          i;
    unsigned char   id[VELRO_UUID_LEN];

    if (size < VELRO_ROLES_JSON_MAX(roles->n)) {
        return 0;
    }

    if (!roles->exists) {
        memcpy(buf, "null", 4);
        return 4;
    }

    p = buf;

    velro_uuid_format(user, id);
    p += sprintf(p, "{\"user_id\":\"%.36s\",\"teams\":{", id);

    for (i = 0; i < roles->n; i++) {
        velro_uuid_format(roles->teams[i].team, id);
        p += sprintf(p, "%s\"%.36s\":\"%s\"", i ? "," : "", id,
                     velro_role_name(roles->teams[i].role));
    }

    p += sprintf(p, "}%s}", roles->more ? ",\"teams_more\":true" : "");

    return p - buf;
}


size_t
velro_generation_json(const velro_generation_t *g, const unsigned char *id,
    char *buf, size_t size)
{
    char           *p;
    unsigned char   t[VELRO_UUID_LEN];

    if (size < VELRO_GENERATION_JSON_MAX) {
        return 0;
    }

    if (!g->exists) {
        memcpy(buf, "null", 4);
        return 4;
    }

    p = buf;

    velro_uuid_format(id, t);
    p += sprintf(p, "{\"id\":\"%.36s\"", t);

    velro_uuid_format(g->creator, t);
    p += sprintf(p, ",\"user_id\":\"%.36s\"", t);

    if (g->has_project) {
        velro_uuid_format(g->project, t);
        p += sprintf(p, ",\"project_id\":\"%.36s\"", t);

    } else {
        p += sprintf(p, ",\"project_id\":null");
    }

    /* a status too long to keep is not "completed": any other word */

    p += sprintf(p, ",\"status\":\"");

    if (g->status_len) {
        p += velro_json_escape(g->status, g->status_len, p);

    } else {
        p += sprintf(p, "%s", g->completed ? "completed" : "other");
    }

    if (g->has_media) {
        p += sprintf(p, "\",\"media_url\":\"");
        p += velro_json_escape(g->media_url, g->media_len, p);
        p += sprintf(p, "\"}");

    } else {
        p += sprintf(p, "\",\"media_url\":null}");
    }

    return p - buf;
}


size_t
velro_l2_unstamp(const char *buf, size_t len, uint64_t *stamp)
{
    size_t    i;
    uint64_t  v;

    *stamp = 0;
    v = 0;

    for (i = 0; i < len && i < 20 && buf[i] >= '0' && buf[i] <= '9'; i++) {
        v = v * 10 + (uint64_t) (buf[i] - '0');
    }

    if (i == 0 || i == 20 || i == len || buf[i] != ' '
        || (i > 1 && buf[0] == '0'))
    {
        return 0;
    }

    *stamp = v;

    return i + 1;
}


/*
 * The L2 readers: the writers' own layouts without building a tree (the
 * velro_*_fast() functions: anything else is -1, and the caller asks
 * jansson, which reads any JSON and gives the messages).
 */

int
velro_roles_from_json(const char *buf, size_t len, const unsigned char *user,
    velro_roles_t *roles, velro_team_role_t *teams, size_t max_teams,
    const char **err)
{
    if (velro_roles_fast(buf, len, user, roles, teams, max_teams) == 0) {
        return 0;
    }

    return velro_roles_from_jansson(buf, len, user, roles, teams, max_teams,
                                    err);
}


int
velro_generation_from_json(const char *buf, size_t len,
    const unsigned char *id, velro_generation_t *g, const char **err)
{
    if (velro_generation_fast(buf, len, id, g) == 0) {
        return 0;
    }

    return velro_generation_from_jansson(buf, len, id, g, err);
}


int
velro_project_from_json(const char *buf, size_t len,
    const unsigned char *id, velro_project_t *p, const char **err)
{
    if (velro_project_fast(buf, len, id, p) == 0) {
        return 0;
    }

    return velro_project_from_jansson(buf, len, id, p, err);
}


/*
 * A string as velro_json_escape() writes it: its bytes go to out while
 * they fit in max, *len is the whole length.  Only the escapes the writer
 * emits (\" \\ \u0001..\u001f) and valid UTF-8, as jansson checks it;
 * anything else is -1.
 */

static int
velro_fast_str(const char **pp, const char *end, char *out, size_t max,
    size_t *len)
{
    int             hi, lo;
    size_t          n, k;
    const char     *p;
    unsigned char   c;

    p = *pp;

    if (p == end || *p++ != '"') {
        return -1;
    }

    n = 0;

    for ( ;; ) {
        if (p == end) {
            return -1;
        }

        c = (unsigned char) *p;

        if (c == '"') {
            break;
        }

        if (c < 0x20) {
            return -1;
        }

        if (c == '\\') {
            if (end - p < 2) {
                return -1;
            }

            if (p[1] == '"' || p[1] == '\\') {
                c = (unsigned char) p[1];
                p += 2;

            } else {
                if (end - p < 6 || memcmp(p + 1, "u00", 3) != 0
                    || (p[4] != '0' && p[4] != '1'))
                {
                    return -1;
                }

                hi = p[4] - '0';
                lo = (unsigned char) p[5];
                lo = (lo >= '0' && lo <= '9') ? lo - '0'
                     : (lo >= 'a' && lo <= 'f') ? lo - 'a' + 10 : -1;

                if (lo < 0 || (hi == 0 && lo == 0)) {
                    return -1;              /* jansson refuses \u0000 */
                }

                c = (unsigned char) (hi << 4 | lo);
                p += 6;
            }

            if (n < max) {
                out[n] = (char) c;
            }

            n++;
            continue;
        }

        k = 1;

        if (c >= 0x80) {
            k = velro_utf8_len((const unsigned char *) p, end - p);

            if (k == 0) {
                return -1;
            }
        }

        if (n + k <= max) {
            memcpy(out + n, p, k);
        }

        n += k;
        p += k;
    }

    *pp = p + 1;
    *len = n;

    return 0;
}


/* the length of the valid UTF-8 sequence at s (its first byte >= 0x80),
 * or 0: no overlong forms, no surrogates, nothing above U+10FFFF */

static size_t
velro_utf8_len(const unsigned char *s, size_t n)
{
    size_t    k, i;
    uint32_t  v;

    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        k = 2;
        v = s[0] & 0x1f;

    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        k = 3;
        v = s[0] & 0x0f;

    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        k = 4;
        v = s[0] & 0x07;

    } else {
        return 0;
    }

    if (n < k) {
        return 0;
    }

    for (i = 1; i < k; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }

        v = v << 6 | (s[i] & 0x3f);
    }

    if ((k == 3 && (v < 0x800 || (v >= 0xd800 && v <= 0xdfff)))
        || (k == 4 && (v < 0x10000 || v > 0x10ffff)))
    {
        return 0;
    }

    return k;
}


/*
 * Whether no team is listed twice (jansson refuses a duplicate key, and
 * the fast reader leaves such a value to it): pairwise for a few, else
 * a table of twice as many slots.
 */

static int
velro_teams_unique(const velro_team_role_t *teams, size_t n)
{
    size_t     i, j, size, mask;
    uint32_t   h;
    uint16_t   slot[2 * VELRO_TEAMS_MAX];

    if (n <= 16) {
        for (i = 1; i < n; i++) {
            for (j = 0; j < i; j++) {
                if (memcmp(teams[i].team, teams[j].team, 16) == 0) {
                    return 0;
                }
            }
        }

        return 1;
    }

    if (n > VELRO_TEAMS_MAX) {
        return 0;
    }

    for (size = 64; size < 2 * n; size <<= 1) { /* void */ }

    mask = size - 1;
    memset(slot, 0, size * sizeof(uint16_t));

    for (i = 0; i < n; i++) {
        memcpy(&h, teams[i].team, 4);
        h = (h ^ (uint32_t) teams[i].team[15] << 24) * 2654435761u;

        for (j = h >> 16 & mask; slot[j]; j = (j + 1) & mask) {
            if (memcmp(teams[slot[j] - 1].team, teams[i].team, 16) == 0) {
                return 0;
            }
        }

        slot[j] = (uint16_t) (i + 1);
    }

    return 1;
}


/* velro_roles_json()'s layout, at most max_teams teams */

int
velro_roles_fast(const char *buf, size_t len, const unsigned char *user,
    velro_roles_t *roles, velro_team_role_t *teams, size_t max_teams)
{
    size_t          n, i, k;
    const char     *p, *end, *name;
    unsigned char   id[16];

    p = buf;
    end = buf + len;

    memset(roles, 0, sizeof(velro_roles_t));
    roles->teams = teams;

    if (len == 4 && memcmp(buf, "null", 4) == 0) {
        return 0;
    }

    if (velro_fast_lit(&p, end, "{\"user_id\":") != 0
        || velro_fast_uuid(&p, end, id) != 0
        || memcmp(id, user, 16) != 0
        || velro_fast_lit(&p, end, ",\"teams\":{") != 0)
    {
        return -1;
    }

    n = 0;

    while (velro_fast_lit(&p, end, "}") != 0) {

        if ((n && velro_fast_lit(&p, end, ",") != 0)
            || n == max_teams
            || velro_fast_uuid(&p, end, teams[n].team) != 0
            || velro_fast_lit(&p, end, ":\"") != 0)
        {
            return -1;
        }

        teams[n].role = VELRO_ROLE_NONE;

        for (i = VELRO_ROLE_VIEWER; i <= VELRO_ROLE_OWNER; i++) {
            name = velro_role_name((velro_role_e) i);
            k = strlen(name);

            if ((size_t) (end - p) > k && memcmp(p, name, k) == 0
                && p[k] == '"')
            {
                teams[n].role = (uint8_t) i;
                p += k + 1;
                break;
            }
        }

        if (teams[n].role == VELRO_ROLE_NONE) {
            return -1;
        }

        n++;
    }

    if (velro_fast_lit(&p, end, ",\"teams_more\":true") == 0) {
        roles->more = 1;
    }

    if (velro_fast_lit(&p, end, "}") != 0 || p != end
        || !velro_teams_unique(teams, n))
    {
        return -1;
    }

    roles->exists = 1;
    roles->n = (uint16_t) n;

    return 0;
}


/* velro_generation_json()'s layout */

int
velro_generation_fast(const char *buf, size_t len, const unsigned char *id,
    velro_generation_t *g)
{
    size_t          n;
    const char     *p, *end;
    unsigned char   t[16];

    p = buf;
    end = buf + len;

    memset(g, 0, offsetof(velro_generation_t, media_url));

    if (len == 4 && memcmp(buf, "null", 4) == 0) {
        return 0;
    }

    if (velro_fast_lit(&p, end, "{\"id\":") != 0
        || velro_fast_uuid(&p, end, t) != 0
        || memcmp(t, id, 16) != 0
        || velro_fast_lit(&p, end, ",\"user_id\":") != 0
        || velro_fast_uuid(&p, end, g->creator) != 0
        || velro_fast_lit(&p, end, ",\"project_id\":") != 0)
    {
        return -1;
    }

    if (velro_fast_lit(&p, end, "null") != 0) {
        if (velro_fast_uuid(&p, end, g->project) != 0) {
            return -1;
        }

        g->has_project = 1;
    }

    if (velro_fast_lit(&p, end, ",\"status\":") != 0
        || velro_fast_str(&p, end, g->status, VELRO_STATUS_MAX, &n) != 0)
    {
        return -1;
    }

    if (n <= VELRO_STATUS_MAX) {
        g->status_len = (uint8_t) n;
        g->completed = (n == 9 && memcmp(g->status, "completed", 9) == 0);

    } else {
        memset(g->status, 0, VELRO_STATUS_MAX);
    }

    if (velro_fast_lit(&p, end, ",\"media_url\":") != 0) {
        return -1;
    }

    if (velro_fast_lit(&p, end, "null") != 0) {
        if (velro_fast_str(&p, end, g->media_url, VELRO_MEDIA_URL_MAX, &n)
            != 0)
        {
            return -1;
        }

        if (n <= VELRO_MEDIA_URL_MAX) {
            g->media_len = (uint16_t) n;
            g->has_media = 1;
        }
    }

    if (velro_fast_lit(&p, end, "}") != 0 || p != end) {
        return -1;
    }

    g->exists = 1;

    return 0;
}


/* velro_project_json()'s layout */

int
velro_project_fast(const char *buf, size_t len, const unsigned char *id,
    velro_project_t *pr)
{
    const char  *p, *end;

    p = buf;
    end = buf + len;

    memset(pr, 0, sizeof(velro_project_t));

    if (len == 4 && memcmp(buf, "null", 4) == 0) {
        return 0;
    }

    if (velro_project_fast_at(&p, end, pr) != 0 || p != end
        || memcmp(pr->id, id, 16) != 0)
    {
        return -1;
    }

    return 0;
}


int
velro_roles_from_jansson(const char *buf, size_t len, const unsigned char *user,
    velro_roles_t *roles, velro_team_role_t *teams, size_t max_teams,
    const char **err)
{
    int      rc;
    json_t  *j;

    memset(roles, 0, sizeof(velro_roles_t));
    roles->teams = teams;

    j = velro_entity_load(buf, len);

    if (j == NULL) {
        *err = "not JSON";
        return -1;
    }

    rc = -1;

    if (json_is_null(j)) {
        rc = 0;
        goto done;
    }

    if (!json_is_object(j)
        || velro_json_uuid(j, "user_id", user, NULL, 0) != 0)
    {
        *err = "not the roles of the user asked for";
        goto done;
    }

    rc = velro_teams_parse(j, NULL, roles, teams, max_teams, err);

done:

    json_decref(j);

    return rc;
}


int
velro_generation_from_jansson(const char *buf, size_t len,
    const unsigned char *id, velro_generation_t *g, const char **err)
{
    int      rc;
    json_t  *j;

    j = velro_entity_load(buf, len);

    if (j == NULL) {
        memset(g, 0, offsetof(velro_generation_t, media_url));
        *err = "not JSON";
        return -1;
    }

    rc = velro_generation_parse(j, id, g, err);

    json_decref(j);

    return rc;
}


int
velro_project_from_jansson(const char *buf, size_t len,
    const unsigned char *id, velro_project_t *p, const char **err)
{
    int      rc;
    json_t  *j;

    memset(p, 0, sizeof(velro_project_t));

    j = velro_entity_load(buf, len);

    if (j == NULL) {
        *err = "not JSON";
        return -1;
    }

    rc = 0;

    if (!json_is_null(j)
        && (velro_project_parse(j, p) != 0 || memcmp(p->id, id, 16) != 0))
    {
        memset(p, 0, sizeof(velro_project_t));
        *err = "not the project asked for";
        rc = -1;
    }

    json_decref(j);

    return rc;
}


int
velro_warm_entities_parse(const char *buf, size_t len,
    const unsigned char *user, velro_user_t *u, velro_roles_t *roles,
    velro_team_role_t *teams, size_t max_teams, unsigned char (*gen_ids)[16],
    velro_generation_t *gens, size_t max_gens, size_t *ngens,
    velro_project_t *projects, size_t max_projects, size_t *nprojects,
    const char **err)
{
    int          rc;
    size_t       i, n;
    json_t      *j, *ju, *a, *v;
    const char  *e;

    *ngens = 0;
    *nprojects = 0;
    memset(roles, 0, sizeof(velro_roles_t));
    roles->teams = teams;

    j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);

    if (j == NULL) {
        *err = "not JSON";
        return -1;
    }

    rc = -1;

    ju = json_object_get(j, "user");

    if (!json_is_object(j) || ju == NULL) {
        *err = "\"user\" is missing";
        goto done;
    }

    if (velro_user_parse(ju, user, u, err) != 0) {
        goto done;
    }

    if (u->exists
        && velro_teams_parse(ju, NULL, roles, teams, max_teams, err) != 0)
    {
        goto done;
    }

    a = json_object_get(j, "generations");

    if (!json_is_array(a)) {
        *err = "\"generations\" is not an array";
        goto done;
    }

    n = 0;

    json_array_foreach(a, i, v) {

        if (n == max_gens) {
            break;
        }

        if (velro_json_uuid(v, "id", NULL, gen_ids[n], 0) != 0
            || velro_generation_parse(v, gen_ids[n], &gens[n], &e) != 0)
        {
            continue;
        }

        n++;
    }

    *ngens = n;

    a = json_object_get(j, "projects");

    if (!json_is_array(a)) {
        *err = "\"projects\" is not an array";
        goto done;
    }

    n = 0;

    json_array_foreach(a, i, v) {

        if (n == max_projects) {
            break;
        }

        if (velro_project_parse(v, &projects[n]) == 0) {
            n++;
        }
    }

    *nprojects = n;

    rc = 0;

done:

    json_decref(j);

    return rc;
}
