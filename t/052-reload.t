# nginx -s reload under load: no request lost, old workers close their
# Redis, PostgreSQL and LISTEN connections cleanly (no alert, no crash),
# and the breakers keep their states across the reload (the velro_breakers
# zone is reused).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Velro::Authz;
use Velro::Control;
use Test::Nginx::Socket 'no_plan';

Velro::Authz::start();
Velro::Control::start();

master_on();
workers(2);

sub gen { "/gen/" . Velro::Authz::id($_[0]) }
sub ctl { "GET /ctl/$_[0]" }
sub loc { Velro::Authz::location(@_) . Velro::Control::location() }
sub logged { [ map { Velro::Control::logged($_->[0]) } @_ ] }
sub counts { [ map { $_->[1] ? qr/^[1-9]/ : qr/^0$/ } @_ ] }

our @T2 = (["velro: breaker database open after 1 consecutive failures", 1],
           ["velro: breaker database open, no L3 lookup", 1]);

no_shuffle();
run_tests();

__DATA__

=== TEST 1: two reloads under load: every answer is 200, old workers exit cleanly
--- http_config eval
Velro::Authz::http_config(extra => "    velro_pg_listen velro_invalidate;\n")
--- config eval: main::loc()
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
my $g = main::gen('gen_team');
[main::ctl("wait?ms=1000"),
 "GET $g",
 main::ctl("load/start?uri=$g&who=viewer"),
 main::ctl("wait?ms=500"),
 main::ctl("reload"),
 main::ctl("wait?ms=1000"),
 main::ctl("reload"),
 main::ctl("wait?ms=1000"),
 main::ctl("load/stop"),
 "GET $g"]
--- error_code eval: [(200) x 10]
--- response_body_like eval
[("") x 8, qr/^200=some other=0\n/, ""]
--- timeout: 15
--- log_level: notice
--- no_error_log
[alert]
[crit]
[emerg]
exited on signal
open socket



=== TEST 2: an open breaker stays open across a reload
--- http_config eval
Velro::Authz::http_config(redis => '', pg_opts => 'timeout=500ms connect_timeout=1s',
    extra => "    velro_breaker database failures=1 recovery=60s;\n")
--- config eval: main::loc()
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
[main::ctl("wait?ms=300"),
 main::ctl("pg/STOP"),
 "GET " . main::gen('gen_team'),
 main::ctl("pg/CONT"),
 main::ctl("reload"),
 main::ctl("wait?ms=1000"),
 "GET " . main::gen('gen_public'),
 "GET " . main::gen('gen_team_open'),
 @{ main::logged(@main::T2) }]
--- error_code eval: [200, 200, 503, 200, 200, 200, 503, 503, 200, 200]
--- response_body_like eval
[("") x 8, @{ main::counts(@main::T2) }]
--- timeout: 10
--- no_error_log
[alert]
[crit]
