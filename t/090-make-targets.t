# Every `make TARGET` that the README or a makefile's header comment names
# has a rule: `make -n -B TARGET` (print what it would do, as if nothing
# were up to date) must neither say "No rule to make target" nor "Nothing
# to be done".  A merge once dropped the run: and bench: rules while the
# README and .PHONY still named them, and nothing noticed.
#
# Plain Test::More: it needs no nginx, under either runner.

use strict;
use warnings;
use Test::More;
use Cwd qw(abs_path);
use File::Basename qw(dirname);

my $top = abs_path(dirname(__FILE__) . '/..');

sub slurp {
    my ($f) = @_;
    open my $fh, '<', $f or die "$f: $!";
    local $/;
    return <$fh>;
}

# the targets named: `make X` in the README's code spans and code blocks,
# "#   make X" in the header comment of each makefile
my %named;
my $readme = slurp("$top/README.md");
$named{$1}{'README.md'} = 1 while $readme =~ /`make ([a-z][\w-]*)/g;
my $in_code = 0;
for my $line (split /\n/, $readme) {
    if ($line =~ /^```/) {
        $in_code = !$in_code;
        next;
    }
    $named{$1}{'README.md'} = 1
        if $in_code && $line =~ /^\s*(?:\$\s+)?make ([a-z][\w-]*)/;
}
for my $mk ('Makefile', 't/unit/unit.mk', 't/fuzz/fuzz.mk') {
    for my $line (split /\n/, slurp("$top/$mk")) {
        last unless $line =~ /^#/ || $line =~ /^\s*$/;
        $named{$1}{$mk} = 1 if $line =~ /^#\s+make ([a-z][\w-]*)/;
    }
}

# the rules the README's first two commands need, whatever the text says
$named{$_}{'the README\'s two commands'} = 1 for qw(run test);

ok(keys %named >= 10, 'the README and the makefiles name targets ('
    . join(' ', sort keys %named) . ')');

for my $t (sort keys %named) {
    my $out = `cd $top && make -n -B $t 2>&1`;
    my $where = join ', ', sort keys %{ $named{$t} };
    ok($out !~ /No rule to make target|Nothing to be done/,
        "make $t has a rule (named in $where)")
        or diag(join "\n", grep { /No rule|Nothing to be done/ }
            split /\n/, $out);
}

# and the check itself can fail
my $out = `cd $top && make -n -B no-such-target-velro 2>&1`;
like($out, qr/No rule to make target/, 'an unknown target is caught');

done_testing();
