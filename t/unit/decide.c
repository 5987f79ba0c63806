
/*
 * velro_decide: the property test's driver (t/024-authz-property.t).
 * Each line of stdin is
 *
 *     USER TAB GENERATION TAB ENTITIES TAB ROW
 *
 * ENTITIES what velro_l3_entities(USER, GENERATION) answered, ROW
 * row_to_json(velro_authorize(USER, GENERATION)) or empty (no row).  The
 * entities go through velro_l3_answer_parse() and velro_authz_decide()
 * as the gateway does (an L3 answer lists the project's team first, so a
 * partial list of memberships decides); the access row they give must be
 * ROW, field by field, and allow what ROW allows for read, write and
 * delete.  Prints one line per mismatch, then "cases N mismatches M
 * partial P"; exits 1 on any mismatch.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "velro_entity.h"


int
main(void)
{
    int                 action, bad;
    char               *line, *f[4], *p;
    size_t              cap, n;
    ssize_t             len;
    const char         *err;
    unsigned long       cases, mismatches, partial;
    unsigned char       uid[16], gid[16];
    velro_access_t      got, want;
    velro_l3_answer_t   ans;
    velro_team_role_t   teams[VELRO_TEAMS_MAX];
    json_t             *row;

    line = NULL;
    cap = 0;
    cases = 0;
    mismatches = 0;
    partial = 0;

    while ((len = getline(&line, &cap, stdin)) > 0) {

        if (line[len - 1] == '\n') {
            line[--len] = '\0';
        }

        n = 0;
        p = line;
        f[n++] = p;

        while (n < 4 && (p = strchr(p, '\t')) != NULL) {
            *p++ = '\0';
            f[n++] = p;
        }

        if (n != 4
            || velro_uuid_parse((unsigned char *) f[0], strlen(f[0]), uid)
               != 0
            || velro_uuid_parse((unsigned char *) f[1], strlen(f[1]), gid)
               != 0)
        {
            printf("bad input line %lu\n", cases + 1);
            return 2;
        }

        cases++;
        bad = 0;

        if (velro_l3_answer_parse(f[2], strlen(f[2]), uid, gid, &ans, teams,
                                  VELRO_TEAMS_MAX, &err)
            != 0)
        {
            printf("mismatch %s %s: entities rejected: %s\n", f[0], f[1],
                   err);
            mismatches++;
            continue;
        }

        if (ans.roles.more) {
            partial++;
            ans.roles.more = 0;
        }

        if (velro_authz_decide(uid, &ans.roles, &ans.gen,
                               ans.project.valid ? &ans.project : NULL, &got)
            != 0)
        {
            printf("mismatch %s %s: no decision\n", f[0], f[1]);
            mismatches++;
            continue;
        }

        memset(&want, 0, sizeof(want));

        if (f[3][0] != '\0') {
            row = json_loads(f[3], 0, NULL);

            if (row == NULL
                || velro_access_parse(row, uid, gid, &want, &err) != 0)
            {
                printf("bad row %s %s\n", f[0], f[1]);
                return 2;
            }

            json_decref(row);
        }

        if (got.exists != want.exists || got.role != want.role
            || got.direct != want.direct || got.team != want.team
            || got.public_access != want.public_access
            || got.has_project != want.has_project
            || (got.has_project && memcmp(got.project, want.project, 16)))
        {
            bad = 1;
        }

        for (action = VELRO_ACTION_READ; action <= VELRO_ACTION_DELETE;
             action++)
        {
            if (velro_access_allows(&got, action)
                != velro_access_allows(&want, action))
            {
                bad = 1;
            }
        }

        if (bad) {
            printf("mismatch %s %s: got exists %d role \"%s\" direct %d "
                   "team %d public %d, velro_authorize: exists %d role "
                   "\"%s\" direct %d team %d public %d\n", f[0], f[1],
                   got.exists, velro_role_name(got.role), got.direct,
                   got.team, got.public_access, want.exists,
                   velro_role_name(want.role), want.direct, want.team,
                   want.public_access);
            mismatches++;
        }
    }

    free(line);

    printf("cases %lu mismatches %lu partial %lu\n", cases, mismatches,
           partial);

    return mismatches ? 1 : 0;
}
