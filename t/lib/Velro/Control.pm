package Velro::Control;

# A control endpoint for the fault suites: a forked HTTP/1.0 server on
# 127.0.0.1 that the test's requests reach through nginx, so that faults
# happen between two requests of one block:
#
#   GET /ctl/wait?ms=N          answers after N ms (a pause, not a check)
#   GET /ctl/redis/STOP|CONT    signals the throwaway Redis
#   GET /ctl/redis/cli?args=A+B redis-cli A B against it, answers its output
#                               (INFO commandstats: the commands nginx sent)
#   GET /ctl/pg/STOP|CONT       signals the throwaway PostgreSQL, the
#                               postmaster and every backend
#   GET /ctl/reload             HUP to the nginx master (Test::Nginx's pid file)
#   GET /ctl/abort?uri=U&who=W  a GET of U with W's token, the connection
#                               closed after 100 ms, unanswered
#   GET /ctl/load/start?uri=U&who=W   keep sending GET U (W's token), one
#                               request per connection, from 2 children
#   GET /ctl/load/stop          stop them; answers "200=some other=M"
#                               (or 200=0), then STATUS:COUNT for each
#                               status other than 200 (0: no answer)
#   GET /ctl/jwks/good|bad      what /ctl/jwks answers: t/keys/jwks.json,
#                               or a 500
#   GET /ctl/grep?re=RE[&after=RE2]   how many lines of nginx's error.log
#                               match the Perl regex RE (URL-escaped), of
#                               those after the first line matching RE2 if
#                               given, so that a block checks its log once,
#                               at its end
#
#   logged(RE[, AFTER])   the request line of a /ctl/grep for RE
#   start()  forks it, sets $ENV{TEST_NGINX_CTL_PORT}; stopped at exit.
#   location()   the nginx location that passes /ctl/ to it
#
#   %Velro::Control::HANDLERS   more controls of a suite's own: PATH =>
#                               sub { my ($q) = @_; (STATUS, BODY) }, set
#                               before start(); they run in the control
#                               server's process
#
# Whatever a block stopped is continued at exit, so that the backends stop.

use strict;
use warnings;

use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);

use Velro::Backends;
use Velro::Token;

my ($pid, $owner, @load, $jwks_bad);
our %HANDLERS;
my $dir = "/tmp/velro-ctl-$$";

sub start {
    my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                    Listen => 64, ReuseAddr => 1, Proto => 'tcp')
        or die "Velro::Control: listen: $!";
    $ENV{TEST_NGINX_CTL_PORT} = $srv->sockport;
    mkdir $dir;

    $owner = $$;
    $pid = fork // die "fork: $!";

    if ($pid) {
        close $srv;
        return;
    }

    # gone with the test, however it ends
    Velro::Backends::_die_with_parent(15);
    $SIG{TERM} = sub { stop_load(); POSIX::_exit(0) };

    while (1) {
        my $c = $srv->accept or next;
        my $req = '';
        while (defined(my $l = <$c>)) {
            $req .= $l;
            last if $l =~ /^\r?\n$/;
        }
        my ($path, $q) = $req =~ m{^GET (/[^ ?]*)\??(\S*)} ? ($1, $2) : ('', '');
        my %q = map { my ($k, $v) = split /=/, $_, 2; ($k, unesc($v // '')) }
                split /&/, $q;
        my ($status, $body) = handle($path, \%q);
        print $c "HTTP/1.0 $status\r\nContent-Type: application/json\r\n"
                 . "Content-Length: " . length($body) . "\r\n\r\n$body";
        close $c;
    }
}

sub unesc { my $s = shift; $s =~ s/%([0-9a-fA-F]{2})/chr hex $1/ge; $s }

sub esc {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9_.~-])/sprintf '%%%02X', ord $1/ge;
    return $s;
}

sub logged {
    my ($re, $after) = @_;
    return "GET /ctl/grep?re=" . esc($re)
           . (defined $after ? "&after=" . esc($after) : '');
}

sub location {
    return <<'CONF';
    location /ctl/ {
        velro_jwt off;
        proxy_read_timeout 60s;
        proxy_pass http://127.0.0.1:$TEST_NGINX_CTL_PORT;
    }
CONF
}

sub children {
    my ($ppid) = @_;
    my @kids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $s = <$fh> // next;
        push @kids, $1 if $s =~ /^(\d+) \(.*\) \S+ (\d+)/s && $2 == $ppid;
    }
    return @kids;
}

sub pg_pids {
    my $pm = $Velro::Backends::PG{pid} or return ();
    return ($pm, children($pm));
}

sub redis_pid { $Velro::Backends::REDIS{pid} }

sub pidfile { $Test::Nginx::Util::PidFile }

sub token { (Velro::Authz::bearer($_[0]) =~ /^Authorization: (.*)$/)[0] }

