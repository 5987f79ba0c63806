# Each tier answering (L1, L2, L3 through $velro_authz_cache), another
# location as L3, shared L3 lookups, and invalidations of every kind
# reaching L1 and L2 without waiting for a TTL.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Velro::Authz;
use Test::Nginx::Socket 'no_plan';

Velro::Authz::start(sql => 1);

sub gen { "/gen/" . Velro::Authz::id($_[0]) }

# SQL between two requests: the endpoint answers once it committed and
# waited for the NOTIFY to go out
sub sql { "POST /sql\n$_[0]" }

no_shuffle();
run_tests();

__DATA__

=== TEST 1: L3, then L1
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('editor')
--- request eval: ["GET " . main::gen('gen_team'), "GET " . main::gen('gen_team')]
--- response_headers eval: ["X-Authz: L3 editor allow", "X-Authz: L1 editor allow"]



=== TEST 2: with L1 off, L3 then L2 (the L3 answer was written back)
--- init: Velro::Authz::fresh()
--- http_config eval
Velro::Authz::http_config(extra => "    velro_cache_ttl auth l1=0;\n"
    . "    velro_cache_ttl ownership l1=0;\n"
    . "    velro_cache_ttl team_access l1=0;\n")
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
[main::sql("SELECT 1"), "GET " . main::gen('gen_team'),
 "GET " . main::gen('gen_team'), "PUT " . main::gen('gen_team')]
--- error_code eval: [200, 200, 200, 403]
--- response_headers eval
["", "X-Authz: L3 viewer allow", "X-Authz: L2 viewer allow",
 "X-Authz: L2 viewer deny"]



=== TEST 3: an L3 answer is written back to L2 (a fixed token: same hash)
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location()
--- more_headers eval
Velro::Authz::bearer('owner', iat => 1700000000, exp => 4102444800,
                     jti => 'same token in tests 3 and 4')
--- request eval
# the first request gives the new worker's Redis connection time to be ready
[main::sql("SELECT 1"), "GET " . main::gen('gen_noproject')]
--- response_headers eval: ["", "X-Authz: L3 owner allow"]
--- no_error_log
[error]



