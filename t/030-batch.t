# velro_batch: items run as subrequests with the batch's credentials, each
# checked as if it had come alone; answers in request order; dependencies;
# bad input; the security rules, each with its attack.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Velro::Authz;
use Test::Nginx::Socket 'no_plan';
use JSON::PP;

Velro::Authz::start(sql => 1);

sub gen { "/gen/" . Velro::Authz::id($_[0]) }

sub q { my $s = shift; $s =~ s/([^A-Za-z0-9_.~-])/sprintf("%%%02X", ord $1)/ge; $s }

sub batch {
    my (@items) = @_;
    return "POST /batch\n" . JSON::PP->new->canonical->encode(\@items);
}

our $Config = Velro::Authz::location() . <<'CONF';
    location = /batch {
        velro_jwt on;
        velro_jwt_key_file $TEST_NGINX_KEYS/jwks.json;
        velro_batch max=5 max_response=1k;
    }

    location /pub/ {
        default_type application/json;
        return 200 '{"uri":"$uri","args":"$args"}';
    }

    location = /text {
        default_type text/plain;
        return 200 "plain text\n";
    }

    location = /secret {
        internal;
        alias $TEST_NGINX_KEYS/../lib/Velro/secret.txt;
    }

    location = /denied {
        deny all;
        alias $TEST_NGINX_KEYS/../lib/Velro/ok.txt;
    }

    location = /show {
        default_type application/json;
        return 200 '{"type":"$http_content_type","length":"$http_content_length","auth":"$http_x_auth"}';
    }

    location = /big {
        alias $TEST_NGINX_KEYS/jwks.json;
    }

    location = /send {
        proxy_set_header X-Auth $http_authorization;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/show;
    }
CONF

no_shuffle();
run_tests();

__DATA__

=== TEST 1: two public items, JSON and text, in request order
--- http_config eval: Velro::Authz::http_config()
--- config eval: $::Config
--- more_headers eval: Velro::Authz::bearer('editor')
--- request eval
main::batch({ endpoint => "/pub/a?x=1", id => "a" },
            { endpoint => "/text", id => "b" })
--- response_body_like eval
qr/^\[\{"id":"a","status":200,"headers":\{.*\},"body":\{"uri":"\/pub\/a","args":"x=1"\}\},\{"id":"b","status":200,"headers":\{.*\},"body":"plain text\\n"\}\]$/



=== TEST 2: protected items are authorized as if sent alone
--- http_config eval: Velro::Authz::http_config()
--- config eval: $::Config
--- more_headers eval: Velro::Authz::bearer('editor')
--- request eval
main::batch({ endpoint => main::gen('gen_team'), id => "read" },
            { endpoint => main::gen('gen_team'), method => "DELETE", id => "delete" },
            { endpoint => main::gen('gen_unknown'), id => "unknown" },
            { endpoint => main::gen('gen_team'), method => "PUT", id => "write" })
--- response_body_like eval
qr/"id":"read","status":200.*"id":"delete","status":403.*"id":"unknown","status":403.*"id":"write","status":200/s



=== TEST 3: the batch request needs a token; items carry it
--- http_config eval: Velro::Authz::http_config()
--- config eval: $::Config
--- request eval: main::batch({ endpoint => "/pub/a" })
--- error_code: 401



=== TEST 4: a failed dependency: 424 without running
--- http_config eval: Velro::Authz::http_config()
--- config eval: $::Config
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
main::batch({ endpoint => main::gen('gen_team'), method => "PUT", id => "w" },
            { endpoint => "/pub/after", id => "after", depends_on => ["w"] },
            { endpoint => "/pub/free", id => "free" })
--- response_body_like eval
qr/"id":"w","status":403.*"id":"after","status":424.*"id":"free","status":200/s



=== TEST 5: internal locations are not reachable through a batch
--- http_config eval: Velro::Authz::http_config()
--- config eval: $::Config
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval: main::batch({ endpoint => "/secret", id => "s" })
--- response_body_like eval
qr/"id":"s","status":404/
--- response_body_unlike eval
qr/"body":"[^{]/



=== TEST 6: access modules apply to items (deny all)
--- http_config eval: Velro::Authz::http_config()
--- config eval: $::Config
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval: main::batch({ endpoint => "/denied", id => "d" })
--- response_body_like eval
qr/"id":"d","status":403/
--- response_body_unlike eval
qr/"body":"ok/



=== TEST 7: an item cannot set Authorization
--- http_config eval: Velro::Authz::http_config()
--- config eval: $::Config
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
main::batch({ endpoint => "/pub/a" },
            { endpoint => "/pub/b", headers => { Authorization => "Bearer x" } })
--- error_code: 400
--- response_body_like eval
qr/"item":1/



