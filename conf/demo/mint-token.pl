#!/usr/bin/perl
# mint-token.pl KEY.pem SUB SECONDS: a demo ES256 token for the demo gateway
use strict;
use warnings;
use Crypt::JWT qw(encode_jwt);
use Crypt::PK::ECC;

my ($key, $sub, $ttl) = @ARGV;
die "usage: $0 KEY.pem SUB SECONDS\n" unless $key && $sub;
$ttl ||= 3600;

my $now = time;
print encode_jwt(
    payload => {
        iss => 'https://id.velro.local/',
        aud => 'api.velro.local',
        sub => $sub,
        iat => $now,
        exp => $now + $ttl,
        role => 'editor',
        realm_access => { roles => ['reader', 'writer'] },
    },
    alg => 'ES256',
    key => Crypt::PK::ECC->new($key),
), "\n";
