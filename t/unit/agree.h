
/*
 * velro tests: the L2 readers' two ways agree.  For one input, each
 * velro_agree_*() reads it with velro_*_fast(), with the jansson reader
 * and with the public velro_*_from_json(): where the fast one reads, the
 * jansson one must read too and give the same struct; the public one
 * must give what the jansson one gives (return code, struct, message).
 * Returns NULL, or what differs; *fast says whether the fast one read.
 * Shared by t/unit/test_entity.c and t/fuzz/fuzz_authz.c (header only).
 */


#ifndef _VELRO_AGREE_H_INCLUDED_
#define _VELRO_AGREE_H_INCLUDED_


#include <stdio.h>
#include <string.h>

#include "velro_entity.h"


#define VELRO_AGREE_TEAMS  VELRO_TEAMS_MAX


static int
velro_agree_err(int rc, const char *e1, const char *e2)
{
    return rc == 0 || (e1 && e2 && strcmp(e1, e2) == 0);
}


static int
velro_agree_roles_same(const velro_roles_t *a, const velro_roles_t *b)
{
    size_t  i;

    if (a->exists != b->exists || a->more != b->more || a->n != b->n) {
        return 0;
    }

    for (i = 0; i < a->n; i++) {
        if (memcmp(a->teams[i].team, b->teams[i].team, 16) != 0
            || a->teams[i].role != b->teams[i].role)
        {
            return 0;
        }
    }

    return 1;
}


static int
velro_agree_gen_same(const velro_generation_t *a,
    const velro_generation_t *b)
{
    return memcmp(a, b, offsetof(velro_generation_t, media_url)) == 0
           && memcmp(a->media_url, b->media_url, a->media_len) == 0;
}


/*
 * rf, rj, rp: the return codes of the fast, jansson and public readers;
 * fj, pj: whether the fast and the public one's structs are jansson's
 */

static const char *
velro_agree_rc(int rf, int rj, int rp, const char *ej, const char *ep,
    int fj, int pj, const char *what)
{
    static char  msg[96];

    if (rf == 0 && (rj != 0 || !fj)) {
        snprintf(msg, sizeof(msg), "%s: the fast reader differs from jansson",
                 what);
        return msg;
    }

    if (rp != rj || !velro_agree_err(rj, ej, ep) || (rj == 0 && !pj)) {
        snprintf(msg, sizeof(msg), "%s: velro_%s_from_json() differs from "
                 "jansson", what, what);
        return msg;
    }

    return NULL;
}


/* the readers of a struct compared whole: user and project */

#define VELRO_AGREE_FLAT(name, type)                                          \
static const char *                                                           \
velro_agree_##name(const char *buf, size_t len, const unsigned char *id,     \
    int *fast)                                                                \
{                                                                             \
    int          rf, rj, rp;                                                  \
    type         vf, vj, vp;                                                  \
    const char  *ej, *ep;                                                     \
                                                                              \
    ej = NULL;                                                                \
    ep = NULL;                                                                \
    memset(&vj, 0x5a, sizeof(type));                                          \
    memset(&vp, 0xa5, sizeof(type));                                          \
                                                                              \
    rf = velro_##name##_fast(buf, len, id, &vf);                              \
    rj = velro_##name##_from_jansson(buf, len, id, &vj, &ej);                 \
    rp = velro_##name##_from_json(buf, len, id, &vp, &ep);                    \
    *fast = (rf == 0);                                                        \
                                                                              \
    return velro_agree_rc(rf, rj, rp, ej, ep,                                 \
                          memcmp(&vf, &vj, sizeof(type)) == 0,                \
                          memcmp(&vp, &vj, sizeof(type)) == 0, #name);        \
}

VELRO_AGREE_FLAT(user, velro_user_t)
VELRO_AGREE_FLAT(project, velro_project_t)


static const char *
velro_agree_roles(const char *buf, size_t len, const unsigned char *id,
    size_t max_teams, int *fast)
{
    int                 rf, rj, rp;
    const char         *ej, *ep;
    velro_roles_t       rolf, rolj, rolp;
    velro_team_role_t   tf[VELRO_AGREE_TEAMS], tj[VELRO_AGREE_TEAMS],
                        tp[VELRO_AGREE_TEAMS];

    if (max_teams > VELRO_AGREE_TEAMS) {
        max_teams = VELRO_AGREE_TEAMS;
    }

    ej = NULL;
    ep = NULL;
    memset(tj, 0x5a, sizeof(tj));
    memset(tp, 0xa5, sizeof(tp));

    rf = velro_roles_fast(buf, len, id, &rolf, tf, max_teams);
    rj = velro_roles_from_jansson(buf, len, id, &rolj, tj, max_teams, &ej);
    rp = velro_roles_from_json(buf, len, id, &rolp, tp, max_teams, &ep);
    *fast = (rf == 0);

    return velro_agree_rc(rf, rj, rp, ej, ep,
                          rolf.teams == tf
                          && velro_agree_roles_same(&rolf, &rolj),
                          rolp.teams == tp
                          && velro_agree_roles_same(&rolp, &rolj),
                          "roles");
}


static const char *
velro_agree_generation(const char *buf, size_t len, const unsigned char *id,
    int *fast)
{
    int                        rf, rj, rp;
    const char                *ej, *ep;
    static velro_generation_t  gf, gj, gp;

    ej = NULL;
    ep = NULL;
    memset(&gj, 0x5a, sizeof(velro_generation_t));
    memset(&gp, 0xa5, sizeof(velro_generation_t));

    rf = velro_generation_fast(buf, len, id, &gf);
    rj = velro_generation_from_jansson(buf, len, id, &gj, &ej);
    rp = velro_generation_from_json(buf, len, id, &gp, &ep);
    *fast = (rf == 0);

    return velro_agree_rc(rf, rj, rp, ej, ep, velro_agree_gen_same(&gf, &gj),
                          velro_agree_gen_same(&gp, &gj), "generation");
}


/* all four readers, each for its own expected id */

static const char *
velro_agree_all(const char *buf, size_t len, const unsigned char *user,
    const unsigned char *gen, const unsigned char *project, size_t max_teams,
    int *fast)
{
    int          f;
    const char  *e;

    *fast = 0;

    if ((e = velro_agree_user(buf, len, user, &f)) != NULL) {
        return e;
    }

    *fast |= f;

    if ((e = velro_agree_roles(buf, len, user, max_teams, &f)) != NULL) {
        return e;
    }

    *fast |= f << 1;

    if ((e = velro_agree_generation(buf, len, gen, &f)) != NULL) {
        return e;
    }

    *fast |= f << 2;

    if ((e = velro_agree_project(buf, len, project, &f)) != NULL) {
        return e;
    }

    *fast |= f << 3;

    return NULL;
}

#endif /* _VELRO_AGREE_H_INCLUDED_ */
