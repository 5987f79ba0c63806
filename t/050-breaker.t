# Circuit breakers (velro_breaker): Redis, the database (L3) and JWKS
# fetches.  Faults happen between requests through Velro::Control (a
# SIGSTOPped Redis or PostgreSQL, a failing JWKS origin); waits are waits,
# never assertions: the checks are statuses, tiers ($velro_authz_cache)
# and the breakers' log lines, counted at the end of each block (a block's
# error_log section is checked after each of its requests).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Velro::Authz;
use Velro::Control;
use Test::Nginx::Socket 'no_plan';

Velro::Authz::start();
Velro::Control::start();

sub gen { "/gen/" . Velro::Authz::id($_[0]) }
sub ctl { "GET /ctl/$_[0]" }
sub loc { Velro::Authz::location(@_) . Velro::Control::location() }

# the log lines a block must have (1) or must not have (0), as requests
# and the bodies their answers must match
sub logged { [ map { Velro::Control::logged($_->[0], $_->[2]) } @_ ] }
sub counts { [ map { $_->[1] ? qr/^[1-9]/ : qr/^0$/ } @_ ] }

our @T1 = (["command timed out after 100ms", 1],
           ["velro: breaker redis open after 2 consecutive failures", 1],
           ['velro: redis \S+ connected', 0, "breaker redis open after"],
           ["breaker redis closed", 0]);
our @T2 = (["velro: breaker redis open after 1 consecutive failures", 1],
           ["velro: breaker redis half-open: one trial request", 1],
           ["velro: breaker redis closed", 1]);
our @T3 = (["velro: L3 lookup failed: PostgreSQL query timed out", 1],
           ["velro: breaker database open after 2 consecutive failures", 1],
           ["velro: breaker database open, no L3 lookup", 1]);
our @T4 = (["velro: breaker database open after 1 consecutive failures", 1],
           ["velro: breaker database open, no L3 lookup", 1],
           ["velro: breaker database half-open: one trial request", 1],
           ["velro: breaker database closed", 1]);
our @T5 = (["velro: breaker database half-open: one trial request", 1],
           ["velro: breaker database closed", 1]);
our @T6 = (["keeping the previous keys", 1],
           ["velro: breaker jwks open after 1 consecutive failures", 1],
           ['velro: breaker jwks open, no JWKS fetch from "/jwks"', 1]);
our @T10 = (['velro: redis \S+ connection lost', 1],
            ['velro: redis \S+ connected', 1, "connection lost"],
            ["velro: breaker redis open", 0],
            ["L3 lookup failed", 0]);
our @T7 = (["velro: breaker jwks open after 1 consecutive failures", 1],
           ['velro: breaker jwks open, no JWKS fetch from "/jwks"', 1]);

no_shuffle();
run_tests();

__DATA__

=== TEST 1: Redis stopped: L3 decides after the Redis timeout; the breaker opens and no connect is tried while it is open
--- init: Velro::Authz::fresh()
--- http_config eval
Velro::Authz::http_config(redis => '127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=100ms connect_timeout=300ms',
    extra => "    velro_breaker redis failures=2 recovery=60s;\n")
--- config eval: main::loc()
--- more_headers eval: Velro::Authz::bearer('editor')
--- request eval
[main::ctl("wait?ms=300"),
 "GET " . main::gen('gen_team'),
 main::ctl("redis/STOP"),
 "GET " . main::gen('gen_public'),
 main::ctl("wait?ms=1500"),
 main::ctl("redis/CONT"),
 main::ctl("wait?ms=1000"),
 "GET " . main::gen('gen_team_open'),
 "PUT " . main::gen('gen_team_open'),
 @{ main::logged(@main::T1) }]
--- error_code eval: [(200) x 13]
--- response_headers eval
["", "X-Authz: L3 editor allow", "", "X-Authz: L3 editor allow", "", "",
 "", "X-Authz: L3 editor allow", "X-Authz: L1 editor allow", ("") x 4]
--- response_body_like eval
[("") x 9, @{ main::counts(@main::T1) }]
--- timeout: 10
--- no_error_log
[alert]
[crit]



=== TEST 2: Redis back: after recovery one trial connects, the breaker closes, L2 answers again
--- init: Velro::Authz::fresh()
--- http_config eval
Velro::Authz::http_config(redis => '127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=100ms connect_timeout=300ms',
    extra => "    velro_breaker redis failures=1 recovery=1s;\n"
           . "    velro_cache_ttl ownership l1=0;\n"
           . "    velro_cache_ttl team_access l1=0;\n")
--- config eval: main::loc()
--- more_headers eval: Velro::Authz::bearer('editor')
--- request eval
[main::ctl("wait?ms=300"),
 main::ctl("redis/STOP"),
 "GET " . main::gen('gen_team'),
 main::ctl("redis/CONT"),
 main::ctl("wait?ms=2500"),
 "GET " . main::gen('gen_public'),
 main::ctl("wait?ms=500"),
 "GET " . main::gen('gen_public'),
 @{ main::logged(@main::T2) }]
