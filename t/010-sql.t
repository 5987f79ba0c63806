# sql/schema.sql against a throwaway PostgreSQL with t/sql/fixture.sql:
# velro_authorize for every case of the access rule, velro_user,
# velro_l3_lookup's exact JSON, the materialized view, the invalidation
# triggers, the query plans; and Velro::Backends itself (Redis, the SQL
# endpoint, cleanup). No nginx needed.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP ();
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);

use Velro::Backends;
use Velro::Fixture;

my %ID = %Velro::Fixture::ID;
my $psql = \&Velro::Backends::psql;

my $t0 = time;
Velro::Backends::start_pg(fixture => 1);
diag(sprintf "PostgreSQL up with schema and fixture in %.2fs", time - $t0)
    if $ENV{TEST_VERBOSE};

sub q1 { my $o = $psql->(@_); $o =~ s/\n+\z//; return $o }
sub rows { my $o = $psql->(@_); return [ map { [ split /\|/, $_, -1 ] }
                                            grep { $_ ne '' } split /\n/, $o ] }
sub id { Velro::Fixture::id($_[0]) }

ok($ENV{TEST_NGINX_PG_PORT}, 'TEST_NGINX_PG_PORT is set');
is($ENV{TEST_NGINX_PG_CONNINFO},
   "host=127.0.0.1 port=$ENV{TEST_NGINX_PG_PORT} dbname=velro user=postgres",
   'TEST_NGINX_PG_CONNINFO');
ok(-S "$ENV{TEST_NGINX_PG_SOCKET_DIR}/.s.PGSQL.$ENV{TEST_NGINX_PG_PORT}",
   'the unix socket is in TEST_NGINX_PG_SOCKET_DIR');
{
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $ENV{TEST_NGINX_PG_PORT});
    ok($s, 'PostgreSQL listens on 127.0.0.1');
}
is(q1('SHOW fsync'), 'off', 'fsync off');
is(q1('SHOW max_connections'), '200', 'max_connections 200');

#----------------------------------------------------------------------------
# velro_authorize

# (user, generation) => [role, direct, team, public]; written out by hand
# from the rule (INTERFACE.md), independently of Velro::Fixture::expect.
my @cases = (
    # completed generation, project visibility 'team'
    [qw(owner     gen_team           owner  1 1 0)],
    [qw(towner    gen_team           admin  0 1 0)],   # team owner => admin
    [qw(tadmin    gen_team           admin  0 1 0)],
    [qw(editor    gen_team           editor 0 1 0)],
    [qw(viewer    gen_team           viewer 0 1 0)],
    [qw(disabled  gen_team           editor 0 1 0)],   # status is not ours
    [qw(outsider  gen_team           -      0 0 0)],   # other team's owner
    [qw(nobody    gen_team           -      0 0 0)],
    # not completed: the creator only, the team's owner and admin included
    [qw(owner     gen_team_pending   owner  1 0 0)],
    [qw(towner    gen_team_pending   -      0 0 0)],
    [qw(tadmin    gen_team_pending   -      0 0 0)],
    [qw(editor    gen_team_pending   -      0 0 0)],
    [qw(viewer    gen_team_pending   -      0 0 0)],
    [qw(owner     gen_team_failed    owner  1 0 0)],
    [qw(towner    gen_team_failed    -      0 0 0)],
    # "owner" is the creator, never a team role
    [qw(editor    gen_editor         owner  1 1 0)],
    [qw(owner     gen_editor         viewer 0 1 0)],
    [qw(towner    gen_editor         admin  0 1 0)],
    # public project: non-members read as viewer, members keep their role
    [qw(outsider  gen_public         viewer 0 0 1)],
    [qw(nobody    gen_public         viewer 0 0 1)],
    [qw(editor    gen_public         editor 0 1 1)],
    [qw(towner    gen_public         admin  0 1 1)],
    [qw(owner     gen_public         owner  1 1 1)],
    [qw(outsider  gen_public_pending -      0 0 0)],
    [qw(editor    gen_public_pending -      0 0 0)],
    [qw(owner     gen_public_pending owner  1 0 1)],
    # team_open: non-members read through has_public_access, no role
    [qw(outsider  gen_team_open      -      0 0 1)],
    [qw(viewer    gen_team_open      viewer 0 1 1)],
    [qw(owner     gen_team_open      owner  1 1 1)],
    # private: members by team role, nobody else
    [qw(outsider  gen_private        -      0 0 0)],
    [qw(editor    gen_private        editor 0 1 0)],
    # public project without a team
    [qw(outsider  gen_noteam         viewer 0 0 1)],
    [qw(towner    gen_noteam         viewer 0 0 1)],
    # no project: the creator only
    [qw(owner     gen_noproject      owner  1 0 0)],
    [qw(towner    gen_noproject      -      0 0 0)],
    [qw(outsider  gen_noproject      -      0 0 0)],
);

sub authorize_rows {
    my ($user, $gen) = @_;
    return rows(qq{
        SELECT user_id, generation_id, coalesce(project_id::text, '-'),
               coalesce(effective_role, '-'), has_direct_access::int,
               has_team_access::int, has_public_access::int
          FROM velro_authorize('$user', '$gen')});
}

for my $c (@cases) {
    my ($u, $g, @want) = @$c;
    my $r = authorize_rows(id($u), id($g));
    is(scalar @$r, 1, "velro_authorize($u, $g): one row");
    is_deeply([ @{ $r->[0] }[3 .. 6] ], \@want,
              "velro_authorize($u, $g): role, direct, team, public = @want");
    is($r->[0][0], id($u), "velro_authorize($u, $g): user_id");
    is($r->[0][1], id($g), "velro_authorize($u, $g): generation_id");
}

is(scalar @{ authorize_rows(id('owner'), id('gen_team')) } , 1, 'one row');
is($psql->(qq{SELECT project_id FROM velro_authorize('$ID{owner}',
                                                    '$ID{gen_public}')}),
   "$ID{proj_public}\n", 'project_id');
is($psql->(qq{SELECT coalesce(project_id::text, 'NULL')
                FROM velro_authorize('$ID{owner}', '$ID{gen_noproject}')}),
   "NULL\n", 'project_id NULL without a project');

is(scalar @{ authorize_rows(id('owner'), id('gen_unknown')) }, 0,
   'unknown generation: zero rows');
is(q1(qq{SELECT count(*) FROM velro_authorize('$ID{owner}', NULL)}), 0,
   'NULL generation: zero rows');
is(q1(qq{SELECT count(*) FROM velro_authorize(NULL, '$ID{gen_public}')}), 1,
   'NULL user: still one row');
is(q1(qq{SELECT coalesce(effective_role, '-') || has_direct_access
                || has_team_access || has_public_access
           FROM velro_authorize(NULL, '$ID{gen_team}')}),
   '-falsefalsefalse', 'NULL user: no access, flags false (not NULL)');

