# What a subrequest reaches is protected too; variables before access;
# the L1 token cache never crosses policies.

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

=== TEST 1: an SSI include of a protected location without a token
--- config
    location = /page.html {
        ssi on;
    }
    location = /secret {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        alias $TEST_NGINX_KEYS/../lib/Velro/secret.txt;
    }
--- user_files
>>> page.html
[<!--# include virtual="/secret" -->]
--- request
GET /page.html
--- response_body
[{"error":"missing_token","error_description":"a bearer token is required"}
]
--- error_log
velro: no bearer token



=== TEST 2: the same include with the request's valid token
--- config
    location = /page.html {
        ssi on;
    }
    location = /secret {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        alias $TEST_NGINX_KEYS/../lib/Velro/secret.txt;
    }
--- user_files
>>> page.html
[<!--# include virtual="/secret" -->]
--- request
GET /page.html
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token()
--- response_body
[secret
]



=== TEST 3: an include with a bad token
--- config
    location = /page.html {
        ssi on;
    }
    location = /secret {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        alias $TEST_NGINX_KEYS/../lib/Velro/secret.txt;
    }
--- user_files
>>> page.html
[<!--# include virtual="/secret" -->]
--- request
GET /page.html
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(claims => { exp => time - 10 })
--- response_body
[{"error":"invalid_token","error_description":"token expired"}
]



=== TEST 4: per-user rate limiting with limit_req_zone $velro_user_id
--- http_config
    limit_req_zone $velro_user_id zone=per_user:1m rate=1r/m;
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        limit_req zone=per_user;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
["Authorization: Bearer " . Velro::Token::token(claims => { sub => 'alice' }),
 "Authorization: Bearer " . Velro::Token::token(claims => { sub => 'alice' }),
 "Authorization: Bearer " . Velro::Token::token(claims => { sub => 'bob' })]
--- error_code eval
[200, 503, 200]



=== TEST 5: a token cached as valid at one location is checked again at another
--- config
    velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
    location = /a {
        velro_jwt on;
        velro_jwt_issuer issuer-a;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
    location = /b {
        velro_jwt on;
        velro_jwt_issuer issuer-b;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
    location = /aud {
        velro_jwt on;
        velro_jwt_issuer issuer-a;
        velro_jwt_audience other;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
    location = /algs {
        velro_jwt on;
        velro_jwt_issuer issuer-a;
        velro_jwt_algorithms ES256;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
    location = /keys {
        velro_jwt on;
        velro_jwt_issuer issuer-a;
        velro_jwt_key_file $TEST_NGINX_KEYS/rsa2.pub;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
--- request eval
["GET /a", "GET /a", "GET /b", "GET /aud", "GET /algs", "GET /keys"]
--- more_headers eval
my $t = Velro::Token::token(claims => { iss => 'issuer-a' });
[("Authorization: Bearer $t") x 6]
--- error_code eval
[200, 200, 401, 401, 401, 401]
--- response_body eval
["ok\n", "ok\n",
 qr/wrong issuer/, qr/wrong audience/, qr/algorithm not accepted/,
 qr/no key for this token/]



=== TEST 6: the second use of a token is served from the L1 cache
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        add_header X-Jwt-Cache $velro_jwt_cache;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
my $t = Velro::Token::token();
["Authorization: Bearer $t", "Authorization: Bearer $t",
 "Authorization: Bearer " . Velro::Token::token(claims => { sub => 'other' })]
--- response_headers eval
["X-Jwt-Cache: miss", "X-Jwt-Cache: L1", "X-Jwt-Cache: miss"]
--- response_body eval
["ok\n", "ok\n", "ok\n"]



=== TEST 7: satisfy any lets allow rules admit a request without a token
--- config
    location = /t {
        satisfy any;
        allow 127.0.0.1;
        deny all;
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
--- request
GET /t
--- response_body
ok



=== TEST 8: an error_page for 401 is honoured, with the challenge header
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        error_page 401 /login.txt;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
    location = /login.txt {
        alias $TEST_NGINX_KEYS/../lib/Velro/login.txt;
    }
--- request
GET /t
--- error_code: 401
--- response_body
please log in
