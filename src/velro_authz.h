
/*
 * velro: authorization decisions, pure C (no nginx), so unit tests and
 * fuzzers reach them: UUIDs, the access rule as a function of the
 * entities (velro_authz_decide()) and applied to a velro_authorize() row,
 * the user checks, the JSON objects of the L3 contract, the user's L2
 * value, the invalidation notices and issue 3's warm form.
 */


#ifndef _VELRO_AUTHZ_H_INCLUDED_
#define _VELRO_AUTHZ_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include <jansson.h>


#define VELRO_UUID_LEN  36                  /* 8-4-4-4-12 hex digits */


typedef enum {
    VELRO_ROLE_NONE = 0,
    VELRO_ROLE_VIEWER,
    VELRO_ROLE_EDITOR,
    VELRO_ROLE_ADMIN,
    VELRO_ROLE_OWNER
} velro_role_e;


typedef enum {
    VELRO_ACTION_READ = 0,
    VELRO_ACTION_WRITE,
    VELRO_ACTION_DELETE
} velro_action_e;


typedef enum {
    VELRO_USER_OK = 0,
    VELRO_USER_UNKNOWN,
    VELRO_USER_DISABLED,
    VELRO_USER_REVOKED                      /* iat before tokens_valid_after */
} velro_user_rc_e;


/* what the user lookup knows; the same bytes are the L1 value */

typedef struct {
    uint8_t          exists;
    uint8_t          active;
    uint8_t          has_tva;
    uint8_t          pad[5];
    int64_t          tokens_valid_after;    /* epoch seconds */
} velro_user_t;


/* a velro_authorize() row; the same bytes are the L1 value */

typedef struct {
    uint8_t          exists;                /* the generation exists */
    uint8_t          role;                  /* velro_role_e */
    uint8_t          direct;
    uint8_t          team;
    uint8_t          public_access;
    uint8_t          has_project;
    uint8_t          pad[2];
    unsigned char    project[16];
} velro_access_t;


/* 0 and 16 bytes in out for a canonical UUID (any hex case), else -1 */
int velro_uuid_parse(const unsigned char *s, size_t len,
    unsigned char *out);

/* 36 lowercase characters, no terminating NUL */
void velro_uuid_format(const unsigned char *id, unsigned char *out);

/* read: a role or public access; write: owner, admin, editor;
 * delete: owner, admin */
int velro_access_allows(const velro_access_t *a, velro_action_e action);

/* iat is INT64_MIN when the token has none */
velro_user_rc_e velro_user_check(const velro_user_t *u, int64_t iat);

const char *velro_role_name(velro_role_e role);   /* "" for none */
const char *velro_action_name(velro_action_e action);
const char *velro_user_description(velro_user_rc_e rc);

/*
 * A project an L3 answer names ("project" of the single form, "projects"
 * of the warm form): {"id":UUID,"team_id":UUID|null,"visibility":WORD},
 * the seed's project_vis entry.  velro_project_json() writes the L1 and
 * L2 value (at most VELRO_PROJECT_JSON_MAX bytes).
 */
typedef enum {
    VELRO_VIS_PRIVATE = 0,
    VELRO_VIS_TEAM,
    VELRO_VIS_TEAM_OPEN,
    VELRO_VIS_PUBLIC
} velro_visibility_e;

typedef struct {
    unsigned char    id[16];
    unsigned char    team_id[16];
    uint8_t          valid;                 /* it exists; 0: unknown */
    uint8_t          has_team;
    uint8_t          visibility;            /* velro_visibility_e */
} velro_project_t;

#define VELRO_PROJECT_JSON_MAX  128

/* "null" for a project that is not valid (unknown) */
size_t velro_project_json(const velro_project_t *p, char *buf);

/*
 * The entities a decision is made from (the decisions-from-entities
 * form of the L3 contract): the user's team memberships, the generation
 * and its project.  The user itself is velro_user_t.
 */

#define VELRO_TEAMS_MAX       256           /* memberships an entry keeps */
#define VELRO_STATUS_MAX      24
#define VELRO_MEDIA_URL_MAX   1024

typedef struct {
    unsigned char    team[16];
    uint8_t          role;                  /* velro_role_e of the
                                               membership: OWNER is a
                                               team owner */
} velro_team_role_t;

typedef struct {
    uint8_t          exists;                /* the user exists */
    uint8_t          more;                  /* more memberships than
                                               teams holds */
    uint16_t         n;
    velro_team_role_t  *teams;
} velro_roles_t;

