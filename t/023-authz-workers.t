# Two workers, L1 only (no Redis): a change reaches the L1 of every worker.
# Each request comes on a new connection, so the requests of a block spread
# over both workers; every answer after a change must follow it.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Velro::Authz;
use Test::Nginx::Socket 'no_plan';

Velro::Authz::start(redis => 0, sql => 1);

master_on();
workers(2);

sub gen { "/gen/" . Velro::Authz::id($_[0]) }
sub sql { "POST /sql\n$_[0]" }
sub times { my ($n, $x) = @_; map { $x } 1 .. $n }

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a role change, and back, seen by both workers
--- http_config eval: Velro::Authz::http_config(redis => '')
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
my $t = Velro::Authz::id('team');
my $u = Velro::Authz::id('viewer');
[main::times(8, "PUT " . main::gen('gen_team')),
 main::sql("UPDATE team_members SET role = 'editor' WHERE team_id = '$t' AND user_id = '$u'"),
 main::times(8, "PUT " . main::gen('gen_team')),
 main::sql("UPDATE team_members SET role = 'viewer' WHERE team_id = '$t' AND user_id = '$u'"),
 main::times(8, "PUT " . main::gen('gen_team'))]
--- error_code eval
[main::times(8, 403), 200, main::times(8, 200), 200, main::times(8, 403)]



=== TEST 2: tokens revoked, and allowed again, in both workers
--- http_config eval: Velro::Authz::http_config(redis => '')
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('unrevoked')
--- request eval
my $u = Velro::Authz::id('unrevoked');
[main::times(8, "GET " . main::gen('gen_team')),
 main::sql("UPDATE users SET tokens_valid_after = now() + interval '1 hour' WHERE id = '$u'"),
 main::times(8, "GET " . main::gen('gen_team')),
 main::sql("UPDATE users SET tokens_valid_after = '2000-01-01' WHERE id = '$u'"),
 main::times(8, "GET " . main::gen('gen_team'))]
--- error_code eval
[main::times(8, 200), 200, main::times(8, 401), 200, main::times(8, 200)]
