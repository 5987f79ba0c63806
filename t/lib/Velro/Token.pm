package Velro::Token;

# Tokens for the test suites, signed with the fixture keys in t/keys.
#
#   token(%opt)  alg (RS256), kid (from alg; undef: none), claims (merged
#                over sub/exp/iat defaults; a value of undef drops the
#                claim), header (extra header fields), key (override),
#                canonical (RS256: sorted JSON, so equal claims make equal
#                tokens)
#   keys_dir()   absolute path of t/keys

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use Crypt::JWT qw(encode_jwt);
use Crypt::PK::RSA;
use Crypt::PK::ECC;
use Crypt::PK::Ed25519;
use MIME::Base64 qw(encode_base64url);
use JSON::PP;

use Exporter 'import';
our @EXPORT_OK = qw(token keys_dir b64url raw);

my $dir = abs_path(dirname(__FILE__) . '/../../keys');

sub keys_dir { $dir }

sub slurp {
    my ($name) = @_;
    open my $fh, '<', "$dir/$name" or die "$dir/$name: $!";
    local $/;
    my $s = <$fh>;
    close $fh;
    return $s;
}

my %kids = (
    HS256 => 'hs1', HS384 => 'hs1', HS512 => 'hs1',
    RS256 => 'rsa1', RS384 => 'rsa1', RS512 => 'rsa1',
    PS256 => 'rsa1', PS384 => 'rsa1', PS512 => 'rsa1',
    ES256 => 'ec256', ES384 => 'ec384', EdDSA => 'ed1',
);

sub key_for {
    my ($alg) = @_;
    return slurp('hs.secret') if $alg =~ /^HS/;
    return Crypt::PK::RSA->new("$dir/rsa.key") if $alg =~ /^[RP]S/;
    return Crypt::PK::ECC->new("$dir/ec256.key") if $alg eq 'ES256';
    return Crypt::PK::ECC->new("$dir/ec384.key") if $alg eq 'ES384';
    return Crypt::PK::Ed25519->new("$dir/ed25519.key") if $alg eq 'EdDSA';
    die "no key for $alg";
}

sub token {
    my (%opt) = @_;
    my $alg = $opt{alg} // 'RS256';
    my $now = time;
    my %claims = (sub => 'user-1', exp => $now + 600, iat => $now - 10);

    if ($opt{claims}) {
        while (my ($k, $v) = each %{ $opt{claims} }) {
            if (defined $v) { $claims{$k} = $v } else { delete $claims{$k} }
        }
    }

    my %header = %{ $opt{header} || {} };
    my $kid = exists $opt{kid} ? $opt{kid} : $kids{$alg};
    $header{kid} = $kid if defined $kid;

    # canonical => 1: the same claims always make the same token (Perl's
    # hash order would otherwise shuffle the JSON); RS256 only
    if ($opt{canonical}) {
        die "canonical tokens are RS256 only\n" unless $alg eq 'RS256';
        my $json = JSON::PP->new->canonical;
        my $input = b64url($json->encode({ alg => $alg, %header }))
                    . '.' . b64url($json->encode(\%claims));
        my $key = $opt{key} // key_for($alg);
        return "$input."
               . b64url($key->sign_message($input, 'SHA256', 'v1.5'));
    }

    return encode_jwt(
        payload => \%claims,
        alg => $alg,
        key => $opt{key} // key_for($alg),
        extra_headers => \%header,
    );
}

sub b64url { encode_base64url($_[0]) }

# a token from literal header and payload JSON texts and raw signature bytes
sub raw {
    my ($header, $payload, $sig) = @_;
    return join '.', b64url($header), b64url($payload),
        defined $sig ? b64url($sig) : '';
}

sub payload_json {
    my (%claims) = @_;
    my $now = time;
    my %c = (sub => 'user-1', exp => $now + 600, %claims);
    return JSON::PP->new->canonical->encode(\%c);
}

# ES256 with a DER signature instead of JWS's raw R || S
sub es256_der {
    my $input = b64url('{"alg":"ES256","kid":"ec256"}') . '.'
                . b64url(payload_json());
    my $pk = Crypt::PK::ECC->new("$dir/ec256.key");
    return "$input." . b64url($pk->sign_message($input, 'SHA256'));
}

# flips one bit of the signature's first byte
sub flip_signature {
    my ($token) = @_;
    my ($h, $p, $s) = split /\./, $token;
    my $bytes = MIME::Base64::decode_base64url($s);
    substr($bytes, 0, 1) = chr(ord(substr($bytes, 0, 1)) ^ 1);
    return "$h.$p." . b64url($bytes);
}

1;