--- error_code eval: [(200) x 11]
--- response_headers eval
["", "", "X-Authz: L3 editor allow", "", "", "X-Authz: L3 editor allow", "",
 "X-Authz: L2 editor allow", ("") x 3]
--- response_body_like eval
[("") x 8, @{ main::counts(@main::T2) }]
--- timeout: 10
--- no_error_log
[alert]
[crit]



=== TEST 3: PostgreSQL stopped: lookups time out (503), the breaker opens, then no L3 lookup is made: 503 with Retry-After at once
--- init: Velro::Authz::fresh()
--- http_config eval
Velro::Authz::http_config(pg_opts => 'timeout=500ms connect_timeout=1s',
    redis => '', extra => "    velro_breaker database failures=2 recovery=60s;\n")
--- config eval: main::loc()
--- more_headers eval: Velro::Authz::bearer('editor')
--- request eval
[main::ctl("wait?ms=500"),
 "GET " . main::gen('gen_team'),
 main::ctl("pg/STOP"),
 "GET " . main::gen('gen_public'),
 "GET " . main::gen('gen_team_open'),
 "GET " . main::gen('gen_private'),
 main::ctl("pg/CONT"),
 "GET " . main::gen('gen_team'),
 @{ main::logged(@main::T3) }]
--- error_code eval: [200, 200, 200, 503, 503, 503, 200, 200, 200, 200, 200]
--- response_headers_like eval
["", "X-Authz: L3 editor allow", "", "Retry-After: 5", "Retry-After: \\d+",
 "Retry-After: [1-6]\\d", "", "X-Authz: L1 editor allow", "", "", ""]
--- response_body_like eval
[("") x 8, @{ main::counts(@main::T3) }]
--- timeout: 10
--- no_error_log
[alert]
[crit]



=== TEST 4: PostgreSQL back: after recovery the trial lookup closes the breaker
--- init: Velro::Authz::fresh()
--- http_config eval
Velro::Authz::http_config(pg_opts => 'timeout=500ms connect_timeout=1s',
    redis => '', extra => "    velro_breaker database failures=1 recovery=1s;\n")
--- config eval: main::loc()
--- more_headers eval: Velro::Authz::bearer('editor')
--- request eval
[main::ctl("wait?ms=500"),
 main::ctl("pg/STOP"),
 "GET " . main::gen('gen_team'),
 "GET " . main::gen('gen_team'),
 main::ctl("pg/CONT"),
 main::ctl("wait?ms=2500"),
 "GET " . main::gen('gen_public'),
 "GET " . main::gen('gen_team'),
 @{ main::logged(@main::T4) }]
--- error_code eval: [200, 200, 503, 503, 200, 200, 200, 200, (200) x 4]
--- response_headers eval
["", "", "", "", "", "", "X-Authz: L3 editor allow", "X-Authz: L3 editor allow", ("") x 4]
--- response_body_like eval
[("") x 8, @{ main::counts(@main::T4) }]
--- timeout: 10
--- no_error_log
[alert]
[crit]



=== TEST 5: half-open lets exactly one trial through: of three concurrent lookups two get 503
--- init: Velro::Authz::fresh()
--- http_config eval
Velro::Authz::http_config(pg_opts => 'timeout=500ms connect_timeout=1s',
    redis => '', extra => "    velro_breaker database failures=1 recovery=1s;\n")
--- config eval
main::loc() . <<'CONF'
    location = /page {
        velro_jwt off;
        ssi on;
        default_type text/html;
        return 200 '<!--# include virtual="/gen/$arg_a" -->|<!--# include virtual="/gen/$arg_b" -->|<!--# include virtual="/gen/$arg_c" -->';
    }
CONF
--- more_headers eval: Velro::Authz::bearer('editor')
--- request eval
[main::ctl("wait?ms=500"),
 main::ctl("pg/STOP"),
 "GET " . main::gen('gen_team'),
 main::ctl("pg/CONT"),
 main::ctl("wait?ms=2500"),
 "GET /page?a=" . Velro::Authz::id('gen_public') . "&b="
     . Velro::Authz::id('gen_team_open') . "&c=" . Velro::Authz::id('gen_private'),
 @{ main::logged(@main::T5) }]
