-- bench/gen-data.sql: the authorization benchmark's data set (bench/authz.pl)
--
--   psql -X -v ON_ERROR_STOP=1 -v nusers=10000 -v nteams=1000 \
--        -v nprojects=10000 -v ngens=100000 -d velro -f bench/gen-data.sql
--
-- Loads into a database that has sql/schema.sql and nothing else.  All ids
-- are derived from a counter, md5('velro-KIND-N')::uuid, so that the driver
-- and the wrk script (bench/zipf.lua) compute the same ids without reading
-- them back:
--
--   user i        (1 .. nusers)
--                 member of team ((i - 1) % nteams) + 1 with the role
--                 owner, admin, editor, viewer for ((i - 1) / nteams) % 4 =
--                 0, 1, 2, 3; every third user also a viewer of team
--                 ((7 i + 3) % nteams) + 1
--   project p     (1 .. nprojects) of team ((p - 1) % nteams) + 1;
--                 visibility from p % 10: 0-1 private, 2-4 team,
--                 5-6 team_open, 7-9 public (half of them readable by all)
--   generation j  (1 .. ngens) created by user ((7919 j) % nusers) + 1;
--                 project ((j - 1) % nprojects) + 1, none when j % 25 = 0;
--                 status 'processing' when j % 10 = 0, else 'completed'
--
-- nprojects must be a multiple of nteams: generation j then belongs to team
-- ((j - 1) % nteams) + 1, which bench/zipf.lua relies on for its "team"
-- mode (a user reads the generations of its own team).
--
-- Triggers (and foreign key checks) are off during the load: nothing
-- listens yet, and 100,000 NOTIFYs in one transaction would only slow it.

\set ON_ERROR_STOP 1

BEGIN;

SET LOCAL session_replication_role = replica;

INSERT INTO users (id, email)
SELECT md5('velro-user-' || i)::uuid, 'user' || i || '@bench.invalid'
  FROM generate_series(1, :nusers) AS i;

INSERT INTO teams (id, name)
SELECT md5('velro-team-' || t)::uuid, 'team ' || t
  FROM generate_series(1, :nteams) AS t;

INSERT INTO team_members (team_id, user_id, role)
SELECT md5('velro-team-' || ((i - 1) % :nteams + 1))::uuid,
       md5('velro-user-' || i)::uuid,
       (ARRAY['owner', 'admin', 'editor', 'viewer'])[((i - 1) / :nteams) % 4 + 1]
  FROM generate_series(1, :nusers) AS i;

INSERT INTO team_members (team_id, user_id, role)
SELECT md5('velro-team-' || ((7 * i + 3) % :nteams + 1))::uuid,
       md5('velro-user-' || i)::uuid,
       'viewer'
  FROM generate_series(3, :nusers, 3) AS i
    ON CONFLICT DO NOTHING;

INSERT INTO projects (id, team_id, visibility)
SELECT md5('velro-project-' || p)::uuid,
       md5('velro-team-' || ((p - 1) % :nteams + 1))::uuid,
       (ARRAY['private', 'private', 'team', 'team', 'team',
              'team_open', 'team_open', 'public', 'public', 'public'])[p % 10 + 1]
  FROM generate_series(1, :nprojects) AS p;

INSERT INTO generations (id, user_id, project_id, status, media_url)
SELECT md5('velro-gen-' || j)::uuid,
       md5('velro-user-' || ((7919 * j) % :nusers + 1))::uuid,
       CASE WHEN j % 25 = 0 THEN NULL
            ELSE md5('velro-project-' || ((j - 1) % :nprojects + 1))::uuid
       END,
       CASE WHEN j % 10 = 0 THEN 'processing' ELSE 'completed' END,
       'https://media.bench.invalid/' || j
  FROM generate_series(1, :ngens) AS j;

COMMIT;

ANALYZE;
