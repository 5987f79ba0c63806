# The access rule, row by row, through the module: every fixture user on
# every fixture generation with read, write and delete; each decision comes
# from PostgreSQL (L3) the first time and from L1 after.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Velro::Authz;
use Test::Nginx::Socket 'no_plan';

Velro::Authz::start(sql => 1);

# entities are shared by users: every block starts with L2 empty, so that
# the first look at a generation goes to L3
add_block_preprocessor(sub {
    my ($block) = @_;
    $block->set_value(init => 'Velro::Authz::fresh()') unless defined $block->init;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: owner (creator of all but gen_editor)
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('owner')
--- request eval: Velro::Authz::requests()
--- error_code eval: Velro::Authz::expected('owner')
--- response_headers eval: Velro::Authz::expected('owner', headers => 1)



=== TEST 2: team owner: admin on completed generations, nothing on others
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('towner')
--- request eval: Velro::Authz::requests()
--- error_code eval: Velro::Authz::expected('towner')
--- response_headers eval: Velro::Authz::expected('towner', headers => 1)



=== TEST 3: team admin
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('tadmin')
--- request eval: Velro::Authz::requests()
--- error_code eval: Velro::Authz::expected('tadmin')
--- response_headers eval: Velro::Authz::expected('tadmin', headers => 1)



=== TEST 4: team editor (and creator of gen_editor)
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('editor')
--- request eval: Velro::Authz::requests()
--- error_code eval: Velro::Authz::expected('editor')
--- response_headers eval: Velro::Authz::expected('editor', headers => 1)



=== TEST 5: team viewer
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval: Velro::Authz::requests()
--- error_code eval: Velro::Authz::expected('viewer')
--- response_headers eval: Velro::Authz::expected('viewer', headers => 1)



=== TEST 6: outsider: public reads (viewer), team_open reads (no role)
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('outsider')
--- request eval: Velro::Authz::requests()
--- error_code eval: Velro::Authz::expected('outsider')
--- response_headers eval: Velro::Authz::expected('outsider', headers => 1)



=== TEST 7: a user whose tokens_valid_after lies in the past
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('unrevoked')
--- request eval: Velro::Authz::requests()
--- error_code eval: Velro::Authz::expected('unrevoked')
--- response_headers eval: Velro::Authz::expected('unrevoked', headers => 1)



=== TEST 8: a disabled user: 401 invalid_token whatever the resource
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('disabled')
--- request eval: Velro::Authz::requests(qw(gen_team gen_public))
--- error_code eval
Velro::Authz::expected('disabled', gens => [qw(gen_team gen_public)],
                       user_status => 401)
--- response_headers eval
Velro::Authz::expected('disabled', gens => [qw(gen_team gen_public)],
                       user_status => 401, headers => 1)



=== TEST 9: the disabled user's answer names the reason
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('disabled')
--- request eval: "GET /gen/" . Velro::Authz::id('gen_team')
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="velro", error="invalid_token", error_description="user disabled"
Content-Type: application/json
--- response_body
{"error":"invalid_token","error_description":"user disabled"}
--- error_log
velro: invalid token: user disabled



=== TEST 10: tokens issued before tokens_valid_after are revoked
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('revoked')
--- request eval: "GET /gen/" . Velro::Authz::id('gen_team')
--- error_code: 401
--- response_body
{"error":"invalid_token","error_description":"token revoked"}
--- error_log
velro: invalid token: token revoked



=== TEST 11: a token without iat cannot show it came after a revocation
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('revoked', iat => undef)
--- request eval: "GET /gen/" . Velro::Authz::id('gen_team')
--- error_code: 401
--- response_body
{"error":"invalid_token","error_description":"token revoked"}



=== TEST 12: a user that does not exist
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('nobody')
--- request eval: ["GET /gen/" . Velro::Authz::id('gen_team'), "GET /gen/" . Velro::Authz::id('gen_public')]
--- error_code eval: [401, 401]
--- response_body eval
["{\"error\":\"invalid_token\",\"error_description\":\"unknown user\"}\n",
 "{\"error\":\"invalid_token\",\"error_description\":\"unknown user\"}\n"]
--- response_headers eval: ["X-Authz: L3  deny", "X-Authz: L1  deny"]



=== TEST 13: a sub that is not a UUID: unknown user, nothing asked
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer("alice'; DROP TABLE users; --")
--- request eval: "GET /gen/" . Velro::Authz::id('gen_team')
--- error_code: 401
--- response_headers
X-Authz: -  deny
--- response_body
{"error":"invalid_token","error_description":"unknown user"}
--- error_log
velro: "sub" is not a user id



=== TEST 14: denied and unknown get the same answer (no existence oracle)
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('outsider')
--- request eval
["GET /gen/" . Velro::Authz::id('gen_private'),
 "GET /gen/" . Velro::Authz::id('gen_unknown')]
--- error_code eval: [403, 403]
--- response_body eval
["{\"error\":\"access_denied\",\"error_description\":\"access to this resource is denied\"}\n",
 "{\"error\":\"access_denied\",\"error_description\":\"access to this resource is denied\"}\n"]
--- raw_response_headers_unlike eval: [qr/WWW-Authenticate/, qr/WWW-Authenticate/]



=== TEST 15: velro_authz_deny_status 404, for denied and unknown alike
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location(extra => "        velro_authz_deny_status 404;")
--- more_headers eval: Velro::Authz::bearer('outsider')
--- request eval
["GET /gen/" . Velro::Authz::id('gen_private'),
 "GET /gen/" . Velro::Authz::id('gen_unknown'),
 "GET /gen/" . Velro::Authz::id('gen_public')]
--- error_code eval: [404, 404, 200]
--- response_body eval
["{\"error\":\"not_found\",\"error_description\":\"no such resource\"}\n",
 "{\"error\":\"not_found\",\"error_description\":\"no such resource\"}\n",
 "ok\n"]



=== TEST 16: a resource id that is not a UUID: denied, no tier asked
--- http_config eval: Velro::Authz::http_config()
--- config eval
"    large_client_header_buffers 4 16k;\n" . Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('owner')
--- request eval
["GET /gen/not-a-uuid",
 "GET /gen/" . Velro::Authz::id('gen_team') . "0",
 "GET /gen/%27%20OR%201=1;%20--",
 "GET /gen/" . ("a" x 10240)]
--- error_code eval: [403, 403, 403, 403]
--- response_headers eval
["X-Authz: -  deny", "X-Authz: -  deny", "X-Authz: -  deny",
 "X-Authz: -  deny"]
--- error_log
is not a UUID



=== TEST 17: upper-case UUIDs name the same resource
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location()
--- more_headers eval: Velro::Authz::bearer('editor')
--- request eval
["GET /gen/" . uc(Velro::Authz::id('gen_team')),
 "GET /gen/" . Velro::Authz::id('gen_team')]
--- response_headers eval: ["X-Authz: L3 editor allow", "X-Authz: L1 editor allow"]



=== TEST 18: velro_authz_action fixes the action whatever the method
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location(extra => "        velro_authz_action delete;")
--- more_headers eval: Velro::Authz::bearer('editor')
--- request eval: "GET /gen/" . Velro::Authz::id('gen_team')
--- error_code: 403
--- error_log
action delete, role "editor"



=== TEST 19: velro_authz_action from a variable
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location(extra => "        velro_authz_action \$arg_do;")
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
["GET /gen/" . Velro::Authz::id('gen_team') . "?do=read",
 "GET /gen/" . Velro::Authz::id('gen_team') . "?do=write",
 "GET /gen/" . Velro::Authz::id('gen_team') . "?do=fly"]
--- error_code eval: [200, 403, 403]



=== TEST 20: monitor decides and logs but never denies
--- init: Velro::Authz::fresh()
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location(authz => 'monitor')
--- more_headers eval: Velro::Authz::bearer('outsider')
--- request eval: "DELETE /gen/" . Velro::Authz::id('gen_private')
--- response_headers
X-Authz: L3  deny
--- response_body
ok
--- error_log
velro: monitor: access denied



=== TEST 21: monitor lets a disabled user through, and says so
--- http_config eval: Velro::Authz::http_config()
--- config eval: Velro::Authz::location(authz => 'monitor')
--- more_headers eval: Velro::Authz::bearer('disabled')
--- request eval: "GET /gen/" . Velro::Authz::id('gen_team')
--- response_body
ok
--- error_log
velro: monitor: invalid token: user disabled



=== TEST 22: the variables: role, decision, cache tier, project
--- http_config eval: Velro::Authz::http_config()
--- config eval
Velro::Authz::location(extra => '        add_header X-Project $velro_authz_project always;')
--- more_headers eval: Velro::Authz::bearer('tadmin')
--- request eval: "GET /gen/" . Velro::Authz::id('gen_team')
--- response_headers eval
"X-Authz: L3 admin allow\nX-Project: " . Velro::Authz::id('proj_team')



=== TEST 23: a refused request still names its user in $velro_user_id
--- http_config eval: Velro::Authz::http_config()
--- config eval
Velro::Authz::location(extra => '        add_header X-User $velro_user_id always;')
--- more_headers eval: Velro::Authz::bearer('outsider')
--- request eval: "PUT /gen/" . Velro::Authz::id('gen_public')
--- error_code: 403
--- response_headers eval
"X-User: " . Velro::Authz::id('outsider') . "\nX-Authz: L3 viewer deny"
