# Keys: PEM files, several files, JWKS fetched through a subrequest.

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

=== TEST 1: one PEM public key, token without kid
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/rsa.pub;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(kid => undef)
--- response_body
ok



=== TEST 2: several key files; each key serves its own algorithm
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/rsa.pub;
        velro_jwt_key_file $TEST_NGINX_KEYS/ec256.pub;
        velro_jwt_key_file $TEST_NGINX_KEYS/ed25519.pub;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t"]
--- more_headers eval
[map { "Authorization: Bearer " . Velro::Token::token(alg => $_, kid => undef) } qw(RS256 ES256 EdDSA ES384)]
--- error_code eval
[200, 200, 200, 401]



=== TEST 3: a key of another key file does not verify
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/rsa2.pub;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(kid => undef)
--- error_code: 401
--- error_log
velro: invalid token: invalid signature



=== TEST 4: JWKS through a subrequest, fetched once, then from memory
--- http_config
    log_format fetch "fetch";
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_key_request /jwks;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_set_header Authorization "";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/jwks-origin;
    }
    location = /jwks-origin {
        access_log logs/fetch.log fetch;
        alias $TEST_NGINX_KEYS/jwks.json;
    }
    location = /fetches {
        alias logs/fetch.log;
    }
--- request eval
["GET /t", "GET /t", "GET /fetches"]
--- more_headers eval
["Authorization: Bearer " . Velro::Token::token(alg => 'ES256'),
 "Authorization: Bearer " . Velro::Token::token(alg => 'EdDSA'), ""]
--- response_body eval
["ok\n", "ok\n", "fetch\n"]



=== TEST 5: unknown kids refetch at most once per cache period
--- http_config
    log_format fetch "fetch";
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_key_request /jwks;
        velro_jwt_key_cache 300s;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/jwks-origin;
    }
    location = /jwks-origin {
        access_log logs/fetch.log fetch;
        alias $TEST_NGINX_KEYS/jwks.json;
    }
    location = /fetches {
        alias logs/fetch.log;
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t", "GET /fetches"]
--- more_headers eval
["Authorization: Bearer " . Velro::Token::token(),
 "Authorization: Bearer " . Velro::Token::token(kid => 'unknown-1'),
 "Authorization: Bearer " . Velro::Token::token(kid => 'unknown-2'),
 "Authorization: Bearer " . Velro::Token::token(kid => 'unknown-3'), ""]
--- error_code eval
[200, 401, 401, 401, 200]
--- response_body eval
["ok\n", qr/no key for this token/, qr/no key for this token/, qr/no key for this token/, "fetch\n"]



=== TEST 6: once the period is over, an unknown kid refetches
--- http_config
    log_format fetch "fetch";
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_key_request /jwks;
        velro_jwt_key_cache 1ms;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/jwks-origin;
    }
    location = /jwks-origin {
        access_log logs/fetch.log fetch;
        alias $TEST_NGINX_KEYS/jwks.json;
    }
    location = /fetches {
        alias logs/fetch.log;
    }
--- request eval
["GET /t", "GET /t", "GET /fetches"]
--- more_headers eval
["Authorization: Bearer " . Velro::Token::token(),
 "Authorization: Bearer " . Velro::Token::token(kid => 'unknown-1'), ""]
--- error_code eval
[200, 401, 200]
--- response_body eval
["ok\n", qr/no key for this token/, "fetch\nfetch\n"]



=== TEST 7: the fetch is logged
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_key_request /jwks;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
    location = /jwks {
        internal;
        alias $TEST_NGINX_KEYS/jwks.json;
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(alg => 'EdDSA')
--- response_body
ok
--- error_log
velro: fetching JWKS from "/jwks"
velro: JWKS from "/jwks": 5 keys



=== TEST 8: JWKS endpoint failing and no keys yet: 503 with Retry-After
--- http_config
    log_format fetch "fetch";
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_key_request /jwks;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
    location = /jwks {
        internal;
        return 500;
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token()
--- error_code: 503
--- response_headers
Retry-After: 5
--- response_body
{"error":"temporarily_unavailable","error_description":"signing keys unavailable"}
--- error_log
velro: JWKS request "/jwks" failed with status 500



=== TEST 9: a JWKS that is not JSON is rejected
--- http_config
    log_format fetch "fetch";
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_key_request /jwks;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
    location = /jwks {
        internal;
        alias $TEST_NGINX_KEYS/rsa.pub;
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token()
--- error_code: 503
--- error_log
velro: JWKS from "/jwks" rejected



=== TEST 10: the JWKS location itself needs no token (our own subrequest)
--- config
    velro_jwt on;
    velro_jwt_key_request /jwks;
    location = /t {
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
    location = /jwks {
        internal;
        alias $TEST_NGINX_KEYS/jwks.json;
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(alg => 'ES256')
--- response_body
ok



=== TEST 11: a malformed token triggers no key fetch
--- http_config
    log_format fetch "fetch";
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_key_request /jwks;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
    location = /jwks {
        internal;
        alias $TEST_NGINX_KEYS/jwks.json;
    }
--- request
GET /t
--- more_headers
Authorization: Bearer aaaa.bbbb
--- error_code: 401
--- no_error_log
velro: fetching JWKS



=== TEST 12: concurrent requests on a cold start share one fetch
--- http_config
    log_format fetch "fetch";
--- config
    location = /page.html {
        ssi on;
    }
    location /secret/ {
        velro_jwt on;
        velro_jwt_key_request /jwks;
        alias $TEST_NGINX_KEYS/../lib/Velro/;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/jwks-origin;
    }
    location = /jwks-origin {
        access_log logs/fetch.log fetch;
        alias $TEST_NGINX_KEYS/jwks.json;
    }
    location = /fetches {
        alias logs/fetch.log;
    }
--- user_files
>>> page.html
[<!--# include virtual="/secret/ok.txt" -->][<!--# include virtual="/secret/secret.txt" -->]
--- request
GET /page.html
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token()
--- response_body
[ok
][secret
]
--- grep_error_log eval
qr/velro: fetching JWKS from "\/jwks"|velro: waiting for the JWKS fetch under way|velro: JWKS from "\/jwks": \d+ keys/
--- grep_error_log_out
velro: fetching JWKS from "/jwks"
velro: waiting for the JWKS fetch under way
velro: JWKS from "/jwks": 5 keys
