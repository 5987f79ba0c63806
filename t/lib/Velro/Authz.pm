package Velro::Authz;

# Shared pieces of the authorization suites: a throwaway PostgreSQL with
# the schema and fixture, a throwaway Redis, tokens for fixture users, and
# the nginx configuration the blocks use.
#
#   start(%opt)     starts the backends (redis => 0 to go without Redis)
#   bearer($who, %claims)
#                   "Authorization: Bearer ..." for a fixture user name
#                   (or any sub value), RS256 with the test keys
#   id($name)       a fixture UUID
#   http_config(%opt), location(%opt)
#                   nginx configuration (http_config: pool => N, pg => CONNINFO,
#                   pg_opts => 'timeout=... connect_timeout=...', redis =>
#                   ADDR or '', extra => TEXT): velro_pg and velro_redis at http
#                   level; /gen/UUID protected, answered by /echo, with
#                   X-Authz: "$velro_authz_cache $velro_role
#                   $velro_authz_decision"; /_l3 answers L3; /sql runs SQL

use strict;
use warnings;

use Velro::Token;
use Velro::Backends;
use Velro::Fixture;

sub start {
    my (%opt) = @_;

    $ENV{TEST_NGINX_KEYS} = Velro::Token::keys_dir();

    Velro::Backends::start_pg(fixture => 1);
    Velro::Backends::start_redis() if $opt{redis} // 1;
    Velro::Backends::start_sql_endpoint() if $opt{sql};

    # Every block's requests wait until its nginx workers have made their
    # first Redis connection and the invalidation subscriber follows the
    # log (both runners run a block's init once nginx is up): a change made
    # before that would not be seen.
    Test::Nginx::Socket::add_block_preprocessor(sub {
        my ($block) = @_;
        my $init = $block->can('init') ? $block->init : undef;
        $block->set_value(init => "Velro::Backends::wait_ready();\n"
                                  . ($init // ''));
    }) if defined &Test::Nginx::Socket::add_block_preprocessor;
}

sub id {
    my ($name) = @_;
    my $id = $Velro::Fixture::ID{$name};
    die "no fixture id \"$name\"" unless defined $id;
    return $id;
}

# every token differs (jti), so no block finds another one's L2 entries
my $jti = 0;

sub bearer {
    my ($who, %claims) = @_;
    my $sub = exists $Velro::Fixture::ID{$who} ? $Velro::Fixture::ID{$who}
                                               : $who;
    return "Authorization: Bearer "
           . Velro::Token::token(canonical => 1,
                                 claims => { sub => $sub,
                                             jti => "$$-" . ++$jti,
                                             %claims });
}

# L2 emptied: a block that counts tiers starts from nothing
sub fresh {
    Velro::Backends::redis_cli('FLUSHALL') if $ENV{TEST_NGINX_REDIS_PORT};
}

# every generation of the fixture with each action, GET PUT DELETE
our @ACTIONS = ([GET => 'read'], [PUT => 'write'], [DELETE => 'delete']);

# With the SQL endpoint (start(sql => 1)), a first request waits until the
# invalidation subscriber follows the log (the endpoint waits for its log
# line, see Velro::Backends); the blocks expect L1 from the second action
# on.
sub requests {
    my (@gens) = @_;
    @gens = @Velro::Fixture::GENERATIONS unless @gens;
    return [ ($ENV{TEST_NGINX_SQL_PORT} ? ("POST /sql\nSELECT 1") : ()),
             map { my $g = $_;
                   map { "$_->[0] /gen/$Velro::Fixture::ID{$g}" } @ACTIONS }
             @gens ];
}

# what the access rule says for each of requests(): status codes and
# X-Authz values (the first action on a generation goes to L3, the next
# ones find it in L1); $user_status 401 when the user itself is refused

sub expected {
    my ($user, %opt) = @_;
    my @gens = @{ $opt{gens} || \@Velro::Fixture::GENERATIONS };
    my (@codes, @headers);
    my $first = 1;

    for my $g (@gens) {
        my $e = Velro::Fixture::expect($user, $g);
        # a refused user is known after the first lookup, resource or not
        my $tier = (!$opt{user_status} || $first) ? 'L3' : 'L1';
        $first = 0;

        for my $a (@ACTIONS) {
            my $ok = Velro::Fixture::allowed($user, $g, $a->[1]);
            my $role = $e ? ($e->{role} // '') : '';

            if ($opt{user_status}) {
                push @codes, $opt{user_status};
                push @headers, "X-Authz: $tier  deny";

            } else {
                push @codes, $ok ? 200 : ($opt{deny} // 403);
                push @headers, "X-Authz: $tier $role "
                               . ($ok ? 'allow' : 'deny');
            }

            $tier = 'L1';
        }
    }

    if ($ENV{TEST_NGINX_SQL_PORT}) {         # the first request of requests()
        unshift @codes, 200;
        unshift @headers, '';
    }

    return $opt{headers} ? \@headers : \@codes;
}

sub http_config {
    my (%opt) = @_;
    my $pool = $opt{pool} // 4;
    my $redis = exists $opt{redis}
                ? $opt{redis} : '127.0.0.1:$TEST_NGINX_REDIS_PORT';
    my $pg = $opt{pg} // '$TEST_NGINX_PG_CONNINFO';
    my $pgopt = defined $opt{pg_opts} ? " $opt{pg_opts}" : '';

    # under valgrind nginx runs 20 to 50 times slower while timeouts are
    # real time: the default ones grow (a test that sets its own keeps it)
    if ($ENV{TEST_NGINX_USE_VALGRIND}) {
        $pgopt = ' timeout=20s connect_timeout=20s'
            unless defined $opt{pg_opts};
        $redis .= ' timeout=5s connect_timeout=10s'
            if $redis && $redis !~ /timeout=/;
    }

    my $s = qq{    velro_pg "$pg" pool=$pool$pgopt;\n};
    $s .= "    velro_redis $redis;\n" if $redis;
    $s .= $opt{extra} // '';
    $s .= <<'CONF';
    map $uri $gen {
        ~^/gen/(?<g>.*)$  $g;
    }
CONF
    return $s;
}

sub location {
    my (%opt) = @_;
    my $authz = $opt{authz} // 'on';
    my $extra = $opt{extra} // '';
    my $fallback = $opt{fallback} // '/_l3';
    return <<CONF
    location /gen/ {
        velro_jwt on;
        velro_jwt_key_file \$TEST_NGINX_KEYS/jwks.json;
        velro_authz $authz;
        velro_authz_resource \$gen;
        velro_authz_fallback $fallback;
$extra
        add_header X-Authz "\$velro_authz_cache \$velro_role \$velro_authz_decision" always;
        set \$echo /echo;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT\$echo;
    }

    location = /echo {
        return 200 "ok\\n";
    }

    location = /_l3 {
        internal;
        velro_authz_pg;
    }

CONF
    . ($ENV{TEST_NGINX_SQL_PORT} ? <<'SQL' : '');
    location = /sql {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SQL_PORT;
    }
SQL
}

1;
