#!/usr/bin/perl
#
# t/asan/scan.pl LOGDIR   (make test-asan runs it after prove)
#
# Reads the sanitizer reports that nginx processes left in LOGDIR
# (ASAN_OPTIONS/UBSAN_OPTIONS log_path: asan.PID, ubsan.PID) and exits 1
# when one of them is the module's:
#
#   - any AddressSanitizer error (heap-use-after-free, overflow, SEGV...):
#     only the module is instrumented, and an error anywhere in a process
#     that runs it is worth a look;
#   - any UndefinedBehaviorSanitizer "runtime error:" (only the module is
#     compiled with -fsanitize=undefined);
#   - a LeakSanitizer leak whose allocation belongs to the module: walking
#     the stack up from malloc, past allocator functions (ngx_alloc,
#     ngx_palloc..., unnamed nginx frames) and libraries (libc, jansson,
#     hiredis, libpq, OpenSSL, PCRE), the first frame that is nginx's own
#     or the module's decides.  nginx 1.22 leaks a few blocks at exit
#     (the connection and event arrays of a worker, PCRE2's compile
#     context): those are counted and listed, not failed.  A stack that
#     stops before deciding (Debian's nginx has no frame pointers: with
#     ASan's default fast unwinder a stack ends at ngx_alloc) is listed as
#     unattributed, not failed; make test-asan ASAN_LEAK_STACKS=1 unwinds
#     whole stacks.
#
# Module frames: symbols ngx_http_velro_* / velro_*, sources under src/,
# ngx_http_velro_module.so, and "<unknown module>": a frame of a module
# nginx unloaded before the exit-time leak check, and the tests load no
# other module.

use strict;
use warnings;

my $dir = shift // die "usage: $0 LOGDIR\n";
opendir my $dh, $dir or die "$0: $dir: $!\n";
my @files = sort grep { /^(asan|ubsan)\.\d+/ } readdir $dh;
closedir $dh;

my @SKIP_FN = qw(ngx_alloc ngx_calloc ngx_memalign ngx_palloc ngx_pnalloc
                 ngx_pcalloc ngx_palloc_large ngx_palloc_small
                 ngx_palloc_block ngx_pmemalign ngx_create_pool
                 ngx_array_create ngx_array_init ngx_array_push
                 ngx_array_push_n ngx_list_create ngx_list_push ngx_pstrdup
                 ngx_create_temp_buf ngx_alloc_chain_link ngx_hash_init
                 ngx_hash_add_key ngx_pool_cleanup_add);
my %SKIP_FN = map { $_ => 1 } @SKIP_FN;

sub module_frame {
    my ($f) = @_;
    return $f =~ /\bin (?:ngx_http_velro_|velro_)/
        || $f =~ m{/src/(?:ngx_http_velro_|velro_)}
        || $f =~ /ngx_http_velro_module\.so/
        || $f =~ /<unknown module>/;
}

sub nginx_frame {
    my ($f) = @_;
    return $f =~ m{\((?:/usr/sbin/nginx|[^)\s]*/nginx)\+0x}
        || $f =~ m{\bin ngx_\w+ /\S*nginx[^ ]*/src/(?:core|event|http|os)/};
}

# who allocated: 'module', 'nginx' or 'other'
sub owner {
    my (@frames) = @_;
    shift @frames;          # #0, the interceptor
    for my $f (@frames) {
        return 'module' if module_frame($f);
        if (nginx_frame($f)) {
            my ($fn) = $f =~ /\bin (\w+)/;
            next if !defined $fn || $SKIP_FN{$fn};
            return 'nginx';
        }
        # a library frame (libc, jansson, libpq, OpenSSL, PCRE...)
    }
    return 'other';
}

my (@errors, @leaks_module, %leaks_core, %leaks_other);

for my $file (@files) {
    open my $fh, '<', "$dir/$file" or next;
    my $text = do { local $/; <$fh> };
    close $fh;

    # UBSan: one line each, then an optional stack
    while ($text =~ /^(.*runtime error:.*(?:\n    #\d+ .*)*)/mg) {
        push @errors, "$file: $1";
    }

    # ASan errors other than leaks: the whole report
    while ($text =~ /^(==\d+==ERROR: AddressSanitizer.*?)(?=^==\d+==ABORTING|^=====|\z)/msg) {
        push @errors, "$file:\n$1";
    }

    # leaks: one record per "Direct/Indirect leak of" paragraph
    while ($text =~ /^((?:Direct|Indirect) leak of (\d+) byte.*?\n)((?:    #\d+ .*\n?)+)/mg) {
        my ($head, $bytes, $stack) = ($1, $2, $3);
        my @frames = split /\n/, $stack;
        my $o = owner(@frames);
        my $rec = "$file: $head$stack";
        if ($o eq 'module') {
            push @leaks_module, $rec;
        } else {
            # group by the deciding part of the stack
            my $key = join "\n", map { s/0x[0-9a-f]+ //r }
                                 @frames[1 .. ($#frames < 6 ? $#frames : 6)];
            my $h = $o eq 'nginx' ? \%leaks_core : \%leaks_other;
            $h->{$key}{n}++;
            $h->{$key}{bytes} += $bytes;
        }
    }
}

printf "test-asan: %d report file(s) in %s\n", scalar @files, $dir;

for (["nginx's own leaks at exit", \%leaks_core],
     ["leaks whose stack stops before nginx or the module (unattributed: "
      . "make test-asan ASAN_LEAK_STACKS=1 for whole stacks)", \%leaks_other])
{
    my ($what, $h) = @$_;
    next unless %$h;
    printf "test-asan: %s, not failed, %d kind(s):\n", $what,
           scalar keys %$h;
    for my $k (sort { $h->{$b}{n} <=> $h->{$a}{n} } keys %$h) {
        my ($first) = grep { !/ngx_alloc|interceptor/ } split /\n/, $k;
        $first //= (split /\n/, $k)[0];
        $first =~ s/^\s+//;
        printf "  %5d x %7d bytes total  %s\n", $h->{$k}{n}, $h->{$k}{bytes},
               $first;
    }
}

if (@errors) {
    print "test-asan: FAIL: ", scalar @errors, " sanitizer error(s):\n";
    print "$_\n" for @errors[0 .. ($#errors < 19 ? $#errors : 19)];
}
if (@leaks_module) {
    print "test-asan: FAIL: ", scalar @leaks_module,
          " leak(s) allocated by the module:\n";
    print "$_\n" for @leaks_module[0 .. ($#leaks_module < 19 ? $#leaks_module : 19)];
}
if (@errors || @leaks_module) {
    exit 1;
}
print "test-asan: no sanitizer error and no module leak\n";
exit 0;
