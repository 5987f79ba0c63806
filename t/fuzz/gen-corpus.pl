#!/usr/bin/perl

# Regenerates the seed corpora of the fuzz targets from the keys in t/keys:
#   perl t/fuzz/gen-corpus.pl [jwt] [jwks] [authz]    (all when none given)
# Signatures of ES and PS tokens differ on every run: name the corpora you
# mean to regenerate.
# Tokens expire in 2100 (exp 4102444800) and carry the claims that
# fuzz_jwt.c requires, so the seeds reach every branch of the verifier.

use strict;
use warnings;

use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Spec::Functions qw(catfile);
use MIME::Base64 qw(encode_base64url);
use Crypt::JWT qw(encode_jwt);
use Crypt::PK::RSA;
use Crypt::PK::ECC;
use Crypt::PK::Ed25519;

my $top  = dirname(dirname(dirname(File::Spec->rel2abs(__FILE__))));
my $keys = catfile($top, 't', 'keys');
my $out  = catfile($top, 't', 'fuzz', 'corpus');

sub slurp {
    my ($f) = @_;
    open(my $fh, '<:raw', catfile($keys, $f)) or die "$f: $!";
    local $/;
    return scalar <$fh>;
}

my %only = map { $_ => 1 } @ARGV;

sub spew {
    my ($dir, $name, $data) = @_;
    return if %only && !$only{$dir};
    make_path(catfile($out, $dir));
    open(my $fh, '>:raw', catfile($out, $dir, $name)) or die "$name: $!";
    print $fh $data;
    close($fh);
}

my %key = (
    HS  => slurp('hs.secret'),
    RS  => Crypt::PK::RSA->new(catfile($keys, 'rsa.key')),
    PS  => Crypt::PK::RSA->new(catfile($keys, 'rsa.key')),
    ES256 => Crypt::PK::ECC->new(catfile($keys, 'ec256.key')),
    ES384 => Crypt::PK::ECC->new(catfile($keys, 'ec384.key')),
    EdDSA => Crypt::PK::Ed25519->new(catfile($keys, 'ed25519.key')),
);

my %kid = (HS => 'hs1', RS => 'rsa1', PS => 'rsa1', ES256 => 'ec256',
           ES384 => 'ec384', EdDSA => 'ed1');

my $claims = {
    iss => 'https://issuer.example', aud => ['api', 'other'],
    sub => 'user-1', scope => 'read write', exp => 4102444800,
    nbf => 1600000000, iat => 1600000000,
};

for my $alg (qw(HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512
                ES256 ES384 EdDSA))
{
    my $t = $alg =~ /^(HS|RS|PS)/ ? $1 : $alg;

    spew('jwt', "valid-$alg", encode_jwt(payload => $claims, alg => $alg,
         key => $key{$t}, extra_headers => { kid => $kid{$t} }));
}

# no kid: every key of the type is tried
spew('jwt', 'valid-RS256-nokid', encode_jwt(payload => $claims,
     alg => 'RS256', key => $key{RS}));

sub b64j { encode_base64url($_[0]) }

my $p = b64j('{"exp":4102444800,"sub":"x","iss":"https://issuer.example",'
             . '"aud":"api","scope":1}');

spew('jwt', 'alg-none', b64j('{"alg":"none"}') . ".$p.");
spew('jwt', 'jwe-5-segments', b64j('{"alg":"RSA-OAEP","enc":"A256GCM"}')
     . ".AAAA.AAAA.AAAA.AAAA");
spew('jwt', 'header-array', b64j('["alg","RS256"]') . ".$p.AAAA");
spew('jwt', 'header-duplicate', b64j('{"alg":"RS256","alg":"HS256"}')
     . ".$p.AAAA");
spew('jwt', 'crit', b64j('{"alg":"ES256","crit":["b64"],"b64":false}')
     . ".$p.AAAA");
spew('jwt', 'exp-string', b64j('{"alg":"EdDSA"}') . "."
     . b64j('{"exp":"4102444800"}') . ".AAAA");
spew('jwt', 'exp-float', b64j('{"alg":"HS256","kid":"hs1"}') . "."
     . b64j('{"exp":4102444800.5,"nbf":1.0e9,"iat":-1.5}') . ".AAAA");
