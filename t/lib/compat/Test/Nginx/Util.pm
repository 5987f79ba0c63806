package Test::Nginx::Util;

# Minimal, independently written stand-in for the OpenResty Test::Nginx::Util
# (only loaded when the real Test::Nginx is not installed).  It owns the
# global settings, the generated nginx.conf and the nginx process life cycle;
# Test::Nginx::Socket (next to this file) does the HTTP side and assertions.
#
# Behaviour deliberately follows the CPAN module so that the same .t files
# produce the same TAP (same test names, same number of assertions).

use strict;
use warnings;

our $VERSION = '0.33_compat';

use base 'Exporter';

use Carp qw(croak);
use File::Path qw(make_path remove_tree);
use File::Spec ();
use IO::Socket::INET ();
use List::Util qw(shuffle);
use POSIX qw(SIGQUIT SIGKILL SIGTERM WNOHANG);
use Time::HiRes qw(sleep);
use Test::More ();
use Test::LongString ();

our @EXPORT = qw(
    $ServerAddr $ServerName $ServerPort $ServerPortForClient $NoLongString
    $ServRoot $ConfFile $PidFile $ErrLogFile $AccLogFile $HtmlDir
    $NginxVersion $RepeatEach $RunTestHelper $CheckErrorLog
    $CheckShutdownErrorLog $CheckLeak $Benchmark
    env_to_nginx expand_env_in_text is_str bail_out parse_time trim
    show_all_chars parse_headers is_running get_pid_from_pidfile
    error_log_data access_log_data sleep_time verbose timeout
    add_cleanup_handler add_test_cleanup_handler add_block_preprocessor
    worker_connections workers master_on master_off master_process_enabled
    config_preamble repeat_each log_level no_shuffle no_root_location
    no_long_string html_dir server_root server_port server_port_for_client
    server_addr server_name no_nginx_manager check_accum_error_log use_hup
    get_canon_version run_tests run_test
);

#-----------------------------------------------------------------------------
# Settings (environment first, then the exported setter functions)
#-----------------------------------------------------------------------------

our $Verbose           = $ENV{TEST_NGINX_VERBOSE};
our $NoShuffle         = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $UseValgrind       = $ENV{TEST_NGINX_USE_VALGRIND};
our $LoadModules       = $ENV{TEST_NGINX_LOAD_MODULES};
our $Timeout           = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $CheckAccumErrLog  = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $EventType         = $ENV{TEST_NGINX_EVENT_TYPE};
our $PostponeOutput    = $ENV{TEST_NGINX_POSTPONE_OUTPUT};
our $NoNginxManager    = $ENV{TEST_NGINX_NO_NGINX_MANAGER} || 0;
our $WorkerUser        = $ENV{TEST_NGINX_WORKER_USER};
our $LogLevel          = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $TestNginxSleep    = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $ForceRestartOnTest = $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST} // 1;

# Unsupported modes of the real module: accepted, but only as a warning.
our $CheckLeak = 0;
our $Benchmark = 0;
for my $v (qw(TEST_NGINX_CHECK_LEAK TEST_NGINX_BENCHMARK TEST_NGINX_USE_HUP
              TEST_NGINX_USE_HTTP2 TEST_NGINX_USE_HTTP3 TEST_NGINX_USE_STAP
              TEST_NGINX_USE_RR))
{
    warn "WARNING: $v is not supported by the bundled Test::Nginx "
         . "subset; ignored\n" if $ENV{$v};
}

our $NginxBinary = $ENV{TEST_NGINX_BINARY};
if (!$NginxBinary) {
    # like the real module: "nginx" from PATH; plus a Debian-friendly fallback
    $NginxBinary = (grep { -x "$_/nginx" } File::Spec->path) ? 'nginx'
                 : -x '/usr/sbin/nginx' ? '/usr/sbin/nginx' : 'nginx';
}

our $ServerAddr          = '127.0.0.1';
our $ServerName          = 'localhost';
our $ServerPort          = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT}
                           || 1984;
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
our $Workers             = 1;
our $WorkerConnections   = 64;
our $DaemonEnabled       = 'on';
our $NoRootLocation      = 0;
our $NoLongString;
our $RepeatEach          = 1;
our $ConfigPreamble      = '';

