package Velro::Proc;

# Process helpers of the bench scripts (bench/authz.pl, bench/faults.pl),
# the make run smoke (t/smoke/make-run.pl) and the SQL endpoint,
# read from /proc: a file's content, a process's stat fields, whether it
# runs, its children, an nginx master's workers.

use strict;
use warnings;

use Exporter 'import';

our @EXPORT_OK = qw(slurp stat_fields alive children nginx_workers);

sub slurp {
    my ($f) = @_;
    open my $fh, '<', $f or return undef;
    local $/;
    my $s = <$fh>;
    close $fh;
    return $s;
}

sub stat_fields {       # fields after "pid (comm)": state ppid ...
    my ($pid) = @_;
    my $s = slurp("/proc/$pid/stat") // return;
    $s =~ s/^\d+ \(.*\) //s or return;
    return split ' ', $s;
}

sub alive {             # running, not a zombie
    my ($pid) = @_;
    my @f = stat_fields($pid) or return 0;
    return $f[0] ne 'Z';
}

sub children {
    my ($ppid) = @_;
    my @c;
    opendir my $d, '/proc' or return;
    for my $pid (grep { /^\d+$/ } readdir $d) {
        my @f = stat_fields($pid) or next;
        push @c, $pid if $f[1] == $ppid && $f[0] ne 'Z';
    }
    closedir $d;
    return sort { $a <=> $b } @c;
}

sub nginx_workers {     # $n->{pid}: the master
    my ($n) = @_;
    return grep { (slurp("/proc/$_/cmdline") // '') =~ /worker process/ }
                children($n->{pid});
}

1;
