# Bad input: each gets the contract's status, an info log line, no crash.

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
        velro_jwt_algorithms RS256 ES256 EdDSA HS256;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
_EOC_
    }

    if (!defined $block->request) {
        $block->set_value("request", "GET /t");
    }
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: empty Authorization header: 400 invalid_request
--- more_headers
Authorization:
--- error_code: 400
--- response_headers
WWW-Authenticate: Bearer realm="velro", error="invalid_request", error_description="empty Authorization header"
--- response_body
{"error":"invalid_request","error_description":"empty Authorization header"}
--- error_log
velro: invalid request: empty Authorization header



=== TEST 2: "Bearer" and no token
--- more_headers
Authorization: Bearer
--- error_code: 400
--- error_log
velro: invalid request: Bearer without a token



=== TEST 3: credentials with a space in them
--- more_headers
Authorization: Bearer abc def
--- error_code: 400
--- error_log
velro: invalid request: malformed Bearer credentials



=== TEST 4: a token without a scheme
--- more_headers eval
"Authorization: " . Velro::Token::token()
--- error_code: 400
--- error_log
velro: invalid request: Authorization without a scheme



=== TEST 5: two Authorization headers: nginx refuses the request
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token() . "\r\nAuthorization: Bearer " . Velro::Token::token(claims => { sub => 'other' })
--- error_code: 400
--- error_log
client sent duplicate header line



=== TEST 6: one segment
--- more_headers
Authorization: Bearer eyJhbGciOiJSUzI1NiJ9
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="velro", error="invalid_token", error_description="malformed token"
--- response_body
{"error":"invalid_token","error_description":"malformed token"}
--- error_log
velro: invalid token: malformed token (not three segments)



=== TEST 7: three segments of garbage
--- more_headers
Authorization: Bearer aaaa.bbbb.cccc
--- error_code: 401
--- error_log
velro: invalid token: malformed token (header is not base64url JSON object)



=== TEST 8: four segments
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token() . ".abcd"
--- error_code: 401
--- error_log
velro: invalid token: malformed token (not three segments)



=== TEST 9: five segments (JWE) are not accepted
--- more_headers
Authorization: Bearer aaaa.bbbb.cccc.dddd.eeee
--- error_code: 401
--- error_log
encrypted tokens (JWE) are not accepted



=== TEST 10: characters outside base64url
--- more_headers eval
my $t = Velro::Token::token(); $t =~ s/^(.{5})./$1+/; "Authorization: Bearer $t"
--- error_code: 401
--- error_log
velro: invalid token: malformed token (character outside base64url)



=== TEST 11: base64 padding
--- more_headers eval
"Authorization: Bearer " . Velro::Token::b64url('{"alg":"RS256"}') . "==." . Velro::Token::b64url(Velro::Token::payload_json()) . ".c2ln"
--- error_code: 401
--- error_log
velro: invalid token: malformed token (character outside base64url)



=== TEST 12: header is not JSON
--- more_headers eval
"Authorization: Bearer " . Velro::Token::raw('{alg:RS256}', Velro::Token::payload_json(), 'sig')
--- error_code: 401
--- error_log
velro: invalid token: malformed token (header is not base64url JSON object)



=== TEST 13: header is JSON but not an object
--- more_headers eval
"Authorization: Bearer " . Velro::Token::raw('["RS256"]', Velro::Token::payload_json(), 'sig')
--- error_code: 401
--- error_log
velro: invalid token: malformed token (header is not base64url JSON object)



=== TEST 14: payload is not JSON
--- more_headers eval
"Authorization: Bearer " . Velro::Token::raw('{"alg":"RS256","kid":"rsa1"}', 'not json', 'sig')
--- error_code: 401
--- error_log
velro: invalid token: malformed token (payload is not base64url JSON object)



=== TEST 15: alg none
--- more_headers eval
"Authorization: Bearer " . Velro::Token::raw('{"alg":"none"}', Velro::Token::payload_json(), undef)
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="velro", error="invalid_token", error_description="algorithm not accepted"
--- error_log
velro: invalid token: algorithm not accepted ("alg":"none")



=== TEST 16: alg NONE
--- more_headers eval
"Authorization: Bearer " . Velro::Token::raw('{"alg":"NONE"}', Velro::Token::payload_json(), 'x')
--- error_code: 401
--- error_log
velro: invalid token: algorithm not accepted ("alg":"none")



=== TEST 17: alg not on the allow-list
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(alg => 'PS256')
--- error_code: 401
--- error_log
velro: invalid token: algorithm not accepted (algorithm not on the allow-list)



=== TEST 18: HS256 signed with the RSA public key's PEM as secret
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/rsa.pub;
        velro_jwt_algorithms RS256 HS256;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
--- more_headers eval
my $pem = do { local $/; open my $f, '<', Velro::Token::keys_dir() . '/rsa.pub' or die; <$f> };
"Authorization: Bearer " . Velro::Token::token(alg => 'HS256', kid => undef, key => $pem)
--- error_code: 401
--- error_log
velro: invalid token: no key for this token (no key for the algorithm)



