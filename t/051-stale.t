# velro_authz_stale: when L3 fails (a SIGSTOPped PostgreSQL, lookups timing
# out) or the database breaker is open, L1 entries expired no longer than
# the stale window answer ($velro_authz_cache "stale"), exactly as cached:
# a denial stays one, a refused user stays refused, an entry an
# invalidation overtook is not used, no entry means 503.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Velro::Authz;
use Velro::Control;
use Test::Nginx::Socket 'no_plan';

Velro::Authz::start(redis => 0, sql => 1);
Velro::Control::start();

sub gen { "/gen/" . Velro::Authz::id($_[0]) }
sub ctl { "GET /ctl/$_[0]" }
sub sql { "POST /sql\n$_[0]" }
sub loc { Velro::Authz::location(@_) . Velro::Control::location() }
sub logged { [ map { Velro::Control::logged($_->[0]) } @_ ] }
sub counts { [ map { $_->[1] ? qr/^[1-9]/ : qr/^0$/ } @_ ] }

# L1 entries live 1 s; PostgreSQL lookups time out after 500 ms
sub conf {
    my (%opt) = @_;
    return Velro::Authz::http_config(redis => '',
        pg_opts => 'timeout=500ms connect_timeout=1s',
        extra => "    velro_cache_ttl auth l1=1s;\n"
               . "    velro_cache_ttl ownership l1=1s;\n"
               . "    velro_cache_ttl team_access l1=1s;\n"
               . ($opt{extra} // ''));
}

our @T1 = (["velro: stale answer for user", 1]);
our @T4 = (["velro: breaker database open, no L3 lookup", 1],
           ["velro: stale answer for user", 1]);

no_shuffle();
run_tests();

__DATA__

=== TEST 1: PostgreSQL stopped, entries expired: stale answers, a cached denial stays one, nothing cached is 503
--- http_config eval: main::conf(extra => "    velro_authz_stale 60s;\n")
--- config eval: main::loc()
--- more_headers eval
my $v = Velro::Authz::bearer('viewer');
["", $v, $v, "", "", $v, $v, $v, Velro::Authz::bearer('editor'), "", ""]
--- request eval
[main::ctl("wait?ms=500"),
 "GET " . main::gen('gen_team'),
 "PUT " . main::gen('gen_team'),
 main::ctl("wait?ms=1200"),
 main::ctl("pg/STOP"),
 "GET " . main::gen('gen_team'),
 "PUT " . main::gen('gen_team'),
 "GET " . main::gen('gen_public'),
 "GET " . main::gen('gen_team'),
 main::ctl("pg/CONT"),
 @{ main::logged(@main::T1) }]
--- error_code eval: [200, 200, 403, 200, 200, 200, 403, 503, 503, 200, 200]
--- response_headers eval
["", "X-Authz: L3 viewer allow", "X-Authz: L1 viewer deny", "", "",
 "X-Authz: stale viewer allow", "X-Authz: stale viewer deny",
 "X-Authz: -  error", "X-Authz: -  error", "", ""]
--- response_body_like eval
[("") x 10, @{ main::counts(@main::T1) }]
--- timeout: 10
--- no_error_log
[alert]
[crit]



=== TEST 2: velro_authz_stale off (the default): the same is 503
--- http_config eval: main::conf()
--- config eval: main::loc()
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
[main::ctl("wait?ms=500"),
 "GET " . main::gen('gen_team'),
 main::ctl("wait?ms=1200"),
 main::ctl("pg/STOP"),
 "GET " . main::gen('gen_team'),
 main::ctl("pg/CONT")]
--- error_code eval: [200, 200, 200, 200, 503, 200]
--- response_headers eval
["", "X-Authz: L3 viewer allow", "", "", "X-Authz: -  error", ""]
--- timeout: 10



=== TEST 3: entries expired longer ago than the window: 503
--- http_config eval: main::conf(extra => "    velro_authz_stale 300ms;\n")
--- config eval: main::loc()
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
[main::ctl("wait?ms=500"),
 "GET " . main::gen('gen_team'),
 main::ctl("wait?ms=1800"),
 main::ctl("pg/STOP"),
 "GET " . main::gen('gen_team'),
 main::ctl("pg/CONT")]
--- error_code eval: [200, 200, 200, 200, 503, 200]
--- response_headers eval
["", "X-Authz: L3 viewer allow", "", "", "X-Authz: -  error", ""]
--- timeout: 10



=== TEST 4: the database breaker open: stale answers without an L3 lookup
--- http_config eval
main::conf(extra => "    velro_authz_stale 60s;\n"
                  . "    velro_breaker database failures=1 recovery=60s;\n")
--- config eval: main::loc()
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
[main::ctl("wait?ms=500"),
 "GET " . main::gen('gen_team'),
 main::ctl("wait?ms=1200"),
 main::ctl("pg/STOP"),
 "GET " . main::gen('gen_team'),
 main::ctl("pg/CONT"),
 "GET " . main::gen('gen_team'),
 "PUT " . main::gen('gen_team'),
 @{ main::logged(@main::T4) }]
--- error_code eval: [200, 200, 200, 200, 200, 200, 200, 403, 200, 200]
--- response_headers eval
["", "X-Authz: L3 viewer allow", "", "", "X-Authz: stale viewer allow", "",
 "X-Authz: stale viewer allow", "X-Authz: stale viewer deny", "", ""]
--- response_body_like eval
[("") x 8, @{ main::counts(@main::T4) }]
--- timeout: 10



=== TEST 5: a refused user stays refused: a stale disabled user is 401
--- http_config eval: main::conf(extra => "    velro_authz_stale 60s;\n")
--- config eval: main::loc()
--- more_headers eval: Velro::Authz::bearer('disabled')
--- request eval
[main::ctl("wait?ms=500"),
 "GET " . main::gen('gen_team'),
 main::ctl("wait?ms=1200"),
 main::ctl("pg/STOP"),
 "GET " . main::gen('gen_team'),
 main::ctl("pg/CONT")]
--- error_code eval: [200, 401, 200, 200, 401, 200]
--- response_headers eval
["", "X-Authz: L3  deny", "", "", "X-Authz: stale  deny", ""]
--- timeout: 10



=== TEST 6: an entry an invalidation overtook is not served stale
--- http_config eval: main::conf(extra => "    velro_authz_stale 60s;\n")
--- config eval: main::loc()
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
my $t = Velro::Authz::id('team');
my $u = Velro::Authz::id('viewer');
[main::ctl("wait?ms=500"),
 "GET " . main::gen('gen_team'),
 main::sql("UPDATE team_members SET role = 'editor' WHERE team_id = '$t' AND user_id = '$u'"),
 main::ctl("wait?ms=1200"),
 main::ctl("pg/STOP"),
 "GET " . main::gen('gen_team'),
 main::ctl("pg/CONT"),
 main::sql("UPDATE team_members SET role = 'viewer' WHERE team_id = '$t' AND user_id = '$u'")]
--- error_code eval: [200, 200, 200, 200, 200, 503, 200, 200]
--- response_headers eval
["", "X-Authz: L3 viewer allow", "", "", "", "X-Authz: -  error", "", ""]
--- timeout: 10



=== TEST 7: the directive takes a time
--- http_config eval: main::conf(extra => "    velro_authz_stale soon;\n")
--- config eval: main::loc()
--- must_die
--- error_log
"velro_authz_stale" directive invalid value