spew('jwt', 'bad-base64', "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjF9=.AA+A/");
spew('jwt', 'nul-json', b64j("{\"alg\":\"RS256\",\"kid\":\"a\\u0000b\"}")
     . ".$p.AAAA");
spew('jwt', 'two-segments', "eyJhbGciOiJSUzI1NiJ9.$p");

# key sets

spew('jwks', 'jwks', slurp('jwks.json'));
spew('jwks', 'jwks-rotated', slurp('jwks-rotated.json'));
spew('jwks', 'rsa-pub', slurp('rsa.pub'));
spew('jwks', 'rsa-crt', slurp('rsa.crt'));
spew('jwks', 'ec256-pub', slurp('ec256.pub'));
spew('jwks', 'ec384-pub', slurp('ec384.pub'));
spew('jwks', 'ed25519-pub', slurp('ed25519.pub'));
spew('jwks', 'rsa1024-pub', slurp('rsa1024.pub'));
spew('jwks', 'ec256-private', slurp('ec256.key'));
spew('jwks', 'single-jwk', '{"kty":"oct","kid":"k","alg":"HS256",'
     . '"k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI"}');
spew('jwks', 'mixed', '{"keys":[{"kty":"EC","crv":"P-256","use":"enc",'
     . '"x":"AA","y":"AA"},{"kty":"RSA","use":"sig","alg":"ES256",'
     . '"n":"AQAB","e":"AQAB"},{"kty":"oct","key_ops":["sign"],"k":"AA"},'
     . '{"kty":"OKP","crv":"X25519","x":"AA"},{"kty":"oct","alg":"none",'
     . '"k":"AAAA"}]}');
spew('jwks', 'ec-off-curve', '{"kty":"EC","crv":"P-256",'
     . '"x":"V_0LnJnnbns0bCOTWV-SMJxsA8vReirs8ZkbaEZuvLo",'
     . '"y":"TAWOFXehm-6NFoz4S2SyGgaaFURPK9mTYwoZYshkpTo"}');

# PEM keys of other types (openssl genpkey), an RSA key with e = 1, and an
# encrypted PEM block: all refused, none may prompt for a pass phrase

spew('jwks', 'x25519-pub', <<'PEM');
-----BEGIN PUBLIC KEY-----
MCowBQYDK2VuAyEALLC4gockyadMsZtQ/F/r3l+nyaDdiIYWpSGJtMHQ6A4=
-----END PUBLIC KEY-----
PEM

spew('jwks', 'secp256k1-pub', <<'PEM');
-----BEGIN PUBLIC KEY-----
MFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAEtt4/BLyg6/YzVP9MtmqlpGf2DeNo0D7B
5+ZuK6G29PeHZVievUzqpsgGI5hknil0qgz89p0/QCGp7OaKuAO3Sw==
-----END PUBLIC KEY-----
PEM

spew('jwks', 'rsa-e1-pub', <<'PEM');
-----BEGIN PUBLIC KEY-----
MIIBIDANBgkqhkiG9w0BAQEFAAOCAQ0AMIIBCAKCAQEAlqs3TuvE94qm83FUok9o
SUgHR7/6dg3fMAyB2yDYW9FopHZE61xHAixD0ahkTEBtx/03GlDJ5cZdo4o4e92h
euGUvJ5A+v9UYCIwIuIc/ko8iMhmiKB40WuW9WUqeeqaOdUTZ6xzFMmtZZ4z2+SX
XD366XZTzaEh1fPMkuIzDJ7e6fJUU08cHfEHAamJ09lDA0LfaNUTfTjG5a5EU+/X
LLOLmW+QVDNN1/1+Grx5g+WHx5ULfyvtyL8I+io8emMckhKDkOCMqSl1HX0lY00b
eWvACP7rGwHPJ9oqSU6tcXDVNgIUd+Dfb6rBgUG6PC6p/tj+3UFi/fTigZ/0EbNi
JQIBAQ==
-----END PUBLIC KEY-----
PEM

my $pub = slurp('rsa.pub');
$pub =~ s/^(-----BEGIN PUBLIC KEY-----\n)/$1Proc-Type: 4,ENCRYPTED\n/;
$pub =~ s/^(Proc-Type.*\n)/$1DEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\n/m;
spew('jwks', 'encrypted-pub', $pub);

