package Velro::Backends;

# Throwaway PostgreSQL and Redis (and a tiny SQL-over-HTTP endpoint) for
# the test suites: each .t gets its own, in temp dirs under /tmp, stopped
# and removed when the .t exits.
#
#   use Velro::Backends;
#   Velro::Backends::start_pg(fixture => 1);   # ~1 s
#   Velro::Backends::start_redis();             # or (password => 's', unix => 1)
#   Velro::Backends::start_sql_endpoint();      # POST SQL to /sql from nginx
#
# PostgreSQL
#   start_pg(%opt)   initdb (trust auth), start (127.0.0.1 and a unix
#                    socket in the temp dir), create database "velro", load
#                    sql/schema.sql. Options:
#                      fixture => 1   also load t/sql/fixture.sql
#                      demo => 1      also load sql/demo.sql
#                      schema => 0    load nothing (empty database)
#                      sql => STR     run STR after the rest
#                      conf => {NAME => VALUE, ...}   more postgresql.conf
#                    After stop_pg(), start_pg() starts the same cluster
#                    again on the same port (an outage), options ignored.
#                    Sets $ENV{TEST_NGINX_PG_PORT}, $ENV{TEST_NGINX_PG_CONNINFO}
#                    ("host=127.0.0.1 port=N dbname=velro user=postgres"),
#                    $ENV{TEST_NGINX_PG_SOCKET_DIR},
#                    $ENV{TEST_NGINX_PG_SOCKET_CONNINFO} (same, over the socket).
#   stop_pg(%opt)    stop it (mode => 'fast' by default, or 'immediate');
#                    the data stays until the end
#   psql($sql, %opt) run $sql in the velro database (psql -X -q -A -t
#                    -v ON_ERROR_STOP=1), return stdout; dies with psql's
#                    stderr on error. db => NAME for another database,
#                    args => [...] for more psql arguments.
#   pg_running()
#
# Redis
#   start_redis(%opt)  redis-server on 127.0.0.1, a free port, no
#                      persistence. password => 'x' (requirepass),
#                      unix => 1 (also a unix socket). After stop_redis(),
#                      start_redis() restarts it on the same port with the
#                      same options (an outage); given options override.
#                      Sets $ENV{TEST_NGINX_REDIS_PORT},
#                      $ENV{TEST_NGINX_REDIS_SOCKET} (unix => 1),
#                      $ENV{TEST_NGINX_REDIS_PASSWORD} (password).
#   stop_redis()
#   redis_cli(@args)   run redis-cli against it, return its output
#                      (chomped); dies when redis-cli fails
#   redis_running()
#
# SQL endpoint
#   start_sql_endpoint()  forks an HTTP/1.0 server on 127.0.0.1 (Perl core
#                    only): a POST's body (or GET ?q=URLENCODED) is run with
#                    psql(); on success it answers 200 text/plain with psql's
#                    output once every nginx worker has applied the
#                    changes the SQL made (see _settle below), on error 500
#                    with the message. POST /sql?wait=listen first waits
#                    until the invalidation subscriber follows the log
#                    again (the SQL dropped its backend).
#                    $ENV{VELRO_SQL_SETTLE} set: a fixed sleep of
#                    that many seconds instead (the pool suites' old way).
#                    Sets $ENV{TEST_NGINX_SQL_PORT}. In an nginx test config:
#                      location = /sql {
#                          velro_jwt off;
#                          proxy_pass http://127.0.0.1:$TEST_NGINX_SQL_PORT;
#                      }
#   stop_sql_endpoint()
#   wait_ready()     until every worker of the nginx under test has logged
#                    the outcome of its first Redis connect, and its
#                    invalidation subscriber where it follows the log from
#                    (Velro::Authz runs it before each block's requests)
#
#   stop_all()       everything, now (also done by END and on INT/TERM/HUP)
#
#   %Velro::Backends::PG, %REDIS, %SQL hold the state (pid, port, dir, ...)
#   for tests that want to poke at the processes themselves.
#
# As root, PostgreSQL runs as the "postgres" user: the forked child drops
# to it with setuid/setgid, the equivalent of runuser -u postgres (as
# another user, PostgreSQL runs as that user). The postmaster is started
# directly, as pg_ctl -w start would, but not daemonized: it stays our
# child, so we reap it (no zombie under a PID 1 that does not), and it
# gets SIGQUIT (immediate shutdown) if the test process is SIGKILLed
# (PR_SET_PDEATHSIG; Redis and the endpoint get SIGTERM). Binaries:
# $VELRO_PG_BINDIR, else `pg_config --bindir`, else the newest
# /usr/lib/postgresql/*/bin. Startup: about 1 s for PostgreSQL (initdb is
# most of it), 20 ms for Redis.
#
# Only the process that started a backend stops it ($$ is recorded):
# forks (Test::Nginx's, ours) that exit leave them alone. Temp dirs are
# under $VELRO_TMPDIR or /tmp.

use strict;
use warnings;

use Carp qw(croak);
use Cwd qw(abs_path);
use Velro::Proc ();
use Exporter 'import';
use File::Basename qw(dirname);
use File::Path qw(remove_tree);
use File::Spec;
use File::Temp qw(tempdir tempfile);
use IO::Select;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

our @EXPORT_OK = qw(start_pg stop_pg psql pg_running start_redis stop_redis
                    redis_cli redis_running start_sql_endpoint
                    stop_sql_endpoint stop_all);

our $TOP = abs_path(File::Spec->catdir(dirname(abs_path(__FILE__)),
                                       File::Spec->updir, File::Spec->updir,
                                       File::Spec->updir));

our %PG;        # owner, dir, data, sock, log, port, bindir, running
our %REDIS;     # owner, dir, port, opt, pid, running
our %SQL;       # owner, pid, port, log

my $TMP = $ENV{VELRO_TMPDIR} || '/tmp';
my $signals_set;

#----------------------------------------------------------------------------
# helpers

sub _slurp {
    my ($file) = @_;
    open my $fh, '<', $file or croak "Velro::Backends: cannot read $file: $!";
    local $/;
    my $s = <$fh>;
    close $fh;
    return $s;
}

sub _tail {
    my ($file, $n) = @_;
    return '' unless -f $file;
    my @l = split /\n/, _slurp($file);
    splice @l, 0, @l - $n if @l > $n;
    return join("\n", @l) . "\n";
}

