#!/usr/bin/perl

# The property test of decisions from entities: random users, teams,
# memberships, projects and generations in a real PostgreSQL; for every
# (user, generation) pair (and a few unknown generations), what the
# gateway decides from velro_l3_entities() through velro_l3_answer_parse()
# and velro_authz_decide() (the driver t/unit/decide.c) must be
# velro_authorize()'s row, field by field, and allow the same read, write
# and delete.  Two data sets; VELRO_PROPERTY_SEED fixes the first seed.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Spec;
use IPC::Open2;
use Test::More;
use Velro::Backends;

my $top = File::Spec->catdir($FindBin::Bin, File::Spec->updir);
my $bin = $ENV{VELRO_DECIDE_BIN}
    || File::Spec->catfile($top, 'build', 'unit', 'velro_decide');

plan skip_all => "$bin not built (make unit)" unless -x $bin;

Velro::Backends::start_pg();

my $seed = $ENV{VELRO_PROPERTY_SEED} // int(rand(1_000_000));
diag("seed $seed");

for my $round (0, 1) {
    my $s = ($seed + $round * 7919) % 1_000_000;
    load($s / 1_000_000);

    my $rows = Velro::Backends::psql(<<'SQL', args => ['-F', "\t"]);
SELECT u.id, g.id, velro_l3_entities(u.id, g.id)::text,
       coalesce((SELECT row_to_json(a)::text
                   FROM velro_authorize(u.id, g.id) a), '')
  FROM users u
 CROSS JOIN (SELECT id FROM generations
             UNION ALL
             SELECT gen_random_uuid() FROM generate_series(1, 5)) g
SQL

    my $n = () = $rows =~ /\n/g;
    my ($out, $in);
    my $pid = open2($out, $in, $bin);
    print $in $rows;
    close $in;
    my @lines = <$out>;
    waitpid $pid, 0;
    my $rc = $? >> 8;

    my ($summary) = grep { /^cases / } @lines;
    my @bad = grep { /^mismatch|^bad/ } @lines;

    diag(@bad[0 .. ($#bad < 9 ? $#bad : 9)]) if @bad;
    is($rc, 0, "round $round (seed $s): the driver found no mismatch");
    like($summary // '', qr/^cases $n mismatches 0 partial [1-9]\d*$/,
         "round $round: $n pairs (x 3 actions) agree, partial memberships "
         . "among them");
    cmp_ok($n * 3, '>=', 3000, "round $round: thousands of cases");

    # the data are varied enough to mean something
    my ($roles, $none, $public) = split /\|/, Velro::Backends::psql(<<'SQL');
SELECT count(DISTINCT a.effective_role),
       count(*) FILTER (WHERE a.effective_role IS NULL),
       count(*) FILTER (WHERE a.has_public_access AND a.effective_role IS NULL)
  FROM users u CROSS JOIN generations g,
       LATERAL velro_authorize(u.id, g.id) a
SQL
    chomp $public;
    ok($roles == 4 && $none > 0 && $public > 0,
       "round $round: every role, no access and public access occur "
       . "($roles roles, $none none, $public public only)");
}

done_testing();

# users, teams (one user in 300 of them), memberships, projects and
# generations, drawn with setseed($seed)
sub load {
    my ($seed) = @_;

    Velro::Backends::psql(<<"SQL");
TRUNCATE generations, projects, team_members, teams, users CASCADE;
SELECT setseed($seed);

INSERT INTO users (email, status)
SELECT 'u' || i || '\@example.com',
       CASE WHEN random() < 0.1 THEN 'disabled' ELSE 'active' END
  FROM generate_series(1, 40) i;

INSERT INTO teams (name) SELECT 't' || i FROM generate_series(1, 300) i;

CREATE TEMP TABLE t12 AS
    SELECT id, row_number() OVER (ORDER BY name) AS n
      FROM teams WHERE name IN (SELECT 't' || i FROM generate_series(1, 12) i);

INSERT INTO team_members (team_id, user_id, role)
SELECT DISTINCT ON (t.id, u.id) t.id, u.id,
       (ARRAY['owner', 'admin', 'editor', 'viewer'])[1 + floor(random() * 4)::int]
  FROM users u, t12 t
 WHERE random() < 0.25;

-- one user in every team: more than the 256 a memberships entry keeps
INSERT INTO team_members (team_id, user_id, role)
SELECT t.id, (SELECT id FROM users ORDER BY email LIMIT 1),
       (ARRAY['owner', 'admin', 'editor', 'viewer'])[1 + floor(random() * 4)::int]
  FROM teams t
ON CONFLICT DO NOTHING;

INSERT INTO projects (team_id, visibility)
SELECT CASE WHEN random() < 0.2 THEN NULL
            ELSE (SELECT id FROM t12 ORDER BY random() + 0 * i LIMIT 1)
       END,
       (ARRAY['private', 'team', 'team_open', 'public'])[1 + floor(random() * 4)::int]
  FROM generate_series(1, 30) i;

-- the big user's own teams get projects too, beyond the first 256 by id
INSERT INTO projects (team_id, visibility)
SELECT t.id, (ARRAY['private', 'team', 'team_open', 'public'])[1 + floor(random() * 4)::int]
  FROM teams t ORDER BY t.id DESC LIMIT 5;

INSERT INTO generations (user_id, project_id, status)
SELECT (SELECT id FROM users ORDER BY random() + 0 * i LIMIT 1),
       CASE WHEN random() < 0.15 THEN NULL
            ELSE (SELECT id FROM projects ORDER BY random() + 0 * i LIMIT 1)
       END,
       (ARRAY['completed', 'completed', 'completed', 'pending', 'failed',
              'processing'])[1 + floor(random() * 6)::int]
  FROM generate_series(1, 250) i;
SQL
}
