-- ngx_http_velro_module: the PostgreSQL side (PostgreSQL 13+, written for 15).
--
--   psql -X -v ON_ERROR_STOP=1 -d DB -f sql/schema.sql
--
-- Loads into an empty database; running it again is harmless (IF NOT EXISTS,
-- CREATE OR REPLACE), it does not migrate older versions of these objects.
--
-- What the module relies on (names fixed by INTERFACE.md, "Data model"):
--
--   tables      users, teams, team_members, projects, generations
--   functions   velro_authorize(user, generation)   the decision row (0 or 1)
--               velro_user(user)                    status, tokens_valid_after
--               velro_l3_lookup(user, resource)     the L3 contract as json;
--                                                   the module's velro_authz_pg
--                                                   runs exactly
--                 SELECT velro_l3_lookup($1::uuid, $2::uuid)
--                                                   and returns the text as is
--               velro_l3_warm(user, limit)          the L3 warm form as json
--                                                   (cache warming on login)
--               velro_l3_entities(user, resource)   the entity form of the L3
--                                                   contract: what velro_authz_pg
--                                                   answers,
--                 SELECT velro_l3_entities($1::uuid, $2::uuid)
--               velro_l3_warm_entities(user, limit) its warm form:
--                 SELECT velro_l3_warm_entities($1::uuid, $2::int)
--                                                   ("velro_authz_pg access" runs
--                                                   velro_l3_lookup and
--                                                   velro_l3_warm: issue 3's form)
--   view        mv_user_authorization_context       materialized, for reporting
--                                                   and cache warming only
--   triggers    pg_notify('velro_invalidate', '{"kind":"...","id":"UUID"}')
--               on every change that can alter a decision, and the same
--               change as a row of velro_invalidation_log (seq, kind, id,
--               at): durable, bounded by velro.log_keep, read by cursor
--
-- The access rule, for user U and generation G (project P, P's team T):
--
--   effective_role    'owner'   when G.user_id = U (always: "owner" means the
--                               generation's creator, never a team role);
--                     else, only when G.status = 'completed':
--                       U's role in T, a team 'owner' mapped to 'admin'
--                       (admin, editor, viewer map to themselves);
--                       else 'viewer' when P.visibility = 'public';
--                     else NULL.
--   has_direct_access  G.user_id = U
--   has_team_access    G completed and U is a member of T
--   has_public_access  (G completed or U owns G) and P.visibility is
--                      'public' or 'team_open'
--
-- So nobody but the creator gets any access to a generation that is not
-- 'completed' (a team's owner or admin included), and a generation without a
-- project is the creator's alone. The decision itself is the caller's (the C
-- module): read needs a role or has_public_access; write needs owner, admin
-- or editor; delete needs owner or admin.

BEGIN;

-- gen_random_uuid() is built in since PostgreSQL 13.

------------------------------------------------------------------------------
-- Tables
------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS users (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email               text NOT NULL UNIQUE,
    status              text NOT NULL DEFAULT 'active'
                        CHECK (status IN ('active', 'disabled')),
    -- tokens issued (iat) before this instant are revoked; NULL: none are
    tokens_valid_after  timestamptz NULL
);

CREATE TABLE IF NOT EXISTS teams (
    id    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name  text NOT NULL
);

CREATE TABLE IF NOT EXISTS team_members (
    team_id  uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role     text NOT NULL
             CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
    -- also the (team, user) lookup of velro_authorize
    PRIMARY KEY (team_id, user_id)
);

CREATE TABLE IF NOT EXISTS projects (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    team_id     uuid NULL REFERENCES teams (id) ON DELETE SET NULL,
    visibility  text NOT NULL DEFAULT 'private'
                CHECK (visibility IN ('private', 'team', 'team_open', 'public'))
);

CREATE TABLE IF NOT EXISTS generations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_id  uuid NULL REFERENCES projects (id) ON DELETE SET NULL,
    -- 'pending', 'processing', 'completed', 'failed', ...: only 'completed'
    -- matters to the access rule, so other values are not constrained
    status      text NOT NULL DEFAULT 'pending',
    media_url   text NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

------------------------------------------------------------------------------
-- Indexes: every lookup below is a primary key or one of these
------------------------------------------------------------------------------

-- a user's memberships: the MV's member branch, ON DELETE CASCADE from users
CREATE INDEX IF NOT EXISTS team_members_user_id_idx
    ON team_members (user_id);
-- a user's generations, newest first (listings, ON DELETE CASCADE from users)
CREATE INDEX IF NOT EXISTS generations_user_id_created_at_idx
    ON generations (user_id, created_at DESC);
-- a project's generations: the MV's member branch, ON DELETE SET NULL
CREATE INDEX IF NOT EXISTS generations_project_id_idx
    ON generations (project_id);
-- a project's completed generations, newest first: velro_l3_warm's team
-- branch reads the first N of each project of the user's teams from here,
-- already in its order (created_at DESC, id), status included
CREATE INDEX IF NOT EXISTS generations_project_id_created_at_idx
    ON generations (project_id, created_at DESC, id)
    WHERE status = 'completed';
-- a team's projects: the MV's member branch, ON DELETE SET NULL from teams
CREATE INDEX IF NOT EXISTS projects_team_id_idx
    ON projects (team_id);

------------------------------------------------------------------------------
-- velro_authorize: the decision row, from the base tables
------------------------------------------------------------------------------
--
-- Why the base tables and not mv_user_authorization_context: the view is
-- only as fresh as its last REFRESH, while the module caches what this
-- function says and drops those entries when a trigger below fires. Serving
-- from the view would hand out decisions that were already invalidated
-- (a revoked member would keep access until the next refresh), and the
-- invalidation would then re-cache the stale answer. The lookups are all
-- primary keys (generations.id, projects.id, team_members (team_id,
-- user_id)), so reading the tables costs three index probes.
--
-- A plain SQL function, STABLE, a single SELECT, not STRICT, no SET clause:
-- PostgreSQL inlines it into the calling query, so the planner sees the
-- joins themselves (EXPLAIN SELECT * FROM velro_authorize(...) shows the
-- index scans).
--
-- Exactly one row when the generation exists, whatever the user's access
-- (no access: effective_role NULL and every flag false); no row when it does
-- not. The user's own status is velro_user's business, not this one's.

CREATE OR REPLACE FUNCTION velro_authorize(p_user uuid, p_generation uuid)
RETURNS TABLE (
    user_id            uuid,
    generation_id      uuid,
    project_id         uuid,
    effective_role     text,
    has_direct_access  boolean,
    has_team_access    boolean,
    has_public_access  boolean
)
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT p_user,
           g.id,
           g.project_id,
           CASE
               WHEN g.user_id = p_user           THEN 'owner'
               WHEN g.status IS DISTINCT FROM 'completed' THEN NULL
               WHEN tm.role = 'owner'            THEN 'admin'
               WHEN tm.role IS NOT NULL          THEN tm.role
               WHEN p.visibility = 'public'      THEN 'viewer'
           END,
           coalesce(g.user_id = p_user, false),
           coalesce(g.status = 'completed' AND tm.role IS NOT NULL, false),
           coalesce((g.status = 'completed' OR g.user_id = p_user)
                    AND p.visibility IN ('public', 'team_open'), false)
      FROM generations g
      LEFT JOIN projects p
             ON p.id = g.project_id
      LEFT JOIN team_members tm
             ON tm.team_id = p.team_id
            AND tm.user_id = p_user
     WHERE g.id = p_generation
$fn$;

------------------------------------------------------------------------------
-- velro_user: what the module checks about the token's subject
------------------------------------------------------------------------------
--
-- tokens_valid_after as whole epoch seconds, rounded down (a token whose iat
-- is earlier is revoked), NULL when not set. Zero or one row.

CREATE OR REPLACE FUNCTION velro_user(p_user uuid)
RETURNS TABLE (
    id                  uuid,
    status              text,
    tokens_valid_after  bigint
)
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT u.id,
           u.status,
           floor(extract(epoch FROM u.tokens_valid_after))::bigint
      FROM users u
     WHERE u.id = p_user
$fn$;

------------------------------------------------------------------------------
-- velro_l3_lookup: the L3 contract, one call
------------------------------------------------------------------------------
--
--   {"user":{"id":"…","status":"active","tokens_valid_after":EPOCH|null},
--    "access":{"user_id":…,"generation_id":…,"project_id":…,
--              "effective_role":…,"has_direct_access":…,
--              "has_team_access":…,"has_public_access":…}|null}
--
-- (on one line, no spaces: row_to_json is compact.) "user" is null when the
-- user does not exist; "access" is null when p_resource is NULL or names no
-- generation. Both halves are the inlined SQL functions above, so this is one
-- statement of primary-key probes. PL/pgSQL rather than SQL so that its plan
-- is prepared once per connection and reused (a non-inlined SQL function is
-- planned again on every call); the module's pool keeps connections open.

CREATE OR REPLACE FUNCTION velro_l3_lookup(p_user uuid, p_resource uuid)
RETURNS json
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $fn$
BEGIN
    RETURN (
        SELECT row_to_json(r)
          FROM (SELECT (SELECT row_to_json(u)
                          FROM velro_user(p_user) u) AS "user",
                       (SELECT row_to_json(a)
                          FROM velro_authorize(p_user, p_resource) a
                         WHERE p_resource IS NOT NULL) AS "access",
                       -- the seed's generation_access pattern: the
                       -- project's visibility comes in the same round trip
                       (SELECT row_to_json(pr)
                          FROM (SELECT p.id, p.team_id, p.visibility
                                  FROM generations g
                                  JOIN projects p ON p.id = g.project_id
                                 WHERE g.id = p_resource) pr) AS "project") r
    );
END
$fn$;

------------------------------------------------------------------------------
-- velro_recent_generations: what warming fills, for both warm forms
------------------------------------------------------------------------------
--
-- The user's p_limit most recent generations (created_at DESC, then id)
-- among those the user created (any status) and the completed ones of the
-- projects of the user's teams, each once. A plain SQL function, inlined
-- into its callers: the first p_limit rows of
-- generations_user_id_created_at_idx, and for each project of each of the
-- user's teams the first p_limit rows of
-- generations_project_id_created_at_idx (partial, completed only, in the
-- final order), then a top-N of those.

CREATE OR REPLACE FUNCTION velro_recent_generations(p_user uuid, p_limit int)
RETURNS TABLE (id uuid, created_at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT r.id, r.created_at
      FROM ((SELECT g.id, g.created_at
               FROM generations g
              WHERE g.user_id = p_user
              ORDER BY g.created_at DESC, g.id
              LIMIT p_limit)
            UNION
            SELECT t.id, t.created_at
              FROM team_members tm
              JOIN projects p ON p.team_id = tm.team_id
             CROSS JOIN LATERAL (
                    SELECT g.id, g.created_at
                      FROM generations g
                     WHERE g.project_id = p.id
                       AND g.status = 'completed'
                     ORDER BY g.created_at DESC, g.id
                     LIMIT p_limit) t
             WHERE tm.user_id = p_user) r
     ORDER BY r.created_at DESC, r.id
     LIMIT p_limit
$fn$;

------------------------------------------------------------------------------
-- velro_l3_warm: the L3 warm form, cache warming on login
------------------------------------------------------------------------------
--
--   {"user":USER,
--    "access":[ROW,...],
--    "projects":[{"id":"…","team_id":"…"|null,"visibility":"…"},...]}
--
-- on one line, no spaces (like velro_l3_lookup), where
--
--   USER      exactly velro_l3_lookup's "user": {"id":…,"status":…,
--             "tokens_valid_after":EPOCH|null}
--   "access"  the velro_authorize rows (velro_l3_lookup's "access" object,
--             same keys in the same order) of the user's p_limit most recent
--             generations among
--               - the generations the user created (any status), and
--               - the completed generations of the projects of the teams
--                 the user is a member of,
--             each once, ordered by created_at DESC, then id
--   "projects" the distinct projects of those rows, ordered by id: what the
--             project_vis cache entries need
--
-- An unknown user: {"user":null,"access":[],"projects":[]}. p_limit NULL
-- means 100; it is taken into 0..1000 (the module sends 1..1000).
--
-- Cost: a primary-key probe for the user; the first p_limit rows of
-- generations_user_id_created_at_idx; for each project of each of the
-- user's teams (team_members_user_id_idx, projects_team_id_idx) the first
-- p_limit rows of generations_project_id_created_at_idx (partial, completed
-- only, in the final order); then a top-N of those and one velro_authorize
-- (three primary-key probes, inlined) per row kept. One statement, one
-- snapshot: the rows and the projects agree with each other.

CREATE OR REPLACE FUNCTION velro_l3_warm(p_user uuid, p_limit int)
RETURNS json
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $fn$
DECLARE
    v_limit     int := least(greatest(coalesce(p_limit, 100), 0), 1000);
    v_user      json;
    v_access    text;
    v_projects  text;
BEGIN
    v_user := (SELECT row_to_json(u) FROM velro_user(p_user) u);

    IF v_user IS NULL THEN
        RETURN '{"user":null,"access":[],"projects":[]}'::json;
    END IF;

    WITH top AS (
        SELECT r.id, r.created_at
          FROM velro_recent_generations(p_user, v_limit) r
    ),
    acc AS (
        SELECT t.id, t.created_at, a.project_id,
               '{"user_id":"' || a.user_id
               || '","generation_id":"' || a.generation_id
               || '","project_id":'
               || coalesce('"' || a.project_id || '"', 'null')
               || ',"effective_role":'
               || coalesce('"' || a.effective_role || '"', 'null')
               || ',"has_direct_access":' || a.has_direct_access
               || ',"has_team_access":' || a.has_team_access
               || ',"has_public_access":' || a.has_public_access
               || '}' AS j
          FROM top t
         CROSS JOIN LATERAL velro_authorize(p_user, t.id) a
    )
    SELECT '[' || coalesce(string_agg(acc.j, ','
                                      ORDER BY acc.created_at DESC, acc.id),
                           '')
               || ']',
           (SELECT '[' || coalesce(string_agg(row_to_json(pp)::text, ','
                                              ORDER BY pp.id), '')
                       || ']'
              FROM (SELECT p.id, p.team_id, p.visibility
                      FROM (SELECT DISTINCT acc.project_id
                              FROM acc
                             WHERE acc.project_id IS NOT NULL) ap
                      JOIN projects p ON p.id = ap.project_id) pp)
      INTO v_access, v_projects
      FROM acc;

    RETURN ('{"user":' || v_user::text || ',"access":' || v_access
            || ',"projects":' || v_projects || '}')::json;
END
$fn$;

------------------------------------------------------------------------------
-- The entity form: what the gateway decides from (velro_authz.c,
-- velro_authz_decide(), is the access rule above as a function of these)
------------------------------------------------------------------------------
--
-- velro_user_entity(user, first_team): velro_user's object with the user's
-- memberships, {"id":…,"status":…,"tokens_valid_after":…,
-- "teams":{"TEAM":"role",…}}, at most 256 of them: first_team (the team of
-- the project asked about) when the user is in it, then by team id; with
-- "teams_more":true when the user has more (the gateway then caches its
-- decisions per pair). No row for an unknown user.
--
-- The three entity functions return a set (one row or none) so that
-- PostgreSQL inlines them into the statement that calls them in FROM:
-- velro_l3_entities() is then one statement of primary-key probes whose
-- plan PL/pgSQL prepares once per connection. Called as scalars, a SQL
-- function of this kind is planned again in every transaction that calls
-- it, which made each L3 lookup three plannings (0.45 ms a call against
-- 0.17 ms, pgbench -M prepared, one client). A set-returning function
-- cannot replace a scalar one of the same name: a database made by an
-- older schema.sql has its scalar ones dropped first (once: applied again,
-- this file replaces the set-returning ones in place).

DO $do$
DECLARE
    f  regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure
               FROM pg_proc p
              WHERE p.pronamespace = current_schema()::regnamespace
                AND p.proname IN ('velro_user_entity',
                                  'velro_generation_entity',
                                  'velro_project_entity')
                AND NOT p.proretset
    LOOP
        EXECUTE 'DROP FUNCTION ' || f;
    END LOOP;
END
$do$;

CREATE OR REPLACE FUNCTION velro_user_entity(p_user uuid, p_first uuid)
RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT '{"id":"' || u.id
           || '","status":' || to_json(u.status)::text
           || ',"tokens_valid_after":'
           || coalesce(floor(extract(epoch FROM u.tokens_valid_after))
                       ::bigint::text, 'null')
           || ',"teams":{'
           || coalesce((SELECT string_agg('"' || t.team_id || '":"'
                                          || t.role || '"', ',')
                          FROM (SELECT tm.team_id, tm.role
                                  FROM team_members tm
                                 WHERE tm.user_id = u.id
                                 ORDER BY tm.team_id IS DISTINCT FROM p_first,
                                          tm.team_id
                                 LIMIT 256) t), '')
           || '}'
           || CASE WHEN (SELECT count(*) FROM (SELECT 1 FROM team_members tm
                                                WHERE tm.user_id = u.id
                                                LIMIT 257) c) > 256
                   THEN ',"teams_more":true' ELSE '' END
           || '}'
      FROM users u
     WHERE u.id = p_user
$fn$;

-- velro_generation_entity(generation): {"id","user_id","project_id",
-- "status","media_url"}, no row when unknown

CREATE OR REPLACE FUNCTION velro_generation_entity(p_generation uuid)
RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT '{"id":"' || g.id || '","user_id":"' || g.user_id
           || '","project_id":' || coalesce('"' || g.project_id || '"', 'null')
           || ',"status":' || to_json(g.status)::text
           || ',"media_url":' || coalesce(to_json(g.media_url)::text, 'null')
           || '}'
      FROM generations g
     WHERE g.id = p_generation
$fn$;

-- velro_project_entity(project): {"id","team_id","visibility"}, no row
-- when unknown

CREATE OR REPLACE FUNCTION velro_project_entity(p_project uuid)
RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT '{"id":"' || p.id || '","team_id":'
           || coalesce('"' || p.team_id || '"', 'null')
           || ',"visibility":"' || p.visibility || '"}'
      FROM projects p
     WHERE p.id = p_project
$fn$;

------------------------------------------------------------------------------
-- velro_l3_entities: the entity form of the L3 contract, one call
------------------------------------------------------------------------------
--
--   {"user":USER|null,"generation":GENERATION|null,"project":PROJECT|null}
--
-- "generation" and "project" only when p_resource is given; "project" is
-- the generation's (null: none, or the generation is unknown). One
-- statement, so one snapshot: the three agree with each other.

CREATE OR REPLACE FUNCTION velro_l3_entities(p_user uuid, p_resource uuid)
RETURNS json
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $fn$
BEGIN
    IF p_resource IS NULL THEN
        RETURN ('{"user":'
                || coalesce((SELECT e.j
                               FROM velro_user_entity(p_user, NULL) e(j)),
                            'null')
                || '}')::json;
    END IF;

    RETURN (
        SELECT ('{"user":' || coalesce(ue.j, 'null')
                || ',"generation":' || coalesce(ge.j, 'null')
                || ',"project":' || coalesce(pe.j, 'null') || '}')::json
          FROM (SELECT 1) one
          LEFT JOIN generations g ON g.id = p_resource
          LEFT JOIN projects p ON p.id = g.project_id
          LEFT JOIN LATERAL velro_user_entity(p_user, p.team_id) ue(j)
                 ON true
          LEFT JOIN LATERAL velro_generation_entity(g.id) ge(j) ON true
          LEFT JOIN LATERAL velro_project_entity(p.id) pe(j) ON true
    );
END
$fn$;

------------------------------------------------------------------------------
-- velro_l3_warm_entities: the warm form in entities, cache warming on login
------------------------------------------------------------------------------
--
--   {"user":USER|null,"generations":[GENERATION,...],"projects":[PROJECT,...]}
--
-- USER as in velro_l3_entities (its first 256 teams by id); the
-- generations are velro_l3_warm's (the user's p_limit most recent among
-- those the user created and the completed ones of the projects of the
-- user's teams), newest first; the projects are theirs, by id.

CREATE OR REPLACE FUNCTION velro_l3_warm_entities(p_user uuid, p_limit int)
RETURNS json
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $fn$
DECLARE
    v_limit     int := least(greatest(coalesce(p_limit, 100), 0), 1000);
    v_user      text;
    v_gens      text;
    v_projects  text;
BEGIN
    SELECT e.j INTO v_user FROM velro_user_entity(p_user, NULL) e(j);

    IF v_user IS NULL THEN
        RETURN '{"user":null,"generations":[],"projects":[]}'::json;
    END IF;

    WITH top AS (
        SELECT r.id, r.created_at, g.project_id
          FROM velro_recent_generations(p_user, v_limit) r
          JOIN generations g ON g.id = r.id
    )
    SELECT '[' || coalesce((SELECT string_agg(ge.j, ','
                                              ORDER BY t.created_at DESC, t.id)
                              FROM top t
                             CROSS JOIN LATERAL velro_generation_entity(t.id)
                                   ge(j)), '') || ']',
           '[' || coalesce((SELECT string_agg(pe.j, ',' ORDER BY d.project_id)
                              FROM (SELECT DISTINCT t2.project_id
                                      FROM top t2
                                     WHERE t2.project_id IS NOT NULL) d
                             CROSS JOIN LATERAL
                                   velro_project_entity(d.project_id) pe(j)),
                           '') || ']'
      INTO v_gens, v_projects;

    RETURN ('{"user":' || v_user || ',"generations":' || v_gens
            || ',"projects":' || v_projects || '}')::json;
END
$fn$;

------------------------------------------------------------------------------
-- mv_user_authorization_context
------------------------------------------------------------------------------
--
-- The seed built this view from users CROSS JOIN generations: one row per
-- (user, generation) pair, almost all of them "no access", growing as
-- users × generations. Here there are only rows that grant something through
-- a relationship, the UNION of two joins:
--
--   1. the creator of each generation (role owner, any status);
--   2. each member of the project's team, for completed generations (role
--      from team_members, a team owner shown as admin), except the creator,
--      who is already in branch 1 ("owner" wins, so one row per pair).
--
-- Public access (the 'viewer' of a public project, has_public_access of a
-- non-member) is not materialized: it concerns every user, and
-- velro_authorize computes it at query time. Rows here agree with
-- velro_authorize for the same pair at the time of the last refresh.
--
-- The view is not read on any request path (see velro_authorize); it serves
-- reporting and cache warming. The unique index allows
--   REFRESH MATERIALIZED VIEW CONCURRENTLY mv_user_authorization_context;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_user_authorization_context AS
    SELECT g.user_id                    AS user_id,
           g.id                         AS generation_id,
           g.project_id                 AS project_id,
           'owner'::text                AS effective_role,
           true                         AS has_direct_access,
           (g.status = 'completed'
            AND EXISTS (SELECT 1
                          FROM team_members tm
                         WHERE tm.team_id = p.team_id
                           AND tm.user_id = g.user_id))
                                        AS has_team_access,
           coalesce(p.visibility IN ('public', 'team_open'), false)
                                        AS has_public_access
      FROM generations g
      LEFT JOIN projects p ON p.id = g.project_id
    UNION ALL
    SELECT tm.user_id,
           g.id,
           g.project_id,
           CASE tm.role WHEN 'owner' THEN 'admin' ELSE tm.role END,
           false,
           true,
           p.visibility IN ('public', 'team_open')
      FROM generations g
      JOIN projects p      ON p.id = g.project_id
      JOIN team_members tm ON tm.team_id = p.team_id
     WHERE g.status = 'completed'
       AND tm.user_id <> g.user_id;

CREATE UNIQUE INDEX IF NOT EXISTS mv_user_authorization_context_pair_idx
    ON mv_user_authorization_context (user_id, generation_id);
CREATE INDEX IF NOT EXISTS mv_user_authorization_context_generation_idx
    ON mv_user_authorization_context (generation_id);

------------------------------------------------------------------------------
-- Invalidation: NOTIFY on every change that can alter a decision
------------------------------------------------------------------------------
--
-- Payload, exactly (no spaces):  {"kind":"user","id":"UUID"}
-- kind is user, member, team, project or generation. The module LISTENs (directive
-- velro_pg_listen, default velro_invalidate) and drops the matching L1 and
-- L2 entries. Notifications are sent at commit, so listeners never see a
-- change that was rolled back.
--
-- The channel is 'velro_invalidate' unless the setting velro.channel says
-- otherwise (ALTER DATABASE ... SET velro.channel = '...', or SET in the
-- session that makes the change), for a module configured with another
-- velro_pg_listen channel.
--
--   users         UPDATE of status or tokens_valid_after (when changed),
--                 INSERT (an "unknown user" answer may be cached), DELETE
--                 -> user (the gateway drops auth:{id})
--   team_members  INSERT, UPDATE, DELETE -> member (the member's id; old and
--                 new when user_id changed): the gateway drops that user's
--                 team_access:{id}, the memberships entry
--   teams         DELETE -> team (cascades also notify each member, and each
--                 project whose team_id becomes NULL: those drop exactly the
--                 entries the deletion changed; the team notice itself
--                 drops nothing)
--   projects      UPDATE of visibility or team_id (when changed), DELETE
--                 -> project
--   generations   INSERT (an "unknown resource" answer may be cached),
--                 UPDATE of user_id, project_id or status (when changed),
--                 DELETE -> generation
--
-- Row triggers, AFTER, no deduplication (PostgreSQL folds identical
-- payloads within one transaction anyway).

------------------------------------------------------------------------------
-- velro_invalidation_log: the same changes, durable and bounded
------------------------------------------------------------------------------
--
-- Every notice is also a row here, written in the changing transaction, so
-- a follower that was away (a reconnect, a PostgreSQL restart, a failover
-- to a standby, which has the rows through WAL) can apply exactly what it
-- missed, by cursor:
--
--   SELECT seq, kind, id FROM velro_invalidation_log
--    WHERE seq > $1 ORDER BY seq LIMIT $2
--
-- (velro_invalidations_after() below), and knows it missed too much when
-- the oldest row left is past its cursor (velro_invalidation_oldest()).
-- seq is taken when the row is written and becomes visible at COMMIT, so
-- rows can appear out of seq order: a follower must not take seeing seq N
-- as having seen every seq below N; it re-reads from its oldest hole
-- (a seq it has not seen below one it has) until the hole fills or is
-- older than any transaction can be (a rolled back one leaves a hole
-- forever).  Applying a change twice is harmless.
--
-- Bounded: rows older than the setting velro.log_keep (an interval,
-- default 10 minutes; ALTER DATABASE ... SET velro.log_keep = '1 hour')
-- are deleted by the changes themselves, one transaction in 1,000
-- (velro_invalidation_prune(), also callable by hand), never the newest
-- row, so a follower always learns the current seq.

CREATE TABLE IF NOT EXISTS velro_invalidation_log (
    seq   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind  text NOT NULL,
    id    uuid NOT NULL,
    at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS velro_invalidation_log_at_idx
    ON velro_invalidation_log (at);

-- velro_invalidation_prune(): deletes the rows older than velro.log_keep
-- but the newest, at most 10,000 (oldest first: called every 1,000
-- changes, it keeps up with any rate of change and never makes one
-- transaction long); returns how many

CREATE OR REPLACE FUNCTION velro_invalidation_prune()
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    v_keep  interval := coalesce(nullif(current_setting('velro.log_keep',
                                                        true), ''),
                                 '10 minutes')::interval;
    v_n     bigint;
BEGIN
    DELETE FROM velro_invalidation_log l
     WHERE l.seq IN (SELECT o.seq
                       FROM velro_invalidation_log o
                      WHERE o.at < now() - v_keep
                        AND o.seq < (SELECT max(m.seq)
                                       FROM velro_invalidation_log m)
                      ORDER BY o.at
                      LIMIT 10000);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
END
$fn$;

-- velro_invalidations_after(seq, limit): the changes after a cursor, in
-- seq order

CREATE OR REPLACE FUNCTION velro_invalidations_after(p_after bigint,
                                                     p_limit int)
RETURNS TABLE (seq bigint, kind text, id uuid)
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT l.seq, l.kind, l.id
      FROM velro_invalidation_log l
     WHERE l.seq > p_after
     ORDER BY l.seq
     LIMIT p_limit
$fn$;

-- velro_invalidations_after(seq, limit, holes): the same, and the rows of
-- the seqs in holes (below the cursor, not seen yet: their transactions
-- had not committed), in seq order: what nginx's follower reads

CREATE OR REPLACE FUNCTION velro_invalidations_after(p_after bigint,
                                                     p_limit int,
                                                     p_holes bigint[])
RETURNS TABLE (seq bigint, kind text, id uuid)
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT l.seq, l.kind, l.id
      FROM velro_invalidation_log l
     WHERE l.seq > p_after
        OR l.seq = ANY (p_holes)
     ORDER BY l.seq
     LIMIT p_limit
$fn$;

-- velro_invalidation_oldest(): the oldest seq still in the log (0 when it
-- is empty): a follower whose cursor is below it minus one has missed rows

CREATE OR REPLACE FUNCTION velro_invalidation_oldest()
RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT coalesce(min(seq), 0) FROM velro_invalidation_log
$fn$;

CREATE OR REPLACE FUNCTION velro_notify(p_kind text, p_id uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    v_seq  bigint;
BEGIN
    INSERT INTO velro_invalidation_log (kind, id)
    VALUES (p_kind, p_id)
    RETURNING seq INTO v_seq;

    PERFORM pg_notify(
        coalesce(nullif(current_setting('velro.channel', true), ''),
                 'velro_invalidate'),
        '{"kind":"' || p_kind || '","id":"' || p_id::text || '"}');

    IF v_seq % 1000 = 0 THEN
        PERFORM velro_invalidation_prune();
    END IF;
END
$fn$;

-- users -> user
CREATE OR REPLACE FUNCTION velro_users_notify()
RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM velro_notify('user', OLD.id);
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.id IS DISTINCT FROM NEW.id THEN
        PERFORM velro_notify('user', OLD.id);
    END IF;
    PERFORM velro_notify('user', NEW.id);
    RETURN NEW;
END
$fn$;

CREATE OR REPLACE TRIGGER velro_users_update
    AFTER UPDATE OF id, status, tokens_valid_after ON users
    FOR EACH ROW
    WHEN (OLD.id IS DISTINCT FROM NEW.id
          OR OLD.status IS DISTINCT FROM NEW.status
          OR OLD.tokens_valid_after IS DISTINCT FROM NEW.tokens_valid_after)
    EXECUTE FUNCTION velro_users_notify();

CREATE OR REPLACE TRIGGER velro_users_insert_delete
    AFTER INSERT OR DELETE ON users
    FOR EACH ROW
    EXECUTE FUNCTION velro_users_notify();

-- team_members -> member (the member)
CREATE OR REPLACE FUNCTION velro_team_members_notify()
RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM velro_notify('member', OLD.user_id);
    END IF;
    IF TG_OP = 'INSERT'
       OR (TG_OP = 'UPDATE' AND NEW.user_id IS DISTINCT FROM OLD.user_id)
    THEN
        PERFORM velro_notify('member', NEW.user_id);
    END IF;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE TRIGGER velro_team_members_insert_delete
    AFTER INSERT OR DELETE ON team_members
    FOR EACH ROW
    EXECUTE FUNCTION velro_team_members_notify();

CREATE OR REPLACE TRIGGER velro_team_members_update
    AFTER UPDATE ON team_members
    FOR EACH ROW
    WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION velro_team_members_notify();

-- teams -> team
CREATE OR REPLACE FUNCTION velro_teams_notify()
RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    PERFORM velro_notify('team', OLD.id);
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE TRIGGER velro_teams_delete
    AFTER DELETE ON teams
    FOR EACH ROW
    EXECUTE FUNCTION velro_teams_notify();

-- projects -> project
CREATE OR REPLACE FUNCTION velro_projects_notify()
RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    PERFORM velro_notify('project', OLD.id);
    IF TG_OP = 'UPDATE' AND NEW.id IS DISTINCT FROM OLD.id THEN
        PERFORM velro_notify('project', NEW.id);
    END IF;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE TRIGGER velro_projects_update
    AFTER UPDATE OF id, visibility, team_id ON projects
    FOR EACH ROW
    WHEN (OLD.id IS DISTINCT FROM NEW.id
          OR OLD.visibility IS DISTINCT FROM NEW.visibility
          OR OLD.team_id IS DISTINCT FROM NEW.team_id)
    EXECUTE FUNCTION velro_projects_notify();

CREATE OR REPLACE TRIGGER velro_projects_delete
    AFTER DELETE ON projects
    FOR EACH ROW
    EXECUTE FUNCTION velro_projects_notify();

-- generations -> generation
CREATE OR REPLACE FUNCTION velro_generations_notify()
RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM velro_notify('generation', OLD.id);
    END IF;
    IF TG_OP = 'INSERT'
       OR (TG_OP = 'UPDATE' AND NEW.id IS DISTINCT FROM OLD.id)
    THEN
        PERFORM velro_notify('generation', NEW.id);
    END IF;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE TRIGGER velro_generations_insert_delete
    AFTER INSERT OR DELETE ON generations
    FOR EACH ROW
    EXECUTE FUNCTION velro_generations_notify();

CREATE OR REPLACE TRIGGER velro_generations_update
    AFTER UPDATE OF id, user_id, project_id, status ON generations
    FOR EACH ROW
    WHEN (OLD.id IS DISTINCT FROM NEW.id
          OR OLD.user_id IS DISTINCT FROM NEW.user_id
          OR OLD.project_id IS DISTINCT FROM NEW.project_id
          OR OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION velro_generations_notify();

COMMIT;
