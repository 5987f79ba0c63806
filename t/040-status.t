# velro_status: exact counts after known requests, in JSON and in the
# Prometheus text exposition format.  One worker; every block starts a new
# nginx, so the counters start at zero.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Velro::Authz;
use Test::Nginx::Socket 'no_plan';
use Velro::Metrics;

Velro::Authz::start(sql => 1);

sub gen { "/gen/" . Velro::Authz::id($_[0]) }
sub sql { "POST /sql\n$_[0]" }
sub times { my ($n, $x) = @_; map { $x } 1 .. $n }

# one valid token for all, two expired ones, none, a malformed header
our $VALID = "Authorization: Bearer " . Velro::Token::token();
our $EXPIRED = "Authorization: Bearer "
               . Velro::Token::token(claims => { exp => time - 100,
                                                  iat => time - 700 });
our @JWT_HEADERS = ($VALID, $VALID, $VALID, $EXPIRED, $EXPIRED, "",
                    "Authorization: Bearer a b", "");

our $STATUS = <<'CONF';
    location = /status {
        velro_status;
    }
CONF

no_shuffle();
run_tests();

__DATA__

=== TEST 1: JWT only: 3 valid, 2 expired, 1 missing, 1 bad request
--- config eval
<<'CONF' . $main::STATUS
    location = /t {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
CONF
--- request eval: [main::times(7, "GET /t"), "GET /status"]
--- more_headers eval: [@main::JWT_HEADERS]
--- error_code eval: [200, 200, 200, 401, 401, 401, 400, 200]
--- status_json
velro_requests_total.decision.allow 3
velro_requests_total.decision.deny 4
velro_requests_total.decision.error 0
velro_jwt_total.result.valid.reason.valid 3
velro_jwt_total.result.invalid.reason.expired 2
velro_jwt_total.result.invalid.reason.missing 1
velro_jwt_total.result.invalid.reason.bad_request 1
velro_jwt_total.result.invalid.reason.signature 0
velro_jwt_cache_hits_total 2
velro_cache_hits_total.tier.l1 0
velro_cache_misses_total.tier.l1 0
velro_cache_entries 1
velro_cache_bytes /^[1-9]\d*$/
velro_stage_duration_seconds.stage.total.count 7
velro_stage_duration_seconds.stage.total.le.+Inf 7
velro_stage_duration_seconds.stage.jwt.count 7
velro_stage_duration_seconds.stage.user.count 0
velro_stage_duration_seconds.stage.authz.count 0
velro_breaker_state.backend.redis 0
velro_breaker_trips_total.backend.database 0
velro_stale_total 0
velro_invalidations_total 0



=== TEST 2: the same in Prometheus text, valid exposition format
--- config eval
<<'CONF' . $main::STATUS
    location = /t {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
CONF
--- request eval: [main::times(7, "GET /t"), "GET /status?format=prometheus"]
--- more_headers eval: [@main::JWT_HEADERS]
--- error_code eval: [200, 200, 200, 401, 401, 401, 400, 200]
--- response_headers eval
[("") x 7, "Content-Type: text/plain; version=0.0.4; charset=utf-8"]
--- prometheus_valid
--- prometheus_values
velro_requests_total{decision="allow"} 3
velro_requests_total{decision="deny"} 4
velro_requests_total{decision="error"} 0
velro_jwt_total{result="valid",reason="valid"} 3
velro_jwt_total{result="invalid",reason="expired"} 2
velro_jwt_total{result="invalid",reason="missing"} 1
velro_jwt_total{result="invalid",reason="bad_request"} 1
velro_cache_entries 1
velro_stage_duration_seconds_count{stage="total"} 7
velro_stage_duration_seconds_bucket{stage="total",le="+Inf"} 7
velro_stage_duration_seconds_count{stage="jwt"} 7
velro_stage_duration_seconds_count{stage="authz"} 0
velro_stage_duration_seconds_sum{stage="user"} 0.000000
velro_breaker_state{backend="jwks"} 0



=== TEST 3: authorization with L1 and L2: L3, then L1 hits
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location() . $main::STATUS
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
[main::sql("SELECT 1"), "GET " . main::gen('gen_team'),
 "GET " . main::gen('gen_team'), "PUT " . main::gen('gen_team'),
 "GET /status"]
--- error_code eval: [200, 200, 200, 403, 200]
--- response_headers eval
["", "X-Authz: L3 viewer allow", "X-Authz: L1 viewer allow",
 "X-Authz: L1 viewer deny", ""]
--- status_json
velro_requests_total.decision.allow 2
velro_requests_total.decision.deny 1
velro_requests_total.decision.error 0
velro_jwt_total.result.valid.reason.valid 3
velro_jwt_cache_hits_total 2
velro_cache_hits_total.tier.l1 2
velro_cache_hits_total.tier.l2 0
velro_cache_hits_total.tier.l3 1
velro_cache_misses_total.tier.l1 1
velro_cache_misses_total.tier.l2 1
velro_stage_duration_seconds.stage.total.count 3
velro_stage_duration_seconds.stage.user.count 3
velro_stage_duration_seconds.stage.authz.count 3
velro_authz_duration_seconds.tier.l1.count 2
velro_authz_duration_seconds.tier.l3.count 1
velro_authz_duration_seconds.tier.l2.count 0



=== TEST 4: L1 off: L3, then L2 hits
--- init: Velro::Authz::fresh()
--- http_config eval
Velro::Authz::http_config(extra => "    velro_cache_ttl auth l1=0;\n"
    . "    velro_cache_ttl ownership l1=0;\n"
    . "    velro_cache_ttl team_access l1=0;\n")
--- config eval: Velro::Authz::location() . $main::STATUS
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
[main::sql("SELECT 1"), "GET " . main::gen('gen_team'),
 "GET " . main::gen('gen_team'), "PUT " . main::gen('gen_team'),
 "GET /status?format=prometheus"]
--- error_code eval: [200, 200, 200, 403, 200]
--- response_headers eval
["", "X-Authz: L3 viewer allow", "X-Authz: L2 viewer allow",
 "X-Authz: L2 viewer deny", ""]
--- prometheus_valid
--- prometheus_values
velro_requests_total{decision="allow"} 2
velro_requests_total{decision="deny"} 1
velro_cache_hits_total{tier="l1"} 0
velro_cache_hits_total{tier="l2"} 2
velro_cache_hits_total{tier="l3"} 1
velro_cache_misses_total{tier="l1"} 3
velro_cache_misses_total{tier="l2"} 1
velro_authz_duration_seconds_count{tier="l2"} 2
velro_authz_duration_seconds_count{tier="l3"} 1



=== TEST 5: a refused user (401 from authorization), a bad resource id,
no L3: errors
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config(redis => '')
--- config eval
Velro::Authz::location(fallback => '/nowhere') . $main::STATUS
. "    location = /nowhere { internal; return 502; }\n"
--- more_headers eval
[Velro::Authz::bearer('viewer'), Velro::Authz::bearer('viewer'), ""]
--- request eval
["GET " . main::gen('gen_team'), "GET /gen/not-a-uuid", "GET /status"]
--- error_code eval: [503, 403, 200]
--- status_json
velro_requests_total.decision.allow 0
velro_requests_total.decision.deny 1
velro_requests_total.decision.error 1
velro_cache_misses_total.tier.l1 1
velro_cache_misses_total.tier.l2 0
velro_cache_hits_total.tier.l3 0
velro_authz_duration_seconds.tier.none.count 2
velro_stage_duration_seconds.stage.authz.count 2



=== TEST 6: velro_status answers GET and HEAD only
--- config eval: $main::STATUS
--- request eval: ["POST /status\nx", "HEAD /status"]
--- error_code eval: [405, 200]
--- response_headers eval: ["", "Content-Type: application/json"]
