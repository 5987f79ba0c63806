# conf/prometheus/alerts.yml: valid rules (promtool check rules) that fire
# as meant (promtool test rules alerts.test.yml).  promtool comes with
# Debian's prometheus package (about 100 MB installed, so not part of
# make deps): apt-get install prometheus.

use strict;
use warnings;
use FindBin;
use Test::More;

my $dir = "$FindBin::Bin/../conf/prometheus";
my ($promtool) = grep { -x } map { "$_/promtool" } split /:/, $ENV{PATH};

plan skip_all => 'promtool not installed (apt-get install prometheus)'
    unless $promtool;

for my $cmd ([check => 'rules', "$dir/alerts.yml"],
             [test => 'rules', "$dir/alerts.test.yml"])
{
    my $out = `cd '$dir' && '$promtool' @$cmd 2>&1`;
    is($?, 0, "promtool @$cmd[0,1]") or diag($out);
}

done_testing();
