
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


int
velro_roles_from_json(const char *buf, size_t len, const unsigned char *user,
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
velro_generation_from_json(const char *buf, size_t len,
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
velro_project_from_json(const char *buf, size_t len,
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