our (@EnvToNginx, @BlockPreprocessors, @CleanupHandlers, @TestCleanupHandlers);

# Hooks filled in by Test::Nginx::Socket.
our ($RunTestHelper, $CheckErrorLog, $CheckShutdownErrorLog);

our ($NginxVersion, $NginxRawVersion, $OpenSSLVersion);
our ($PrevConfig, $PrevBlock, $ChildPid, $RandPorts, $ErrLogFilePos);
our $InSubprocess;

if ($UseValgrind) {
    # nginx stays in the foreground as our child so valgrind output reaches
    # the test's stderr (master_process keeps its configured value)
    $DaemonEnabled = 'off';
}

if ($ENV{TEST_NGINX_RANDOMIZE}) {
    $ServerPort = $ServerPortForClient = rand_free_port({})
        or die "Cannot find a free TCP port\n";
}

our $ServRoot = $ENV{TEST_NGINX_RANDOMIZE}
              ? File::Spec->rel2abs("t/servroot_$ServerPort")
              : File::Spec->rel2abs($ENV{TEST_NGINX_SERVROOT} || 't/servroot');
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $LogDir     = "$ServRoot/logs";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $HtmlDir    = "$ServRoot/html";
our $ConfDir    = "$ServRoot/conf";
our $ConfFile   = "$ConfDir/nginx.conf";
our $PidFile    = "$LogDir/nginx.pid";

sub repeat_each (@)        { $RepeatEach = shift if @_; $RepeatEach }
sub workers (@)            { @_ ? ($Workers = shift) : $Workers }
sub worker_connections (@) { @_ ? ($WorkerConnections = shift) : $WorkerConnections }
sub log_level (@)          { @_ ? ($LogLevel = shift) : $LogLevel }
sub timeout (@)            { @_ ? ($Timeout = shift) : $Timeout }
sub server_addr (@)        { @_ ? ($ServerAddr = shift) : $ServerAddr }
sub server_name (@)        { @_ ? ($ServerName = shift) : $ServerName }
sub server_port (@)        { @_ ? ($ServerPort = shift) : $ServerPort }
sub server_port_for_client (@) {
    @_ ? ($ServerPortForClient = shift) : $ServerPortForClient;
}
sub master_on ()           { $MasterProcessEnabled = 'on' }
sub master_off ()          { $MasterProcessEnabled = 'off' }
sub master_process_enabled (@) {
    return $MasterProcessEnabled unless @_;
    $MasterProcessEnabled = shift() ? 'on' : 'off';
}
sub no_shuffle ()          { $NoShuffle = 1 }
sub no_root_location ()    { $NoRootLocation = 1 }
sub no_long_string ()      { $NoLongString = 1 }
sub no_nginx_manager ()    { $NoNginxManager = 1 }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub config_preamble ($)    { $ConfigPreamble = shift }
sub html_dir ()            { $HtmlDir }
sub server_root ()         { $ServRoot }
sub sleep_time ()          { $TestNginxSleep }
sub verbose ()             { $Verbose }
sub use_hup ()             { warn "WARNING: use_hup() is not supported by the "
                                  . "bundled Test::Nginx subset; ignored\n" }

sub add_block_preprocessor (&)    { unshift @BlockPreprocessors, shift }
sub add_cleanup_handler ($)       { unshift @CleanupHandlers, shift }
sub add_test_cleanup_handler ($)  { unshift @TestCleanupHandlers, shift }

sub env_to_nginx (@) {
    croak "env_to_nginx: no arguments specified" unless @_;
    for my $v (@_) {
        croak "env_to_nginx: bad argument value: $v\n"
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

#-----------------------------------------------------------------------------
# Small helpers
#-----------------------------------------------------------------------------

# A zombie counts as gone: the daemonized nginx is reparented to init,
# which may take seconds to reap it.
sub is_running ($) {
    my $pid = shift;
    return 0 unless $pid && kill(0, $pid);
    if (open my $st, '<', "/proc/$pid/stat") {
        my $stat = <$st> // '';
        return 0 if $stat =~ /\)\s+Z\b/;
    }
    return 1;
}

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(join '', @_);
}