typedef struct {
    uint8_t          exists;
    uint8_t          completed;             /* status is 'completed' */
    uint8_t          has_project;
    uint8_t          status_len;            /* 0: longer than status */
    uint16_t         media_len;
    uint8_t          has_media;             /* media_url not null */
    uint8_t          pad;
    unsigned char    creator[16];
    unsigned char    project[16];
    char             status[VELRO_STATUS_MAX];
    char             media_url[VELRO_MEDIA_URL_MAX];   /* the last member:
                                                          L1 keeps only
                                                          media_len bytes */
} velro_generation_t;

#define velro_generation_size(g)                                              \
    (offsetof(velro_generation_t, media_url) + (g)->media_len)

/*
 * The access rule (sql/schema.sql, velro_authorize()) as a function of
 * the entities: the creator is "owner" whatever the status; anyone else
 * only for a completed generation: the team role in the project's team (a
 * team owner is "admin"), else "viewer" for a public project;
 * has_public_access when (completed or the creator) and the project is
 * public or team_open.  project is NULL (or not valid) when the
 * generation has none or it is unknown.  Returns 0, or -1 when roles is
 * partial (more) and does not list the project's team: the entities
 * cannot decide.
 */
int velro_authz_decide(const unsigned char *user, const velro_roles_t *roles,
    const velro_generation_t *g, const velro_project_t *project,
    velro_access_t *a);

/* team_members.role: "owner" .. "viewer"; VELRO_ROLE_NONE otherwise */
velro_role_e velro_role_parse(const char *s, size_t len);

/* shared with velro_entity.c: jansson objects of the L3 contract */
int velro_json_uuid(json_t *o, const char *name, const unsigned char *expect,
    unsigned char *out, int nullable);
int velro_user_parse(json_t *j, const unsigned char *user, velro_user_t *u,
    const char **err);
int velro_project_parse(json_t *j, velro_project_t *pr);
int velro_access_parse(json_t *j, const unsigned char *user,
    const unsigned char *resource, velro_access_t *a, const char **err);

/*
 * Shared with velro_entity.c: the readers of the module's own layouts
 * (no spaces, members in the writer's order), 0 and *p past what they
 * read, else -1.  A UUID is "UUID" (any hex case); a project is
 * velro_project_json()'s.
 */
int velro_fast_lit(const char **p, const char *end, const char *lit);
int velro_fast_uuid(const char **p, const char *end, unsigned char *id);
int velro_project_fast_at(const char **p, const char *end,
    velro_project_t *pr);

/*
 * The L2 value auth:{user}: USER or null (at most VELRO_USER_JSON_MAX
 * bytes).  The L3 answers: velro_entity.h.
 */
#define VELRO_USER_JSON_MAX    128

size_t velro_user_json(const velro_user_t *u, const unsigned char *user,
    char *buf);
int velro_user_from_json(const char *buf, size_t len,
    const unsigned char *user, velro_user_t *u, const char **err);

/*
 * The two ways velro_user_from_json() reads (and the other L2 readers,
 * velro_entity.h): velro_user_fast() reads velro_user_json()'s own layout
 * without building a tree, 0, or -1 for anything else (*u undefined);
 * velro_user_from_jansson() reads any JSON.  Where the fast one reads, both
 * give the same.
 */
int velro_user_fast(const char *buf, size_t len, const unsigned char *user,
    velro_user_t *u);
int velro_user_from_jansson(const char *buf, size_t len,
    const unsigned char *user, velro_user_t *u, const char **err);

/*
 * An invalidation notice: {"kind":"user|member|team|project|generation",
 * "id":"UUID"}.  Returns the kind (VELRO_INVALIDATE_x) and the id, or -1.
 */
#define VELRO_INVALIDATE_USER        0
#define VELRO_INVALIDATE_TEAM        1
#define VELRO_INVALIDATE_PROJECT     2
#define VELRO_INVALIDATE_GENERATION  3
#define VELRO_INVALIDATE_MEMBER      4     /* the user's memberships */

int velro_invalidation_parse(const char *buf, size_t len, unsigned char *id);

/*
 * The warm form of the L3 answer: {"user":USER|null,"access":[ROW,...],
 * "projects":[PROJECT,...]}.  Rows for another user are refused; at most
 * max_rows rows and max_projects projects are kept, malformed projects
 * are skipped.  The layout velro_l3_warm() writes is read without
 * building a JSON tree; any other goes to jansson.
 * Returns 0, or -1 with a static message in *err.
 */
typedef struct {
    unsigned char    generation[16];
    velro_access_t   access;
} velro_warm_row_t;

int velro_warm_parse(const char *buf, size_t len, const unsigned char *user,
    velro_user_t *u, velro_warm_row_t *rows, size_t max_rows, size_t *nrows,
    velro_project_t *projects, size_t max_projects, size_t *nprojects,
    const char **err);

#endif /* _VELRO_AUTHZ_H_INCLUDED_ */