# Make Ctrl-C and kill run the END block (exit() runs it, death by a
# signal does not); Test::Nginx's runner does the same for nginx.
sub _set_signals {
    return if $signals_set++;
    my %num = (HUP => 1, INT => 2, TERM => 15);
    for my $sig (qw(INT TERM HUP)) {
        next if $SIG{$sig} && $SIG{$sig} ne 'DEFAULT';
        $SIG{$sig} = sub { exit 128 + $num{$sig} };
    }
}

# Linux: deliver $sig to this (just forked) process when its parent dies,
# so a SIGKILLed test does not leave our children behind.
sub _die_with_parent {
    my ($sig) = @_;
    _prctl(1, $sig);                    # PR_SET_PDEATHSIG
}

# Linux prctl(option, arg); nothing where the syscall number is unknown.
sub _prctl {
    my ($option, $arg) = @_;
    my %nr = ('x86_64-linux' => 157, 'aarch64-linux' => 167,
              'i686-linux' => 172, 'i386-linux' => 172);
    require Config;
    my ($arch) = $Config::Config{archname} =~ /^([^-]+-linux)/;
    return unless $arch && $nr{$arch};
    syscall($nr{$arch}, $option, $arg, 0, 0, 0);
}

# True while $pid exists and is not a zombie.
sub _alive {
    my ($pid) = @_;
    return 0 unless $pid && kill 0, $pid;
    if (open my $fh, '<', "/proc/$pid/stat") {
        my $st = <$fh> // '';
        return 0 if $st =~ /^\d+ \(.*\) Z/s;
    }
    return 1;
}

# True once $pid is gone: reaped if it is our child (a zombie child is not
# gone until reaped), else no longer alive.
sub _gone {
    my ($pid) = @_;
    my $r = waitpid($pid, WNOHANG);
    return 1 if $r == $pid;
    return $r == -1 && !_alive($pid);
}

# Stop $pid: $sig, wait up to $wait seconds, then SIGKILL.
sub _kill_wait {
    my ($pid, $sig, $wait) = @_;
    return unless $pid;
    kill $sig, $pid;
    my $until = time + $wait;
    while (!_gone($pid)) {
        if (time >= $until) {
            kill 'KILL', $pid;
            for (1 .. 250) {
                return if _gone($pid);
                sleep 0.02;
            }
            return;
        }
        sleep 0.01;
    }
}

# Run @$cmd with $stdin (a string) on its standard input; returns
# (wait status, stdout, stderr). Files, not pipes: no deadlock whatever
# the sizes.
sub _run {
    my (%a) = @_;
    my ($in, $inname)   = tempfile('velro-in-XXXXXX', DIR => $TMP, UNLINK => 1);
    my ($out, $outname) = tempfile('velro-out-XXXXXX', DIR => $TMP, UNLINK => 1);
    my ($err, $errname) = tempfile('velro-err-XXXXXX', DIR => $TMP, UNLINK => 1);
    binmode $in;
    print $in $a{stdin} // '';
    close $in;

    my $pid = fork;
    croak "Velro::Backends: fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', $inname or POSIX::_exit(126);
        open STDOUT, '>&', $out or POSIX::_exit(126);
        open STDERR, '>&', $err or POSIX::_exit(126);
        _child_setup(%a);
        { no warnings 'exec'; exec { $a{cmd}[0] } @{ $a{cmd} }; }
        print STDERR "cannot run $a{cmd}[0]: $!\n";
        POSIX::_exit(127);
    }
    waitpid($pid, 0);
    my $status = $?;
    my $o = _slurp($outname);
    my $e = _slurp($errname);
    close $out;
    close $err;
    unlink $inname, $outname, $errname;
    return ($status, $o, $e);
}

# In a forked child, before exec: become $a{user} (as root), chdir, set
# the environment.
sub _child_setup {
    my (%a) = @_;
    if (my $u = $a{user}) {
        my ($uid, $gid) = @$u;
        $( = $gid;
        $) = "$gid $gid";
        $< = $> = $uid;
        if ($> != $uid || $< != $uid) {
            print STDERR "cannot become uid $uid: $!\n";
            POSIX::_exit(126);
        }
    }
    chdir $a{cwd} if defined $a{cwd};
    $ENV{$_} = $a{env}{$_} for keys %{ $a{env} || {} };
}

sub _which {
    my ($name) = @_;
    for my $d (split /:/, ($ENV{PATH} // '') . ':/usr/sbin:/usr/bin:/sbin:/bin') {
        my $f = "$d/$name";
        return $f if $d ne '' && -x $f && !-d $f;
    }
    return undef;
}

# A TCP port nobody listens on, outside the kernel's ephemeral range (so
# that no outgoing connection takes it between now and our bind).
sub _free_port {
    my ($lo, $hi) = (20000, 32767);
    if (open my $fh, '<', '/proc/sys/net/ipv4/ip_local_port_range') {
        my ($elo) = split ' ', scalar <$fh>;
        $hi = $elo - 1 if $elo && $elo - 1 < $hi;
        $lo = 1025, $hi = 1025 + 8192 if $hi - $lo < 1000;
    }
    for (1 .. 100) {
        my $port = $lo + int rand($hi - $lo);
        next if $port >= 1984 && $port < 2100;      # Test::Nginx's ports
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                      LocalPort => $port, Proto => 'tcp',
                                      Listen => 1, ReuseAddr => 1)
            or next;
        close $s;
        return $port;
    }
    croak "Velro::Backends: no free TCP port found";
}

sub _mkdir_tmp {
    my ($what) = @_;
    return tempdir("velro-$what-XXXXXX", DIR => $TMP, CLEANUP => 0);
}

#----------------------------------------------------------------------------
# PostgreSQL