=== TEST 4: the L2 keys follow the contract (entity keys); a new worker reads them
--- init
my $u = Velro::Authz::id('owner');
my $g = Velro::Authz::id('gen_noproject');
my $v = Velro::Backends::redis_cli('GET', "velro:ownership:$g");
# each value stamped with when its lookup started (milliseconds)
die "no L2 entry for the generation: \"$v\"" unless $v =~ /^[1-9]\d{12} \{"id":"$g","user_id":"$u","project_id":null,"status":"completed",/;
$v = Velro::Backends::redis_cli('GET', "velro:auth:$u");
die "no L2 auth entry: \"$v\"" unless $v =~ /^[1-9]\d{12} \{"id":"$u","status":"active"/;
$v = Velro::Backends::redis_cli('GET', "velro:team_access:$u");
die "no L2 team_access entry: \"$v\"" unless $v =~ /^[1-9]\d{12} \{"user_id":"$u","teams":\{"[^"]+":"viewer"\}\}$/;
my $keys = Velro::Backends::redis_cli('KEYS', "velro:idx:*");
die "index sets: \"$keys\"" if $keys =~ /\S/;
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location()
--- more_headers eval
Velro::Authz::bearer('owner', iat => 1700000000, exp => 4102444800,
                     jti => 'same token in tests 3 and 4')
--- request eval
# the first request gives the new worker's Redis connection time to be ready
[main::sql("SELECT 1"), "DELETE " . main::gen('gen_noproject')]
--- response_headers eval: ["", "X-Authz: L2 owner allow"]



=== TEST 5: Redis absent: L3 answers every time, nothing fails
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config(redis => '127.0.0.1:1')
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('tadmin')
--- request eval: ["GET " . main::gen('gen_team'), "DELETE " . main::gen('gen_team')]
--- response_headers eval: ["X-Authz: L3 admin allow", "X-Authz: L1 admin allow"]



=== TEST 6: PostgreSQL absent and nothing cached: 503 with Retry-After
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config(pg => 'host=127.0.0.1 port=1 dbname=velro')
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('tadmin')
--- request eval: "GET " . main::gen('gen_team_open')
--- error_code: 503
--- response_headers
Retry-After: 5
X-Authz: -  error
--- response_body
{"error":"temporarily_unavailable","error_description":"no authorization decision possible"}
--- error_log
velro: no authorization decision



=== TEST 7: any location answering the L3 contract is a fallback (a proxy)
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval
Velro::Authz::location(fallback => '/_l3proxy') . <<'CONF'
    location = /_l3proxy {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/authz-service$is_args$args;
    }

    location = /authz-service {
        allow 127.0.0.1;
        deny all;
        velro_authz_pg;
    }
CONF
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval: ["GET " . main::gen('gen_team'), "PUT " . main::gen('gen_team')]
--- error_code eval: [200, 403]
--- response_headers eval: ["X-Authz: L3 viewer allow", "X-Authz: L1 viewer deny"]



=== TEST 8: a fallback answering garbage: no decision, 503
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval
Velro::Authz::location(fallback => '/_l3bad') . <<'CONF'
    location = /_l3bad {
        internal;
        default_type application/json;
        return 200 '{"user":{"id":"someone-else","status":"active"},"access":null}';
    }
CONF
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval: "GET " . main::gen('gen_public_pending')
--- error_code: 503
--- error_log
velro: L3 answer from "/_l3bad" rejected



=== TEST 9: concurrent misses for one key share one L3 lookup
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval
Velro::Authz::location() . <<'CONF'
    location = /page {
        velro_jwt off;
        ssi on;
        default_type text/html;
        return 200 '<!--# include virtual="/gen/$arg_g" --><!--# include virtual="/gen/$arg_g" --><!--# include virtual="/gen/$arg_g" -->';
    }
CONF
--- more_headers eval: Velro::Authz::bearer('editor')
--- request eval: "GET /page?g=" . Velro::Authz::id('gen_editor')
--- response_body
ok
ok
ok
--- log_level: debug
--- error_log
velro: waiting for the L3 lookup under way



=== TEST 10: a membership role change reaches L1 at once
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
my $t = Velro::Authz::id('team');
my $u = Velro::Authz::id('viewer');
["PUT " . main::gen('gen_team'),
 "PUT " . main::gen('gen_team'),
 main::sql("UPDATE team_members SET role = 'editor' WHERE team_id = '$t' AND user_id = '$u'"),
 "PUT " . main::gen('gen_team'),
 main::sql("UPDATE team_members SET role = 'viewer' WHERE team_id = '$t' AND user_id = '$u'"),
 "PUT " . main::gen('gen_team')]
--- error_code eval: [403, 403, 200, 200, 200, 403]
--- response_headers eval
["X-Authz: L3 viewer deny", "X-Authz: L1 viewer deny", "",
 "X-Authz: L3 editor allow", "", "X-Authz: L3 viewer deny"]



=== TEST 11: a membership removed and added back
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('tadmin')
--- request eval
my $t = Velro::Authz::id('team');
my $u = Velro::Authz::id('tadmin');
["GET " . main::gen('gen_private'),
 main::sql("DELETE FROM team_members WHERE team_id = '$t' AND user_id = '$u'"),
 "GET " . main::gen('gen_private'),
 main::sql("INSERT INTO team_members (team_id, user_id, role) VALUES ('$t', '$u', 'admin')"),
 "GET " . main::gen('gen_private')]
--- error_code eval: [200, 200, 403, 200, 200]
--- response_headers eval
["X-Authz: L3 admin allow", "", "X-Authz: L3  deny", "", "X-Authz: L3 admin allow"]



=== TEST 12: a project made public, then private again
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('outsider')
--- request eval
my $p = Velro::Authz::id('proj_private');
["GET " . main::gen('gen_private'),
 main::sql("UPDATE projects SET visibility = 'public' WHERE id = '$p'"),
 "GET " . main::gen('gen_private'),
 main::sql("UPDATE projects SET visibility = 'private' WHERE id = '$p'"),
 "GET " . main::gen('gen_private')]
--- error_code eval: [403, 200, 200, 200, 403]
--- response_headers eval
["X-Authz: L3  deny", "", "X-Authz: L3 viewer allow", "", "X-Authz: L3  deny"]



=== TEST 13: a project moved to another team
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('editor')
--- request eval
my $p = Velro::Authz::id('proj_private');
my $t = Velro::Authz::id('team');
my $o = Velro::Authz::id('team_other');
["GET " . main::gen('gen_private'),
 main::sql("UPDATE projects SET team_id = '$o' WHERE id = '$p'"),
 "GET " . main::gen('gen_private'),
 main::sql("UPDATE projects SET team_id = '$t' WHERE id = '$p'"),
 "GET " . main::gen('gen_private')]
--- error_code eval: [200, 200, 403, 200, 200]



=== TEST 14: a generation's status moved back from completed, and restored
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('editor')
--- request eval
my $g = Velro::Authz::id('gen_team');
["GET " . main::gen('gen_team'),
 main::sql("UPDATE generations SET status = 'processing' WHERE id = '$g'"),
 "GET " . main::gen('gen_team'),
 main::sql("UPDATE generations SET status = 'completed' WHERE id = '$g'"),
 "GET " . main::gen('gen_team')]
--- error_code eval: [200, 200, 403, 200, 200]



=== TEST 15: a generation created after it was looked up (negative entry)
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('owner')
--- request eval
my $g = '44444444-0000-4000-8000-0000000000aa';
my $u = Velro::Authz::id('owner');
my $p = Velro::Authz::id('proj_team');
["GET /gen/$g",
 "GET /gen/$g",
 main::sql("INSERT INTO generations (id, user_id, project_id, status) VALUES ('$g', '$u', '$p', 'completed')"),
 "GET /gen/$g",
 main::sql("DELETE FROM generations WHERE id = '$g'"),
 "GET /gen/$g"]
--- error_code eval: [403, 403, 200, 200, 200, 403]
--- response_headers eval
["X-Authz: L3  deny", "X-Authz: L1  deny", "", "X-Authz: L3 owner allow", "", "X-Authz: L3  deny"]



=== TEST 16: a user disabled, then enabled again
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('unrevoked')
--- request eval
my $u = Velro::Authz::id('unrevoked');
["GET " . main::gen('gen_team'),
 main::sql("UPDATE users SET status = 'disabled' WHERE id = '$u'"),
 "GET " . main::gen('gen_team'),
 main::sql("UPDATE users SET status = 'active' WHERE id = '$u'"),
 "GET " . main::gen('gen_team')]
--- error_code eval: [200, 200, 401, 200, 200]



=== TEST 17: "log out everywhere": tokens_valid_after moved past the token
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('unrevoked')
--- request eval
my $u = Velro::Authz::id('unrevoked');
["GET " . main::gen('gen_team'),
 main::sql("UPDATE users SET tokens_valid_after = now() + interval '1 hour' WHERE id = '$u'"),
 "GET " . main::gen('gen_team'),
 main::sql("UPDATE users SET tokens_valid_after = '2000-01-01' WHERE id = '$u'"),
 "GET " . main::gen('gen_team')]
--- error_code eval: [200, 200, 401, 200, 200]



=== TEST 18: invalidations reach L2 too (L1 off: the next answer is L3)
--- init: Velro::Authz::fresh()
--- http_config eval
Velro::Authz::http_config(extra => "    velro_cache_ttl auth l1=0;\n"
    . "    velro_cache_ttl ownership l1=0;\n"
    . "    velro_cache_ttl team_access l1=0;\n")
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
my $t = Velro::Authz::id('team');
my $u = Velro::Authz::id('viewer');
my $g = Velro::Authz::id('gen_team_open');
[main::sql("SELECT 1"),
 "GET " . main::gen('gen_team_open'),
 "GET " . main::gen('gen_team_open'),
 main::sql("UPDATE team_members SET role = 'admin' WHERE team_id = '$t' AND user_id = '$u'"),
 "DELETE " . main::gen('gen_team_open'),
 "DELETE " . main::gen('gen_team_open'),
 main::sql("UPDATE team_members SET role = 'viewer' WHERE team_id = '$t' AND user_id = '$u'"),
 "DELETE " . main::gen('gen_team_open')]
--- error_code eval: [200, 200, 200, 200, 200, 200, 200, 403]
--- response_headers eval
["", "X-Authz: L3 viewer allow", "X-Authz: L2 viewer allow", "",
 "X-Authz: L3 admin allow", "X-Authz: L2 admin allow", "",
 "X-Authz: L3 viewer deny"]



=== TEST 19: the subscriber's backend terminated, a change committed while
it is away: no flush (an unrelated decision still from L1), the change
applied from the log once it is back
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config(redis => '')
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('editor')
--- request eval
my $g = Velro::Authz::id('gen_team_open');
["GET " . main::gen('gen_team'),
 "GET " . main::gen('gen_team_open'),
 "GET " . main::gen('gen_team'),
 "POST /sql?wait=listen\nSELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query ~ 'velro_invalidations_after' AND pid <> pg_backend_pid();\nUPDATE generations SET status = 'pending' WHERE id = '$g'",
 "GET " . main::gen('gen_team_open'),
 "GET " . main::gen('gen_team'),
 main::sql("UPDATE generations SET status = 'completed' WHERE id = '$g'"),
 "GET " . main::gen('gen_team_open')]
--- error_code eval: [200, 200, 200, 200, 403, 200, 200, 200]
--- response_headers eval
["X-Authz: L3 editor allow", "X-Authz: L3 editor allow",
 "X-Authz: L1 editor allow", "", "X-Authz: L3  deny",
 "X-Authz: L1 editor allow", "", "X-Authz: L3 editor allow"]
--- response_body_like eval
[qr/^ok/, qr/^ok/, qr/^ok/, qr/^1\n/, qr/access_denied/, qr/^ok/, qr//,
 qr/^ok/]
--- no_error_log
L1 flushed



=== TEST 20: SSI includes of different generations: each its own decision
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval
Velro::Authz::location() . <<'CONF'
    location = /page {
        velro_jwt off;
        ssi on;
        default_type text/html;
        return 200 '<!--# include virtual="/gen/$arg_a" -->|<!--# include virtual="/gen/$arg_b" -->|<!--# include virtual="/gen/$arg_a" -->';
    }
CONF
--- more_headers eval: Velro::Authz::bearer('outsider')
--- request eval
"GET /page?a=" . Velro::Authz::id('gen_public') . "&b=" . Velro::Authz::id('gen_private')
--- response_body
ok
|{"error":"access_denied","error_description":"access to this resource is denied"}
|ok



=== TEST 21: the same with the resource from a regex capture
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config
    location ~ ^/cap/(?<cap>[^/]+)$ {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        velro_authz on;
        velro_authz_resource $cap;
        velro_authz_fallback /_l3;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }

    location = /_l3 {
        internal;
        velro_authz_pg;
    }

    location = /page {
        velro_jwt off;
        ssi on;
        default_type text/html;
        return 200 '<!--# include virtual="/cap/$arg_a" -->|<!--# include virtual="/cap/$arg_b" -->|<!--# include virtual="/cap/$arg_a" -->';
    }
--- more_headers eval: Velro::Authz::bearer('outsider')
--- request eval
"GET /page?a=" . Velro::Authz::id('gen_public') . "&b=" . Velro::Authz::id('gen_private')
--- response_body
ok
|{"error":"access_denied","error_description":"access to this resource is denied"}
|ok
