# Decisions from entities: each entity (user, memberships, generation,
# project) answered by each tier, one decision from three tiers at once,
# each invalidation kind dropping exactly its entity (the others stay in
# L1), a team deletion, issue 3's L3 form through a proxy (kept per pair),
# a user with more memberships than an entry keeps, the L2 read in one
# round trip (the script) and without it.  The tier of each entity is
# $velro_authz_tiers, in X-Tiers; the commands Redis ran, its INFO
# commandstats (through Velro::Control).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Velro::Authz;
use Velro::Control;
use Test::Nginx::Socket 'no_plan';

Velro::Authz::start(sql => 1);
Velro::Control::start();

our $TIERS = '        add_header X-Tiers "$velro_authz_tiers" always;';

sub gen { "/gen/" . Velro::Authz::id($_[0]) }
sub sql { "POST /sql\n$_[0]" }
sub tiers {
    my ($u, $r, $g, $p, $pair) = @_;
    return "X-Tiers: user=$u roles=$r generation=$g project=$p pair="
           . ($pair // '-');
}

# the first request of a block: the worker's LISTEN connection comes up
# (and flushes L1) before the blocks count tiers
our $SETTLE = "POST /sql\nSELECT pg_sleep(0.3)";

# Redis's command counts, reset and read
sub redis { "GET /ctl/redis/cli?args=" . join('+', @_) }
our $RESETSTAT = redis(qw(CONFIG RESETSTAT));
our $STATS = redis(qw(INFO commandstats));
sub calls {
    my (%n) = @_;
    my $re = join '', map { $n{$_} ? "(?=.*^cmdstat_\Q$_\E:calls=$n{$_},)"
                                   : "(?!.*^cmdstat_\Q$_\E:)" } sort keys %n;
    return qr/^$re/ms;
}

our $U = Velro::Authz::id('viewer');
our $G = Velro::Authz::id('gen_editor');
our $E = Velro::Authz::id('editor');
our $P = Velro::Authz::id('proj_team');

no_shuffle();
run_tests();

__DATA__

=== TEST 1: all four from L3, then from L1
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location(extra => $::TIERS)
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval: [$::SETTLE, "GET " . main::gen('gen_team'), "GET " . main::gen('gen_team')]
--- response_headers eval
["", main::tiers(qw(L3 L3 L3 L3)), main::tiers(qw(L1 L1 L1 L1))]



=== TEST 2: a new worker: all four from L2 (in one round trip, the project's
id learnt from the generation in Redis by the script), then from L1
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location(extra => $::TIERS)
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval: [$::SETTLE, "GET " . main::gen('gen_team'), "GET " . main::gen('gen_team')]
--- response_headers eval
["", main::tiers(qw(L2 L2 L2 L2)), main::tiers(qw(L1 L1 L1 L1))]
--- response_headers_like eval
["", "X-Authz: L2 viewer allow", "X-Authz: L1 viewer allow"]



=== TEST 3: only what the decision needs: the creator needs no project or
memberships, a generation without a project none either
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location(extra => $::TIERS)
--- more_headers eval: Velro::Authz::bearer('owner')
--- request eval
[$::SETTLE, "GET " . main::gen('gen_team'), "DELETE " . main::gen('gen_team'),
 "GET " . main::gen('gen_noproject')]
--- response_headers eval
["", main::tiers(qw(L3 L3 L3 L3)), main::tiers(qw(L1 - L1 -)),
 main::tiers(qw(L1 L1 L3 -))]



=== TEST 4: one decision from three tiers: user and memberships from L1,
the generation from L2, its project from L3
--- init
Velro::Authz::fresh();
Velro::Backends::redis_cli('SET', "velro:ownership:$::G",
    qq({"id":"$::G","user_id":"$::E","project_id":"$::P","status":"completed","media_url":null}));
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location(extra => $::TIERS)
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
[$::SETTLE, "GET " . main::gen('gen_noproject'), "GET " . main::gen('gen_editor'),
 "PUT " . main::gen('gen_editor')]
--- error_code eval: [200, 403, 200, 403]
--- response_headers eval
["", main::tiers(qw(L3 L3 L3 -)), main::tiers(qw(L1 L1 L2 L3)),
 main::tiers(qw(L1 L1 L1 L1))]



=== TEST 5: a user notice drops the user alone, in L1 and L2
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location(extra => $::TIERS)
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
[$::SETTLE, "GET " . main::gen('gen_team'),
 main::sql("UPDATE users SET tokens_valid_after = '2001-01-01Z' WHERE id = '$::U'"),
 "GET " . main::gen('gen_team'),
 main::sql("UPDATE users SET tokens_valid_after = NULL WHERE id = '$::U'")]
--- response_headers eval
["", main::tiers(qw(L3 L3 L3 L3)), "", main::tiers(qw(L3 L1 L1 L1)), ""]



=== TEST 6: a membership notice drops the user's memberships alone
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location(extra => $::TIERS)
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
my $t = Velro::Authz::id('team');
[$::SETTLE, "PUT " . main::gen('gen_team'),
 main::sql("UPDATE team_members SET role = 'editor' WHERE team_id = '$t' AND user_id = '$::U'"),
 "PUT " . main::gen('gen_team'),
 main::sql("UPDATE team_members SET role = 'viewer' WHERE team_id = '$t' AND user_id = '$::U'"),
 "PUT " . main::gen('gen_team')]
--- error_code eval: [200, 403, 200, 200, 200, 403]
--- response_headers eval
["", main::tiers(qw(L3 L3 L3 L3)), "", main::tiers(qw(L1 L3 L1 L1)), "",
 main::tiers(qw(L1 L3 L1 L1))]



=== TEST 7: a generation notice drops the generation alone
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location(extra => $::TIERS)
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
my $g = Velro::Authz::id('gen_team');
[$::SETTLE, "GET " . main::gen('gen_team'),
 main::sql("UPDATE generations SET status = 'processing' WHERE id = '$g'"),
 "GET " . main::gen('gen_team'),
 main::sql("UPDATE generations SET status = 'completed' WHERE id = '$g'"),
 "GET " . main::gen('gen_team')]
--- error_code eval: [200, 200, 200, 403, 200, 200]
--- response_headers eval
["", main::tiers(qw(L3 L3 L3 L3)), "", main::tiers(qw(L1 L1 L3 L1)), "",
 main::tiers(qw(L1 L1 L3 L1))]



=== TEST 8: a project notice drops the project alone
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location(extra => $::TIERS)
--- more_headers eval: Velro::Authz::bearer('outsider')
--- request eval
my $p = Velro::Authz::id('proj_private');
[$::SETTLE, "GET " . main::gen('gen_private'),
 main::sql("UPDATE projects SET visibility = 'public' WHERE id = '$p'"),
 "GET " . main::gen('gen_private'),
 main::sql("UPDATE projects SET visibility = 'private' WHERE id = '$p'"),
 "GET " . main::gen('gen_private')]
--- error_code eval: [200, 403, 200, 200, 200, 403]
--- response_headers eval
["", main::tiers(qw(L3 L3 L3 L3)), "", main::tiers(qw(L1 L1 L1 L3)), "",
 main::tiers(qw(L1 L1 L1 L3))]



=== TEST 9: a team deleted: its members' memberships and its projects go,
nothing else (no L1 flush)
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location(extra => $::TIERS)
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
my $o = Velro::Authz::id('owner');
my $t = '22222222-0000-4000-8000-0000000000aa';
my $p = '33333333-0000-4000-8000-0000000000aa';
my $g = '44444444-0000-4000-8000-0000000000ab';
[main::sql("INSERT INTO teams (id, name) VALUES ('$t', 'doomed');
 INSERT INTO team_members (team_id, user_id, role) VALUES ('$t', '$::U', 'editor');
 INSERT INTO projects (id, team_id, visibility) VALUES ('$p', '$t', 'private');
 INSERT INTO generations (id, user_id, project_id, status) VALUES ('$g', '$o', '$p', 'completed')"),
 "GET " . main::gen('gen_team'),
 "PUT /gen/$g",
 main::sql("DELETE FROM teams WHERE id = '$t'"),
 "PUT /gen/$g",
 "GET " . main::gen('gen_team'),
 main::sql("DELETE FROM generations WHERE id = '$g'; DELETE FROM projects WHERE id = '$p'")]
--- error_code eval: [200, 200, 200, 200, 403, 200, 200]
--- response_headers eval
["", main::tiers(qw(L3 L3 L3 L3)), main::tiers(qw(L1 L1 L3 L3)), "",
 main::tiers(qw(L1 L3 L1 L3)), main::tiers(qw(L1 L1 L1 L1)), ""]
--- no_error_log
L1 flushed, notices



=== TEST 10: issue 3's L3 form through a proxy: kept per pair, and the
pair goes with a notice of its user's memberships
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval
Velro::Authz::location(fallback => '/_l3proxy', extra => $::TIERS) . <<'CONF'
    location = /_l3proxy {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/authz-service$is_args$args;
    }

    location = /authz-service {
        allow 127.0.0.1;
        deny all;
        velro_authz_pg access;
    }
CONF
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
my $t = Velro::Authz::id('team');
[$::SETTLE, "PUT " . main::gen('gen_team'), "PUT " . main::gen('gen_team'),
 main::sql("UPDATE team_members SET role = 'editor' WHERE team_id = '$t' AND user_id = '$::U'"),
 "PUT " . main::gen('gen_team'),
 main::sql("UPDATE team_members SET role = 'viewer' WHERE team_id = '$t' AND user_id = '$::U'")]
--- error_code eval: [200, 403, 403, 200, 200, 200]
--- response_headers eval
["", main::tiers(qw(L3 - - -), 'L3'), main::tiers(qw(L1 - - -), 'L1'), "",
 main::tiers(qw(L1 - - -), 'L3'), ""]



=== TEST 11: a user in more teams than an entry keeps (256): a decision the
kept part cannot make (not a member of the project's team) is kept per pair
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location(extra => $::TIERS)
--- more_headers eval: Velro::Authz::bearer('outsider')
--- request eval
my $u = Velro::Authz::id('outsider');
[main::sql("INSERT INTO teams (id, name) SELECT ('22222222-0000-4000-8000-' || lpad(to_hex(4096 + i), 12, '0'))::uuid, 'many' FROM generate_series(1, 300) i;
 INSERT INTO team_members (team_id, user_id, role) SELECT id, '$u', 'viewer' FROM teams WHERE name = 'many'"),
 "GET " . main::gen('gen_private'), "GET " . main::gen('gen_private'),
 "GET " . main::gen('gen_public'),
 main::sql("DELETE FROM teams WHERE name = 'many'")]
--- error_code eval: [200, 403, 403, 200, 200]
--- response_headers eval
["", main::tiers(qw(L3 L3 L3 L3), 'L3'), main::tiers(qw(L1 L1 L1 L1), 'L1'),
 main::tiers(qw(L1 L1 L3 L3), 'L3'), ""]



=== TEST 12: a notice that overtakes an L3 answer in flight wins: the answer
(read before the change committed) serves its own request, its memberships
are kept neither in L1 nor in L2, the next request asks L3 again
--- init
Velro::Authz::fresh();
my $g = Velro::Authz::id('gen_team_open');
my $def = Velro::Backends::psql(
    "SELECT pg_get_functiondef('velro_l3_entities(uuid,uuid)'::regprocedure)");
$def =~ s/FUNCTION public\.velro_l3_entities\(/FUNCTION public.velro_l3_entities_real(/
    or die "no velro_l3_entities definition";
Velro::Backends::psql("DROP SEQUENCE IF EXISTS velro_overtake;
CREATE SEQUENCE velro_overtake;
$def;
-- the lookup of gen_team_open reads at once (this statement's snapshot),
-- then answers once the change has committed (a sequence is outside MVCC)
CREATE OR REPLACE FUNCTION velro_l3_entities(p_user uuid, p_resource uuid)
RETURNS json LANGUAGE plpgsql STABLE AS \$fn\$
DECLARE
    v json;
    i int := 0;
BEGIN
    v := velro_l3_entities_real(p_user, p_resource);
    IF p_resource = '$g' THEN
        WHILE NOT (SELECT is_called FROM velro_overtake) AND i < 200 LOOP
            PERFORM pg_sleep(0.05);
            i := i + 1;
        END LOOP;
        PERFORM pg_sleep(0.2);
    END IF;
    RETURN v;
END
\$fn\$;
-- the change waits for that lookup to be under way
CREATE OR REPLACE FUNCTION velro_overtake_wait() RETURNS boolean
LANGUAGE plpgsql AS \$fn\$
DECLARE
    i int := 0;
BEGIN
    WHILE i < 500 AND NOT EXISTS (
        SELECT 1 FROM pg_stat_activity
         WHERE query LIKE '%velro_l3_entities(%' AND state = 'active'
           AND pid <> pg_backend_pid())
    LOOP
        PERFORM pg_stat_clear_snapshot();
        PERFORM pg_sleep(0.02);
        i := i + 1;
    END LOOP;
    RETURN i < 500;
END
\$fn\$;
-- and everything back as it was, at the end
CREATE OR REPLACE FUNCTION velro_restore_l3() RETURNS void
LANGUAGE plpgsql AS \$fn\$
BEGIN
    EXECUTE replace(pg_get_functiondef(
                        'velro_l3_entities_real(uuid,uuid)'::regprocedure),
                    'velro_l3_entities_real(', 'velro_l3_entities(');
    DROP FUNCTION velro_l3_entities_real(uuid, uuid);
    DROP FUNCTION velro_overtake_wait();
    DROP SEQUENCE velro_overtake;
END
\$fn\$;");
--- http_config eval: Velro::Authz::http_config(pg_opts => 'timeout=15s')
--- config eval
my $t = Velro::Authz::id('team');
Velro::Authz::location(extra => $::TIERS) . <<CONF
    location = /page {
        velro_jwt off;
        ssi on;
        default_type text/html;
        return 200 '<!--# include virtual="/gen/\$arg_g" -->|<!--# include virtual="/change" -->';
    }

    location = /change {
        internal;
        proxy_method POST;
        proxy_set_body "SELECT velro_overtake_wait(); UPDATE team_members SET role = 'editor' WHERE team_id = '$t' AND user_id = '$::U'; SELECT nextval('velro_overtake') > 0;";
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SQL_PORT;
    }
CONF
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
my $t = Velro::Authz::id('team');
[$::SETTLE,
 "GET /page?g=" . Velro::Authz::id('gen_team_open'),
 "PUT " . main::gen('gen_team_open'),
 main::sql("UPDATE team_members SET role = 'viewer' WHERE team_id = '$t' AND user_id = '$::U';
 SELECT velro_restore_l3()")]
--- error_code eval: [200, 200, 200, 200]
--- response_body_like eval: [qr/^$/, qr/^ok\n\|t\nt\n$/, qr/^ok\n$/, qr/^$/]
--- response_headers eval
["", "", main::tiers(qw(L1 L3 L1 L1)), ""]



=== TEST 13: L2 filled from L3 for the next blocks
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location(extra => $::TIERS)
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval: [$::SETTLE, "GET " . main::gen('gen_team')]
--- response_headers eval: ["", main::tiers(qw(L3 L3 L3 L3))]



=== TEST 14: a new worker: user, memberships, generation and its project
from L2 in one round trip: one EVALSHA, whose script ran the MGET and the
project's GET (its id read from the generation's value)
--- http_config eval
Velro::Authz::http_config(redis => '127.0.0.1:$TEST_NGINX_REDIS_PORT scripts=on')
--- config eval: Velro::Authz::location(extra => $::TIERS) . Velro::Control::location()
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval: [$::SETTLE, $::RESETSTAT, "GET " . main::gen('gen_team'), $::STATS]
--- response_headers eval: ["", "", main::tiers(qw(L2 L2 L2 L2)), ""]
--- response_headers_like eval: ["", "", "X-Authz: L2 viewer allow", ""]
--- response_body_like eval
[qr/^$/, qr/^OK$/, qr/^ok$/,
 main::calls(evalsha => 1, mget => 1, get => 1, 'script|load' => 0)]
--- no_error_log
[warn]



=== TEST 15: the script flushed from Redis (SCRIPT FLUSH) after the worker
loaded it: NOSCRIPT, loaded again, run again, still one L2 answer
--- http_config eval
Velro::Authz::http_config(redis => '127.0.0.1:$TEST_NGINX_REDIS_PORT scripts=on')
--- config eval: Velro::Authz::location(extra => $::TIERS) . Velro::Control::location()
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
[$::SETTLE, main::redis(qw(SCRIPT FLUSH)), $::RESETSTAT,
 "GET " . main::gen('gen_team'), $::STATS, "GET " . main::gen('gen_team'),
 Velro::Control::logged('velro: redis script \w+ not loaded, loading it')]
--- response_headers eval
["", "", "", main::tiers(qw(L2 L2 L2 L2)), "", main::tiers(qw(L1 L1 L1 L1)),
 ""]
--- response_body_like eval
[qr/^$/, qr/^OK$/, qr/^OK$/, qr/^ok$/,
 main::calls(evalsha => 2, 'script|load' => 1, mget => 1, get => 1),
 qr/^ok$/, qr/^1$/]
--- no_error_log
[warn]



=== TEST 16: scripts=off (the default; a Redis that refuses scripts): the MGET,
then the project in a second round trip (an MGET of one key), still from L2
--- http_config eval
Velro::Authz::http_config(redis => '127.0.0.1:$TEST_NGINX_REDIS_PORT scripts=off')
--- config eval: Velro::Authz::location(extra => $::TIERS) . Velro::Control::location()
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval: [$::SETTLE, $::RESETSTAT, "GET " . main::gen('gen_team'), $::STATS]
--- response_headers eval: ["", "", main::tiers(qw(L2 L2 L2 L2)), ""]
--- response_body_like eval
[qr/^$/, qr/^OK$/, qr/^ok$/,
 main::calls(evalsha => 0, 'script|load' => 0, mget => 2, get => 0)]
--- no_error_log
[warn]