spew('jwks', 'keys-not-array', '{"keys":{"kty":"oct","k":"AAAA"}}');
spew('jwks', 'keys-65', '{"keys":['
     . join(',', map { qq({"kty":"oct","kid":"k$_","k":"AAAA"}) } 1 .. 65)
     . ']}');

# authorization JSON (fuzz_authz.c): the L3 answer, the L2 values, NOTIFY
# payloads and bare UUIDs, for the ids fuzz_authz.c asks for

my $uid = '6f1c2b8a-3d4e-4f5a-9b6c-7d8e9fa0b1c2';
my $gid = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
my $pid = '11111111-2222-4333-8444-555555555555';
my $xid = 'ffffffff-ffff-4fff-bfff-ffffffffffff';

my $user = qq({"id":"$uid","status":"active","tokens_valid_after":null});
my $user_tva = qq({"id":"$uid","status":"active",)
               . qq("tokens_valid_after":1700000000});

sub row {
    my ($role, $pub, %o) = @_;
    my $project = exists $o{project} ? $o{project} : qq("$pid");
    return qq({"user_id":"@{[$o{user} || $uid]}",)
         . qq("generation_id":"@{[$o{gen} || $gid]}",)
         . qq("project_id":$project,"effective_role":$role,)
         . qq("has_direct_access":@{[$o{direct} || 'false']},)
         . qq("has_team_access":@{[$o{team} || 'false']},)
         . qq("has_public_access":$pub});
}

sub l3 { qq({"user":$_[0],"access":$_[1]}) }

spew('authz', 'l3-user-only', l3($user, 'null'));
spew('authz', 'l3-user-null', l3('null', 'null'));
spew('authz', 'l3-disabled', l3(qq({"id":"$uid","status":"disabled",)
     . qq("tokens_valid_after":1700000000}), 'null'));
for my $role (qw(owner admin editor viewer)) {
    spew('authz', "l3-row-$role", l3($user_tva, row(qq("$role"), 'false',
         direct => $role eq 'owner' ? 'true' : 'false',
         team => $role eq 'owner' ? 'false' : 'true')));
}
spew('authz', 'l3-row-public', l3($user, row('null', 'true',
     project => 'null')));
spew('authz', 'l3-row-none', l3($user, row('null', 'false')));
spew('authz', 'l3-uppercase', l3(qq({"id":"@{[uc $uid]}","status":"active",)
     . qq("tokens_valid_after":0}), row('"viewer"', 'true', user => uc($uid),
     gen => uc($gid))));
spew('authz', 'l3-tva-real', l3(qq({"id":"$uid","status":"active",)
     . qq("tokens_valid_after":1700000000.75}), 'null'));
spew('authz', 'l3-tva-negative', l3(qq({"id":"$uid","status":"active",)
     . qq("tokens_valid_after":-9223372036854775808}), 'null'));
