# Redis over a unix socket with AUTH, SELECT and a key prefix; a wrong
# password; an ACL user (AUTH user password); and the configuration errors
# of the authorization directives.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Velro::Authz;
use Velro::Backends;
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_KEYS} = Velro::Token::keys_dir();
Velro::Backends::start_pg(fixture => 1);
Velro::Backends::start_redis(password => 'se cret', unix => 1);
# an ACL user (Redis 6) of its own password, with the keys under acl: and
# the commands the README names only
Velro::Backends::redis_cli(qw(ACL SETUSER gw reset on), '>gw pass', '~acl:*',
                           qw(+get +mget +set +del +ping));
# ... and one that may not write
Velro::Backends::redis_cli(qw(ACL SETUSER ro reset on), '>ro pass', '~acl:*',
                           qw(+get +mget +ping));
Velro::Backends::start_sql_endpoint();

sub gen { "/gen/" . Velro::Authz::id($_[0]) }

our $NoL1 = "    velro_cache_ttl auth l1=0;\n"
          . "    velro_cache_ttl ownership l1=0;\n"
          . "    velro_cache_ttl team_access l1=0;\n";

no_shuffle();
run_tests();

__DATA__

=== TEST 1: unix socket, password, db and prefix: L3, then L2
--- init: Velro::Authz::fresh()
--- http_config eval
Velro::Authz::http_config(
    redis => 'unix:$TEST_NGINX_REDIS_SOCKET "password=se cret" db=2 prefix=gw1:',
    extra => $::NoL1)
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
["POST /sql\nSELECT 1", "GET " . main::gen('gen_team'),
 "GET " . main::gen('gen_team')]
--- response_headers eval: ["", "X-Authz: L3 viewer allow", "X-Authz: L2 viewer allow"]