=== TEST 7b: nor Cookie, Host or hop-by-hop headers
--- http_config eval: Velro::Authz::http_config()
--- config eval: $::Config
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
[main::batch({ endpoint => "/pub/a", headers => { Cookie => "s=1" } }),
 main::batch({ endpoint => "/pub/a", headers => { Host => "evil" } }),
 main::batch({ endpoint => "/pub/a", headers => { Connection => "close" } }),
 main::batch({ endpoint => "/pub/a", headers => { "Transfer-Encoding" => "chunked" } }),
 main::batch({ endpoint => "/pub/a", headers => { "X-A" => "b\r\nHost: evil" } }),
 main::batch({ endpoint => "/pub/a", id => "a\0b" }),
 main::batch({ endpoint => "/pub/a", method => "GET", body => { a => 1 } }),
 main::batch({ endpoint => "/pub/a", method => "TRACE" }),
 main::batch({ endpoint => "/send", method => "POST",
               body => [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]] }),
 main::batch({ endpoint => "/pub/a", id => "x" }, { endpoint => "/pub/b", id => "x" }),
 main::batch({ endpoint => "/pub/a", id => "x", depends_on => ["y"] }, { endpoint => "/pub/b", id => "y", depends_on => ["x"] }),
 main::batch({ endpoint => "/pub/a", depends_on => ["nobody"] })]
--- error_code eval: [400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400]



=== TEST 8: no escaping the server
--- http_config eval: Velro::Authz::http_config()
--- config eval: $::Config
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
[main::batch({ endpoint => "/pub/../secret" }),
 main::batch({ endpoint => "/pub/%2e%2e/secret" }),
 main::batch({ endpoint => "/pub/.%2E/secret" }),
 main::batch({ endpoint => "//example.com/x" }),
 main::batch({ endpoint => "/pub/a%00b" }),
 main::batch({ endpoint => "http://example.com/" }),
 main::batch({ endpoint => "/pub/a\r\nX: y" }),
 main::batch({ endpoint => "/batch" })]
--- error_code eval: [400, 400, 400, 400, 400, 400, 400, 400]



=== TEST 9: more than max items: 413
--- http_config eval: Velro::Authz::http_config()
--- config eval: $::Config
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval: main::batch(map { { endpoint => "/pub/$_" } } 1 .. 6)
--- error_code: 413



=== TEST 10: bad JSON and a non-array
--- http_config eval: Velro::Authz::http_config()
--- config eval: $::Config
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval: ["POST /batch\n[{\"endpoint\":", "POST /batch\n{\"endpoint\":\"/pub/a\"}", "POST /batch\n[{\"method\":\"GET\"}]"]
--- error_code eval: [400, 400, 400]



=== TEST 11: a JSON body goes out as application/json with its length
--- http_config eval: Velro::Authz::http_config()
--- config eval: $::Config
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
main::batch({ endpoint => "/send", method => "POST", body => { a => [1, 2] }, id => "p" })
--- response_body_like eval
qr/"id":"p","status":200,.*"body":\{"type":"application\/json","length":"11","auth":"Bearer /



=== TEST 12: only POST
--- http_config eval: Velro::Authz::http_config()
--- config eval: $::Config
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request
GET /batch
--- error_code: 405



=== TEST 13: a dependent item runs after its dependency (it sees its effect)
--- http_config eval: Velro::Authz::http_config()
--- config eval: $::Config
--- more_headers eval: Velro::Authz::bearer('owner')
--- request eval
my $g = '44444444-0000-4000-8000-0000000000bb';
my $u = Velro::Authz::id('owner');
my $p = Velro::Authz::id('proj_team');
main::batch(
    { endpoint => "/sql?q=" . main::q("INSERT INTO generations (id, user_id, project_id, status) VALUES ('$g', '$u', '$p', 'completed')"),
      id => "create" },
    { endpoint => "/gen/$g", id => "read", depends_on => ["create"] },
    { endpoint => "/sql?q=" . main::q("DELETE FROM generations WHERE id = '$g'"),
      id => "drop", depends_on => ["read"] })
--- response_body_like eval
qr/"id":"create","status":200.*"id":"read","status":200.*"body":"ok\\n".*"id":"drop","status":200/s



=== TEST 14: an answer beyond max_response: an error entry, the batch answers
--- http_config eval: Velro::Authz::http_config()
--- config eval: $::Config
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
main::batch({ endpoint => "/big", id => "big" }, { endpoint => "/pub/small", id => "small" })
--- response_body_like eval
qr/"id":"big","status":500,.*"body":\{"error":"response_too_large"\}.*"id":"small","status":200/s



=== TEST 15: HEAD items answer headers only
--- http_config eval: Velro::Authz::http_config()
--- config eval: $::Config
--- more_headers eval: Velro::Authz::bearer('viewer')
--- request eval
main::batch({ endpoint => "/text", method => "HEAD", id => "h" })
--- response_body_like eval
qr/^\[\{"id":"h","status":200,"headers":\{"Content-Type":"text\/plain"[^}]*\},"body":""\}\]$/
