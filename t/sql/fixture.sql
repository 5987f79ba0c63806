-- Test fixture: load after sql/schema.sql (Velro::Backends::start_pg(fixture => 1)).
-- The names and UUIDs are mirrored in t/lib/Velro/Fixture.pm (%Velro::Fixture::ID);
-- change both together.
--
-- Users      11111111-0000-4000-8000-0000000000NN
-- Teams      22222222-0000-4000-8000-0000000000NN
-- Projects   33333333-0000-4000-8000-0000000000NN
-- Generations 44444444-0000-4000-8000-0000000000NN
--
-- Team "team" (T1): owner (viewer), towner (owner), tadmin (admin),
--   editor (editor), viewer (viewer), disabled (editor), revoked (editor),
--   unrevoked (editor).
-- Team "other" (T2): outsider (owner); it has no projects, so it grants
--   nothing on the generations below.
--
-- Every generation is created by "owner", except gen_editor (by "editor").
--
--   generation          project        visibility  status
--   gen_team            proj_team      team        completed
--   gen_team_pending    proj_team      team        pending
--   gen_team_failed     proj_team      team        failed
--   gen_editor          proj_team      team        completed  (creator: editor)
--   gen_public          proj_public    public      completed
--   gen_public_pending  proj_public    public      pending
--   gen_team_open       proj_team_open team_open   completed
--   gen_private         proj_private   private     completed
--   gen_noteam          proj_noteam    public      completed  (project without team)
--   gen_noproject       -              -           completed
--   gen_unknown         (no such row)
--
-- All projects but proj_noteam belong to T1.

BEGIN;

INSERT INTO users (id, email, status, tokens_valid_after) VALUES
    ('11111111-0000-4000-8000-000000000001', 'owner@example.com',     'active',   NULL),
    ('11111111-0000-4000-8000-000000000002', 'towner@example.com',    'active',   NULL),
    ('11111111-0000-4000-8000-000000000003', 'tadmin@example.com',    'active',   NULL),
    ('11111111-0000-4000-8000-000000000004', 'editor@example.com',    'active',   NULL),
    -- SQL metacharacters in text: quote, double quote, backslash
    ('11111111-0000-4000-8000-000000000005', 'o''brien "viewer"\@example.com',
                                                                       'active',   NULL),
    ('11111111-0000-4000-8000-000000000006', 'outsider@example.com',  'active',   NULL),
    ('11111111-0000-4000-8000-000000000007', 'disabled@example.com',  'disabled', NULL),
    -- every token issued before 2030 is revoked
    ('11111111-0000-4000-8000-000000000008', 'revoked@example.com',   'active',
                                                     '2030-01-01 00:00:00+00'),
    -- only tokens issued before 2000 are revoked
    ('11111111-0000-4000-8000-000000000009', 'unrevoked@example.com', 'active',
                                                     '2000-01-01 00:00:00+00');

INSERT INTO teams (id, name) VALUES
    ('22222222-0000-4000-8000-000000000001', 'team'),
    ('22222222-0000-4000-8000-000000000002', 'other');

INSERT INTO team_members (team_id, user_id, role) VALUES
    ('22222222-0000-4000-8000-000000000001', '11111111-0000-4000-8000-000000000001', 'viewer'),
    ('22222222-0000-4000-8000-000000000001', '11111111-0000-4000-8000-000000000002', 'owner'),
    ('22222222-0000-4000-8000-000000000001', '11111111-0000-4000-8000-000000000003', 'admin'),
    ('22222222-0000-4000-8000-000000000001', '11111111-0000-4000-8000-000000000004', 'editor'),
    ('22222222-0000-4000-8000-000000000001', '11111111-0000-4000-8000-000000000005', 'viewer'),
    ('22222222-0000-4000-8000-000000000001', '11111111-0000-4000-8000-000000000007', 'editor'),
    ('22222222-0000-4000-8000-000000000001', '11111111-0000-4000-8000-000000000008', 'editor'),
    ('22222222-0000-4000-8000-000000000001', '11111111-0000-4000-8000-000000000009', 'editor'),
    ('22222222-0000-4000-8000-000000000002', '11111111-0000-4000-8000-000000000006', 'owner');

INSERT INTO projects (id, team_id, visibility) VALUES
    ('33333333-0000-4000-8000-000000000001', '22222222-0000-4000-8000-000000000001', 'team'),
    ('33333333-0000-4000-8000-000000000002', '22222222-0000-4000-8000-000000000001', 'public'),
    ('33333333-0000-4000-8000-000000000003', '22222222-0000-4000-8000-000000000001', 'team_open'),
    ('33333333-0000-4000-8000-000000000004', '22222222-0000-4000-8000-000000000001', 'private'),
    ('33333333-0000-4000-8000-000000000005', NULL,                                   'public');

INSERT INTO generations (id, user_id, project_id, status, media_url, created_at) VALUES
    ('44444444-0000-4000-8000-000000000001', '11111111-0000-4000-8000-000000000001',
     '33333333-0000-4000-8000-000000000001', 'completed',
     'https://media.example.com/gen_team.png', '2024-01-01 00:00:01+00'),
    ('44444444-0000-4000-8000-000000000002', '11111111-0000-4000-8000-000000000001',
     '33333333-0000-4000-8000-000000000001', 'pending',
     NULL, '2024-01-01 00:00:02+00'),
    ('44444444-0000-4000-8000-000000000003', '11111111-0000-4000-8000-000000000001',
     '33333333-0000-4000-8000-000000000001', 'failed',
     NULL, '2024-01-01 00:00:03+00'),
    ('44444444-0000-4000-8000-000000000004', '11111111-0000-4000-8000-000000000004',
     '33333333-0000-4000-8000-000000000001', 'completed',
     'https://media.example.com/gen_editor.png', '2024-01-01 00:00:04+00'),
    ('44444444-0000-4000-8000-000000000005', '11111111-0000-4000-8000-000000000001',
     '33333333-0000-4000-8000-000000000002', 'completed',
     'https://media.example.com/gen_public.png', '2024-01-01 00:00:05+00'),
    ('44444444-0000-4000-8000-000000000006', '11111111-0000-4000-8000-000000000001',
     '33333333-0000-4000-8000-000000000002', 'pending',
     NULL, '2024-01-01 00:00:06+00'),
    ('44444444-0000-4000-8000-000000000007', '11111111-0000-4000-8000-000000000001',
     '33333333-0000-4000-8000-000000000003', 'completed',
     'https://media.example.com/gen_team_open.png', '2024-01-01 00:00:07+00'),
    ('44444444-0000-4000-8000-000000000008', '11111111-0000-4000-8000-000000000001',
     '33333333-0000-4000-8000-000000000004', 'completed',
     'https://media.example.com/gen_private.png', '2024-01-01 00:00:08+00'),
    ('44444444-0000-4000-8000-000000000009', '11111111-0000-4000-8000-000000000001',
     '33333333-0000-4000-8000-000000000005', 'completed',
     'https://media.example.com/gen_noteam.png', '2024-01-01 00:00:09+00'),
    ('44444444-0000-4000-8000-000000000010', '11111111-0000-4000-8000-000000000001',
     NULL, 'completed',
     'https://media.example.com/gen_noproject.png', '2024-01-01 00:00:10+00');

REFRESH MATERIALIZED VIEW mv_user_authorization_context;

COMMIT;