# "1.5" -> 1.5, "50ms" -> 0.05, "2s" -> 2
sub parse_time ($) {
    my $t = shift;
    return $t unless defined $t;
    return $1 / 1000 if $t =~ /^\s*([\d.]+)\s*ms\s*$/;
    return $1 if $t =~ /^\s*([\d.]+)\s*s?\s*$/;
    return $t;
}

sub trim ($) {
    my $s = shift;
    return undef unless defined $s;
    $s =~ s/^\s+|\s+$//g;
    $s =~ s/\s+/ /g;
    return $s;
}

sub show_all_chars ($) {
    my $s = shift;
    $s =~ s/\n/\\n/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\t/\\t/g;
    return $s;
}

# String compare that shows a useful diff for long strings; a Regexp
# "expected" value turns it into like().
sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return Test::More::like($got, $expected, $desc)
        if ref $expected && ref $expected eq 'Regexp';
    return Test::More::is($got, $expected, $desc) if $NoLongString;
    return Test::LongString::is_string($got, $expected, $desc);
}

# "Name: value" lines -> { Name => value }; "!Name" -> { Name => undef }.
# Returns the keys in first-appearance order as a second value.
sub parse_headers ($) {
    my $text = shift;
    my (%h, @order);
    for my $line (split /\n/, $text) {
        $line =~ s/^\s+|\s+$//g;
        my ($key, $val);
        if ($line =~ s/^!\s*//) {
            $key = $line;
        } else {
            ($key, $val) = split /\s*:\s*/, $line, 2;
            $key //= '';
        }
        push @order, $key unless exists $h{$key};
        $h{$key} = $val;
    }
    return wantarray ? (\%h, \@order) : \%h;
}

sub get_canon_version (@) { sprintf "%d.%03d%03d", @_[0 .. 2] }

sub rand_free_port {
    my $used = shift;
    for (1 .. 1000) {
        my $port = 1988 + int rand(63000);
        next if $used->{$port};
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                      LocalPort => $port, Listen => 1,
                                      ReuseAddr => 1)
            or next;
        close $s;
        return $port;
    }
    return undef;
}

# Replace every $TEST_NGINX_FOO by $ENV{TEST_NGINX_FOO}; an undefined one
# aborts the run (as the real module does).  $TEST_NGINX_RAND_PORT_N gives
# a free port, stable within one test block.
sub expand_env_in_text ($$$) {
    my ($text, $name, $rand_ports) = @_;
    return undef unless defined $text;
    $rand_ports //= {};

    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        if ($var =~ /^TEST_NGINX_RAND_PORT_\d+$/) {
            if (!defined $rand_ports->{$var}) {
                my %used = map { $_ => 1 } $ServerPort, values %$rand_ports;
                $rand_ports->{$var} = rand_free_port(\%used)
                    // bail_out("$name - Cannot find a free port for $var.\n");
            }
            $rand_ports->{$var};
        } else {
            bail_out("$name - No environment $var defined.\n")
                unless defined $ENV{$var};
            $ENV{$var};
        }
    }eg;

    return $text;
}

