# velro_warm_on_login: right after a login, the user's recent generations
# are answered from L1 (the worker that served the login) or L2 (any other),
# without a PostgreSQL query; a login without a usable token warms nothing.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Velro::Authz;
use Test::Nginx::Socket 'no_plan';

Velro::Authz::start(sql => 1);

sub gen { "/gen/" . Velro::Authz::id($_[0]) }
sub sql { "POST /sql\n$_[0]" }

# the token the login answer carries, and the one later requests send
our $Token = Velro::Token::token(canonical => 1,
    claims => { sub => Velro::Authz::id('editor'), jti => "warm-$$" });

our $Login = <<'CONF';
    location = /login {
        velro_warm_on_login on;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        velro_authz_fallback /_l3;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/issue;
    }

    location = /issue {
        default_type application/json;
        return 200 '{"access_token":"$arg_t","token_type":"Bearer"}';
    }

    location = /issue-header {
        add_header Authorization "Bearer $arg_t";
        return 204;
    }

    location = /login-header {
        velro_warm_on_login on;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        velro_authz_fallback /_l3;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/issue-header;
    }
CONF

our $NoL1 = "    velro_cache_ttl ownership l1=0;\n"
          . "    velro_cache_ttl team_access l1=0;\n";

no_shuffle();
run_tests();

__DATA__

=== TEST 1: after a login (token in the JSON body), L1 answers
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location() . $::Login
--- more_headers eval: "Authorization: Bearer $::Token"
--- request eval
[main::sql("SELECT 1"),
 "GET /login?t=$::Token",
 main::sql("SELECT 1"),
 "GET " . main::gen('gen_team'),
 "PUT " . main::gen('gen_editor'),
 "GET " . main::gen('gen_private')]
--- response_headers eval
["", "", "", "X-Authz: L1 editor allow", "X-Authz: L1 owner allow",
 "X-Authz: L1 editor allow"]



=== TEST 2: a token in an Authorization response header works too
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location() . $::Login
--- more_headers eval: "Authorization: Bearer $::Token"
--- request eval
[main::sql("SELECT 1"),
 "GET /login-header?t=$::Token",
 main::sql("SELECT 1"),
 "GET " . main::gen('gen_team')]
--- error_code eval: [200, 204, 200, 200]
--- response_headers eval
["", "", "", "X-Authz: L1 editor allow"]



=== TEST 3: another worker (L1 off here): the warmed L2 answers
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config(extra => $::NoL1)
--- config eval: Velro::Authz::location() . $::Login
--- more_headers eval: "Authorization: Bearer $::Token"
--- request eval
[main::sql("SELECT 1"),
 "GET /login?t=$::Token",
 main::sql("SELECT 1"),
 "GET " . main::gen('gen_team'),
 "GET " . main::gen('gen_private')]
--- response_headers eval
["", "", "", "X-Authz: L2 editor allow", "X-Authz: L2 editor allow"]



=== TEST 4: a login answer with a bad token warms nothing
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location() . $::Login
--- more_headers eval: "Authorization: Bearer $::Token"
--- request eval
[main::sql("SELECT 1"),
 "GET /login?t=" . Velro::Token::flip_signature($::Token),
 "GET " . main::gen('gen_team')]
--- response_headers eval: ["", "", "X-Authz: L3 editor allow"]



=== TEST 5: and says why
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location() . $::Login
--- request eval: "GET /login?t=" . Velro::Token::flip_signature($::Token)
--- response_body_like: access_token
--- error_log
velro: no warming: the login token does not verify



=== TEST 6: an authorization from L3 loads the project's visibility too
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location() . $::Login
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
[main::sql("SELECT pg_sleep(0.5)"), "GET " . main::gen('gen_team_open'),
 main::sql("SELECT 1")]
--- response_headers eval: ["", "X-Authz: L3 viewer allow", ""]