sub _pg_bindir {
    my @try;
    push @try, $ENV{VELRO_PG_BINDIR} if $ENV{VELRO_PG_BINDIR};
    if (my $pgc = _which('pg_config')) {
        my $d = `$pgc --bindir 2>/dev/null`;
        chomp $d if defined $d;
        push @try, $d if $d;
    }
    push @try, sort {
        my ($x) = $a =~ m{/(\d+)/bin$}; my ($y) = $b =~ m{/(\d+)/bin$};
        ($y // 0) <=> ($x // 0)
    } glob '/usr/lib/postgresql/*/bin';
    for my $d (@try) {
        return $d if -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/psql";
    }
    die "Velro::Backends: PostgreSQL server binaries (initdb, pg_ctl) not "
      . "found (tried: @try). Install them: apt-get install postgresql "
      . "postgresql-client (make deps), or set VELRO_PG_BINDIR.\n";
}

# Run a PostgreSQL program as the postgres user when we are root (the
# server refuses to run as root). The fork does setuid itself rather than
# going through runuser: the postmaster is then our own child, so we reap
# it (no zombie under a PID 1 that does not) and it gets a parent-death
# signal.
sub _pg_env {
    my %env = (LC_ALL => 'C', PGTZ => 'UTC', HOME => $PG{dir});
    if ($PG{user}) {
        $env{USER} = $env{LOGNAME} = 'postgres';
    }
    return (user => $PG{user}, cwd => $PG{dir}, env => \%env);
}

sub _pg_run {
    my ($cmd, $stdin) = @_;
    return _run(cmd => $cmd, stdin => $stdin, _pg_env());
}

sub pg_running { $PG{running} ? 1 : 0 }

sub start_pg {
    my (%opt) = @_;

    croak "Velro::Backends: PostgreSQL is already running" if $PG{running};

    if ($PG{dir}) {                 # restart after stop_pg()
        _postmaster_start($PG{port}, 1);
        return $PG{port};
    }

    my $bindir = _pg_bindir();
    _set_signals();

    my $dir = _mkdir_tmp('pg');
    %PG = (owner => $$, dir => $dir, bindir => $bindir,
           data => "$dir/data", sock => "$dir/sock",
           log => "$dir/postgres.log");
    mkdir $PG{sock} or croak "Velro::Backends: mkdir $PG{sock}: $!";
    chmod 0755, $dir, $PG{sock};
    if ($> == 0) {
        my ($uid, $gid) = (getpwnam 'postgres')[2, 3];
        die "Velro::Backends: no \"postgres\" user: PostgreSQL cannot run "
          . "as root (apt-get install postgresql creates the user)\n"
            unless defined $uid;
        chown $uid, $gid, $dir, $PG{sock}
            or croak "Velro::Backends: chown $dir: $!";
        $PG{user} = [ $uid, $gid ];
    }

    my ($st, $out, $err) = _pg_run([ "$bindir/initdb", '-D', $PG{data},
        '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C',
        '--no-sync', '--no-instructions' ]);
    if ($st != 0) {
        die "Velro::Backends: initdb failed:\n$out$err";
    }

    my %conf = (
        listen_addresses         => "'127.0.0.1'",
        unix_socket_directories  => "'$PG{sock}'",
        unix_socket_permissions  => '0777',
        fsync                    => 'off',
        synchronous_commit       => 'off',
        full_page_writes         => 'off',
        max_connections          => 200,
        shared_buffers           => "'16MB'",
        max_wal_size             => "'256MB'",
        wal_level                => 'minimal',
        max_wal_senders          => 0,
        autovacuum               => 'off',
        log_min_messages         => 'warning',
        log_line_prefix          => "'%m [%p] '",
        timezone                 => "'UTC'",
        %{ $opt{conf} || {} },
    );
    open my $fh, '>>', "$PG{data}/postgresql.conf"
        or croak "Velro::Backends: postgresql.conf: $!";
    print $fh "\n# Velro::Backends\n";
    print $fh "$_ = $conf{$_}\n" for sort keys %conf;
    close $fh;

    my $port;
    for my $try (1 .. 5) {
        $port = _free_port();
        last if _postmaster_start($port, $try == 5);
    }

    psql('CREATE DATABASE velro', db => 'postgres');

    my @load;
    push @load, "$TOP/sql/schema.sql" unless defined $opt{schema} && !$opt{schema};
    push @load, "$TOP/t/sql/fixture.sql" if $opt{fixture};
    push @load, "$TOP/sql/demo.sql" if $opt{demo};
    for my $f (@load) {
        eval { psql(_slurp($f)); 1 }
            or die "Velro::Backends: loading $f: $@";
    }
    psql($opt{sql}) if defined $opt{sql};

    return $port;
}

# Start the postmaster on $port as our child (what pg_ctl -w start does,
# minus the daemonizing) and wait until it accepts connections; false when
# the port was taken (and !$must).
sub _postmaster_start {
    my ($port, $must) = @_;
    my $pid = _postgres_spawn($PG{data}, $PG{log}, $port, [ _pg_env() ],
                              $must, 'PostgreSQL') or return 0;

    $PG{pid} = $pid;
    $PG{port} = $port;
    $PG{running} = 1;
    $ENV{TEST_NGINX_PG_PORT} = $port;
    $ENV{TEST_NGINX_PG_SOCKET_DIR} = $PG{sock};
    $ENV{TEST_NGINX_PG_CONNINFO} =
        "host=127.0.0.1 port=$port dbname=velro user=postgres";
    $ENV{TEST_NGINX_PG_SOCKET_CONNINFO} =
        "host=$PG{sock} port=$port dbname=velro user=postgres";
    return 1;
}

# Starts a postgres on $data, its output appended to $log, and waits
# (bounded) until its postmaster.pid says it is ready; returns its pid, or
# 0 when $port was taken and $must is false (the caller tries another)
sub _postgres_spawn {
    my ($data, $logf, $port, $env, $must, $what) = @_;
    my $size = -s $logf // 0;
    my @cmd = ("$PG{bindir}/postgres", '-D', $data, '-p', $port);

    my $pid = fork;
    croak "Velro::Backends: fork: $!" unless defined $pid;
    if ($pid == 0) {
        $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP);
        _child_setup(@$env);
        _die_with_parent(3);            # SIGQUIT: immediate shutdown
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $logf or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT;
        { no warnings 'exec'; exec { $cmd[0] } @cmd; }
        POSIX::_exit(127);
    }

    my $until = time + 60;
    while (time < $until) {
        last if waitpid($pid, WNOHANG) == $pid;
        return $pid if _pm_ready($data, $pid);
        sleep 0.01;
    }
    _kill_wait($pid, 'QUIT', 5);
    my $log = -f $logf ? substr(_slurp($logf), $size) : '';
    return 0 if !$must && $log =~ /could not bind|already in use/i;
    die "Velro::Backends: $what did not start (port $port):\n$log";
}

