# Claims: exp, nbf, iat with leeway; iss; aud; required claims; crit.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Velro::Token;
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_KEYS} = Velro::Token::keys_dir();

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_');
    location = /t {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
    location = /leeway {
        velro_jwt on;
        velro_jwt_leeway 60s;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
    location = /iss {
        velro_jwt on;
        velro_jwt_issuer https://id.example.com/;
        velro_jwt_audience api.example.com admin.example.com;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
    location = /require {
        velro_jwt on;
        velro_jwt_require email tenant;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
_EOC_
    }
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: expired
--- request
GET /t
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(claims => { exp => time - 5 })
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="velro", error="invalid_token", error_description="token expired"
--- response_body
{"error":"invalid_token","error_description":"token expired"}
--- error_log
velro: invalid token: token expired



=== TEST 2: missing exp
--- request
GET /t
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(claims => { exp => undef })
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="velro", error="invalid_token", error_description="required claim missing or invalid"
--- error_log
velro: invalid token: required claim missing or invalid ("exp" missing or not a number)



=== TEST 3: exp as a string
--- request
GET /t
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(claims => { exp => "" . (time + 600) . "x" })
--- error_code: 401
--- error_log
"exp" missing or not a number



=== TEST 4: nbf in the future
--- request
GET /t
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(claims => { nbf => time + 30 })
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="velro", error="invalid_token", error_description="token not yet valid"
--- error_log
velro: invalid token: token not yet valid



=== TEST 5: iat in the future
--- request
GET /t
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(claims => { iat => time + 30 })
--- error_code: 401
--- error_log
velro: invalid token: token issued in the future



=== TEST 6: leeway: expired 30 s ago passes within 60 s, 90 s ago does not
--- request eval
["GET /leeway", "GET /leeway"]
--- more_headers eval
["Authorization: Bearer " . Velro::Token::token(claims => { exp => time - 30 }),
 "Authorization: Bearer " . Velro::Token::token(claims => { exp => time - 90 })]
--- error_code eval
[200, 401]



=== TEST 7: leeway: nbf 30 s ahead passes within 60 s, 90 s ahead does not
--- request eval
["GET /leeway", "GET /leeway"]
--- more_headers eval
["Authorization: Bearer " . Velro::Token::token(claims => { nbf => time + 30, iat => time + 30 }),
 "Authorization: Bearer " . Velro::Token::token(claims => { nbf => time + 90 })]
--- error_code eval
[200, 401]



=== TEST 8: leeway: the same token fails where no leeway is configured
--- request eval
["GET /leeway", "GET /t"]
--- more_headers eval
my $t = Velro::Token::token(claims => { exp => time - 30 });
["Authorization: Bearer $t", "Authorization: Bearer $t"]
--- error_code eval
[200, 401]



=== TEST 9: fractional exp is accepted
--- request
GET /t
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(claims => { exp => time + 600.5 })
--- error_code: 200



=== TEST 10: issuer and audience string
--- request
GET /iss
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(claims => { iss => 'https://id.example.com/', aud => 'admin.example.com' })
--- response_body
ok



=== TEST 11: audience array with one accepted member
--- request
GET /iss
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(claims => { iss => 'https://id.example.com/', aud => ['other', 'api.example.com'] })
--- response_body
ok



=== TEST 12: wrong issuer
--- request
GET /iss
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(claims => { iss => 'https://evil.example.com/', aud => 'api.example.com' })
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="velro", error="invalid_token", error_description="wrong issuer"
--- error_log
velro: invalid token: wrong issuer



=== TEST 13: missing issuer
--- request
GET /iss
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(claims => { aud => 'api.example.com' })
--- error_code: 401
--- error_log
velro: invalid token: wrong issuer



=== TEST 14: wrong audience, as a string and as an array
--- request eval
["GET /iss", "GET /iss", "GET /iss"]
--- more_headers eval
["Authorization: Bearer " . Velro::Token::token(claims => { iss => 'https://id.example.com/', aud => 'web.example.com' }),
 "Authorization: Bearer " . Velro::Token::token(claims => { iss => 'https://id.example.com/', aud => ['a', 'b'] }),
 "Authorization: Bearer " . Velro::Token::token(claims => { iss => 'https://id.example.com/' })]
--- error_code eval
[401, 401, 401]
--- error_log
velro: invalid token: wrong audience



=== TEST 15: audience arrays holding non-strings do not match
--- request
GET /iss
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(claims => { iss => 'https://id.example.com/', aud => [1, {}, ['api.example.com']] })
--- error_code: 401
--- error_log
velro: invalid token: wrong audience



=== TEST 16: required claims present
--- request
GET /require
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(claims => { email => 'a@example.com', tenant => 't1' })
--- response_body
ok



=== TEST 17: a required claim missing
--- request
GET /require
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(claims => { email => 'a@example.com' })
--- error_code: 401
--- error_log
velro: invalid token: required claim missing or invalid (a required claim is missing)



=== TEST 18: unknown crit header
--- request
GET /t
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(header => { crit => ['exp-ext'], 'exp-ext' => 1 })
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="velro", error="invalid_token", error_description="unsupported critical header"
--- error_log
velro: invalid token: unsupported critical header



=== TEST 19: sub that is not a string
--- request
GET /t
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(claims => { sub => 42 })
--- error_code: 401
--- error_log
"sub" is not a non-empty string
