#!/usr/bin/perl

# The C unit tests of src/velro_*.c (t/unit/), as one TAP stream: runs
# $VELRO_UNIT_BIN or build/unit/velro_unit ("make unit" builds it).

use strict;
use warnings;

use FindBin;
use File::Spec;

my $top = File::Spec->catdir($FindBin::Bin, File::Spec->updir);
my $bin = $ENV{VELRO_UNIT_BIN}
    || File::Spec->catfile($top, 'build', 'unit', 'velro_unit');

unless (-x $bin) {
    print "1..0 # SKIP unit binary not built\n";
    exit 0;
}

$ENV{VELRO_KEYS_DIR} ||= File::Spec->catdir($FindBin::Bin, 'keys');

exec { $bin } $bin, @ARGV
    or do {
        print "Bail out! cannot run $bin: $!\n";
        exit 255;
    };
