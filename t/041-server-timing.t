# velro_server_timing: a Server-Timing header with the stages of every
# request the module checked, its own 401/403/503 answers included.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Velro::Authz;
use Test::Nginx::Socket 'no_plan';

Velro::Authz::start(sql => 1);

sub gen { "/gen/" . Velro::Authz::id($_[0]) }
sub sql { "POST /sql\n$_[0]" }

our $VALID = "Authorization: Bearer " . Velro::Token::token();

# durations in milliseconds, microsecond precision
our $D = '\d+\.\d{3}';

no_shuffle();
run_tests();

__DATA__

=== TEST 1: JWT only: jwt and total, on 200 and on the module's 401
--- config
    velro_server_timing on;
    location = /t {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
--- request eval: ["GET /t", "GET /t"]
--- more_headers eval: [$main::VALID, ""]
--- error_code eval: [200, 401]
--- response_headers_like eval
["Server-Timing: jwt;dur=$main::D, total;dur=$main::D",
 "Server-Timing: jwt;dur=$main::D, total;dur=$main::D"]



=== TEST 2: off by default, and never where the module checked nothing
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
    location = /open {
        velro_server_timing on;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
--- request eval: ["GET /t", "GET /open"]
--- more_headers eval: [$main::VALID, $main::VALID]
--- error_code eval: [200, 200]
--- response_headers eval: ["!Server-Timing", "!Server-Timing"]



=== TEST 3: authorization: user and authz with the tier, on 200 and 403
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location(extra => "        velro_server_timing on;")
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
[main::sql("SELECT 1"), "GET " . main::gen('gen_team'),
 "GET " . main::gen('gen_team'), "PUT " . main::gen('gen_team')]
--- error_code eval: [200, 200, 200, 403]
--- response_headers_like eval
["",
 "Server-Timing: jwt;dur=$main::D, user;dur=$main::D, authz;dur=$main::D;desc=\"L3\", total;dur=$main::D",
 "Server-Timing: jwt;dur=$main::D, user;dur=$main::D, authz;dur=$main::D;desc=\"L1\", total;dur=$main::D",
 "Server-Timing: jwt;dur=$main::D, user;dur=$main::D, authz;dur=$main::D;desc=\"L1\", total;dur=$main::D"]



=== TEST 4: no decision possible: 503 with Server-Timing, no tier
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config(redis => '')
--- config eval
Velro::Authz::location(fallback => '/nowhere',
                       extra => "        velro_server_timing on;")
. "    location = /nowhere { internal; return 502; }\n"
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval: "GET " . main::gen('gen_team')
--- error_code: 503
--- response_headers_like eval
"Server-Timing: jwt;dur=$main::D, authz;dur=$main::D, total;dur=$main::D"
