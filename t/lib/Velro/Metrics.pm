package Velro::Metrics;

# Checks of velro_status answers, as Test::Nginx response body checks.
# Load it after Test::Nginx::Socket; blocks use these sections:
#
#   --- status_json
#   velro_requests_total.decision.allow 3        a JSON path, its value
#   velro_cache_bytes /^[1-9]\d*$/               or a regex
#
#   --- prometheus_values
#   velro_requests_total{decision="allow"} 3     a sample, its value
#
#   --- prometheus_valid
#   (any text) the answer is valid text exposition format: HELP and TYPE
#   once per family and before its samples, label syntax, numeric values;
#   histogram buckets cumulative, le increasing up to "+Inf", which equals
#   _count, and a _sum
#
# Each applies to the answers that look like its format (a JSON object
# with velro_requests_total; text starting with "# HELP velro_").

use strict;
use warnings;
use JSON::PP ();
use Test::More;
use Test::Nginx::Socket;

sub expected_lines {
    my ($text) = @_;
    return map { [ /^\s*(\S+)\s+(.+?)\s*$/ ] } grep { /\S/ } split /\n/, $text;
}

sub value_ok {
    my ($got, $want, $desc) = @_;
    if ($want =~ m{^/(.*)/$}) {
        like($got // '', qr/$1/, $desc);
    } else {
        is($got, $want, $desc);
    }
}

sub check_json {
    my ($name, $body, $want) = @_;
    my $doc = eval { JSON::PP->new->decode($body) };
    ok($doc, "$name - velro_status is JSON") or diag($@);
    return unless $doc;
    for my $line (expected_lines($want)) {
        my ($path, $value) = @$line;
        my $node = $doc;
        for my $key (split /\./, $path) {
            $node = ref $node eq 'HASH' ? $node->{$key} : undef;
        }
        value_ok($node, $value, "$name - $path");
    }
}

sub parse_prometheus {
    my ($body) = @_;
    my %samples;
    for my $line (split /\n/, $body) {
        next if $line =~ /^#/;
        $samples{$1} = $2 if $line =~ /^(\S+)\s+(\S+)$/;
    }
    return \%samples;
}

# returns a list of problems, empty when the text is valid
sub prometheus_problems {
    my ($body) = @_;
    my (@err, %type, %help, %seen_sample, %hist);
    my $label = qr/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"/;
    my $n = 0;

    push @err, "does not end with a newline" unless $body =~ /\n\z/;

    for my $line (split /\n/, $body) {
        $n++;
        if ($line =~ /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S/) {
            push @err, "line $n: second HELP for $1" if $help{$1}++;
            next;
        }
        if ($line =~ /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\S+)$/) {
            my ($f, $t) = ($1, $2);
            push @err, "line $n: type $t" unless $t =~ /^(counter|gauge|histogram|summary|untyped)$/;
            push @err, "line $n: second TYPE for $f" if $type{$f};
            push @err, "line $n: TYPE for $f after its samples" if $seen_sample{$f};
            $type{$f} = $t;
            next;
        }
        if ($line =~ /^#/) {
            push @err, "line $n: comment \"$line\"";
            next;
        }
        unless ($line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:$label)(?:,$label)*)?\})? (\S+)$/) {
            push @err, "line $n: not a sample: \"$line\"";
            next;
        }
        my ($name, $labels, $value) = ($1, $2 // '', $3);
        push @err, "line $n: value \"$value\""
            unless $value =~ /^(?:[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?Inf|NaN)$/;

        my $family = $name;
        if (!$type{$family} && $name =~ /^(.*)_(bucket|sum|count)$/
            && ($type{$1} // '') eq 'histogram')
        {
            $family = $1;
        }
        unless ($type{$family}) {
            push @err, "line $n: sample $name without a TYPE before it";
            next;
        }
        $seen_sample{$family}++;
        push @err, "line $n: counter $name does not end with _total"
            if $type{$family} eq 'counter' && $name !~ /_total$/;

        next unless $type{$family} eq 'histogram';

        my %l = map { /^([^=]+)="(.*)"$/ } ($labels =~ /($label)/g);
        my $le = delete $l{le};
        my $key = join ',', map { "$_=$l{$_}" } sort keys %l;
        my $h = $hist{"$family\{$key\}"} //= { buckets => [] };
        if ($name eq "${family}_bucket") {
            push @err, "line $n: bucket without le" unless defined $le;
            push @{ $h->{buckets} }, [ $le, $value ];
        } elsif ($name eq "${family}_sum") {
            $h->{sum} = $value;
        } elsif ($name eq "${family}_count") {
            $h->{count} = $value;
        } else {
            push @err, "line $n: $name in histogram $family";
        }
    }

    for my $k (sort keys %hist) {
        my $h = $hist{$k};
        my @b = @{ $h->{buckets} };
        push @err, "$k: no buckets" unless @b;
        next unless @b;
        push @err, "$k: last bucket is not +Inf" unless $b[-1][0] eq '+Inf';
        for my $i (1 .. $#b) {
            my ($p, $c) = ($b[$i - 1], $b[$i]);
            my $pl = $p->[0] eq '+Inf' ? 9**9**9 : $p->[0];
            my $cl = $c->[0] eq '+Inf' ? 9**9**9 : $c->[0];
            push @err, "$k: le $c->[0] not above $p->[0]" unless $cl > $pl;
            push @err, "$k: bucket le=$c->[0] below le=$p->[0]"
                unless $c->[1] >= $p->[1];
        }
        push @err, "$k: no _sum" unless defined $h->{sum};
        push @err, "$k: no _count" unless defined $h->{count};
        push @err, "$k: +Inf bucket $b[-1][1] != _count " . ($h->{count} // '-')
            unless defined $h->{count} && $b[-1][1] == $h->{count};
    }

    return @err;
}

add_response_body_check(sub {
    my ($block, $body, $req_idx, $rep, $dry) = @_;
    my $name = $block->name;

    return if $dry;

    if (defined $block->status_json && $body =~ /^\{"velro_requests_total"/) {
        check_json($name, $body, $block->status_json);
    }

    if ($body =~ /^# HELP velro_/) {
        if (defined $block->prometheus_valid) {
            my @err = prometheus_problems($body);
            ok(!@err, "$name - Prometheus text exposition format")
                or diag(join "\n", @err);
        }
        if (defined $block->prometheus_values) {
            my $s = parse_prometheus($body);
            for my $line (expected_lines($block->prometheus_values)) {
                value_ok($s->{ $line->[0] }, $line->[1], "$name - $line->[0]");
            }
        }
    }
});

1;