# mode: smart (SIGTERM), fast (SIGINT, the default), immediate (SIGQUIT)
sub stop_pg {
    my (%opt) = @_;
    return unless $PG{running} && $PG{owner} == $$;
    my %sig = (smart => 'TERM', fast => 'INT', immediate => 'QUIT');
    my $sig = $sig{ $opt{mode} // 'fast' }
        or croak "Velro::Backends: stop_pg: unknown mode $opt{mode}";
    _kill_wait($PG{pid}, $sig, 30);
    $PG{running} = 0;
    delete $PG{pid};
}

sub psql {
    my ($sql, %opt) = @_;
    croak "Velro::Backends: PostgreSQL is not running" unless $PG{running};
    my @cmd = ("$PG{bindir}/psql", '-X', '-q', '-A', '-t',
               '-v', 'ON_ERROR_STOP=1', '-h', $PG{sock}, '-p', $PG{port},
               '-U', 'postgres', '-d', $opt{db} // 'velro',
               @{ $opt{args} || [] }, '-f', '-');
    my ($st, $out, $err) = _pg_run(\@cmd, $sql);
    if ($st != 0) {
        $err =~ s/\s+\z//;
        die "psql: " . ($err ne '' ? $err : "exit status " . ($st >> 8))
          . "\n";
    }
    return $out;
}

#----------------------------------------------------------------------------
# Redis

sub redis_running { $REDIS{running} ? 1 : 0 }

sub start_redis {
    my (%opt) = @_;
    croak "Velro::Backends: Redis is already running" if $REDIS{running};

    my $bin = _which('redis-server')
        or die "Velro::Backends: redis-server not found. Install it: "
             . "apt-get install redis-server redis-tools (make deps).\n";
    _set_signals();

    my $restart = defined $REDIS{dir};
    unless ($restart) {
        %REDIS = (owner => $$, dir => _mkdir_tmp('redis'), opt => {});
    }
    my %o = (%{ $REDIS{opt} }, %opt);
    $REDIS{opt} = \%o;
    my $dir = $REDIS{dir};

    for my $try (1 .. 5) {
        my $port = $o{port} // ($restart ? $REDIS{port} : _free_port());
        my @cmd = ($bin, '--port', $port, '--bind', '127.0.0.1',
                   '--save', '', '--appendonly', 'no', '--dir', $dir,
                   '--daemonize', 'no', '--logfile', "$dir/redis.log",
                   '--databases', 16, '--loglevel', 'notice');
        push @cmd, '--requirepass', $o{password} if defined $o{password};
        push @cmd, '--unixsocket', "$dir/redis.sock",
                   '--unixsocketperm', '777' if $o{unix};

        my $size = -s "$dir/redis.log" // 0;
        my $pid = fork;
        croak "Velro::Backends: fork: $!" unless defined $pid;
        if ($pid == 0) {
            $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP);
            _die_with_parent(15);
            open STDIN, '<', '/dev/null';
            open STDOUT, '>>', "$dir/redis.out";
            open STDERR, '>&', \*STDOUT;
            chdir $dir;
            { no warnings 'exec'; exec { $cmd[0] } @cmd; }
            POSIX::_exit(127);
        }

        # ready when it answers PING (NOAUTH counts: it is up)
        my $up;
        my $until = time + 10;
        while (time < $until) {
            last if _gone($pid);
            if (my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                              PeerPort => $port,
                                              Proto => 'tcp', Timeout => 1)) {
                print $s "PING\r\n";
                my $line = <$s>;
                close $s;
                if (defined $line && $line =~ /^(\+PONG|-NOAUTH)/) {
                    $up = 1;
                    last;
                }
            }
            sleep 0.01;
        }

        if ($up) {
            $REDIS{pid} = $pid;
            $REDIS{port} = $port;
            $REDIS{running} = 1;
            $ENV{TEST_NGINX_REDIS_PORT} = $port;
            if ($o{unix}) {
                $ENV{TEST_NGINX_REDIS_SOCKET} = "$dir/redis.sock";
            } else {
                delete $ENV{TEST_NGINX_REDIS_SOCKET};
            }
            if (defined $o{password}) {
                $ENV{TEST_NGINX_REDIS_PASSWORD} = $o{password};
            } else {
                delete $ENV{TEST_NGINX_REDIS_PASSWORD};
            }
            return $port;
        }

        _kill_wait($pid, 'TERM', 2);
        my $log = (-f "$dir/redis.log"
                   ? substr(_slurp("$dir/redis.log"), $size) : '')
                . _tail("$dir/redis.out", 5);
        if ($log =~ /address already in use/i && $try < 5
            && !defined $o{port})
        {
            sleep 0.2 if $restart;
            next;
        }
        die "Velro::Backends: redis-server did not start (port $port):\n$log";
    }
}

sub stop_redis {
    return unless $REDIS{running} && $REDIS{owner} == $$;
    _kill_wait($REDIS{pid}, 'TERM', 5);
    $REDIS{running} = 0;
    delete $REDIS{pid};
}

sub redis_cli {
    my (@args) = @_;
    croak "Velro::Backends: Redis is not running" unless $REDIS{running};
    my $cli = _which('redis-cli')
        or die "Velro::Backends: redis-cli not found: apt-get install "
             . "redis-tools\n";
    my @cmd = ($cli, '-h', '127.0.0.1', '-p', $REDIS{port});
    push @cmd, '--no-auth-warning', '-a', $REDIS{opt}{password}
        if defined $REDIS{opt}{password};
    my ($st, $out, $err) = _run(cmd => [ @cmd, @args ]);
    die "redis-cli @args: $err$out" if $st != 0;
    chomp $out;
    return $out;
}

#----------------------------------------------------------------------------
# SQL endpoint

