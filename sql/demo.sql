-- Demo data for `make run`: load after sql/schema.sql.
--
--   psql -X -v ON_ERROR_STOP=1 -d velro -f sql/schema.sql -f sql/demo.sql
--
-- Fixed UUIDs, so the printed curl lines can name them. Loading it again
-- changes nothing (ON CONFLICT DO NOTHING).
--
--   who / what           uuid                                  notes
--   -------------------  ------------------------------------  -----------------------------
--   alice                a11ce000-0000-4000-8000-000000000001  team owner of studio; creator
--                                                              of every generation below
--   bob                  b0b00000-0000-4000-8000-000000000002  studio editor
--   carol                ca201000-0000-4000-8000-000000000003  studio viewer
--   dave                 da7e0000-0000-4000-8000-000000000004  in no team (outsider)
--   erin                 e1e10000-0000-4000-8000-000000000005  status disabled (studio editor)
--   team studio          5d000000-0000-4000-8000-000000000001
--   project studio-team  c0ffee00-0000-4000-8000-000000000001  team studio, visibility team
--   project showcase     c0ffee00-0000-4000-8000-000000000002  team studio, visibility public
--   gen (the demo one)   6e000000-0000-4000-8000-000000000001  studio-team, completed
--   gen pending          6e000000-0000-4000-8000-000000000002  studio-team, pending
--   gen public           6e000000-0000-4000-8000-000000000003  showcase, completed
--   gen failed           6e000000-0000-4000-8000-000000000004  studio-team, failed
--
-- What the demo gateway answers for the demo generation
-- (/…/6e000000-0000-4000-8000-000000000001, a token whose sub is the user):
--
--   alice  GET 200, write 200, DELETE 200   (owner: she created it)
--   bob    GET 200, write 200, DELETE 403   (team editor)
--   carol  GET 200, write 403               (team viewer)
--   dave   GET 403                          (not in the team, project not public)
--   erin   401 invalid_token                (disabled)
--
-- The pending generation: alice only (nobody else gets access before a
-- generation is completed, bob and carol included). The public generation:
-- everyone reads it (dave as viewer), only alice and bob may write it.

BEGIN;

INSERT INTO users (id, email, status) VALUES
    ('a11ce000-0000-4000-8000-000000000001', 'alice@example.com', 'active'),
    ('b0b00000-0000-4000-8000-000000000002', 'bob@example.com',   'active'),
    ('ca201000-0000-4000-8000-000000000003', 'carol@example.com', 'active'),
    ('da7e0000-0000-4000-8000-000000000004', 'dave@example.com',  'active'),
    ('e1e10000-0000-4000-8000-000000000005', 'erin@example.com',  'disabled')
ON CONFLICT DO NOTHING;

INSERT INTO teams (id, name) VALUES
    ('5d000000-0000-4000-8000-000000000001', 'studio')
ON CONFLICT DO NOTHING;

INSERT INTO team_members (team_id, user_id, role) VALUES
    ('5d000000-0000-4000-8000-000000000001',
     'a11ce000-0000-4000-8000-000000000001', 'owner'),
    ('5d000000-0000-4000-8000-000000000001',
     'b0b00000-0000-4000-8000-000000000002', 'editor'),
    ('5d000000-0000-4000-8000-000000000001',
     'ca201000-0000-4000-8000-000000000003', 'viewer'),
    ('5d000000-0000-4000-8000-000000000001',
     'e1e10000-0000-4000-8000-000000000005', 'editor')
ON CONFLICT DO NOTHING;

INSERT INTO projects (id, team_id, visibility) VALUES
    ('c0ffee00-0000-4000-8000-000000000001',
     '5d000000-0000-4000-8000-000000000001', 'team'),
    ('c0ffee00-0000-4000-8000-000000000002',
     '5d000000-0000-4000-8000-000000000001', 'public')
ON CONFLICT DO NOTHING;

INSERT INTO generations (id, user_id, project_id, status, media_url, created_at)
VALUES
    ('6e000000-0000-4000-8000-000000000001',
     'a11ce000-0000-4000-8000-000000000001',
     'c0ffee00-0000-4000-8000-000000000001', 'completed',
     'https://media.example.com/6e000000-0000-4000-8000-000000000001.png',
     '2024-01-01 12:00:00+00'),
    ('6e000000-0000-4000-8000-000000000002',
     'a11ce000-0000-4000-8000-000000000001',
     'c0ffee00-0000-4000-8000-000000000001', 'pending',
     NULL,
     '2024-01-01 12:05:00+00'),
    ('6e000000-0000-4000-8000-000000000003',
     'a11ce000-0000-4000-8000-000000000001',
     'c0ffee00-0000-4000-8000-000000000002', 'completed',
     'https://media.example.com/6e000000-0000-4000-8000-000000000003.png',
     '2024-01-01 12:10:00+00'),
    ('6e000000-0000-4000-8000-000000000004',
     'a11ce000-0000-4000-8000-000000000001',
     'c0ffee00-0000-4000-8000-000000000001', 'failed',
     NULL,
     '2024-01-01 12:15:00+00')
ON CONFLICT DO NOTHING;

REFRESH MATERIALIZED VIEW mv_user_authorization_context;

COMMIT;
