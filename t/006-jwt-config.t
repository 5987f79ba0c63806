# Configuration mistakes stop nginx at start with a clear message.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Velro::Token;
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_KEYS} = Velro::Token::keys_dir();

no_shuffle();
run_tests();

__DATA__

=== TEST 1: velro_jwt on without any key
--- config
    location = /t {
        velro_jwt on;
    }
--- request
GET /t
--- must_die
--- suppress_stderr
--- error_log
"velro_jwt" needs "velro_jwt_key_file" or "velro_jwt_key_request"



=== TEST 2: a key file that does not exist
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/nothere.json;
    }
--- request
GET /t
--- must_die
--- suppress_stderr
--- error_log
nothere.json" failed



=== TEST 3: an RSA key under 2048 bits
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/rsa1024.pub;
    }
--- request
GET /t
--- must_die
--- suppress_stderr
--- error_log
RSA key shorter than 2048 bits



=== TEST 4: "none" on the allow-list
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_algorithms RS256 none;
        velro_jwt_key_file $TEST_NGINX_KEYS/rsa.pub;
    }
--- request
GET /t
--- must_die
--- suppress_stderr
--- error_log
algorithm "none" is never accepted



=== TEST 5: a private key is not a verification key
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/rsa.key;
    }
--- request
GET /t
--- must_die
--- suppress_stderr
--- error_log
a private key is not accepted



=== TEST 6: a realm that would break the challenge header
--- config
    location = /t {
        velro_jwt 'a"b';
        velro_jwt_key_file $TEST_NGINX_KEYS/rsa.pub;
    }
--- request
GET /t
--- must_die
--- suppress_stderr
--- error_log
invalid realm



=== TEST 7: velro_cache_ttl with an unknown type
--- http_config
    velro_cache_ttl sessions l1=10s;
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- suppress_stderr
--- error_log
unknown cache type "sessions"



=== TEST 8: velro_cache_l1 and velro_cache_ttl accepted
--- http_config
    velro_cache_l1 size=1m;
    velro_cache_ttl auth l1=0;
    velro_cache_ttl ownership l1=60s l2=5m;
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
my $t = Velro::Token::token();
[("Authorization: Bearer $t") x 2]
--- response_body eval
["ok\n", "ok\n"]
--- no_error_log
velro: token from L1