=== TEST 19: the same attack naming the RSA key's kid
--- more_headers eval
my $pem = do { local $/; open my $f, '<', Velro::Token::keys_dir() . '/rsa.pub' or die; <$f> };
"Authorization: Bearer " . Velro::Token::token(alg => 'HS256', kid => 'rsa1', key => $pem)
--- error_code: 401
--- error_log
velro: invalid token: algorithm not accepted (the key with this kid is for another algorithm)



=== TEST 20: wrong kid: another key's id, a valid signature by this key
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(alg => 'ES256', kid => 'ec384')
--- error_code: 401
--- error_log
velro: invalid token: algorithm not accepted (the key with this kid is for another algorithm)



=== TEST 21: unknown kid
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(kid => 'nope')
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="velro", error="invalid_token", error_description="no key for this token"
--- error_log
velro: invalid token: no key for this token (unknown kid)



=== TEST 22: truncated signature
--- more_headers eval
my ($h, $p, $s) = split /\./, Velro::Token::token();
"Authorization: Bearer $h.$p." . Velro::Token::b64url(substr(MIME::Base64::decode_base64url($s), 0, 200))
--- error_code: 401
--- error_log
velro: invalid token: invalid signature



=== TEST 23: bit-flipped signature, each algorithm family
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t"]
--- more_headers eval
[map { "Authorization: Bearer " . Velro::Token::flip_signature(Velro::Token::token(alg => $_)) } qw(RS256 ES256 EdDSA HS256)]
--- error_code eval
[401, 401, 401, 401]
--- error_log
velro: invalid token: invalid signature (signature does not verify)



=== TEST 24: a bit flipped in the payload
--- more_headers eval
my ($h, $p, $s) = split /\./, Velro::Token::token(claims => { sub => 'alice' });
my $j = MIME::Base64::decode_base64url($p); $j =~ s/alice/alicf/;
"Authorization: Bearer $h." . Velro::Token::b64url($j) . ".$s"
--- error_code: 401
--- error_log
velro: invalid token: invalid signature



=== TEST 25: two different tokens in the header and the velro_jwt_token source
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_token $cookie_at;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(claims => { sub => 'a' }) . "\r\nCookie: at=" . Velro::Token::token(claims => { sub => 'b' })
--- error_code: 400
--- response_headers
WWW-Authenticate: Bearer realm="velro", error="invalid_request", error_description="two different tokens in one request"
--- error_log
velro: invalid request: two different tokens in one request



=== TEST 26: the same token in both places is fine
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_token $cookie_at;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
--- more_headers eval
my $t = Velro::Token::token(); "Authorization: Bearer $t\r\nCookie: at=$t"
--- response_body
ok



=== TEST 27: ES256 with a DER signature instead of raw R || S
--- more_headers eval
"Authorization: Bearer " . Velro::Token::es256_der()
--- error_code: 401
--- error_log
velro: invalid token: invalid signature



=== TEST 28: a 16 KB token: 401 token too large
--- config
    large_client_header_buffers 4 64k;
    location = /t {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(claims => { pad => 'x' x 12000 })
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="velro", error="invalid_token", error_description="token too large"
--- error_log
velro: invalid token: token too large



=== TEST 29: a 16 KB token within a raised velro_jwt_max_size is verified
--- config
    large_client_header_buffers 4 64k;
    location = /t {
        velro_jwt on;
        velro_jwt_max_size 32k;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
--- more_headers eval
"Authorization: Bearer " . Velro::Token::token(claims => { pad => 'x' x 12000 })
--- response_body
ok



=== TEST 30: a 1 MB token: nginx refuses the header, the worker lives on
--- more_headers eval
"Authorization: Bearer " . ('a' x (1024 * 1024))
--- error_code: 400
--- no_error_log
[alert]
[crit]



=== TEST 31: a NUL byte inside the header JSON
--- more_headers eval
"Authorization: Bearer " . Velro::Token::raw(qq({"alg":"RS256","kid":"rs\0a1"}), Velro::Token::payload_json(), 'sig')
--- error_code: 401
--- error_log
velro: invalid token: malformed token (header is not base64url JSON object)



=== TEST 32: an escaped NUL (\u0000) inside the header JSON
--- more_headers eval
"Authorization: Bearer " . Velro::Token::raw('{"alg":"RS256","kid":"rsa1\u0000"}', Velro::Token::payload_json(), 'sig')
--- error_code: 401
--- error_log
velro: invalid token: malformed token



=== TEST 33: a NUL byte through velro_jwt_token (an escaped query argument)
--- config
    location = /t {
        velro_jwt on;
        velro_jwt_token $arg_access_token;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }
--- request eval
"GET /t?access_token=" . Velro::Token::token() . "%00"
--- error_code: 401
--- error_log
velro: invalid token: malformed token (character outside base64url)



=== TEST 34: duplicate names in the header JSON
--- more_headers eval
"Authorization: Bearer " . Velro::Token::raw('{"alg":"RS256","alg":"none"}', Velro::Token::payload_json(), 'sig')
--- error_code: 401
--- error_log
velro: invalid token: malformed token (header is not base64url JSON object)



=== TEST 35: a POST with a body is refused and its body discarded
--- request
POST /t
hello=world
--- error_code: 401
--- response_body
{"error":"missing_token","error_description":"a bearer token is required"}