my $nginx_V;
sub nginx_V () {
    return $nginx_V if defined $nginx_V;
    my $out = `$NginxBinary -V 2>&1`;
    bail_out("Failed to run \"$NginxBinary -V\": " . ($out // $!))
        if !defined $out || $? != 0;
    return $nginx_V = $out;
}

sub get_nginx_version () {
    my $out = nginx_V();
    if ($out =~ /built with OpenSSL (\d+)\.(\d+)\.(\d+)([a-z])?/) {
        $OpenSSLVersion = get_canon_version($1, $2, $3)
                          . ($4 ? sprintf('%03d', ord($4) - ord('a')) : '');
    }
    if ($out =~ m{/(\d+)\.(\d+)\.(\d+)}) {
        $NginxRawVersion = "$1.$2.$3";
        return get_canon_version($1, $2, $3);
    }
    bail_out("Failed to parse the output of \"nginx -V\": $out\n");
}

#-----------------------------------------------------------------------------
# Log files
#-----------------------------------------------------------------------------

# New error.log lines since the previous call within the current block.
sub error_log_data () {
    sleep $TestNginxSleep * 3;     # let nginx finish its log-phase writes
    open my $in, '<', $ErrLogFile or return undef;
    seek $in, $ErrLogFilePos, 0 if !$CheckAccumErrLog && $ErrLogFilePos;
    my @lines = <$in>;
    $ErrLogFilePos = tell $in unless $CheckAccumErrLog;
    close $in;
    return \@lines;
}

sub access_log_data () {
    sleep $TestNginxSleep * 3;
    open my $in, '<', $AccLogFile or die "open $AccLogFile failed: $!";
    my @lines = <$in>;
    close $in;
    return \@lines;
}

#-----------------------------------------------------------------------------
# Server root, user files, nginx.conf
#-----------------------------------------------------------------------------

sub setup_server_root () {
    if (-d $ServRoot) {
        # only remove what we create, so a mis-set TEST_NGINX_SERVROOT
        # cannot wipe real data
        remove_tree($ConfDir, $LogDir, $HtmlDir, "$ServRoot/cache",
                    glob("$ServRoot/*_cache"), glob("$ServRoot/*_temp"));
        rmdir $ServRoot
            or bail_out("Can't remove $ServRoot (not empty?): $!");
    }
    for my $d ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        -d $d or make_path($d) or bail_out("Failed to do mkdir $d\n");
    }
    write_file("$HtmlDir/index.html", '<html><head><title>It works!</title>'
               . '</head><body>It works!</body></html>');
}

sub slurp ($) {
    open my $in, '<', shift or return '';
    local $/;
    return scalar <$in> // '';
}

sub write_file {
    my ($path, $data) = @_;
    open my $out, '>', $path or bail_out("Can't open $path for writing: $!\n");
    binmode $out;
    print $out $data;
    close $out;
}

# --- user_files: ">>> name [touch-date]" headers followed by the contents,
# or (eval) an array of [name, contents, date].  Relative names go to html/.
sub write_user_files ($) {
    my $block = shift;
    my $name = $block->name;
    my $files = $block->user_files or return;

    if (!ref $files) {
        my @list;
        for my $line (split /^/, $files) {
            if ($line =~ /^>>> (\S+)(?:\s+(.+))?/) {
                push @list, [$1, '', $2];
            } elsif (@list) {
                $list[-1][1] .= $line;
            }
        }
        $files = \@list;
    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - wrong value type for --- user_files: ", ref $files);
    }

    for my $f (@$files) {
        my ($fname, $body, $date) = @$f;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        (my $dir = $path) =~ s{/[^/]*$}{};
        make_path($dir) unless -d $dir;
        write_file($path, expand_env_in_text($body // '', $name, $RandPorts));
        if ($date) {
            local $ENV{TZ} = 'GMT';
            system('touch', '-t', $date, $path) == 0
                or bail_out("$name - failed to touch -t $date $path\n");
        }
    }
}

sub write_config_file ($$) {
    my ($block, $config) = @_;
    my $name = $block->name;
    my $expand = sub { expand_env_in_text($_[0] // '', $name, $RandPorts) };

    my $http_config      = $expand->($block->http_config);
    my $main_config      = $block->main_config // '';
    my $post_main_config = $expand->($block->post_main_config);
    my $err_log_file     = $expand->($block->error_log_file || $ErrLogFile);
    my $server_name      = $block->server_name // $ServerName;

    if ($LoadModules) {
        # relative paths are resolved by nginx against the prefix (servroot)
        $main_config = join('', map { "load_module $_;\n" }
                                grep { length } split /\s+/, $LoadModules)
                       . $main_config;
    }
    $main_config = $expand->($main_config);

    my $env = '';
    for my $v (qw(LD_PRELOAD LD_LIBRARY_PATH ASAN_OPTIONS MOCKEAGAIN
                  MOCKEAGAIN_VERBOSE MOCKEAGAIN_WRITE_TIMEOUT_PATTERN),
               @EnvToNginx)
    {
        $env .= $v =~ /\s/ ? "env '$v';\n" : "env $v;\n";
    }

    # temp dirs inside servroot, unless the test sets them itself
    my $V = nginx_V();
    my $temp = '';
    for my $t (qw(client_body proxy fastcgi scgi uwsgi)) {
        next if $t =~ /^(fastcgi|scgi|uwsgi)$/
                && $V =~ /--without-http_${t}_module/;
        next if $http_config =~ /\b${t}_temp_path\b/;
        $temp .= "    ${t}_temp_path $ServRoot/${t}_temp;\n";
    }

    my $postpone = '';
    if (defined $PostponeOutput && $http_config !~ /\bpostpone_output\b/) {
        $postpone = "    postpone_output $PostponeOutput;\n";
    }

    (my $quoted_name = $server_name) =~ s/(['\\])/\\$1/g;

    my $root_location = $NoRootLocation ? '' : <<"_EOC_";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_

    my $events = $EventType ? "    use $EventType;\n" : '';
    my $user = defined $WorkerUser ? "user $WorkerUser;\n"
             : $> == 0 ? "user root;\n" : '';

    write_file($ConfFile, <<"_EOC_");
worker_processes  $Workers;
daemon $DaemonEnabled;
master_process $MasterProcessEnabled;
error_log $err_log_file $LogLevel;
pid       $PidFile;
$env
$main_config

http {
    access_log $AccLogFile;
$temp$postpone
    default_type text/plain;
    keepalive_timeout  68000ms;

$http_config

    server {
        listen          $ServerPort;
        server_name     '$quoted_name';
        client_max_body_size 30M;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_location    }
}

$post_main_config

events {
    accept_mutex off;
    worker_connections  $WorkerConnections;
$events}

$user
_EOC_
}

#-----------------------------------------------------------------------------
# nginx process control
#-----------------------------------------------------------------------------

sub get_pid_from_pidfile ($) {
    my $name = shift;
    open my $in, '<', $PidFile
        or bail_out("$name - Failed to open the pid file $PidFile: $!");
    my $pid = do { local $/; <$in> } // '';
    close $in;
    $pid =~ s/\s+//g;
    return $pid;
}

# Reap our own child if it is the process in question, so a zombie does
# not look "running".
sub reap ($) {
    my $pid = shift;
    return unless defined $ChildPid && $pid == $ChildPid;
    if (waitpid($ChildPid, WNOHANG) == $ChildPid) {
        undef $ChildPid;
        return $?;
    }
    return undef;
}

# Ask a process to quit (QUIT, or TERM with TEST_NGINX_FAST_SHUTDOWN), give
# it $wait seconds, then kill it (and its process group if it leads one).
# Returns the wait status when the process was our child.
sub kill_process ($$$) {
    my ($pid, $wait, $name) = @_;
    return unless is_running($pid);
    my $status;

    kill($ENV{TEST_NGINX_FAST_SHUTDOWN} ? SIGTERM : SIGQUIT, $pid);
    for (my $t = $wait; $t > 0; $t -= 0.02) {
        $status //= reap($pid);
        last unless is_running($pid);
        sleep 0.02;
    }

    if (is_running($pid)) {
        warn "$name - WARNING: killing process $pid with force\n";
        kill(SIGKILL, getpgrp($pid) == $pid ? -$pid : $pid);
        for (1 .. 100) {
            $status //= reap($pid);
            last unless is_running($pid);
            sleep 0.02;
        }
    }
    return $status;
}

# Stop the nginx recorded in the pid file (and our valgrind child, if any).
# Returns the child's wait status when known.
sub stop_nginx ($) {
    my $name = shift;
    my $status;
    if (-f $PidFile) {
        my $pid = get_pid_from_pidfile($name);
        if ($pid && is_running($pid)) {
            # valgrind needs time for its leak report on exit
            $status = kill_process($pid, $UseValgrind ? 30 : $Timeout, $name);
        }
        unlink $PidFile;
    }
    if (defined $ChildPid) {
        my $s = kill_process($ChildPid, $Timeout, $name);
        $status //= $s;
        if (defined $ChildPid) {
            waitpid($ChildPid, 0);
            $status //= $?;
            undef $ChildPid;
        }
    }
    return $status;
}

sub nginx_cmd () {
    return ($NginxBinary, '-e', $ErrLogFile, '-p', "$ServRoot/",
            '-c', $ConfFile);
}

sub valgrind_cmd () {
    my @opts;
    if ($UseValgrind =~ /^\d+$/) {
        # memory errors make nginx exit with 99 (reported as a failure by
        # run_test); leaks are only printed unless
        # TEST_NGINX_VALGRIND_LEAKS_FAIL is set, because stock nginx leaks
        # a little at exit in single-process mode
        @opts = qw(--tool=memcheck --leak-check=full --keep-debuginfo=yes
                   --show-possibly-lost=no --num-callers=100 -q
                   --gen-suppressions=all --error-exitcode=99);
        push @opts, '--errors-for-leak-kinds='
                    . ($ENV{TEST_NGINX_VALGRIND_LEAKS_FAIL} ? 'definite' : 'none');
        push @opts, '--exit-on-first-error=yes'
            if $ENV{TEST_NGINX_VALGRIND_EXIT_ON_FIRST_ERR};
        push @opts, '--suppressions=valgrind.suppress'
            if -f 'valgrind.suppress';
    } else {
        @opts = ('-q', split ' ', $UseValgrind);
    }
    return ('valgrind', @opts);
}

# Fork/exec nginx.  In the normal (daemon) mode wait for the launcher to
# exit and return its wait status; in valgrind mode leave it running as our
# child and return 0.
sub spawn_nginx ($) {
    my $block = shift;
    my @cmd = nginx_cmd();
    unshift @cmd, valgrind_cmd() if $UseValgrind;

    my $pid = fork;
    bail_out("fork() failed: $!") unless defined $pid;
    if ($pid == 0) {
        $InSubprocess = 1;
        setpgrp(0, 0) if $UseValgrind;
        if (my $p = $ENV{TEST_NGINX_LD_PRELOAD}) {
            $ENV{LD_PRELOAD} = join ' ', grep { defined } $p, $ENV{LD_PRELOAD};
        }
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null' if defined $block->suppress_stderr;
        exec @cmd or POSIX::_exit(127);
    }

    if ($UseValgrind) {
        $ChildPid = $pid;
        sleep $TestNginxSleep;
        return 0;
    }
    waitpid($pid, 0);
    return $?;
}

sub nginx_t_output () {
    my ($bin, @args) = nginx_cmd();
    my $cmd = join ' ', map { "'$_'" } $bin, '-t', @args;
    return scalar `$cmd 2>&1`;
}

sub unknown_directive () {
    open my $in, '<', $ErrLogFile or return;
    while (<$in>) {
        return $1 if /\[emerg\] \S+?: unknown directive "([^"]+)"/;
    }
    return;
}

#-----------------------------------------------------------------------------
# Test driver
#-----------------------------------------------------------------------------

sub cleanup () {
    $_->() for @CleanupHandlers;
    if (defined $ChildPid) {       # valgrind child
        stop_nginx('cleanup');
    }
}

sub run_tests () {
    $NginxVersion = get_nginx_version();
    $ENV{TEST_NGINX_SERVER_PORT} //= $ServerPort;

    # make Ctrl-C / kill run the END block so nginx does not outlive us
    for my $sig (qw(INT TERM HUP)) {
        $SIG{$sig} = sub { exit 130 }
            if !$SIG{$sig} || $SIG{$sig} eq 'DEFAULT';
    }

    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks unless $NoShuffle;
    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value(name => "$0 " . $block->name);
        run_test($block);
        $_->($block) for @TestCleanupHandlers;
        $PrevBlock = $block;
    }

    cleanup();
}

# Decide whether (and how many) subtests of a block are skipped or TODO.
# Returns ($count, $skip_reason, $todo_reason).
sub skip_or_todo ($) {
    my $block = shift;
    my $name = $block->name;
    my $ver_test = sub {
        my ($have, $op, $want) = @_;
        return 1 if !defined $have;
        return eval "$have $op $want";
    };

    if (defined(my $spec = $block->skip_eval)) {
        $spec =~ /^\s*(\d+)\s*:\s*(.*)/s
            or bail_out("$name - Invalid --- skip_eval spec: $spec");
        my ($n, $code) = ($1, $2);
        my $skip = eval $code;
        bail_out("$name - skip_eval - failed to eval \"$code\": $@") if $@;
        return ($n, 'skip_eval') if $skip;
    }
    if (defined(my $spec = $block->skip_nginx)) {
        $spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*))?\s*$/
            or bail_out("$name - Invalid --- skip_nginx spec: $spec");
        my ($n, $op, $reason) = ($1, $2, $6 || "nginx version $2 $3.$4.$5");
        return ($n, $reason)
            if $ver_test->($NginxVersion, $op, get_canon_version($3, $4, $5));
    }
    if (defined(my $spec = $block->skip_openssl)) {
        $spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)([a-z])?(?:\s*:\s*(.*))?\s*$/
            or bail_out("$name - Invalid --- skip_openssl spec: $spec");
        my $want = get_canon_version($3, $4, $5)
                   . ($6 ? sprintf('%03d', ord($6) - ord('a')) : '');
        return ($1, $7 || "OpenSSL version $2 $3.$4.$5" . ($6 // ''))
            if $ver_test->($OpenSSLVersion, $2, $want);
    }
    if (defined(my $spec = $block->todo)) {
        $spec =~ /^\s*(\d+)\s*:\s*(.*)/s
            or bail_out("$name - Invalid --- todo spec: $spec");
        return ($1, undef, $2);
    }
    return;
}

# Sections of the real module that this subset does not implement: fail
# loudly rather than silently ignoring an expectation.
my @Unsupported = qw(
    http2 http3 curl curl_error curl_options curl_protocol
    stap stap_out stap_out_like stap_out_unlike
    udp_listen udp_reply udp_reply_delay udp_query
    tcp_listen tcp_reply tcp_reply_delay tcp_query tcp_query_len
    tcp_shutdown tcp_no_close tcp_query_auto_timeout
    response_body_filters response_body_json_sort write_resp_body_file
    request_eval response_body_eval skip_nginx2 skip_slave todo_nginx
);

sub run_test ($) {
    my $block = shift;
    my $name = $block->name;

    for my $s (@Unsupported) {
        bail_out("$name - section \"--- $s\" is not supported by the bundled "
                 . "Test::Nginx::Socket subset (t/lib/compat)")
            if exists $block->{$s};
    }

    my $rand_ports = $RandPorts = {};
    my $config = expand_env_in_text($block->config, $name, $rand_ports);

    local $LogLevel = $block->log_level || $LogLevel;

    my ($skip_n, $skip_reason, $todo_reason) = skip_or_todo($block);
    my $must_die = $block->must_die;

    # Without --- config the nginx of the previous block keeps running.
    my $restart = 0;
    if (!$NoNginxManager) {
        if (defined $config) {
            $restart = $ForceRestartOnTest || !defined $PrevConfig
                       || $config ne $PrevConfig;
        } elsif (!defined $PrevConfig) {
            bail_out("$name - No '--- config' section specified and could "
                     . "not get previous one.");
        }
    }

    # $dry: when set, every assertion of the block is reported as a skip or
    # a failure with this reason instead of being checked.
    my $dry;

    # a must_die nginx that unexpectedly starts must not block us
    local $DaemonEnabled = 'on' if defined $must_die;

    if ($restart && !defined $skip_reason) {
        $PrevConfig = $config;
        stop_nginx($name);
        $CheckShutdownErrorLog->($PrevBlock) if $PrevBlock;

        setup_server_root();
        if (my $code = $block->post_setup_server_root) {
            eval $code;
            bail_out("$name - post_setup_server_root failed: $@") if $@;
        }
        write_user_files($block);
        write_config_file($block, $config);

        warn "$name\n" if $UseValgrind && !defined $must_die;

        if (defined $must_die) {
            local $UseValgrind;
            $ErrLogFilePos = 0;
            for my $i (0 .. $RepeatEach - 1) {
                my $status = spawn_nginx($block);
                my $code = $status >> 8;
                if ($status & 127) {
                    Test::More::fail("$name - nginx died from signal "
                                     . ($status & 127));
                } elsif ($must_die =~ /^\s*\d+\s*$/) {
                    Test::More::is($must_die, $code,
                        "$name - die with the expected exit code");
                } else {
                    Test::More::isnt($status, 0, "$name - die as expected");
                }
                $CheckErrorLog->($block, undef, undef, $i, 0);
                if ($status == 0) {
                    warn "WARNING: $name - nginx must die but it does not; "
                         . "killing it\n";
                    for (1 .. 15) { last if -f $PidFile; sleep $TestNginxSleep }
                    stop_nginx($name);
                }
            }
            return;
        }

        $ErrLogFilePos = 0;
        my $status;
        for my $try (1 .. 2) {
            $status = spawn_nginx($block);
            last if $status == 0;
            # port still held by someone: nginx itself retries bind() for
            # 2.5s, give it a couple more chances
            last unless slurp($ErrLogFile) =~ /Address already in use/;
        }

        if ($status != 0) {
            my $directive = unknown_directive();
            if ($ENV{TEST_NGINX_IGNORE_MISSING_DIRECTIVES} && $directive) {
                $dry = { skip => 1,
                         reason => "the lack of directive $directive" };
            } else {
                my $out = nginx_t_output();
                # e.g. bind() errors only show up when really starting
                $out .= join '', grep { /\[emerg\]/ && index($out, $_) < 0 }
                                 split /^/, slurp($ErrLogFile);
                $out =~ s/^/    /mg;
                Test::More::diag("$name - failed to start nginx (exit status "
                    . ($status >> 8) . "); \"nginx -t\" says:\n$out");
                $dry = { reason => 'nginx failed to start' };
            }
        }
        sleep $TestNginxSleep;
    }

    if (my $code = $block->init) {
        eval $code;
        bail_out("$name - init failed: $@") if $@;
    }

    $ErrLogFilePos = 0;
    for my $i (0 .. $RepeatEach - 1) {
        write_user_files($block) if $i > 0;

        if (defined $skip_reason) {
          SKIP: { Test::More::skip("$name - $skip_reason", $skip_n) }
        } elsif (defined $todo_reason) {
          TODO: { Test::More::todo_skip("$name - $todo_reason", $skip_n) }
        } else {
            $RunTestHelper->($block, $dry, $i);
        }
    }

    if (my $total = $ENV{TEST_NGINX_ERROR_LOG}) {
        if (-s $ErrLogFile && open my $out, '>>', $total) {
            print $out "\n=== $0 $name\n", slurp($ErrLogFile);
            close $out;
        }
    }

    # under valgrind nginx is stopped after every block so that memcheck's
    # exit-time report belongs to this block
    if ($UseValgrind && defined $ChildPid) {
        my $status = stop_nginx($name);
        if ($status) {
            Test::More::fail("$name - nginx under valgrind exited with "
                . ($status & 127 ? "signal " . ($status & 127)
                                 : "status " . ($status >> 8))
                . " (see the valgrind output above)");
        }
    }
}

END {
    return if $InSubprocess;
    local $?;      # keep the test's exit status
    cleanup();
    if (!$ENV{TEST_NGINX_NO_CLEAN} || $UseValgrind) {
        stop_nginx('END') if defined $PidFile && -f $PidFile;
    }
    $CheckShutdownErrorLog->($PrevBlock) if $PrevBlock && $CheckShutdownErrorLog;
    remove_tree($ServRoot) if $ENV{TEST_NGINX_RANDOMIZE}
                              && $ServRoot =~ m{/t/servroot_\d+$};
}

1;