--- error_code eval: [200, 200, 503, 200, 200, 200, 200, 200]
--- response_body_like eval
["", "", "", "", "",
 qr/^ok\n\|\{"error":"temporarily_unavailable"[^|]*\|\{"error":"temporarily_unavailable"[^|]*$/,
 @{ main::counts(@main::T5) }]
--- timeout: 10



=== TEST 6: JWKS origin failing: the last good keys stay, the breaker opens, an unknown kid is refused without a fetch
--- config eval
Velro::Control::location() . <<'CONF'
    location = /t {
        velro_jwt on;
        velro_jwt_key_request /jwks;
        velro_jwt_key_cache 200ms;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_set_header Authorization "";
        proxy_pass http://127.0.0.1:$TEST_NGINX_CTL_PORT/ctl/jwks;
    }
CONF
--- http_config
    velro_breaker jwks failures=1 recovery=60s;
--- request eval
["GET /t", main::ctl("jwks/bad"), main::ctl("wait?ms=300"), "GET /t",
 main::ctl("wait?ms=300"), "GET /t", "GET /t", main::ctl("jwks/good"),
 @{ main::logged(@main::T6) }]
--- more_headers eval
["Authorization: Bearer " . Velro::Token::token(), "", "",
 "Authorization: Bearer " . Velro::Token::token(kid => 'unknown-1'),
 "",
 "Authorization: Bearer " . Velro::Token::token(kid => 'unknown-2'),
 "Authorization: Bearer " . Velro::Token::token(), "", "", "", ""]
--- error_code eval: [200, 200, 200, 401, 200, 401, 200, 200, 200, 200, 200]
--- response_body_like eval
[("") x 8, @{ main::counts(@main::T6) }]



=== TEST 7: no JWKS yet and the breaker open: 503 with Retry-After, no fetch
--- config eval
Velro::Control::location() . <<'CONF'
    location = /t {
        velro_jwt on;
        velro_jwt_key_request /jwks;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
    location = /jwks {
        internal;
        return 500;
    }
CONF
--- http_config
    velro_breaker jwks failures=1 recovery=60s;
--- request eval
["GET /t", main::ctl("wait?ms=5100"), "GET /t",
 @{ main::logged(@main::T7) }]
--- more_headers eval
["Authorization: Bearer " . Velro::Token::token(), "",
 "Authorization: Bearer " . Velro::Token::token(), "", ""]
--- error_code eval: [503, 200, 503, 200, 200]
--- response_headers_like eval
["Retry-After: 5", "", "Retry-After: [1-6]\\d", "", ""]
--- response_body_like eval
[("") x 3, @{ main::counts(@main::T7) }]
--- timeout: 10



=== TEST 8: a client gone while its L3 lookup waits on a stopped PostgreSQL: the only pool connection comes back
--- init: Velro::Authz::fresh()
--- http_config eval
Velro::Authz::http_config(redis => '', pool => 1, pg_opts => 'timeout=2s')
--- config eval: main::loc()
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
my $g = main::gen('gen_team');
[main::ctl("wait?ms=500"),
 main::ctl("pg/STOP"),
 main::ctl("abort?uri=$g&who=viewer"),
 main::ctl("abort?uri=" . main::gen('gen_private') . "&who=viewer"),
 main::ctl("pg/CONT"),
 main::ctl("wait?ms=300"),
 "GET " . main::gen('gen_public'),
 "GET " . main::gen('gen_team_open'),
 "GET " . main::gen('gen_public')]
--- error_code eval: [(200) x 9]
--- response_headers eval
[("") x 6, "X-Authz: L3 viewer allow", "X-Authz: L3 viewer allow",
 "X-Authz: L1 viewer allow"]
--- timeout: 10
--- no_error_log
[alert]
[crit]
timed out waiting for a PostgreSQL connection



=== TEST 9: the directive's checks
--- http_config
    velro_breaker cache failures=1;
--- config
--- must_die
--- error_log
unknown breaker "cache"



=== TEST 10: Redis drops its clients while PostgreSQL is stopped: the connection is made again at once (once a second at most) and L2 still answers: no window in which L2 is skipped, no 503
--- init: Velro::Authz::fresh()
--- http_config eval
Velro::Authz::http_config(redis => '127.0.0.1:$TEST_NGINX_REDIS_PORT',
    pg_opts => 'timeout=1s',
    extra => join '', map { "    velro_cache_ttl $_ l1=0;\n" }
                          qw(auth ownership team_access project_vis))
--- config eval: main::loc()
--- more_headers eval: Velro::Authz::bearer('editor')
--- request eval
my $g = "GET " . main::gen('gen_team');
[$g, $g,
 main::ctl("pg/STOP"),
 main::ctl("redis/cli?args=CLIENT+KILL+TYPE+normal"),
 $g, $g,
 main::ctl("wait?ms=1100"),
 main::ctl("redis/cli?args=CLIENT+KILL+TYPE+normal"),
 $g,
 main::ctl("pg/CONT"),
 @{ main::logged(@main::T10) }]
--- error_code eval: [(200) x 14]
--- response_headers eval
["X-Authz: L3 editor allow", "X-Authz: L2 editor allow", "", "",
 "X-Authz: L2 editor allow", "X-Authz: L2 editor allow", "", "",
 "X-Authz: L2 editor allow", ("") x 5]
--- response_body_like eval
[("") x 10, @{ main::counts(@main::T10) }]
--- timeout: 10
--- no_error_log
[alert]
[crit]