sub get {
    my ($uri, $auth, $abort) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $ENV{TEST_NGINX_SERVER_PORT}
                                              // $Test::Nginx::Util::ServerPort,
                                  Timeout => 10)
        or return 0;
    print $s "GET $uri HTTP/1.0\r\nHost: localhost\r\nAuthorization: $auth\r\n\r\n";
    if ($abort) {
        sleep $abort;
        close $s;
        return 0;
    }
    $s->timeout(10);
    my $line = <$s> // '';
    1 while <$s>;
    close $s;
    return $line =~ m{^HTTP/1\.\d (\d+)} ? $1 : 0;
}

sub start_load {
    my ($uri, $auth) = @_;
    for my $n (1 .. 2) {
        my $kid = fork // die "fork: $!";
        if (!$kid) {
            Velro::Backends::_die_with_parent(15);
            $SIG{TERM} = 'DEFAULT';
            my %count;
            my $stop = 0;
            $SIG{USR1} = sub { $stop = 1 };
            until ($stop) {
                my $st = get($uri, $auth);
                $count{$st}++;
                open my $fh, '>', "$dir/load.$n.tmp";
                print $fh join(' ', map { "$_:$count{$_}" } sort keys %count),
                          "\n";
                close $fh;
                rename "$dir/load.$n.tmp", "$dir/load.$n";
            }
            POSIX::_exit(0);
        }
        push @load, $kid;
    }
}

sub stop_load {
    my (%count, $ok, $other);
    kill 'USR1', @load;
    waitpid $_, 0 for @load;
    for my $n (1 .. 2) {
        open my $fh, '<', "$dir/load.$n" or next;
        for (split ' ', <$fh> // '') {
            my ($st, $c) = split /:/;
            $count{$st} += $c;
        }
        unlink "$dir/load.$n";
    }
    @load = ();
    $ok = delete $count{200} // 0;
    $other = 0;
    $other += $_ for values %count;
    return "200=" . ($ok > 0 ? 'some' : '0') . " other=$other"
           . join('', map { " $_:$count{$_}" } sort keys %count);
}

sub handle {
    my ($path, $q) = @_;

    return $HANDLERS{$path}->($q) if $HANDLERS{$path};

    if ($path eq '/ctl/wait') {
        sleep(($q->{ms} // 0) / 1000);
        return ('200 OK', "waited\n");
    }

    if ($path =~ m{^/ctl/(redis|pg)/(STOP|CONT)$}) {
        my @p = $1 eq 'pg' ? pg_pids() : (redis_pid());
        kill $2, @p if @p;
        return ('200 OK', "$1 $2\n");
    }

    if ($path eq '/ctl/redis/cli') {
        my @args = split /[ +]/, $q->{args} // '';
        my $out = eval { Velro::Backends::redis_cli(@args) };
        return ('500 Error', "$@") unless defined $out;
        return ('200 OK', "$out\n");
    }

    if ($path eq '/ctl/reload') {
        open my $fh, '<', pidfile() or return ('500 Error', "no pid file\n");
        my $master = <$fh>;
        chomp $master;
        kill 'HUP', $master;
        return ('200 OK', "reloaded\n");
    }

    if ($path eq '/ctl/abort') {
        get($q->{uri}, token($q->{who}), 0.1);
        return ('200 OK', "aborted\n");
    }

    if ($path eq '/ctl/load/start') {
        start_load($q->{uri}, token($q->{who}));
        return ('200 OK', "load\n");
    }

    if ($path eq '/ctl/load/stop') {
        return ('200 OK', stop_load() . "\n");
    }

    if ($path eq '/ctl/grep') {
        open my $fh, '<', $Test::Nginx::Util::ErrLogFile
            or return ('200 OK', "0\n");
        my $re = qr/$q->{re}/;
        my @lines = <$fh>;
        if (defined $q->{after}) {
            my $after = qr/$q->{after}/;
            shift @lines while @lines && $lines[0] !~ $after;
        }
        my $n = grep { /$re/ } @lines;
        return ('200 OK', "$n\n");
    }

    if ($path =~ m{^/ctl/jwks/(good|bad)$}) {
        $jwks_bad = $1 eq 'bad';
        return ('200 OK', "jwks $1\n");
    }

    if ($path eq '/ctl/jwks') {
        return ('500 Error', "{}") if $jwks_bad;
        open my $fh, '<', Velro::Token::keys_dir() . "/jwks.json"
            or return ('500 Error', "{}");
        local $/;
        return ('200 OK', scalar <$fh>);
    }

    return ('404 Not Found', "no such control\n");
}

sub stop {
    return unless $pid && $owner == $$;
    kill 'CONT', pg_pids();
    kill 'CONT', redis_pid() if redis_pid();
    kill 'TERM', $pid;
    waitpid $pid, 0;
    undef $pid;
    rmdir $dir;
}

END { stop() }

1;
