
/*
 * velro: the entities of a decision in their JSON forms, pure C (no
 * nginx): the entity form of the L3 answer and of the warm answer, and
 * the L2 values auth:{user}, team_access:{user}, ownership:{generation},
 * project_vis:{project}.  The decision itself is velro_authz_decide().
 */


#ifndef _VELRO_ENTITY_H_INCLUDED_
#define _VELRO_ENTITY_H_INCLUDED_


#include "velro_authz.h"


/* the L3 answer's form */
#define VELRO_L3_ENTITIES  0
#define VELRO_L3_ACCESS    1                /* issue 3's: "access" row */


/*
 * An L3 answer, either form.  The entity form:
 *   {"user":{"id","status","tokens_valid_after","teams":{TEAM:ROLE,...}
 *            [,"teams_more":true]}|null,
 *    "generation":{"id","user_id","project_id","status","media_url"}|null,
 *    "project":{"id","team_id","visibility"}|null}
 * ("generation" and "project" when a resource was asked).  The access
 * form: {"user":USER|null,"access":ROW|null[,"project":PROJECT]}.
 * roles.teams is the caller's, of max_teams entries; a user with more
 * memberships keeps the project's team first and gets roles.more.
 */
typedef struct {
    uint8_t              form;              /* VELRO_L3_x */
    uint8_t              has_generation;    /* gen (exists or not) known */
    velro_user_t         user;
    velro_roles_t        roles;             /* entity form */
    velro_generation_t   gen;               /* entity form */
    velro_project_t      project;           /* valid: known and exists */
    velro_access_t       access;            /* access form */
} velro_l3_answer_t;

int velro_l3_answer_parse(const char *buf, size_t len,
    const unsigned char *user, const unsigned char *resource,
    velro_l3_answer_t *ans, velro_team_role_t *teams, size_t max_teams,
    const char **err);


/*
 * L2 values.  The writers return the length written into buf (0 when it
 * does not fit); unknown entities are "null".
 *   team_access:{user}   {"user_id":U,"teams":{T:ROLE,...}[,"teams_more":true]}
 *   ownership:{gen}      {"id":G,"user_id":U,"project_id":P|null,
 *                         "status":S,"media_url":M|null}
 *   project_vis:{proj}   velro_project_json()
 *   auth:{user}          velro_user_json()
 */
#define VELRO_ROLES_JSON_MAX(n)  ((size_t) (64 + 36 + 20 + (n) * (36 + 12)))
#define VELRO_GENERATION_JSON_MAX                                             \
    (160 + 3 * 36 + 6 * VELRO_STATUS_MAX + 6 * VELRO_MEDIA_URL_MAX)

size_t velro_roles_json(const velro_roles_t *roles, const unsigned char *user,
    char *buf, size_t size);
size_t velro_generation_json(const velro_generation_t *g,
    const unsigned char *id, char *buf, size_t size);

/*
 * Every L2 value is stamped: "STAMP JSON", STAMP the wall-clock
 * milliseconds at which the lookup that learnt it started (a reader drops
 * a value older than a notice it saw for that entity).  Returns the
 * length of "STAMP " and the stamp, or 0 and stamp 0 for an unstamped
 * value.
 */
size_t velro_l2_unstamp(const char *buf, size_t len, uint64_t *stamp);

int velro_roles_from_json(const char *buf, size_t len,
    const unsigned char *user, velro_roles_t *roles,
    velro_team_role_t *teams, size_t max_teams, const char **err);
int velro_generation_from_json(const char *buf, size_t len,
    const unsigned char *id, velro_generation_t *g, const char **err);
int velro_project_from_json(const char *buf, size_t len,
    const unsigned char *id, velro_project_t *p, const char **err);

/*
 * How the readers above read: velro_*_fast() the writers' own layout (no
 * spaces, members in the writer's order, the escapes it emits, at most
 * max_teams teams) without building a tree, 0, or -1 for anything else
 * (the outputs undefined); velro_*_from_jansson() any JSON.  Where the
 * fast one reads, both give the same.
 */
int velro_roles_fast(const char *buf, size_t len, const unsigned char *user,
    velro_roles_t *roles, velro_team_role_t *teams, size_t max_teams);
int velro_generation_fast(const char *buf, size_t len,
    const unsigned char *id, velro_generation_t *g);
int velro_project_fast(const char *buf, size_t len, const unsigned char *id,
    velro_project_t *p);

int velro_roles_from_jansson(const char *buf, size_t len,
    const unsigned char *user, velro_roles_t *roles,
    velro_team_role_t *teams, size_t max_teams, const char **err);
int velro_generation_from_jansson(const char *buf, size_t len,
    const unsigned char *id, velro_generation_t *g, const char **err);
int velro_project_from_jansson(const char *buf, size_t len,
    const unsigned char *id, velro_project_t *p, const char **err);


/*
 * The entity form of the warm answer:
 *   {"user":USER_WITH_TEAMS|null,"generations":[GENERATION,...],
 *    "projects":[PROJECT,...]}
 * at most max_gens generations (ids in gen_ids) and max_projects
 * projects kept; a malformed generation or project is skipped.
 */
int velro_warm_entities_parse(const char *buf, size_t len,
    const unsigned char *user, velro_user_t *u, velro_roles_t *roles,
    velro_team_role_t *teams, size_t max_teams, unsigned char (*gen_ids)[16],
    velro_generation_t *gens, size_t max_gens, size_t *ngens,
    velro_project_t *projects, size_t max_projects, size_t *nprojects,
    const char **err);

#endif /* _VELRO_ENTITY_H_INCLUDED_ */