# The whole matrix, all users x all generations, against the model in
# Velro::Fixture, in one query.
{
    my $users = join ',', map { "('$_', '$ID{$_}'::uuid)" } @Velro::Fixture::USERS;
    my $gens = join ',', map { "('$_', '$ID{$_}'::uuid)" } @Velro::Fixture::GENERATIONS;
    my $r = rows(qq{
        SELECT u.n, g.n, count(a.generation_id),
               coalesce(max(a.effective_role), '-'),
               coalesce(bool_or(a.has_direct_access)::int, 0),
               coalesce(bool_or(a.has_team_access)::int, 0),
               coalesce(bool_or(a.has_public_access)::int, 0)
          FROM (VALUES $users) u(n, id)
         CROSS JOIN (VALUES $gens) g(n, id)
          LEFT JOIN LATERAL velro_authorize(u.id, g.id) a ON true
         GROUP BY u.n, g.n});
    is(scalar @$r, @Velro::Fixture::USERS * @Velro::Fixture::GENERATIONS,
       'matrix: every pair');
    my @bad;
    for my $row (@$r) {
        my ($u, $g, $n, $role, $d, $t, $p) = @$row;
        my $e = Velro::Fixture::expect($u, $g);
        my $want = $e ? join(' ', 1, $e->{role} // '-', @$e{qw(direct team public)})
                      : '0 - 0 0 0';
        my $got = "$n $role $d $t $p";
        push @bad, "$u/$g: got $got, want $want" if $got ne $want;
    }
    ok(!@bad, 'matrix: velro_authorize agrees with Velro::Fixture::expect')
        or diag(join "\n", @bad);
}

# The decision helper (the C code decides; this pins the rule's wording).
{
    my @d = (
        [qw(outsider gen_public    read 1)], [qw(outsider gen_public    write 0)],
        [qw(outsider gen_team_open read 1)], [qw(outsider gen_team_open write 0)],
        [qw(outsider gen_team      read 0)], [qw(outsider gen_private   read 0)],
        [qw(viewer   gen_team      read 1)], [qw(viewer   gen_team      write 0)],
        [qw(editor   gen_team      write 1)], [qw(editor  gen_team      delete 0)],
        [qw(tadmin   gen_team      delete 1)], [qw(towner gen_team      delete 1)],
        [qw(towner   gen_team_pending read 0)], [qw(owner gen_team_pending delete 1)],
        [qw(owner    gen_noproject delete 1)], [qw(towner gen_noproject read 0)],
        [qw(owner    gen_unknown   read 0)],
    );
    for (@d) {
        my ($u, $g, $a, $want) = @$_;
        is(Velro::Fixture::allowed($u, $g, $a), $want, "decision: $u $a $g");
    }
}

#----------------------------------------------------------------------------
# velro_user

is($psql->(qq{SELECT id, status, coalesce(tokens_valid_after::text, 'NULL')
                FROM velro_user('$ID{owner}')}),
   "$ID{owner}|active|NULL\n", 'velro_user: active, no tokens_valid_after');
is(q1(qq{SELECT status FROM velro_user('$ID{disabled}')}), 'disabled',
   'velro_user: disabled');
is(q1(qq{SELECT tokens_valid_after FROM velro_user('$ID{revoked}')}),
   '1893456000', 'velro_user: tokens_valid_after 2030-01-01 in epoch seconds');
is(q1(qq{SELECT tokens_valid_after FROM velro_user('$ID{unrevoked}')}),
   '946684800', 'velro_user: tokens_valid_after 2000-01-01 in epoch seconds');
is(q1(qq{SELECT pg_typeof(tokens_valid_after) FROM velro_user('$ID{revoked}')}),
   'bigint', 'velro_user: tokens_valid_after is a bigint');
is(q1(qq{SELECT count(*) FROM velro_user('$ID{nobody}')}), 0,
   'velro_user: unknown user, zero rows');
is($psql->(qq{
    BEGIN;
    UPDATE users SET tokens_valid_after = '2030-01-01 00:00:00.999+00'
     WHERE id = '$ID{revoked}';
    SELECT tokens_valid_after FROM velro_user('$ID{revoked}');
    UPDATE users SET tokens_valid_after = '1969-12-31 23:59:59.5+00'
     WHERE id = '$ID{revoked}';
    SELECT tokens_valid_after FROM velro_user('$ID{revoked}');
    SET LOCAL timezone = 'Asia/Kolkata';
    SELECT tokens_valid_after FROM velro_user('$ID{unrevoked}');
    ROLLBACK;}),
   "1893456000\n-1\n946684800\n",
   'velro_user: epoch rounded down (floor), whatever the session time zone');

#----------------------------------------------------------------------------
# velro_l3_lookup: the L3 contract

sub l3 {
    my ($u, $g) = @_;
    my $a = defined $u ? "'$u'" : 'NULL';
    my $b = defined $g ? "'$g'" : 'NULL';
    return q1("SELECT velro_l3_lookup($a, $b)");
}

is(l3($ID{owner}, $ID{gen_team}),
   qq({"user":{"id":"$ID{owner}","status":"active","tokens_valid_after":null},)
 . qq("access":{"user_id":"$ID{owner}","generation_id":"$ID{gen_team}",)
 . qq("project_id":"$ID{proj_team}","effective_role":"owner",)
 . qq("has_direct_access":true,"has_team_access":true,)
 . qq("has_public_access":false},)
 . qq("project":{"id":"$ID{proj_team}","team_id":"$ID{team}","visibility":"team"}}),
   'velro_l3_lookup: exact text, compact, keys in contract order');

is(l3($ID{outsider}, $ID{gen_noproject}),
   qq({"user":{"id":"$ID{outsider}","status":"active","tokens_valid_after":null},)
 . qq("access":{"user_id":"$ID{outsider}","generation_id":"$ID{gen_noproject}",)
 . qq("project_id":null,"effective_role":null,"has_direct_access":false,)
 . qq("has_team_access":false,"has_public_access":false},"project":null}),
   'velro_l3_lookup: no access, json nulls and false');

is(l3($ID{revoked}, undef),
   qq({"user":{"id":"$ID{revoked}","status":"active","tokens_valid_after":1893456000},"access":null,"project":null}),
   'velro_l3_lookup: no resource: access null; epoch a JSON number');
is(l3($ID{owner}, $ID{gen_unknown}),
   qq({"user":{"id":"$ID{owner}","status":"active","tokens_valid_after":null},"access":null,"project":null}),
   'velro_l3_lookup: unknown generation: access null');
is(l3($ID{nobody}, undef), '{"user":null,"access":null,"project":null}',
   'velro_l3_lookup: unknown user: user null');
is(l3($ID{disabled}, undef),
   qq({"user":{"id":"$ID{disabled}","status":"disabled","tokens_valid_after":null},"access":null,"project":null}),
   'velro_l3_lookup: disabled');

{
    my $json = JSON::PP->new;
    my $d = $json->decode(l3($ID{outsider}, $ID{gen_team_open}));
    is_deeply([ sort keys %$d ], [qw(access project user)], 'l3 json: top keys');
    is_deeply([ sort keys %{ $d->{user} } ],
              [qw(id status tokens_valid_after)], 'l3 json: user keys');
    is_deeply([ sort keys %{ $d->{access} } ],
              [qw(effective_role generation_id has_direct_access
                  has_public_access has_team_access project_id user_id)],
              'l3 json: access keys');
    ok(!defined $d->{access}{effective_role}, 'l3 json: role null');
    ok(JSON::PP::is_bool($d->{access}{has_public_access})
       && $d->{access}{has_public_access}, 'l3 json: has_public_access true');
    ok(JSON::PP::is_bool($d->{access}{has_team_access})
       && !$d->{access}{has_team_access}, 'l3 json: has_team_access false');

    # every fixture pair: "access" is exactly the velro_authorize row
    my @bad;
    for my $u (@Velro::Fixture::USERS) {
        for my $g (@Velro::Fixture::GENERATIONS) {
            my $d = $json->decode(l3($ID{$u}, $ID{$g}));
            my $e = Velro::Fixture::expect($u, $g);
            my $a = $d->{access};
            my $got = $a ? join(' ', $a->{effective_role} // '-',
                                map { $a->{$_} ? 1 : 0 } qw(has_direct_access
                                    has_team_access has_public_access))
                         : 'null';
            my $want = $e ? join(' ', $e->{role} // '-',
                                 @$e{qw(direct team public)}) : 'null';
            push @bad, "$u/$g: $got, want $want" if $got ne $want;
            push @bad, "$u: user" if ($u eq 'nobody') != !defined $d->{user};
        }
    }
    ok(!@bad, 'l3 json: every fixture pair agrees') or diag(join "\n", @bad);
}

# What the module sends: a prepared statement with text parameters, the
# resource possibly NULL; many executions on one connection, past the point
# where PL/pgSQL switches to a generic plan.
{
    my @exec;
    for my $i (1 .. 8) {
        push @exec, "EXECUTE l3('$ID{outsider}', '$ID{gen_public}');",
                    "EXECUTE l3('$ID{nobody}', NULL);";
    }
    my $out = $psql->("PREPARE l3(text, text) AS "
                      . "SELECT velro_l3_lookup(\$1::uuid, \$2::uuid);\n"
                      . join("\n", @exec));
    my @l = split /\n/, $out;
    my $pub = qq({"user":{"id":"$ID{outsider}","status":"active",)
            . qq("tokens_valid_after":null},"access":{"user_id":"$ID{outsider}",)
            . qq("generation_id":"$ID{gen_public}","project_id":"$ID{proj_public}",)
            . qq("effective_role":"viewer","has_direct_access":false,)
            . qq("has_team_access":false,"has_public_access":true},)
            . qq("project":{"id":"$ID{proj_public}","team_id":"$ID{team}",)
            . qq("visibility":"public"}});
    is(scalar @l, 16, 'prepared l3: 16 answers');
    ok(!grep({ $l[$_] ne ($_ % 2 ? '{"user":null,"access":null,"project":null}' : $pub) }
             0 .. $#l), 'prepared l3: same answers on every execution');
}

#----------------------------------------------------------------------------
# velro_l3_warm: the warm form of the L3 contract (cache warming on login)

sub warm {
    my ($u, $n) = @_;
    my $a = defined $u ? "'$u'" : 'NULL';
    my $b = defined $n ? $n : 'NULL';
    return q1("SELECT velro_l3_warm($a, $b)");
}

# "access" as fixture generation names, in order
sub warm_gens {
    my ($d) = @_;
    return join ' ', map { Velro::Fixture::name($_->{generation_id}) }
                     @{ $d->{access} };
}

{
    my $json = JSON::PP->new;

    is(warm($ID{nobody}, 100), '{"user":null,"access":[],"projects":[]}',
       'velro_l3_warm: unknown user: exact text');
    is(warm(undef, 100), '{"user":null,"access":[],"projects":[]}',
       'velro_l3_warm: NULL user');
    is(warm($ID{outsider}, 100),
       qq({"user":{"id":"$ID{outsider}","status":"active",)
     . qq("tokens_valid_after":null},"access":[],"projects":[]}),
       'velro_l3_warm: a member of a team without projects, nothing created');

    # exact text: "user" as velro_l3_lookup, "access" rows as its "access"
    is(warm($ID{editor}, 2),
       qq({"user":{"id":"$ID{editor}","status":"active",)
     . qq("tokens_valid_after":null},"access":[)
     . qq({"user_id":"$ID{editor}","generation_id":"$ID{gen_private}",)
     . qq("project_id":"$ID{proj_private}","effective_role":"editor",)
     . qq("has_direct_access":false,"has_team_access":true,)
     . qq("has_public_access":false},)
     . qq({"user_id":"$ID{editor}","generation_id":"$ID{gen_team_open}",)
     . qq("project_id":"$ID{proj_team_open}","effective_role":"editor",)
     . qq("has_direct_access":false,"has_team_access":true,)
     . qq("has_public_access":true}],"projects":[)
     . qq({"id":"$ID{proj_team_open}","team_id":"$ID{team}",)
     . qq("visibility":"team_open"},)
     . qq({"id":"$ID{proj_private}","team_id":"$ID{team}",)
     . qq("visibility":"private"}]}),
       'velro_l3_warm: exact text, compact, keys in order');

    my $d = $json->decode(warm($ID{owner}, 100));
    is_deeply([ sort keys %$d ], [qw(access projects user)],
              'warm json: top keys');
    is_deeply($d->{user}, $json->decode(l3($ID{owner}, undef))->{user},
              'warm json: "user" is velro_l3_lookup\'s');
    {
        (my $want = l3($ID{owner}, undef)) =~ s/^\{"user":(.*),"access":null,"project":null\}\z/$1/;
        like(warm($ID{owner}, 1), qr/^\{"user":\Q$want\E,"access":\[/,
             'warm: "user" is velro_l3_lookup\'s, byte for byte');
    }

    # owner created all but gen_editor, and is a viewer of team "team":
    # every generation, own ones of any status, gen_editor (completed) too
    is(warm_gens($d),
       'gen_noproject gen_noteam gen_private gen_team_open gen_public_pending '
       . 'gen_public gen_editor gen_team_failed gen_team_pending gen_team',
       'warm owner: own (any status) and team ones, created_at desc');
    is_deeply([ map { $_->{id} } @{ $d->{projects} } ],
              [ map { $ID{$_} } qw(proj_team proj_public proj_team_open
                                   proj_private proj_noteam) ],
              'warm owner: the distinct projects, by id; no entry for NULL');
    is_deeply($d->{projects}[4],
              { id => $ID{proj_noteam}, team_id => undef,
                visibility => 'public' }, 'warm: a project without team');

    # each row is exactly velro_l3_lookup's "access" for that pair
    my @bad;
    for my $u (@Velro::Fixture::USERS) {
        my $w = $json->decode(warm($ID{$u}, 1000));
        for my $a (@{ $w->{access} }) {
            my $l = $json->decode(l3($ID{$u}, $a->{generation_id}));
            push @bad, "$u/" . Velro::Fixture::name($a->{generation_id})
                unless JSON::PP->new->canonical->encode($a)
                       eq JSON::PP->new->canonical->encode($l->{access});
        }
        my %seen;
        push @bad, "$u: duplicates"
            if grep { $seen{$_->{generation_id}}++ } @{ $w->{access} };
        # what the rule says: created, or completed in a team project
        my @want = grep {
            my $e = Velro::Fixture::expect($u, $_);
            $e && ($e->{direct} || $e->{team})
        } @Velro::Fixture::GENERATIONS;
        my @got = map { Velro::Fixture::name($_->{generation_id}) }
                  @{ $w->{access} };
        push @bad, "$u: got @got, want @want"
            if join(' ', sort @got) ne join(' ', sort @want);
        my %proj = map { defined $_->{project_id} ? ($_->{project_id} => 1)
                                                  : () } @{ $w->{access} };
        push @bad, "$u: projects"
            if join(' ', map { $_->{id} } @{ $w->{projects} })
               ne join(' ', sort keys %proj);
    }
    ok(!@bad, 'warm: every fixture user: rows equal velro_l3_lookup\'s, '
              . 'no duplicates, the right set, the right projects')
        or diag(join "\n", @bad);

    # team members: completed generations only; a creator: own pending too
    is(warm_gens($json->decode(warm($ID{tadmin}, 100))),
       'gen_private gen_team_open gen_public gen_editor gen_team',
       'warm team admin: completed team generations only, no project-less '
       . 'or team-less ones');
    is(warm_gens($json->decode(warm($ID{editor}, 100))),
       'gen_private gen_team_open gen_public gen_editor gen_team',
       'warm editor: own gen_editor once (created and team), others completed');

    # the limit: the most recent ones
    is(warm_gens($json->decode(warm($ID{owner}, 3))),
       'gen_noproject gen_noteam gen_private', 'warm: limit 3');
    is_deeply([ map { $_->{id} } @{ $json->decode(warm($ID{owner}, 3))->{projects} } ],
              [ $ID{proj_private}, $ID{proj_noteam} ],
              'warm: limit 3: only those rows\' projects');
    is(warm_gens($json->decode(warm($ID{owner}, 1))), 'gen_noproject',
       'warm: limit 1');
    is(warm($ID{owner}, 0),
       qq({"user":{"id":"$ID{owner}","status":"active",)
     . qq("tokens_valid_after":null},"access":[],"projects":[]}),
       'warm: limit 0: the user only');
    is(scalar @{ $json->decode(warm($ID{owner}, -5))->{access} }, 0,
       'warm: a negative limit is 0');
    is(scalar @{ $json->decode(warm($ID{owner}, 'NULL'))->{access} }, 10,
       'warm: limit NULL is 100');
    is(q1(qq{SELECT json_array_length(velro_l3_warm('$ID{owner}', 100) -> 'access')}),
       10, 'warm: json_array_length works on the answer');

    # ordering: created_at desc, then id; dedupe across both branches;
    # the team branch's pending generations are left out
    my $out = $psql->(qq{
        BEGIN;
        UPDATE generations SET created_at = '2024-06-01Z'
         WHERE id IN ('$ID{gen_team}', '$ID{gen_editor}', '$ID{gen_private}');
        UPDATE generations SET created_at = '2024-07-01Z', status = 'pending'
         WHERE id = '$ID{gen_team_open}';
        SELECT velro_l3_warm('$ID{tadmin}', 100);
        SELECT velro_l3_warm('$ID{editor}', 2);
        SELECT velro_l3_warm('$ID{owner}', 4);
        ROLLBACK;});
    my @w = map { $json->decode($_) } grep { /^\{/ } split /\n/, $out;
    is(warm_gens($w[0]), 'gen_team gen_editor gen_private gen_public',
       'warm: same created_at: by id; a team generation no longer '
       . 'completed: gone');
    is(warm_gens($w[1]), 'gen_team gen_editor',
       'warm: limit within a tie: lowest ids first');
    is(warm_gens($w[2]),
       'gen_team_open gen_team gen_editor gen_private',
       'warm: own pending generation kept, newest first, the tie by id');
    is(warm_gens($json->decode(warm($ID{tadmin}, 100))),
       'gen_private gen_team_open gen_public gen_editor gen_team',
       'warm: rolled back');

    # many executions of one prepared statement, as the module runs it
    my @exec;
    for my $i (1 .. 8) {
        push @exec, "EXECUTE w('$ID{tadmin}', '2');",
                    "EXECUTE w('$ID{nobody}', '100');";
    }
    my @l = split /\n/, $psql->("PREPARE w(text, text) AS "
                                . "SELECT velro_l3_warm(\$1::uuid, \$2::int);\n"
                                . join("\n", @exec));
    my $two = warm($ID{tadmin}, 2);
    is(scalar @l, 16, 'prepared warm: 16 answers');
    ok(!grep({ $l[$_] ne ($_ % 2 ? '{"user":null,"access":[],"projects":[]}'
                                  : $two) } 0 .. $#l),
       'prepared warm: same answers on every execution');
    is(q1(q{SELECT p.provolatile::text || ' ' || l.lanname
              FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
             WHERE p.proname = 'velro_l3_warm'}), 's plpgsql',
       'velro_l3_warm: a STABLE PL/pgSQL function');
}

#----------------------------------------------------------------------------
# mv_user_authorization_context

{
    my $mv = q1('SELECT count(*) FROM mv_user_authorization_context');
    my $want = q1(q{
        SELECT (SELECT count(*) FROM generations)
             + (SELECT count(*)
                  FROM generations g
                  JOIN projects p ON p.id = g.project_id
                  JOIN team_members tm ON tm.team_id = p.team_id
                 WHERE g.status = 'completed' AND tm.user_id <> g.user_id)});
    is($mv, $want, 'MV: one row per generation creator + per team member '
                   . 'of a completed generation');
    is($mv, 45, 'MV: 45 rows for the fixture (10 creators + 35 members)');
    my $cross = q1('SELECT (SELECT count(*) FROM users)
                         * (SELECT count(*) FROM generations)');
    cmp_ok($mv, '<', $cross, "MV: fewer rows than users x generations ($cross)");
    unlike(q1(q{SELECT pg_get_viewdef('mv_user_authorization_context')}),
           qr/\bCROSS\s+JOIN\b|\busers\b/i,
           'MV: no cross join, users not even read');

    is(q1(q{
        SELECT count(*)
          FROM mv_user_authorization_context m
         WHERE NOT EXISTS (
               SELECT 1 FROM velro_authorize(m.user_id, m.generation_id) a
                WHERE (a.user_id, a.generation_id, a.project_id,
                       a.effective_role, a.has_direct_access,
                       a.has_team_access, a.has_public_access)
                      IS NOT DISTINCT FROM
                      (m.user_id, m.generation_id, m.project_id,
                       m.effective_role, m.has_direct_access,
                       m.has_team_access, m.has_public_access))}),
       0, 'MV: every row equals velro_authorize for its pair');
    is(q1(q{
        SELECT count(*)
          FROM users u CROSS JOIN generations g
          CROSS JOIN LATERAL velro_authorize(u.id, g.id) a
         WHERE (a.has_direct_access OR a.has_team_access)
           AND NOT EXISTS (SELECT 1 FROM mv_user_authorization_context m
                            WHERE m.user_id = u.id
                              AND m.generation_id = g.id)}),
       0, 'MV: every owner and team-member grant is in it');
    is($psql->(qq{
        SELECT effective_role, has_direct_access, has_team_access
          FROM mv_user_authorization_context
         WHERE user_id = '$ID{owner}' AND generation_id = '$ID{gen_team}'}),
       "owner|t|t\n", 'MV: creator who is also a member: one row, owner wins');
    is(q1(qq{SELECT count(*) FROM mv_user_authorization_context
              WHERE generation_id = '$ID{gen_team_pending}'}),
       1, 'MV: a pending generation: its creator only');
    is(q1(q{SELECT count(*) FROM pg_indexes
             WHERE tablename = 'mv_user_authorization_context'
               AND indexdef LIKE 'CREATE UNIQUE INDEX%(user_id, generation_id)'}),
       1, 'MV: unique index on (user_id, generation_id)');

    # REFRESH ... CONCURRENTLY works and picks up a change
    $psql->(qq{INSERT INTO team_members (team_id, user_id, role)
               VALUES ('$ID{team}', '$ID{outsider}', 'viewer')});
    is(q1(qq{SELECT count(*) FROM mv_user_authorization_context
              WHERE user_id = '$ID{outsider}'}), 0, 'MV: stale before refresh');
    is(q1('REFRESH MATERIALIZED VIEW CONCURRENTLY '
          . 'mv_user_authorization_context; '
          . 'SELECT count(*) FROM mv_user_authorization_context'),
       $mv + 5, 'REFRESH MATERIALIZED VIEW CONCURRENTLY: 5 more rows');
    is(q1(qq{SELECT string_agg(DISTINCT effective_role, ',')
               FROM mv_user_authorization_context
              WHERE user_id = '$ID{outsider}'}), 'viewer',
       'MV: the new member is there');
    $psql->(qq{DELETE FROM team_members WHERE team_id = '$ID{team}'
                                          AND user_id = '$ID{outsider}';
               REFRESH MATERIALIZED VIEW CONCURRENTLY
                   mv_user_authorization_context;});
    is(q1('SELECT count(*) FROM mv_user_authorization_context'), $mv,
       'MV: and gone again after the next refresh');
}

#----------------------------------------------------------------------------
# SQL metacharacters

is(q1(qq{SELECT email FROM users WHERE id = '$ID{viewer}'}),
   q{o'brien "viewer"\@example.com},
   'quote, double quote and backslash in text survive the fixture and psql');
{
    my $evil = q{x'); DROP TABLE users; -- "\\ $$ $q$ |@example.com};
    (my $lit = $evil) =~ s/'/''/g;
    $psql->(qq{INSERT INTO users (id, email)
               VALUES ('55555555-0000-4000-8000-0000000000e0', '$lit')});
    is(q1(q{SELECT email FROM users
             WHERE id = '55555555-0000-4000-8000-0000000000e0'}), $evil,
       'SQL metacharacters stored and read back verbatim');
    is(q1(q{SELECT count(*) FROM users}), 10, 'users still there');
    is(q1(q{SELECT count(*) FROM velro_user(
                '55555555-0000-4000-8000-0000000000e0')}), 1,
       'velro_user finds it');
    $psql->(q{DELETE FROM users WHERE id = '55555555-0000-4000-8000-0000000000e0'});
}

#----------------------------------------------------------------------------
# Invalidation triggers

# Run $sql in a session that LISTENs first; returns the sorted, unique
# "channel payload" strings psql reports.  Checks on the way that the
# durable log (velro_invalidation_log) got the same changes as rows.
sub notified {
    my ($sql, $channel) = @_;
    $channel //= 'velro_invalidate';
    my $from = q1('SELECT coalesce(max(seq), 0) FROM velro_invalidation_log');
    my $out = $psql->("LISTEN $channel;\n$sql\n");
    my (%seen, %payload);
    for (split /\n/, $out) {
        next unless /^Asynchronous notification "([^"]+)" with payload "(.*)" received from server process/;
        $seen{$1 eq 'velro_invalidate' ? $2 : "$1 $2"} = 1;
        $payload{$2} = 1;
    }
    my %logged = map { my ($k, $id) = split /\|/; (n($k, $id) => 1) }
                 grep { $_ ne '' }
                 split /\n/, $psql->(qq{SELECT kind, id
                                         FROM velro_invalidations_after($from,
                                                                        100000)});
    (my $what = $sql) =~ s/\s+/ /g;
    is_deeply([ sort keys %logged ], [ sort keys %payload ],
              "the log has what was notified: " . substr($what, 0, 60));
    return [ sort keys %seen ];
}

sub n { my ($k, $id) = @_; qq({"kind":"$k","id":"$id"}) }

my %S = map { $_->[0] => "55555555-0000-4000-8000-0000000000$_->[1]" }
    [u1 => '01'], [u2 => '02'], [t1 => '11'], [t2 => '12'],
    [p1 => '21'], [p2 => '22'], [g1 => '31'], [g2 => '32'];

is_deeply(notified(qq{
    INSERT INTO users (id, email) VALUES ('$S{u1}', 'u1\@x'),
                                         ('$S{u2}', 'u2\@x');
    INSERT INTO teams (id, name) VALUES ('$S{t1}', 't1'), ('$S{t2}', 't2');
    INSERT INTO projects (id, team_id, visibility)
        VALUES ('$S{p1}', '$S{t1}', 'team'), ('$S{p2}', '$S{t2}', 'public');
}), [ sort(n(user => $S{u1}), n(user => $S{u2})) ],
   'users INSERT: user; teams and projects INSERT: nothing');

is_deeply(notified(qq{UPDATE users SET status = 'disabled' WHERE id = '$S{u1}'}),
          [ n(user => $S{u1}) ], 'users UPDATE status: user');
is_deeply(notified(qq{UPDATE users SET tokens_valid_after = now()
                       WHERE id = '$S{u1}'}),
          [ n(user => $S{u1}) ], 'users UPDATE tokens_valid_after: user');
is_deeply(notified(qq{UPDATE users SET status = 'disabled', email = 'new\@x'
                       WHERE id = '$S{u1}'}),
          [], 'users UPDATE, status unchanged, email changed: nothing');
is_deeply(notified(qq{UPDATE users SET tokens_valid_after = tokens_valid_after
                       WHERE id = '$S{u1}'}),
          [], 'users UPDATE to the same tokens_valid_after: nothing');
is_deeply(notified(qq{UPDATE users SET tokens_valid_after = NULL
                       WHERE id = '$S{u1}'}),
          [ n(user => $S{u1}) ], 'users UPDATE tokens_valid_after to NULL: user');

is_deeply(notified(qq{INSERT INTO team_members VALUES ('$S{t1}', '$S{u2}', 'viewer')}),
          [ n(member => $S{u2}) ], 'team_members INSERT: the member');
is_deeply(notified(qq{UPDATE team_members SET role = 'editor'
                       WHERE team_id = '$S{t1}' AND user_id = '$S{u2}'}),
          [ n(member => $S{u2}) ], 'team_members UPDATE role: the member');
is_deeply(notified(qq{UPDATE team_members SET role = 'editor'
                       WHERE team_id = '$S{t1}' AND user_id = '$S{u2}'}),
          [], 'team_members UPDATE to the same role: nothing');
is_deeply(notified(qq{UPDATE team_members SET user_id = '$S{u1}'
                       WHERE team_id = '$S{t1}' AND user_id = '$S{u2}'}),
          [ sort(n(member => $S{u1}), n(member => $S{u2})) ],
          'team_members UPDATE user_id: old and new member');
is_deeply(notified(qq{UPDATE team_members SET team_id = '$S{t2}'
                       WHERE team_id = '$S{t1}' AND user_id = '$S{u1}'}),
          [ n(member => $S{u1}) ], 'team_members UPDATE team_id: the member');
is_deeply(notified(qq{DELETE FROM team_members
                       WHERE team_id = '$S{t2}' AND user_id = '$S{u1}'}),
          [ n(member => $S{u1}) ], 'team_members DELETE: the member');

is_deeply(notified(qq{UPDATE teams SET name = 'renamed' WHERE id = '$S{t1}'}),
          [], 'teams UPDATE name: nothing');

is_deeply(notified(qq{INSERT INTO generations (id, user_id, project_id, status)
                      VALUES ('$S{g1}', '$S{u1}', '$S{p1}', 'pending'),
                             ('$S{g2}', '$S{u1}', '$S{p2}', 'completed')}),
          [ sort(n(generation => $S{g1}), n(generation => $S{g2})) ],
          'generations INSERT: generation');
is_deeply(notified(qq{UPDATE generations SET status = 'completed'
                       WHERE id = '$S{g1}'}),
          [ n(generation => $S{g1}) ], 'generations UPDATE status: generation');
is_deeply(notified(qq{UPDATE generations SET media_url = 'https://x/y',
                                             status = 'completed'
                       WHERE id = '$S{g1}'}),
          [], 'generations UPDATE media_url only: nothing');
is_deeply(notified(qq{UPDATE generations SET project_id = '$S{p2}'
                       WHERE id = '$S{g1}'}),
          [ n(generation => $S{g1}) ], 'generations UPDATE project_id: generation');
is_deeply(notified(qq{UPDATE generations SET user_id = '$S{u2}'
                       WHERE id = '$S{g1}'}),
          [ n(generation => $S{g1}) ], 'generations UPDATE user_id: generation');

is_deeply(notified(qq{UPDATE projects SET visibility = 'team_open'
                       WHERE id = '$S{p1}'}),
          [ n(project => $S{p1}) ], 'projects UPDATE visibility: project');
is_deeply(notified(qq{UPDATE projects SET team_id = NULL WHERE id = '$S{p1}'}),
          [ n(project => $S{p1}) ], 'projects UPDATE team_id: project');
is_deeply(notified(qq{UPDATE projects SET team_id = NULL,
                                          visibility = 'team_open'
                       WHERE id = '$S{p1}'}),
          [], 'projects UPDATE, nothing changed: nothing');

# cascades: deleting a team notifies the team, its members (membership
# gone) and its projects (team_id set NULL)
$psql->(qq{INSERT INTO team_members VALUES ('$S{t2}', '$S{u2}', 'admin')});
is_deeply(notified(qq{DELETE FROM teams WHERE id = '$S{t2}'}),
          [ sort(n(team => $S{t2}), n(member => $S{u2}), n(project => $S{p2})) ],
          'teams DELETE: team, plus member and project through the cascades');

# deleting a project notifies it and its generations (project_id NULL)
is_deeply(notified(qq{DELETE FROM projects WHERE id = '$S{p2}'}),
          [ sort(n(project => $S{p2}), n(generation => $S{g1}),
                 n(generation => $S{g2})) ],
          'projects DELETE: project, plus its generations through SET NULL');

is_deeply(notified(qq{DELETE FROM generations WHERE id = '$S{g2}'}),
          [ n(generation => $S{g2}) ], 'generations DELETE: generation');

# deleting a user: the user, and the generations they created (cascade)
is_deeply(notified(qq{DELETE FROM users WHERE id = '$S{u2}'}),
          [ sort(n(user => $S{u2}), n(generation => $S{g1})) ],
          'users DELETE: user, plus their generations through the cascade');

is_deeply(notified(qq{BEGIN;
                      UPDATE users SET status = 'active' WHERE id = '$S{u1}';
                      ROLLBACK;}),
          [], 'rolled back: nothing');
is_deeply(notified(qq{BEGIN;
                      UPDATE users SET status = 'active' WHERE id = '$S{u1}';
                      UPDATE users SET status = 'disabled' WHERE id = '$S{u1}';
                      COMMIT;}),
          [ n(user => $S{u1}) ], 'sent at commit (once: PostgreSQL folds '
                                 . 'identical payloads)');

is_deeply(notified(qq{SET velro.channel = 'velro_other';
                      UPDATE users SET status = 'active' WHERE id = '$S{u1}';},
                   'velro_other'),
          [ 'velro_other ' . n(user => $S{u1}) ],
          'the velro.channel setting renames the channel');

{
    my $out = $psql->(qq{LISTEN velro_invalidate;
        UPDATE users SET status = 'disabled' WHERE id = '$S{u1}';
        DELETE FROM users WHERE id = '$S{u1}';});
    my @p = $out =~ /with payload "(.*)" received/g;
    is(scalar @p, 2, 'payload format: two notifications');
    ok(!grep(!/^\{"kind":"(?:user|member|team|project|generation)","id":"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"\}\z/, @p),
       'payload format: {"kind":"...","id":"UUID"}, no spaces');
    my $j = eval { JSON::PP->new->decode($p[0]) };
    is_deeply($j, { kind => 'user', id => $S{u1} }, 'payload is JSON');
}

# the durable log: in seq order, pruned after velro.log_keep but for the
# newest row, by the changes themselves every 1,000th seq
{
    my $u = '55555555-0000-4000-8000-000000000099';
    my $last = q1('SELECT max(seq) FROM velro_invalidation_log');
    ok($last > 0, 'the log has rows');
    is(q1('SELECT count(*) FROM velro_invalidations_after(0, 3)'), 3,
       'velro_invalidations_after: at most the limit');
    is(q1(qq{SELECT count(*) FROM velro_invalidations_after($last, 10)}), 0,
       'nothing after the newest');
    is(q1(q{SELECT bool_and(seq > lag) FROM (SELECT seq, lag(seq)
              OVER (ORDER BY seq) FROM velro_invalidations_after(0, 1000)) s
             WHERE lag IS NOT NULL}), 't', 'in seq order');
    is(q1('SELECT velro_invalidation_oldest()'),
       q1('SELECT min(seq) FROM velro_invalidation_log'),
       'velro_invalidation_oldest: the oldest seq');
    is(q1('SELECT velro_invalidation_prune()'), 0,
       'prune: nothing older than 10 minutes');
    $psql->(q{UPDATE velro_invalidation_log SET at = at - interval '11 minutes'});
    my $n = q1('SELECT count(*) FROM velro_invalidation_log');
    is(q1('SELECT velro_invalidation_prune()'), $n - 1,
       'prune: all older than 10 minutes but the newest');
    is(q1('SELECT velro_invalidation_oldest()'), $last,
       'the newest is kept: a follower learns the current seq');
    $psql->(qq{INSERT INTO users (id, email) VALUES ('$u', 'log\@x');
               UPDATE velro_invalidation_log SET at = at - interval '2 hours'});
    is(q1(q{SET velro.log_keep = '3 hours'; SELECT velro_invalidation_prune()}),
       0, 'velro.log_keep sets the window');
    is(q1(q{SET velro.log_keep = '1 hour'; SELECT velro_invalidation_prune()}),
       1, 'velro.log_keep: one hour');
    # the changes prune: a change whose seq is a multiple of 1,000
    $psql->(q{UPDATE velro_invalidation_log SET at = at - interval '1 hour'});
    my $to = q1('SELECT (max(seq) / 1000 + 1) * 1000 FROM velro_invalidation_log');
    $psql->(qq{SELECT setval(pg_get_serial_sequence('velro_invalidation_log',
                                                    'seq'), $to - 2);
               UPDATE users SET status = 'disabled' WHERE id = '$u';});
    is(q1('SELECT count(*) FROM velro_invalidation_log'), 2,
       'seq not a multiple of 1,000: nothing pruned');
    $psql->(qq{UPDATE velro_invalidation_log SET at = at - interval '1 hour';
               UPDATE users SET status = 'active' WHERE id = '$u';});
    is(q1('SELECT string_agg(seq::text, \',\') FROM velro_invalidation_log'),
       $to, "seq $to: the change pruned every older row");
    $psql->(qq{DELETE FROM users WHERE id = '$u'});
}

$psql->(qq{DELETE FROM teams WHERE id = '$S{t1}';
           DELETE FROM projects WHERE id = '$S{p1}'});
is(q1(q{SELECT (SELECT count(*) FROM users WHERE id::text LIKE '55555555-%')
             + (SELECT count(*) FROM teams WHERE id::text LIKE '55555555-%')
             + (SELECT count(*) FROM projects WHERE id::text LIKE '55555555-%')
             + (SELECT count(*) FROM generations
                 WHERE id::text LIKE '55555555-%')}), 0,
   'scratch rows gone, fixture intact: '
   . q1('SELECT count(*) FROM users') . ' users');

#----------------------------------------------------------------------------
# Query plans: index scans only, with more rows than a page

{
    my $plan = $psql->(qq{
        BEGIN;
        INSERT INTO users (id, email)
             SELECT ('66666666-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid,
                    'bulk' || i || '\@example.com'
               FROM generate_series(1, 3000) i;
        INSERT INTO teams (id, name)
             SELECT ('77777777-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid,
                    'bulk' || i
               FROM generate_series(1, 300) i;
        INSERT INTO team_members (team_id, user_id, role)
             SELECT ('77777777-0000-4000-8000-' || lpad((i % 300 + 1)::text, 12, '0'))::uuid,
                    ('66666666-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid,
                    (ARRAY['owner','admin','editor','viewer'])[i % 4 + 1]
               FROM generate_series(1, 3000) i;
        INSERT INTO projects (id, team_id, visibility)
             SELECT ('88888888-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid,
                    ('77777777-0000-4000-8000-' || lpad((i % 300 + 1)::text, 12, '0'))::uuid,
                    (ARRAY['private','team','team_open','public'])[i % 4 + 1]
               FROM generate_series(1, 1000) i;
        INSERT INTO generations (user_id, project_id, status)
             SELECT ('66666666-0000-4000-8000-' || lpad((i % 3000 + 1)::text, 12, '0'))::uuid,
                    ('88888888-0000-4000-8000-' || lpad((i % 1000 + 1)::text, 12, '0'))::uuid,
                    'completed'
               FROM generate_series(1, 20000) i;
        ANALYZE;
        EXPLAIN (COSTS OFF)
            SELECT * FROM velro_authorize('$ID{editor}', '$ID{gen_team}');
        SELECT '----';
        PREPARE a(uuid, uuid) AS SELECT * FROM velro_authorize(\$1, \$2);
        SET LOCAL plan_cache_mode = force_generic_plan;
        EXPLAIN (COSTS OFF) EXECUTE a('$ID{editor}', '$ID{gen_team}');
        SELECT '----';
        EXPLAIN (COSTS OFF)
            SELECT (SELECT row_to_json(u) FROM velro_user('$ID{editor}') u);
        SELECT '----';
        SELECT count(*) FROM generations;
        ROLLBACK;});
    my ($custom, $generic, $user, $count) = split /^----\n/m, $plan;
    like($count, qr/^20010$/m, 'plan: with 20010 generations, 3000+ members');
    for ([custom => $custom], [generic => $generic]) {
        my ($what, $p) = @$_;
        unlike($p, qr/Seq Scan/, "velro_authorize, $what plan: no Seq Scan")
            or diag($p);
        like($p, qr/Index Scan using generations_pkey on generations/,
             "velro_authorize, $what plan: generations by primary key");
        like($p, qr/Index Scan using projects_pkey on projects/,
             "velro_authorize, $what plan: projects by primary key");
        like($p, qr/Index (?:Only )?Scan using team_members_pkey on team_members/,
             "velro_authorize, $what plan: team_members by (team_id, user_id)");
        unlike($p, qr/Function Scan/,
               "velro_authorize, $what plan: inlined (no Function Scan)");
    }
    like($user, qr/Index Scan using users_pkey on users/,
         'velro_user: inlined, users by primary key') or diag($user);
    unlike($user, qr/Seq Scan|Function Scan/, 'velro_user: no Seq Scan');
    is(q1('SELECT count(*) FROM generations'), 10, 'bulk rows rolled back');
}

# velro_l3_warm's plan, through auto_explain (the query is inside
# PL/pgSQL), with a bulk team: 40 projects of 500 generations, 1 in 5 not
# completed, and 2000 generations of the user's own
{
    my $u = '66666666-0000-4000-8000-000000000001';
    my $sql = qq{
        BEGIN;
        INSERT INTO users (id, email) VALUES ('$u', 'bulk\@example.com');
        INSERT INTO teams (id, name)
             VALUES ('77777777-0000-4000-8000-000000000001', 'bulk');
        INSERT INTO team_members (team_id, user_id, role)
             VALUES ('77777777-0000-4000-8000-000000000001', '$u', 'viewer');
        INSERT INTO projects (id, team_id, visibility)
             SELECT ('88888888-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid,
                    '77777777-0000-4000-8000-000000000001', 'team'
               FROM generate_series(1, 40) i;
        INSERT INTO generations (user_id, project_id, status, created_at)
             SELECT '$ID{owner}',
                    ('88888888-0000-4000-8000-' || lpad((i % 40 + 1)::text, 12, '0'))::uuid,
                    CASE WHEN i % 5 = 0 THEN 'pending' ELSE 'completed' END,
                    '2024-01-01Z'::timestamptz + i * interval '1 second'
               FROM generate_series(1, 20000) i;
        INSERT INTO generations (user_id, status, created_at)
             SELECT '$u', 'pending',
                    '2023-01-01Z'::timestamptz + i * interval '1 second'
               FROM generate_series(1, 2000) i;
        ANALYZE;
        LOAD 'auto_explain';
        SET auto_explain.log_min_duration = 0;
        SET auto_explain.log_nested_statements = on;
        SET auto_explain.log_level = notice;
        SELECT json_array_length(velro_l3_warm('$u', 50) -> 'access');
        SELECT velro_l3_warm('$u', 3) -> 'access' -> 0 ->> 'generation_id'
               = (SELECT id::text FROM generations
                   WHERE status = 'completed' AND project_id IS NOT NULL
                   ORDER BY created_at DESC, id LIMIT 1);
        ROLLBACK;};
    my @cmd = ("$Velro::Backends::PG{bindir}/psql", '-X', '-q', '-A', '-t',
               '-v', 'ON_ERROR_STOP=1', '-h', $Velro::Backends::PG{sock},
               '-p', $Velro::Backends::PG{port}, '-U', 'postgres',
               '-d', 'velro', '-f', '-');
    my ($st, $out, $err) = Velro::Backends::_pg_run(\@cmd, $sql);
    is($st, 0, 'warm plan: psql ran') or diag($err);
    is($out, "50\nt\n", 'warm plan: 50 rows, the newest first');
    my ($plan) = grep { /velro_recent_generations/ && /WITH top/ }
                 split /(?=NOTICE:)/, $err;
    ok($plan, 'warm plan: auto_explain logged the query') or diag($err);
    $plan //= '';
    unlike($plan, qr/Seq Scan on generations/,
           'warm plan: no Seq Scan on generations') or diag($plan);
    like($plan, qr/Index (?:Only )?Scan using generations_project_id_created_at_idx/,
         'warm plan: team generations from (project_id, created_at desc, id) '
         . 'where completed') or diag($plan);
    like($plan, qr/Index Scan using generations_user_id_created_at_idx/,
         'warm plan: own generations from (user_id, created_at desc)')
        or diag($plan);
    unlike($plan, qr/Function Scan/,
           "warm plan: velro_recent_generations and velro_authorize inlined")
        or diag($plan);
    is(q1('SELECT count(*) FROM generations'), 10, 'warm bulk rows rolled back');
}

{
    my $idx = q1(q{SELECT string_agg(indexname, ' ' ORDER BY indexname)
                     FROM pg_indexes WHERE schemaname = 'public'});
    for my $i (qw(team_members_user_id_idx generations_user_id_created_at_idx
                  generations_project_id_idx projects_team_id_idx
                  generations_project_id_created_at_idx
                  users_email_key)) {
        like($idx, qr/\b$i\b/, "index $i");
    }
    is(q1(q{SELECT p.provolatile::text || ' ' || l.lanname
              FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
             WHERE p.proname = 'velro_authorize'}), 's sql',
       'velro_authorize: a STABLE SQL function');
}

# velro_l3_entities is one statement with its entity functions inlined
# (set-returning SQL functions in FROM): no Function Scan in its plan, one
# plan per connection; a database whose entity functions are the older
# scalar ones gets them replaced when schema.sql is loaded again
{
    my ($u, $g) = (id('editor'), id('gen_team'));
    my $plan = q1(qq{EXPLAIN (COSTS off)
        SELECT ue.j, ge.j, pe.j
          FROM (SELECT 1) one
          LEFT JOIN generations g ON g.id = '$g'
          LEFT JOIN projects p ON p.id = g.project_id
          LEFT JOIN LATERAL velro_user_entity('$u', p.team_id) ue(j) ON true
          LEFT JOIN LATERAL velro_generation_entity(g.id) ge(j) ON true
          LEFT JOIN LATERAL velro_project_entity(p.id) pe(j) ON true});
    unlike($plan, qr/Function Scan/,
           'entity functions inlined into velro_l3_entities\'s statement')
        or diag($plan);
    like($plan, qr/Index Scan using users_pkey/, 'the user by primary key')
        or diag($plan);

    my $want = q1(qq{SELECT velro_l3_entities('$u', '$g')::text});
    like($want, qr/^\{"user":\{"id":"\Q$u\E".*"generation":\{"id":"\Q$g\E"/,
         'velro_l3_entities answers the entity form');
    $psql->(q{
        DROP FUNCTION velro_user_entity(uuid, uuid);
        DROP FUNCTION velro_generation_entity(uuid);
        DROP FUNCTION velro_project_entity(uuid);
        CREATE FUNCTION velro_user_entity(p_user uuid, p_first uuid)
            RETURNS text LANGUAGE sql AS $$ SELECT 'old'::text $$;
        CREATE FUNCTION velro_generation_entity(p_generation uuid)
            RETURNS text LANGUAGE sql AS $$ SELECT 'old'::text $$;
        CREATE FUNCTION velro_project_entity(p_project uuid)
            RETURNS text LANGUAGE sql AS $$ SELECT 'old'::text $$;
    });
    ok(eval { $psql->(Velro::Backends::_slurp(
                          "$Velro::Backends::TOP/sql/schema.sql")); 1 },
       'schema.sql loads over scalar entity functions') or diag($@);
    is(q1(q{SELECT string_agg(proname || ' ' || proretset, ','
                              ORDER BY proname)
              FROM pg_proc
             WHERE proname IN ('velro_user_entity', 'velro_generation_entity',
                               'velro_project_entity')}),
       'velro_generation_entity true,velro_project_entity true,'
       . 'velro_user_entity true',
       'the entity functions are set-returning, one of each');
    is(q1(qq{SELECT velro_l3_entities('$u', '$g')::text}), $want,
       'velro_l3_entities answers as before after the upgrade');
}

# loading the schema a second time is harmless
ok(eval { $psql->(Velro::Backends::_slurp("$Velro::Backends::TOP/sql/schema.sql")); 1 },
   'schema.sql loads again over itself') or diag($@);
is(q1('SELECT count(*) FROM users'), 9, 'data intact');

# the demo data loads over the schema and says what its header says
{
    ok(eval { $psql->(Velro::Backends::_slurp("$Velro::Backends::TOP/sql/demo.sql")); 1 },
       'demo.sql loads') or diag($@);
    my $g = '6e000000-0000-4000-8000-000000000001';
    my %u = (alice => 'a11ce000-0000-4000-8000-000000000001',
             bob   => 'b0b00000-0000-4000-8000-000000000002',
             carol => 'ca201000-0000-4000-8000-000000000003',
             dave  => 'da7e0000-0000-4000-8000-000000000004',
             erin  => 'e1e10000-0000-4000-8000-000000000005');
    my %want = (alice => 'owner', bob => 'editor', carol => 'viewer',
                dave => '-', erin => 'editor');
    for my $n (sort keys %u) {
        is(q1(qq{SELECT coalesce(effective_role, '-') || ' ' || has_public_access
                   FROM velro_authorize('$u{$n}', '$g')}),
           "$want{$n} false", "demo: $n on the demo generation");
    }
    is(q1(qq{SELECT status FROM users WHERE id = '$u{erin}'}), 'disabled',
       'demo: erin is disabled');
    is(q1(qq{SELECT coalesce(effective_role, '-') FROM velro_authorize(
               '$u{bob}', '6e000000-0000-4000-8000-000000000002')}), '-',
       'demo: bob gets nothing on the pending generation');
    is(q1(qq{SELECT effective_role || ' ' || has_public_access
               FROM velro_authorize('$u{dave}',
                                    '6e000000-0000-4000-8000-000000000003')}),
       'viewer true', 'demo: dave reads the public generation');
    ok(eval { $psql->(Velro::Backends::_slurp("$Velro::Backends::TOP/sql/demo.sql")); 1 },
       'demo.sql loads twice') or diag($@);
}

#----------------------------------------------------------------------------
# Velro::Backends: psql errors, the SQL endpoint, Redis, forks, cleanup

{
    my $ok = eval { $psql->('SELECT * FROM no_such_table'); 1 };
    ok(!$ok, 'psql dies on error');
    like($@, qr/no_such_table/, 'psql: the message says why');
}

# an outage: stop, then start again on the same port with the same data
{
    my $port = $ENV{TEST_NGINX_PG_PORT};
    my $pid = $Velro::Backends::PG{pid};
    Velro::Backends::stop_pg();
    ok(!Velro::Backends::pg_running() && !kill(0, $pid), 'stop_pg: stopped');
    ok(!IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port),
       'stop_pg: connection refused');
    Velro::Backends::start_pg();
    is($ENV{TEST_NGINX_PG_PORT}, $port, 'start_pg again: same port');
    is(q1('SELECT count(*) FROM users'), 14, 'start_pg again: same data (fixture + demo users)');
}

sub http {
    my ($port, $req) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
        or return "connect: $!";
    print $s $req;
    local $/;
    my $r = <$s>;
    return $r;
}

{
    delete local $ENV{VELRO_SQL_SETTLE};
    my $port = Velro::Backends::start_sql_endpoint();
    is($port, $ENV{TEST_NGINX_SQL_PORT}, 'SQL endpoint: TEST_NGINX_SQL_PORT');
    my $sql = qq{UPDATE users SET status = 'active' WHERE id = '$ID{owner}'
                 RETURNING email};
    my $r = http($port, "POST /sql HTTP/1.0\r\nHost: x\r\n"
                        . "Content-Length: " . length($sql) . "\r\n\r\n$sql");
    like($r, qr{^HTTP/1\.0 200 OK\r\n}, 'SQL endpoint: 200');
    like($r, qr{\r\nContent-Type: text/plain\r\n}, 'SQL endpoint: text/plain');
    like($r, qr{\r\n\r\nowner\@example\.com\n\z}, "SQL endpoint: psql's output");
    unlike($r, qr{velro-listeners|velro-end|Asynchronous notification},
           'SQL endpoint: only the SQL\'s own output');

    $sql = 'SELECT nope FROM nowhere';
    $r = http($port, "POST /sql HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     . "Content-Length: " . length($sql) . "\r\n\r\n$sql");
    like($r, qr{^HTTP/1\.0 500 }, 'SQL endpoint: 500 on error');
    like($r, qr{nowhere}, 'SQL endpoint: with the message');

    $r = http($port, "GET /sql?q=SELECT+1%2B1 HTTP/1.0\r\n\r\n");
    like($r, qr{^HTTP/1\.0 200 .*\r\n\r\n2\n\z}s, 'SQL endpoint: GET ?q=');

    # a bigger body, several reads
    $sql = 'SELECT length(' . "'" . ('x' x 200000) . "'" . ')';
    $r = http($port, "POST /sql HTTP/1.0\r\nContent-Length: "
                     . length($sql) . "\r\n\r\n$sql");
    like($r, qr{\r\n\r\n200000\n\z}, 'SQL endpoint: 200 kB body');
}

SKIP: {
    my $have = eval { Velro::Backends::start_redis(password => 'se cret"',
                                                   unix => 1); 1 };
    skip "no redis: $@", 9 unless $have;
    my $port = $ENV{TEST_NGINX_REDIS_PORT};
    ok($port, 'redis: TEST_NGINX_REDIS_PORT');
    ok(-S $ENV{TEST_NGINX_REDIS_SOCKET}, 'redis: TEST_NGINX_REDIS_SOCKET');
    is(Velro::Backends::redis_cli(qw(SET k v)), 'OK', 'redis_cli SET (with auth)');
    is(Velro::Backends::redis_cli(qw(GET k)), 'v', 'redis_cli GET');
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port);
    print $s "GET k\r\n";
    like(scalar <$s>, qr/^-NOAUTH/, 'redis: requirepass is on');
    close $s;

    Velro::Backends::stop_redis();
    ok(!IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port),
       'redis: stopped (connection refused)');
    Velro::Backends::start_redis();
    is($ENV{TEST_NGINX_REDIS_PORT}, $port, 'redis: restarted on the same port');
    is(Velro::Backends::redis_cli(qw(GET k)), '', 'redis: empty after restart');
    is(Velro::Backends::redis_cli('PING'), 'PONG', 'redis: same password');
}

# a fork that exits (runs END) leaves our backends alone
{
    my $pid = fork;
    if (defined $pid && $pid == 0) {
        exit 0;                 # runs END blocks in the child
    }
    waitpid $pid, 0;
    is(q1('SELECT 1'), 1, 'a forked child exiting did not stop PostgreSQL');
    if (Velro::Backends::redis_running()) {
        is(Velro::Backends::redis_cli('PING'), 'PONG',
           'a forked child exiting did not stop Redis');
    }
}

# cleanup: a separate perl that starts everything, then exits, or is killed
for my $how (qw(exit TERM)) {
    my $lib = "$FindBin::Bin/lib";
    my $code = q{
        use Velro::Backends;
        Velro::Backends::start_pg(schema => 0);
        my $redis = eval { Velro::Backends::start_redis(); 1 };
        Velro::Backends::start_sql_endpoint();
        print join(' ', $Velro::Backends::PG{pid},
                   $redis ? $Velro::Backends::REDIS{pid} : 0,
                   $Velro::Backends::SQL{pid},
                   $Velro::Backends::PG{dir},
                   $redis ? $Velro::Backends::REDIS{dir} : '/nonexistent'),
              "\n";
        open STDOUT, '>', '/dev/null';
        sleep($ARGV[0] eq 'TERM' ? 60 : 0);
    };
    my $t = time;
    my $kid = open my $fh, '-|', $^X, "-I$lib", '-e', $code, $how
        or die "cannot run perl: $!";
    my $line = <$fh>;
    my ($pg, $redis, $sql, $pgdir, $redisdir) = split ' ', $line // '';
    ok($pg && $sql, "cleanup ($how): backends started") or diag($line);
    kill 'TERM', $kid if $how eq 'TERM';
    close $fh;
    my @alive = grep { $_ && kill 0, $_ and !zombie($_) } $pg, $redis, $sql;
    ok(!@alive, "cleanup ($how): postgres, redis, endpoint gone")
        or diag("alive: @alive");
    ok(!-e $pgdir && !-e $redisdir, "cleanup ($how): temp dirs removed");
    diag(sprintf "cleanup ($how): %.2fs", time - $t) if $ENV{TEST_VERBOSE};
}

sub zombie {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return 1;
    return scalar(<$fh>) =~ /^\d+ \(.*\) Z/s;
}

# and ours, now (END would do it too)
{
    my @pids = grep { $_ } $Velro::Backends::PG{pid},
                           $Velro::Backends::REDIS{pid},
                           $Velro::Backends::SQL{pid};
    my @dirs = grep { $_ } $Velro::Backends::PG{dir},
                           $Velro::Backends::REDIS{dir};
    Velro::Backends::stop_all();
    ok(!grep({ kill 0, $_ } @pids), 'stop_all: processes gone');
    ok(!grep({ -e $_ } @dirs), 'stop_all: temp dirs removed');
    my @children = `ps -o pid=,stat=,comm= --ppid $$`;
    @children = grep { !/\bps\b/ } @children;
    ok(!@children, 'no child processes left') or diag(@children);
}

done_testing();
