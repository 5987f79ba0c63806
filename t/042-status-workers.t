# velro_status with two workers: the counters of both, summed.  Each
# request comes on a new connection, so they spread over the workers.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Velro::Authz;
use Test::Nginx::Socket 'no_plan';
use Velro::Metrics;

Velro::Authz::start(redis => 0, sql => 1);

master_on();
workers(2);

sub gen { "/gen/" . Velro::Authz::id($_[0]) }
sub sql { "POST /sql\n$_[0]" }
sub times { my ($n, $x) = @_; map { $x } 1 .. $n }

our $STATUS = <<'CONF';
    location = /status {
        velro_status;
    }
CONF

no_shuffle();
run_tests();

__DATA__

=== TEST 1: 12 allowed, 4 missing tokens, 1 invalidation, over 2 workers
--- http_config eval: Velro::Authz::http_config(redis => '')
--- config eval: Velro::Authz::location() . $main::STATUS
--- more_headers eval
my $b = Velro::Authz::bearer('viewer');
[(map { $b } 1 .. 6), "", "", "", "", "", (map { $b } 1 .. 6), ""]
--- request eval
my $u = Velro::Authz::id('viewer');
[main::times(6, "GET " . main::gen('gen_team')),
 main::times(4, "GET " . main::gen('gen_team')),
 main::sql("UPDATE users SET tokens_valid_after = '2000-01-01'::timestamptz + random() * interval '1 day' WHERE id = '$u'"),
 main::times(6, "GET " . main::gen('gen_team')),
 "GET /status"]
--- error_code eval
[main::times(6, 200), main::times(4, 401), 200, main::times(6, 200), 200]
--- status_json
velro_requests_total.decision.allow 12
velro_requests_total.decision.deny 4
velro_requests_total.decision.error 0
velro_jwt_total.result.valid.reason.valid 12
velro_jwt_total.result.invalid.reason.missing 4
velro_stage_duration_seconds.stage.total.count 16
velro_stage_duration_seconds.stage.jwt.count 16
velro_stage_duration_seconds.stage.authz.count 12
velro_authz_duration_seconds.tier.l3.count /^[1-9]$/
velro_invalidations_total 1
velro_cache_entries /^[1-9]\d*$/