sub start_sql_endpoint {
    croak "Velro::Backends: the SQL endpoint is already running" if $SQL{pid};
    croak "Velro::Backends: start_pg() first" unless $PG{dir};
    _set_signals();

    my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                    Proto => 'tcp', Listen => 64,
                                    ReuseAddr => 1)
        or croak "Velro::Backends: SQL endpoint: listen: $!";
    my $port = $srv->sockport;
    my $log = "$PG{dir}/sql-endpoint.log";
    my $parent = $$;

    my $pid = fork;
    croak "Velro::Backends: fork: $!" unless defined $pid;
    if ($pid == 0) {
        $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP);
        _die_with_parent(15);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log;
        open STDERR, '>&', \*STDOUT;
        STDOUT->autoflush(1);
        my $sel = IO::Select->new($srv);
        while (1) {
            POSIX::_exit(0) if getppid() != $parent;
            next unless $sel->can_read(1);
            my $c = $srv->accept or next;
            eval { _sql_serve($c); 1 } or print STDERR "sql endpoint: $@";
            close $c;
        }
    }
    close $srv;
    %SQL = (owner => $$, pid => $pid, port => $port);
    $ENV{TEST_NGINX_SQL_PORT} = $port;
    return $port;
}

sub _sql_serve {
    my ($c) = @_;
    my $sel = IO::Select->new($c);
    my $buf = '';
    my $read = sub {
        $sel->can_read(10) or die "read timeout\n";
        my $n = sysread $c, $buf, 65536, length $buf;
        die "read: $!\n" unless defined $n;
        return $n;
    };
    while ($buf !~ /\r?\n\r?\n/) {
        $read->() or last;
    }
    my ($head, $body) = split /\r?\n\r?\n/, $buf, 2;
    $body //= '';
    my ($method, $uri) = ($head // '') =~ /^(\S+)\s+(\S+)/;
    my ($len) = ($head // '') =~ /^Content-Length:\s*(\d+)/im;
    $len //= 0;
    while (length $body < $len) {
        $buf = '';
        $read->() or last;
        $body .= $buf;
    }
    $body = substr $body, 0, $len;
    if ($body eq '' && defined $uri && $uri =~ /[?&]q=([^&]*)/) {
        ($body = $1) =~ tr/+/ /;
        $body =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
    }

    my ($code, $text);
    if (!defined $method) {
        ($code, $text) = (400, "bad request\n");
    } elsif ($body =~ /^\s*\z/) {
        ($code, $text) = (400, "no SQL: POST it, or GET ?q=...\n");
    } else {
        my ($again) = ($uri // '') =~ /[?&]wait=listen\b/;
        my $settle = $ENV{VELRO_SQL_SETTLE};
        my $out;
        if (defined $settle && length $settle) {
            $out = eval { psql($body) };
            sleep $settle if defined $out && $settle > 0;
        } else {
            $out = eval { wait_ready(); _settle($body, $again) };
        }
        if (defined $out) {
            ($code, $text) = (200, $out);
        } else {
            ($code, $text) = (500, $@);
        }
    }
    my %reason = (200 => 'OK', 400 => 'Bad Request',
                  500 => 'Internal Server Error');
    my $resp = "HTTP/1.0 $code $reason{$code}\r\n"
             . "Content-Type: text/plain\r\n"
             . "Content-Length: " . length($text) . "\r\n"
             . "Connection: close\r\n\r\n$text";
    while (length $resp) {
        my $n = syswrite $c, $resp;
        last unless $n;
        substr $resp, 0, $n, '';
    }
}

# the level of the nginx.conf's error_log (Test::Nginx writes one)
sub _log_level {
    my ($conf) = @_;
    my ($level) = $conf =~ /^\s*error_log\s+\S+\s+(\w+)\s*;/m;
    return $level // 'error';
}

# the whole lines added to $file since the last call (from offset $from at
# first); a file that shrank is read again from its start
sub _log_tail {
    my ($file, $from) = @_;
    my $rest = '';
    return sub {
        open my $fh, '<', $file or return ();
        my $size = -s $fh // 0;
        ($from, $rest) = (0, '') if $size < $from;
        seek $fh, $from, 0;
        local $/;
        my $new = <$fh> // '';
        $from += length $new;
        $new = $rest . $new;
        my $cut = rindex($new, "\n") + 1;
        $rest = substr $new, $cut;
        return split /\n/, substr($new, 0, $cut);
    };
}

# wait_ready(), also before the SQL runs: the nginx under test (Test::Nginx's
# server root) has made its first connections.  Each of its workers (the
# master itself with master_process off) must have logged the outcome of its
# first Redis connect, if nginx.conf has velro_redis; and, if it has
# velro_pg, the instance's invalidation subscriber (one worker) must have
# logged where it follows the invalidation log from, or that its connection
# failed: either way it is past its start-up.  The suites used to give it
# 0.3 s, which a busy machine does not always keep.  Bounded like _settle.
sub wait_ready {
    my $root = $ENV{TEST_NGINX_SERVER_ROOT} or return;
    my $conf = Velro::Proc::slurp("$root/conf/nginx.conf") // return;
    return unless _log_level($conf) =~ /^(?:debug|info)$/;    # no such lines
    my (@need, @any);
    push @need, qr/velro: redis \S+ (?:connected|connect failed)/
        if $conf =~ /^\s*velro_redis\s/m;
    push @any, qr/velro: (?:invalidation log followed from seq|postgres subscriber connection failed)/
        if $conf =~ /^\s*velro_pg\s/m;
    return unless @need || @any;

    _wait_workers("to connect", "$root/logs/error.log", 0,
                  time + _settle_max(), \@need, \@any);
}

# how long wait_ready() and _settle() wait at most: VELRO_SQL_SETTLE_MAX
# seconds, 10 by default, 30 under valgrind
sub _settle_max {
    return $ENV{VELRO_SQL_SETTLE_MAX}
           || ($ENV{TEST_NGINX_USE_VALGRIND} ? 30 : 10);
}

# until every worker of the nginx under test (the master itself with
# master_process off) has logged a line matching each of @$need after
# offset $from of $log, and some process one matching each of @$any (a
# code ref is called with the line and answers whether it matches), or
# $until
sub _wait_workers {
    my ($what, $log, $from, $until, $need, $any) = @_;
    $any //= [];
    my $root = $ENV{TEST_NGINX_SERVER_ROOT} or return;
    my $t0 = time;
    my $tail = _log_tail($log, $from);
    my (%seen, %any);
    my $match = sub {
        my ($l, $re) = @_;
        return ref $re eq 'CODE' ? $re->($l) : $l =~ $re;
    };
    while (1) {
        # a daemonized nginx writes its pid file after the command that
        # started it returned, and forks its workers after that
        my ($master) = (Velro::Proc::slurp("$root/logs/nginx.pid") // '')
                       =~ /(\d+)/;
        my @workers;
        if ($master && Velro::Proc::alive($master)) {
            @workers = Velro::Proc::children($master);
            @workers = ($master) unless @workers;   # master_process off
        }
        for my $l ($tail->()) {
            my ($pid) = $l =~ /^\S+ \S+ \[\w+\] (\d+)#/ or next;
            for my $i (0 .. $#$need) {
                $seen{$pid}{$i} = 1 if $match->($l, $need->[$i]);
            }
            for my $i (0 .. $#$any) {
                $any{$i} = 1 if $match->($l, $any->[$i]);
            }
        }
        my @late = grep { keys %{ $seen{$_} || {} } < @$need } @workers;
        return if @workers && !@late && keys %any >= @$any;
        if (time >= $until) {
            printf STDERR "Velro::Backends: gave up after %.1f s waiting for"
                . " nginx workers %s %s\n", time - $t0,
                @late ? "@late" : @workers ? '(the subscriber)'
                                           : '(no nginx running)', $what;
            return;
        }
        sleep 0.01;
    }
}

# Runs $sql and waits, bounded, until every nginx worker has applied the
# changes it made: no fixed sleep, so a busy machine only makes it slower.
# The same psql session reads the newest seq of velro_invalidation_log
# before and after the SQL; when the SQL added rows, the wait ends when
# every worker has logged (the module's debug lines, at the suites' default
# log level) an invalidation of that seq or later (`velro: invalidation
# "PAYLOAD" seq=N`), or started after it (`velro: invalidations at
# seq=N`).  With $again (the SQL terminates the subscriber's backend), it
# first waits until the subscriber has logged that it follows the log again
# (`velro: invalidation log followed from seq N`).  Gives up after
# VELRO_SQL_SETTLE_MAX seconds (10, 30 under valgrind) and answers anyway.
sub _settle {
    my ($sql, $again) = @_;
    my $until = time + _settle_max();

    my $log = $ENV{TEST_NGINX_SERVER_ROOT}
              ? "$ENV{TEST_NGINX_SERVER_ROOT}/logs/error.log" : undef;
    my $from = $log ? (-s $log || 0) : 0;

    my $seq = q{SELECT coalesce((xpath('/row/m/text()', query_to_xml(
                  'SELECT max(seq) AS m FROM velro_invalidation_log',
                  false, true, '')))[1]::text, '0')
                WHERE to_regclass('velro_invalidation_log') IS NOT NULL};

    local $ENV{LC_MESSAGES} = 'C';
    local $ENV{LANGUAGE} = 'C';
    my $out = psql(<<"_SQL_");
SELECT 'velro-seq0:' || s FROM ($seq) x(s);
$sql
;
SELECT 'velro-seq1:' || s FROM ($seq) x(s);
_SQL_

    my ($s0) = $out =~ /^velro-seq0:(\d+)\n/m;
    my ($s1) = $out =~ /^velro-seq1:(\d+)\n/m;
    $out =~ s/^velro-seq[01]:\d+\n//mg;
    $out =~ s/^Asynchronous notification .* received from server process with PID \d+\.\n//mg;

    return $out unless $log;

    my $conf = Velro::Proc::slurp("$ENV{TEST_NGINX_SERVER_ROOT}/conf/nginx.conf")
               // '';
    return $out unless $conf =~ /^\s*velro_pg\s/m;

    if ($again) {
        _wait_workers("the subscriber back", $log, $from, $until, [],
                      [qr/velro: invalidation log followed from seq/]);
    }

    return $out unless defined $s1 && $s1 > ($s0 // 0);

    # the invalidation line is a debug one: at another level, the old way
    if (_log_level($conf) ne 'debug') {
        sleep 0.3;
        return $out;
    }

    my $t0 = time;
    my $applied = sub {
        my ($l) = @_;
        return ($l =~ /velro: invalidation ".*" seq=(\d+)/
                || $l =~ /velro: invalidations at seq=(\d+)/) && $1 >= $s1;
    };
    _wait_workers("to apply seq $s1", $log, $from, $until, [$applied]);
    printf STDERR "sql endpoint: seq %d applied by every worker in %.3f s\n",
        $s1, time - $t0 if $ENV{VELRO_SQL_VERBOSE};
    return $out;
}

sub stop_sql_endpoint {
    return unless $SQL{pid} && $SQL{owner} == $$;
    _kill_wait($SQL{pid}, 'TERM', 5);
    delete $SQL{pid};
}

#----------------------------------------------------------------------------
# Streaming standby and PgBouncer (the failover and pooler suites)
#
#   start_standby()  a hot standby of the running start_pg() cluster:
#                    pg_basebackup -R -X stream into another temp dir, run
#                    as the postgres user on a free port; returns once the
#                    primary's pg_stat_replication shows it streaming. A
#                    primary started with wal_level minimal (start_pg's
#                    default) is restarted first, on its port, with
#                    wal_level replica and max_wal_senders 5. Sets
#                    $ENV{TEST_NGINX_STANDBY_PORT},
#                    $ENV{TEST_NGINX_STANDBY_CONNINFO}.
#   standby_psql($sql, %opt)   psql() against the standby (db => NAME)
#   promote_standby()  pg_ctl promote, then until pg_is_in_recovery() is
#                    false (bounded: 30 s); returns the seconds it took
#   kill_primary()   SIGKILL to the primary's postmaster and all its
#                    backends (a crashed host); returns once they are gone.
#                    Works from a fork too (the control server of a block)
#   primary_stopped()  true once the primary's postmaster is gone
#   stop_standby()
#
#   start_pgbouncer(%opt)  PgBouncer (Debian's 1.18, /usr/sbin/pgbouncer)
#                    as the postgres user on 127.0.0.1, a free port, in
#                    front of the start_pg() cluster's "velro" database:
#                    auth_type trust, pool_mode => 'transaction' by
#                    default, pool_size => N (default_pool_size, 4); the
#                    config is written in a temp dir. Returns once a query
#                    through it answers. Sets $ENV{TEST_NGINX_PGBOUNCER_PORT},
#                    $ENV{TEST_NGINX_PGBOUNCER_CONNINFO}.
#   pgbouncer_psql($sql, %opt)   psql() through it (db => 'pgbouncer' for
#                    its admin console)
#   stop_pgbouncer()

our %STANDBY;   # owner, dir, data, sock, log, port, pid, running
our %PGB;       # owner, dir, port, pid, running

sub _standby_env {
    my %env = (LC_ALL => 'C', PGTZ => 'UTC', HOME => $STANDBY{dir});
    $env{USER} = $env{LOGNAME} = 'postgres' if $PG{user};
    return (user => $PG{user}, cwd => $STANDBY{dir}, env => \%env);
}

sub _append_conf {
    my ($file, %conf) = @_;
    open my $fh, '>>', $file or croak "Velro::Backends: $file: $!";
    print $fh "\n# Velro::Backends\n";
    print $fh "$_ = $conf{$_}\n" for sort keys %conf;
    close $fh;
}

# the postmaster.pid of $data says $pid is ready for connections
sub _pm_ready {
    my ($data, $pid) = @_;
    open my $fh, '<', "$data/postmaster.pid" or return 0;
    my @l = <$fh>;
    close $fh;
    return @l >= 8 && $l[0] =~ /^\s*$pid\s*$/ && $l[7] =~ /^ready/;
}

sub start_standby {
    croak "Velro::Backends: start_pg() first" unless $PG{running};
    croak "Velro::Backends: the standby is already running"
        if $STANDBY{running};

    # streaming replication needs WAL for replicas and a sender
    my $level = psql('SHOW wal_level', db => 'postgres');
    if ($level !~ /^(?:replica|logical)/) {
        _append_conf("$PG{data}/postgresql.conf", wal_level => 'replica',
                     max_wal_senders => 5, wal_keep_size => "'64MB'");
        stop_pg(mode => 'fast');
        start_pg();
    }

    my $dir = _mkdir_tmp('standby');
    %STANDBY = (owner => $$, dir => $dir, data => "$dir/data",
                sock => "$dir/sock", log => "$dir/postgres.log");
    mkdir $STANDBY{sock} or croak "Velro::Backends: mkdir $STANDBY{sock}: $!";
    chmod 0755, $dir, $STANDBY{sock};
    if ($PG{user}) {
        chown @{ $PG{user} }, $dir, $STANDBY{sock}
            or croak "Velro::Backends: chown $dir: $!";
    }

    my ($st, $out, $err) = _run(cmd => [ "$PG{bindir}/pg_basebackup",
        '-h', $PG{sock}, '-p', $PG{port}, '-U', 'postgres',
        '-D', $STANDBY{data}, '-R', '-X', 'stream', '-c', 'fast',
        '--no-sync' ], _standby_env());
    die "Velro::Backends: pg_basebackup failed:\n$out$err" if $st != 0;

    _append_conf("$STANDBY{data}/postgresql.conf",
                 unix_socket_directories => "'$STANDBY{sock}'",
                 hot_standby => 'on',
                 wal_receiver_status_interval => "'1s'");

    for my $try (1 .. 5) {
        my $port = _free_port();
        last if _standby_start($port, $try == 5);
    }

    # streaming: the primary's walsender says so
    my $until = time + 30;
    until (psql("SELECT count(*) FROM pg_stat_replication "
                . "WHERE state = 'streaming'", db => 'postgres') =~ /^[1-9]/)
    {
        die "Velro::Backends: the standby does not stream:\n"
            . _tail($STANDBY{log}, 10) if time >= $until;
        sleep 0.02;
    }

    return $STANDBY{port};
}

sub _standby_start {
    my ($port, $must) = @_;
    my $pid = _postgres_spawn($STANDBY{data}, $STANDBY{log}, $port,
                              [ _standby_env() ], $must, 'the standby')
        or return 0;

    $STANDBY{pid} = $pid;
    $STANDBY{port} = $port;
    $STANDBY{running} = 1;
    $ENV{TEST_NGINX_STANDBY_PORT} = $port;
    $ENV{TEST_NGINX_STANDBY_CONNINFO} =
        "host=127.0.0.1 port=$port dbname=velro user=postgres";
    return 1;
}

sub standby_psql {
    my ($sql, %opt) = @_;
    croak "Velro::Backends: the standby is not running"
        unless $STANDBY{running};
    my @cmd = ("$PG{bindir}/psql", '-X', '-q', '-A', '-t',
               '-v', 'ON_ERROR_STOP=1', '-h', $STANDBY{sock},
               '-p', $STANDBY{port}, '-U', 'postgres',
               '-d', $opt{db} // 'velro', @{ $opt{args} || [] }, '-f', '-');
    my ($st, $out, $err) = _run(cmd => \@cmd, stdin => $sql, _standby_env());
    if ($st != 0) {
        $err =~ s/\s+\z//;
        die "psql (standby): "
          . ($err ne '' ? $err : "exit status " . ($st >> 8)) . "\n";
    }
    return $out;
}

sub promote_standby {
    croak "Velro::Backends: the standby is not running"
        unless $STANDBY{running};
    my $t0 = time;
    my ($st, $out, $err) = _run(cmd => [ "$PG{bindir}/pg_ctl", 'promote',
        '-D', $STANDBY{data}, '-w', '-t', 30 ], _standby_env());
    die "Velro::Backends: pg_ctl promote failed:\n$out$err" if $st != 0;
    my $until = time + 30;
    until (standby_psql('SELECT pg_is_in_recovery()', db => 'postgres')
           =~ /^f/)
    {
        die "Velro::Backends: the standby is still in recovery after 30 s\n"
            if time >= $until;
        sleep 0.02;
    }
    return time - $t0;
}

# the postmaster's children: backends and auxiliary processes
sub _pg_children {
    my ($ppid) = @_;
    my @kids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $s = <$fh> // next;
        push @kids, $1 if $s =~ /^(\d+) \(.*\) \S+ (\d+)/s && $2 == $ppid;
    }
    return @kids;
}

sub kill_primary {
    my $pm = $PG{pid} or croak "Velro::Backends: no primary to kill";
    my @pids = ($pm, _pg_children($pm));
    kill 'STOP', $pm;               # no new backend while we collect them
    @pids = ($pm, _pg_children($pm));
    kill 'KILL', @pids;
    my $until = time + 10;
    while (grep { _alive($_) } @pids) {
        die "Velro::Backends: the primary's processes outlived SIGKILL\n"
            if time >= $until;
        waitpid($pm, WNOHANG) if $PG{owner} == $$;
        sleep 0.01;
    }
    waitpid($pm, WNOHANG) if $PG{owner} == $$;
    $PG{running} = 0;
    return scalar @pids;
}

sub primary_stopped { !$PG{pid} || !_alive($PG{pid}) }

sub stop_standby {
    return unless $STANDBY{running} && $STANDBY{owner} == $$;
    _kill_wait($STANDBY{pid}, 'QUIT', 30);
    $STANDBY{running} = 0;
    delete $STANDBY{pid};
}

sub start_pgbouncer {
    my (%opt) = @_;
    croak "Velro::Backends: start_pg() first" unless $PG{dir};
    croak "Velro::Backends: PgBouncer is already running" if $PGB{running};
    my $bin = _which('pgbouncer')
        or die "Velro::Backends: pgbouncer not found. Install it: apt-get "
             . "install pgbouncer (make test-deps).\n";
    _set_signals();

    my $dir = _mkdir_tmp('pgbouncer');
    %PGB = (owner => $$, dir => $dir, log => "$dir/pgbouncer.log");
    chmod 0755, $dir;
    chown @{ $PG{user} }, $dir if $PG{user};

    open my $fh, '>', "$dir/userlist.txt"
        or croak "Velro::Backends: userlist.txt: $!";
    print $fh qq{"postgres" ""\n};
    close $fh;

    my $mode = $opt{pool_mode} // 'transaction';
    my $size = $opt{pool_size} // 4;
    for my $try (1 .. 5) {
        my $port = _free_port();
        open $fh, '>', "$dir/pgbouncer.ini"
            or croak "Velro::Backends: pgbouncer.ini: $!";
        print $fh <<"_INI_";
[databases]
velro = host=127.0.0.1 port=$PG{port} dbname=velro user=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
admin_users = postgres
pool_mode = $mode
default_pool_size = $size
max_client_conn = 500
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
ignore_startup_parameters = extra_float_digits
log_connections = 0
log_disconnections = 0
_INI_
        close $fh;

        my $pid = fork;
        croak "Velro::Backends: fork: $!" unless defined $pid;
        if ($pid == 0) {
            $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP);
            _child_setup(user => $PG{user}, cwd => $dir,
                         env => { LC_ALL => 'C', HOME => $dir });
            _die_with_parent(15);
            open STDIN, '<', '/dev/null';
            open STDOUT, '>>', "$dir/pgbouncer.out" or POSIX::_exit(126);
            open STDERR, '>&', \*STDOUT;
            my @cmd = ($bin, "$dir/pgbouncer.ini");
            { no warnings 'exec'; exec { $cmd[0] } @cmd; }
            POSIX::_exit(127);
        }

        # ready when a query through it answers
        %PGB = (%PGB, pid => $pid, port => $port, running => 1);
        my $until = time + 20;
        my $up;
        while (time < $until) {
            last if _gone($pid);
            if (IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Proto => 'tcp',
                                      Timeout => 1))
            {
                $up = eval { pgbouncer_psql('SELECT 1') =~ /^1/ };
                last if $up;
            }
            sleep 0.02;
        }
        if ($up) {
            $ENV{TEST_NGINX_PGBOUNCER_PORT} = $port;
            $ENV{TEST_NGINX_PGBOUNCER_CONNINFO} =
                "host=127.0.0.1 port=$port dbname=velro user=postgres";
            return $port;
        }
        _kill_wait($pid, 'TERM', 2);
        $PGB{running} = 0;
        my $log = _tail("$dir/pgbouncer.log", 10)
                . _tail("$dir/pgbouncer.out", 10);
        next if $log =~ /address already in use/i && $try < 5;
        die "Velro::Backends: pgbouncer did not start (port $port):\n$log";
    }
}

sub pgbouncer_psql {
    my ($sql, %opt) = @_;
    croak "Velro::Backends: PgBouncer is not running" unless $PGB{running};
    my @cmd = ("$PG{bindir}/psql", '-X', '-q', '-A', '-t',
               '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', $PGB{port},
               '-U', 'postgres', '-d', $opt{db} // 'velro',
               @{ $opt{args} || [] }, '-f', '-');
    my ($st, $out, $err) = _pg_run(\@cmd, $sql);
    if ($st != 0) {
        $err =~ s/\s+\z//;
        die "psql (pgbouncer): "
          . ($err ne '' ? $err : "exit status " . ($st >> 8)) . "\n";
    }
    return $out;
}

sub stop_pgbouncer {
    return unless $PGB{running} && $PGB{owner} == $$;
    _kill_wait($PGB{pid}, 'INT', 10);
    $PGB{running} = 0;
    delete $PGB{pid};
}

# stop_all()'s part for these
sub _stop_standby_pgbouncer {
    if ($PGB{owner} && $PGB{owner} == $$) {
        stop_pgbouncer();
        remove_tree($PGB{dir}) if $PGB{dir} && -d $PGB{dir};
        %PGB = ();
    }
    if ($STANDBY{owner} && $STANDBY{owner} == $$) {
        stop_standby();
        remove_tree($STANDBY{dir}) if $STANDBY{dir} && -d $STANDBY{dir};
        %STANDBY = ();
    }
}

#----------------------------------------------------------------------------
# the end

sub stop_all {
    stop_sql_endpoint();
    _stop_standby_pgbouncer();
    if ($REDIS{owner} && $REDIS{owner} == $$) {
        stop_redis();
        remove_tree($REDIS{dir}) if $REDIS{dir} && -d $REDIS{dir};
        %REDIS = ();
    }
    if ($PG{owner} && $PG{owner} == $$) {
        stop_pg(mode => 'immediate');
        remove_tree($PG{dir}) if $PG{dir} && -d $PG{dir};
        %PG = ();
    }
}

END {
    my $status = $?;
    eval { stop_all(); 1 } or print STDERR "Velro::Backends: cleanup: $@";
    $? = $status;
}

1;
