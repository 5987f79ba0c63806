# Valid tokens for every algorithm, the token sources, and the variables.

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

=== TEST 1: no token: 401 with the realm and a JSON body
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
--- request
GET /t
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="velro"
Content-Type: application/json
Cache-Control: no-store
--- response_body
{"error":"missing_token","error_description":"a bearer token is required"}
--- error_log
velro: no bearer token



=== TEST 2: RS256 passes, the content handler answers
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(alg => 'RS256')
--- response_body
ok



=== TEST 3: every algorithm, each with its own key
--- config
    velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
    velro_jwt_algorithms HS256 HS384 HS512 RS256 RS384 RS512
                         PS256 PS384 PS512 ES256 ES384 EdDSA;
    location /t {
        velro_jwt on;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
--- request eval
[map { "GET /t?$_" } qw(HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 EdDSA)]
--- more_headers eval
[map { "Authorization: Bearer " . Velro::Token::token(alg => $_) } qw(HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 EdDSA)]
--- response_body eval
[("ok\n") x 12]
--- error_code eval
[(200) x 12]



=== TEST 4: the default allow-list is RS256 ES256 EdDSA: HS256 is refused
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(alg => 'HS256')
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="velro", error="invalid_token", error_description="algorithm not accepted"
--- response_body
{"error":"invalid_token","error_description":"algorithm not accepted"}
--- error_log
velro: invalid token: algorithm not accepted (algorithm not on the allow-list)



=== TEST 5: a realm of one's own
--- config
    location = /t {
        velro_jwt api;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
--- request
GET /t
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="api"



=== TEST 6: the scheme is case-insensitive
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["Authorization: bearer " . Velro::Token::token(), "Authorization: BEARER " . Velro::Token::token()]
--- response_body eval
["ok\n", "ok\n"]



=== TEST 7: token from a cookie with velro_jwt_token
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_token $cookie_at;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
--- request
GET /t
--- more_headers eval
"Cookie: x=1; at=" . Velro::Token::token()
--- response_body
ok



=== TEST 8: another scheme carries no bearer token: 401 without error
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
--- request
GET /t
--- more_headers
Authorization: Basic dXNlcjpwYXNz
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="velro"



=== TEST 9: $velro_user_id, claim and header variables in headers and logs
--- http_config
    log_format velro '$velro_user_id|$velro_jwt_claim_role|$velro_jwt_header_kid';
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        access_log logs/velro.log velro;
        add_header X-User $velro_user_id;
        add_header X-Role $velro_jwt_claim_role;
        add_header X-Kid $velro_jwt_header_kid;
        add_header X-Alg $velro_jwt_header_alg;
        add_header X-Exp-Type "$velro_jwt_claim_admin/$velro_jwt_claim_n/$velro_jwt_claim_groups/$velro_jwt_claim_obj";
        add_header X-Missing "[$velro_jwt_claim_nothere]";
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(claims => { sub => 'u-42', role => 'editor', admin => \1, n => 7, groups => ['a', 'b'], obj => { k => 'v' } })
--- response_headers
X-User: u-42
X-Role: editor
X-Kid: rsa1
X-Alg: RS256
X-Exp-Type: true/7/["a","b"]/{"k":"v"}
X-Missing: []
--- response_body
ok



=== TEST 10: variables on a failed token are empty
--- config
    location = /t {
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        add_header X-User "[$velro_user_id]";
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(claims => { exp => time - 100 })
--- response_headers
X-User: []
--- response_body
ok



=== TEST 11: variables in "if" and "map", before the access phase
--- http_config
    map $velro_jwt_claim_role $velro_is_admin {
        admin   yes;
        default no;
    }
--- config
    location = /t {
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        if ($velro_user_id = "boss") {
            return 418;
        }
        add_header X-Admin $velro_is_admin;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["Authorization: Bearer " . Velro::Token::token(claims => { sub => 'boss' }),
 "Authorization: Bearer " . Velro::Token::token(claims => { role => 'admin' })]
--- error_code eval
[418, 200]
--- response_headers eval
["", "X-Admin: yes"]



=== TEST 12: velro_jwt_claim_set reaches nested claims (Keycloak roles)
--- http_config
    velro_jwt_claim_set $velro_roles realm_access roles;
    velro_jwt_claim_set $velro_first_role realm_access roles 0;
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        add_header X-Roles $velro_roles;
        add_header X-First $velro_first_role;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(claims => { realm_access => { roles => ['reader', 'writer'] } })
--- response_headers
X-Roles: ["reader","writer"]
X-First: reader



=== TEST 13: velro_jwt off in a nested location
--- config
    velro_jwt on;
    velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
    location /open {
        velro_jwt off;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
--- request
GET /open
--- response_body
ok



=== TEST 14: a claim string with a control character has no value
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        add_header X-Name "[$velro_jwt_claim_name]";
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(claims => { name => "a\r\nX-Injected: 1" })
--- response_headers
X-Name: []
!X-Injected