=== TEST 7: project_vis:{id} in L2 (checked with redis-cli); a change
to the project (its trigger's notice removes the entry: TEST 8), seen
made, then undone (psql -q prints nothing for an UPDATE)
--- init
my $p = Velro::Authz::id('proj_team_open');
my $v = Velro::Backends::redis_cli('GET', "velro:project_vis:$p");
die "no project_vis entry: \"$v\"" unless $v =~ /"visibility":"team_open"/;
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location() . $::Login
--- request eval
my $p = Velro::Authz::id('proj_team_open');
[main::sql("UPDATE projects SET visibility = 'team' WHERE id = '$p'"),
 "GET /sql?q=" . "SELECT%20visibility%20FROM%20projects%20WHERE%20id%20%3D%20"
 . "'$p'",
 main::sql("UPDATE projects SET visibility = 'team_open' WHERE id = '$p'")]
--- error_code eval: [200, 200, 200]
--- response_body eval: ["", "team\n", ""]



=== TEST 8: the project's change removed its project_vis entry
--- init
my $p = Velro::Authz::id('proj_team_open');
my $v = Velro::Backends::redis_cli('EXISTS', "velro:project_vis:$p");
die "project_vis entry still there" unless $v eq '0';
--- config
    location = /t {
        return 200 "checked\n";
    }
--- request
GET /t
--- response_body
checked



=== TEST 9: a warm answer larger than a page (40 more generations): the
velro_authz_pg location's subrequest_output_buffer_size is raised by
default, so the oldest of them is in L1 too
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location() . $::Login
--- more_headers eval: "Authorization: Bearer $::Token"
--- request eval
[main::sql("INSERT INTO generations (id, user_id, status, created_at)"
         . " SELECT ('a1a1a1a1-0000-4000-8000-' || lpad(i::text, 12, '0'))"
         . "::uuid, '" . Velro::Authz::id('editor') . "', 'completed',"
         . " now() + i * interval '1 second'"
         . " FROM generate_series(1, 40) i"),
 main::sql("SELECT pg_sleep(0.2)"),
 "GET /login?t=$::Token",
 main::sql("SELECT 1"),
 "GET /gen/a1a1a1a1-0000-4000-8000-000000000001"]
--- response_headers eval
["", "", "", "", "X-Authz: L1 owner allow"]



=== TEST 10: a login fills the entities: the user, the memberships, the
recent generations and their projects are all in L1
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval
Velro::Authz::location(extra => '        add_header X-Tiers "$velro_authz_tiers" always;') . $::Login
--- more_headers eval: "Authorization: Bearer $::Token"
--- request eval
[main::sql("SELECT pg_sleep(0.2)"), "GET /login?t=$::Token", main::sql("SELECT 1"),
 "PUT " . main::gen('gen_team'), "GET " . main::gen('gen_private')]
--- error_code eval: [200, 200, 200, 200, 200]
--- response_headers eval
["", "", "",
 "X-Tiers: user=L1 roles=L1 generation=L1 project=L1 pair=-",
 "X-Tiers: user=L1 roles=L1 generation=L1 project=L1 pair=-"]



=== TEST 11: ... and in L2, one entry per entity: another worker reads them
--- init
my $u = Velro::Authz::id('editor');
my $g = Velro::Authz::id('gen_team');
my $p = Velro::Authz::id('proj_team');
for my $k ("auth:$u", "team_access:$u", "ownership:$g", "project_vis:$p") {
    my $v = Velro::Backends::redis_cli('EXISTS', "velro:$k");
    die "no L2 entry velro:$k" unless $v eq '1';
}
--- http_config eval: Velro::Authz::http_config()
--- config eval
Velro::Authz::location(extra => '        add_header X-Tiers "$velro_authz_tiers" always;') . $::Login
--- more_headers eval: "Authorization: Bearer $::Token"
--- request eval
[main::sql("SELECT 1"), "PUT " . main::gen('gen_team')]
--- error_code eval: [200, 200]
--- response_headers eval
["", "X-Tiers: user=L2 roles=L2 generation=L2 project=L2 pair=-"]