=== TEST 2: the entries went to db 2 under the prefix
--- init
my $u = Velro::Authz::id('viewer');
my $g = Velro::Authz::id('gen_team');
my $v = Velro::Backends::redis_cli('-n', 2, 'GET', "gw1:team_access:$u");
die "no entry in db 2: \"$v\"" unless $v =~ /^\d+ \{"user_id":"$u","teams":\{"[^"]+":"viewer"\}\}$/;
$v = Velro::Backends::redis_cli('-n', 2, 'GET', "gw1:ownership:$g");
die "no generation in db 2: \"$v\"" unless $v =~ /^\d+ \{"id":"$g",/;
my $d0 = Velro::Backends::redis_cli('-n', 0, 'DBSIZE');
die "db 0 is not empty: $d0" unless $d0 eq '0';
--- config
    location = /t {
        return 200 "checked\n";
    }
--- request
GET /t
--- response_body
checked



=== TEST 3: a wrong password: logged, and L3 answers
--- http_config eval
Velro::Authz::http_config(
    redis => '127.0.0.1:$TEST_NGINX_REDIS_PORT password=wrong', extra => $::NoL1)
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval: "GET " . main::gen('gen_team')
--- response_headers
X-Authz: L3 viewer allow
--- error_log
AUTH failed



=== TEST 3b: an ACL user (user=, its own password, only the keys of its
prefix): L3, then L2
--- init: Velro::Authz::fresh()
--- http_config eval
Velro::Authz::http_config(
    redis => '127.0.0.1:$TEST_NGINX_REDIS_PORT user=gw "password=gw pass" prefix=acl:',
    extra => $::NoL1)
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
["POST /sql\nSELECT 1", "GET " . main::gen('gen_team'),
 "GET " . main::gen('gen_team')]
--- response_headers eval: ["", "X-Authz: L3 viewer allow", "X-Authz: L2 viewer allow"]
--- no_error_log
[error]



=== TEST 3c: the same user with keys outside its own (prefix velro:): the
read is refused (NOPERM), logged, L3 answers; so AUTH named the user
--- init: Velro::Authz::fresh()
--- http_config eval
Velro::Authz::http_config(
    redis => '127.0.0.1:$TEST_NGINX_REDIS_PORT user=gw "password=gw pass"',
    extra => $::NoL1)
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval: ["GET " . main::gen('gen_team'), "GET " . main::gen('gen_team')]
--- response_headers eval: ["X-Authz: L3 viewer allow", "X-Authz: L3 viewer allow"]
--- error_log eval
qr/velro: L2 read refused by Redis: NOPERM/



=== TEST 3d: the ACL user with a wrong password: logged, and L3 answers
--- http_config eval
Velro::Authz::http_config(
    redis => '127.0.0.1:$TEST_NGINX_REDIS_PORT user=gw password=wrong prefix=acl:',
    extra => $::NoL1)
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval: "GET " . main::gen('gen_team')
--- response_headers
X-Authz: L3 viewer allow
--- error_log eval
qr/AUTH failed: WRONGPASS/



=== TEST 3d2: an ACL user that may not write: L3 answers, and the refused
writes are logged (once a period; nothing waits for a write's reply, so
the line is looked for until it comes, bounded)
--- init
Velro::Authz::fresh();
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                              PeerPort => $ENV{TEST_NGINX_SERVER_PORT},
                              Proto => 'tcp', Timeout => 10) or die "connect: $!";
print $s "GET " . main::gen('gen_team') . " HTTP/1.0\r\nHost: localhost\r\n"
         . Velro::Authz::bearer('viewer') . "\r\n\r\n";
my $r = do { local $/; <$s> } // '';
Test::More::like($r, qr/^X-Authz: L3 viewer allow\r$/m, 'L3 answers');
my ($seen, $until) = (0, time + 10);
while (!$seen && time < $until) {
    open my $fh, '<', "$ENV{TEST_NGINX_SERVER_ROOT}/logs/error.log" or die $!;
    $seen = grep { /velro: redis refused a write: NOPERM/ } <$fh>;
    select undef, undef, undef, 0.02 unless $seen;
}
Test::More::is($seen, 1, 'the refused writes logged once');
--- http_config eval
Velro::Authz::http_config(
    redis => '127.0.0.1:$TEST_NGINX_REDIS_PORT user=ro "password=ro pass" prefix=acl:',
    extra => $::NoL1)
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval: "GET " . main::gen('gen_team')
--- response_headers
X-Authz: L3 viewer allow



=== TEST 3e: configuration error: user= without password=
--- http_config
    velro_redis 127.0.0.1:6379 user=gw;
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- suppress_stderr
--- error_log
"user=" needs "password="



=== TEST 4: velro_authz needs velro_jwt
--- http_config eval: Velro::Authz::http_config()
--- config
    location /gen/ {
        velro_authz on;
        velro_authz_resource $gen;
    }
--- request
GET /gen/x
--- must_die
--- suppress_stderr
--- error_log
"velro_authz" needs "velro_jwt"



=== TEST 5: velro_pg_listen without velro_pg
--- http_config
    velro_pg_listen velro_invalidate;
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- suppress_stderr
--- error_log
"velro_pg_listen" needs "velro_pg"



=== TEST 6: velro_authz_deny_status takes 403 or 404 only
--- config
    location = /t {
        velro_authz_deny_status 200;
    }
--- request
GET /t
--- must_die
--- suppress_stderr
--- error_log
invalid status "200": 403 or 404



=== TEST 7: velro_authz_action: read, write, delete, or a variable
--- config
    location = /t {
        velro_authz_action fly;
    }
--- request
GET /t
--- must_die
--- suppress_stderr
--- error_log
invalid action "fly"



=== TEST 8: velro_authz takes off, on or monitor
--- config
    location = /t {
        velro_authz maybe;
    }
--- request
GET /t
--- must_die
--- suppress_stderr
--- error_log
invalid value "maybe"



=== TEST 9: velro_redis with a bad db
--- http_config
    velro_redis 127.0.0.1:6379 db=x;
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- suppress_stderr
--- error_log
invalid value "db=x"



=== TEST 10: velro_authz off on a location under one that has it on
--- http_config eval: Velro::Authz::http_config()
--- config
    velro_jwt on;
    velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
    velro_authz on;
    velro_authz_fallback /_l3;

    location = /open {
        velro_authz off;
        add_header X-Authz "$velro_authz_cache,$velro_authz_decision" always;
        return 200 "open\n";
    }

    location = /user-only {
        add_header X-Authz "$velro_authz_cache,$velro_authz_decision" always;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }

    location = /_l3 {
        internal;
        velro_jwt off;
        velro_authz off;
        velro_authz_pg;
    }
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval: ["GET /open", "GET /user-only"]
--- response_headers eval: ["X-Authz: -,", "X-Authz: L3,allow"]
--- response_body eval: ["open\n", "ok\n"]



=== TEST 11: velro_authz_pg without velro_pg
--- config
    location = /_l3 {
        velro_authz_pg;
    }
--- request
GET /_l3
--- must_die
--- suppress_stderr
--- error_log
"velro_authz_pg" needs "velro_pg"



=== TEST 12: velro_authz needs a fallback to fill its caches
--- http_config eval: Velro::Authz::http_config()
--- config
    location /gen/ {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        velro_authz on;
        velro_authz_resource $gen;
    }
--- request
GET /gen/x
--- must_die
--- suppress_stderr
--- error_log
"velro_authz" needs "velro_authz_fallback"



=== TEST 13: velro_redis scripts= takes on or off
--- http_config
    velro_redis 127.0.0.1:6379 scripts=maybe;
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- suppress_stderr
--- error_log
invalid value "scripts=maybe"