spew('authz', 'l3-extra-members', qq({"v":1,"user":{"id":"$uid",)
     . qq("email":"a\@b.example","status":"active","tokens_valid_after":)
     . qq(null},"access":) . row('"admin"', 'false') . '}');

# near misses: each refused for one reason
spew('authz', 'l3-tva-string', l3(qq({"id":"$uid","status":"active",)
     . qq("tokens_valid_after":"1700000000"}), 'null'));
spew('authz', 'l3-user-id-other', l3(qq({"id":"$xid","status":"active",)
     . qq("tokens_valid_after":null}), 'null'));
spew('authz', 'l3-row-user-other', l3($user, row('"owner"', 'false',
     user => $xid)));
spew('authz', 'l3-row-gen-other', l3($user, row('"owner"', 'false',
     gen => $xid)));
spew('authz', 'l3-role-unknown', l3($user, row('"superuser"', 'false')));
spew('authz', 'l3-public-string', l3($user, row('"viewer"', '"true"')));
spew('authz', 'l3-duplicate', qq({"user":null,"user":$user,"access":null}));
spew('authz', 'l3-access-missing', qq({"user":$user}));
spew('authz', 'l3-array', '[' . l3($user, 'null') . ']');
spew('authz', 'l3-nul', l3(qq({"id":"$uid","status":"active\\u0000",)
     . qq("tokens_valid_after":null}), 'null'));

# the L2 values
spew('authz', 'l2-user', $user_tva);
spew('authz', 'l2-null', 'null');
spew('authz', 'l2-row', row('"editor"', 'true', team => 'true'));
spew('authz', 'l2-row-no-project', row('null', 'true', project => 'null'));

# the entity form (decisions from entities) and its L2 values
my $tid = '22222222-2222-4333-8444-555555555555';
my $teams = qq("teams":{"$tid":"owner","$xid":"viewer"});
my $uent = qq({"id":"$uid","status":"active","tokens_valid_after":null,$teams});
sub gent {
    my ($creator, $status, $project) = @_;
    return qq({"id":"$gid","user_id":"$creator","project_id":$project,)
         . qq("status":"$status","media_url":"k/\\"x\\".png"});
}
my $pent = qq({"id":"$pid","team_id":"$tid","visibility":"team_open"});
spew('authz', 'entities-member', qq({"user":$uent,"generation":)
     . gent($xid, 'completed', qq("$pid")) . qq(,"project":$pent}));
spew('authz', 'entities-creator-pending', qq({"user":$uent,"generation":)
     . gent($uid, 'pending', qq("$pid")) . qq(,"project":$pent}));
spew('authz', 'entities-no-project', qq({"user":$uent,"generation":)
     . gent($xid, 'completed', 'null') . qq(,"project":null}));
spew('authz', 'entities-unknown', qq({"user":null,"generation":null,)
     . qq("project":null}));
spew('authz', 'entities-more', qq({"user":{"id":"$uid","status":"active",)
     . qq("tokens_valid_after":5,"teams":{"$xid":"editor"},"teams_more":true},)
     . qq("generation":) . gent($xid, 'completed', qq("$pid"))
     . qq(,"project":$pent}));
spew('authz', 'entities-user-only', qq({"user":$uent}));
spew('authz', 'l2-roles', qq({"user_id":"$uid",$teams}));
spew('authz', 'l2-generation', gent($xid, 'completed', qq("$pid")));
spew('authz', 'l2-project', qq({"id":"$gid","team_id":null,"visibility":"public"}));

# the writers' own layouts with what the fast readers decode (stamped,
# escapes, UTF-8, teams_more), and a near miss of each
spew('authz', 'l2-fast-user', qq(1700000000123 {"id":"$uid","status":)
     . qq("disabled","tokens_valid_after":-42}));
spew('authz', 'l2-fast-roles', qq({"user_id":"$uid","teams":{"$tid":)
     . qq("editor","$xid":"admin","$pid":"viewer"},"teams_more":true}));
spew('authz', 'l2-fast-roles-dup', qq({"user_id":"$uid","teams":{"$tid":)
     . qq("editor","$tid":"admin"}}));
spew('authz', 'l2-fast-generation', qq(5 {"id":"$gid","user_id":"$uid",)
     . qq("project_id":null,"status":"in \\"work\\"\x5cu001f",)
     . qq("media_url":"https://m.example/\xc3\xa9\xe2\x82\xac/a\\\\b\x5cu0009"}));
spew('authz', 'l2-fast-generation-escape', qq({"id":"$gid","user_id":)
     . qq("$uid","project_id":null,"status":"completed","media_url":)
     . qq("a\\/b\\u00e9"}));
spew('authz', 'l2-fast-project', qq({"id":"$gid","team_id":"$tid",)
     . qq("visibility":"team"}));
spew('authz', 'warm-entities', qq({"user":$uent,"generations":[)
     . gent($uid, 'failed', 'null') . ',' . gent($xid, 'completed', qq("$pid"))
     . qq(],"projects":[$pent]}));

# NOTIFY payloads
for my $kind (qw(user member team project generation)) {
    spew('authz', "notify-$kind", qq({"kind":"$kind","id":"$gid"}));
}
spew('authz', 'notify-unknown-kind', qq({"kind":"media","id":"$gid"}));
spew('authz', 'notify-bad-id', qq({"kind":"user","id":"$gid-0"}));
spew('authz', 'notify-extra', qq({"kind":"team","id":"$pid","op":"DELETE"}));

spew('authz', 'uuid', uc($uid));
