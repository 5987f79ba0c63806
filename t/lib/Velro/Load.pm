package Velro::Load;

# What the fault scripts (bench/faults.pl, bench/fleet-faults.pl) share:
# nginx started as a daemon from a prefix and stopped, and one HTTP/1.1
# request on a keepalive socket with a deadline.
#
#   $NGINX_BIN      the nginx binary (set by the script)
#   $WORKERS        worker_processes of the confs (nginx_start waits for them)
#   $TIMEOUT        seconds: connect timeout, and the default deadline of
#                   fetch()
#
#   nginx_t($prefix)          nginx -t: (ok, output)
#   nginx_start($n)           $n->{name, prefix}: daemon start, waits for the
#                             master ($n->{pid}) and its workers; the caller
#                             should be a child subreaper (PR_SET_CHILD_SUBREAPER)
#                             so that the daemonized master is its child
#   nginx_stop($n)            TERM, then KILL after 5 s
#   http_request(\$sock, $req, $deadline)   (status, \%headers); status 0:
#                             no answer before the deadline, -1: refused,
#                             reset or closed ('eof0' when nothing came)
#   connect_to($port)         a TCP_NODELAY socket or undef
#   request_line($pair)       GET $pair->{path} with $pair->{token}, plus
#                             $pair->{headers} if any
#   do_request(\$sock, $port, $pair, $deadline)  (status, headers, retried):
#                             retried once on a new connection when a
#                             kept-alive one was closed before any byte
#   fetch($port, $pair)       one request on a fresh connection
#   worker_connections($n, $pair, $workers)   { pid => socket }: one
#                             keepalive connection to each worker of nginx
#                             $n (reuseport spreads them; X-Pid says which)

use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Time::HiRes qw(time sleep);

use Velro::Proc qw(slurp alive nginx_workers);

use Exporter q(import);
our @EXPORT_OK = qw(nginx_t nginx_start nginx_stop http_request connect_to
                    request_line do_request fetch worker_connections);

our $NGINX_BIN = '/usr/sbin/nginx';
our $WORKERS = 2;
our $TIMEOUT = 5;

#----------------------------------------------------------------------------
# load clients

# SIGTERM to the client processes (the keys of %$clients), each waited
# for at most $secs, then SIGKILLed; %$clients emptied
sub stop_clients {
    my ($clients, $secs) = @_;
    kill 'TERM', keys %$clients;
    for my $pid (keys %$clients) {
        my $until = time + $secs;
        while (waitpid($pid, POSIX::WNOHANG()) == 0) {
            if (time > $until) { kill 'KILL', $pid; waitpid $pid, 0; last }
            sleep 0.02;
        }
    }
    %$clients = ();
}

#----------------------------------------------------------------------------
# nginx

# the faults' nginx.conf: the module, the velro http lines given, and one
# server with /r/ID (read) and /w/ID (write) locations on one generation
# id each, authorized with L3 through /_l3, the tier in X-Authz and the
# worker in X-Pid
sub nginx_conf_write {
    my ($file, %o) = @_;    # module, workers, http, port, root, keys
    my $common = <<EOF;
            velro_jwt on;
            velro_jwt_key_file $o{keys}/jwks.json;
            velro_authz on;
            velro_authz_resource \$gen;
            velro_authz_fallback /_l3;
            add_header X-Authz \$velro_authz_cache always;
            add_header X-Pid \$pid always;
            try_files /ok.txt =404;
EOF
    open my $fh, '>', $file or die "Velro::Load: $file: $!\n";
    print $fh <<EOF;
load_module $o{module};

worker_processes $o{workers};
error_log logs/error.log warn;
pid logs/nginx.pid;

events {
    worker_connections 1024;
}

http {
    access_log off;
    default_type text/plain;
    keepalive_requests 100000000;
    keepalive_timeout 60s;
$o{http}
    server {
        listen 127.0.0.1:$o{port} reuseport;
        root $o{root};

        location ~ ^/r/(?<gen>[^/]+)\$ {
$common        }

        location ~ ^/w/(?<gen>[^/]+)\$ {
$common            velro_authz_action write;
        }

        location = /_l3 {
            internal;
            velro_authz_pg;
        }
    }
}
EOF
    close $fh;
}

sub nginx_t {
    my ($prefix) = @_;
    my $out = `$NGINX_BIN -p $prefix/ -c conf/nginx.conf -t -q 2>&1`;
    return ($? == 0, $out);
}

# nginx runs as a daemon, as in production: a binary upgrade (USR2) is
# refused by a master whose parent is still the process that started it.
sub nginx_start {
    my ($n) = @_;
    my ($ok, $err) = nginx_t($n->{prefix});
    die "nginx -t failed for $n->{name}:\n$err" unless $ok;
    my $pidf = "$n->{prefix}/logs/nginx.pid";
    unlink $pidf;
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$n->{prefix}/logs/stderr.log";
        open STDERR, '>&', \*STDOUT;
        { no warnings 'exec';
          exec $NGINX_BIN, '-p', "$n->{prefix}/", '-c', 'conf/nginx.conf'; }
        POSIX::_exit(127);
    }
    waitpid $pid, 0;
    die "nginx $n->{name} did not start (status $?):\n"
      . (slurp("$n->{prefix}/logs/stderr.log") // '')
      . (slurp("$n->{prefix}/logs/error.log") // '')
        if $?;
    my $until = time + 10;
    while (time < $until) {
        my ($master) = (slurp($pidf) // '') =~ /^(\d+)/;
        if ($master && alive($master)) {
            $n->{pid} = $master;
            return if nginx_workers($n) >= $WORKERS;
        }
        sleep 0.02;
    }
    die "nginx $n->{name}: no master and workers after 10 s\n";
}

sub nginx_stop {
    my ($n) = @_;
    my $pid = delete $n->{pid} or return;
    my @w = nginx_workers({ pid => $pid });
    kill 'TERM', $pid;
    my $until = time + 5;
    # after a binary upgrade the master is not our child: waitpid says -1
    while (1) {
        my $w = waitpid($pid, WNOHANG);
        last if $w == $pid || ($w == -1 && !alive($pid));
        if (time > $until) {
            kill 'KILL', $pid;
            waitpid $pid, 0;
            last;
        }
        sleep 0.02;
    }
    kill 'KILL', grep { alive($_) } @w;
}

#----------------------------------------------------------------------------
# HTTP: one request on a (keepalive) socket, with a deadline

sub http_request {
    my ($sock, $req, $deadline) = @_;
    my $w = 0;
    while ($w < length $req) {
        my $n = syswrite $$sock, $req, length($req) - $w, $w;
        return (-1, { eof0 => 1 }) unless $n;
        $w += $n;
    }
    my $sel = IO::Select->new($$sock);
    my $buf = '';
    my ($status, %h, $hlen, $need);
    while (1) {
        my $left = $deadline - time;
        return (0, {}) if $left <= 0;
        next unless $sel->can_read($left);
        my $n = sysread $$sock, $buf, 65536, length $buf;
        if (!$n) {
            return (-1, { eof0 => length($buf) == 0 });
        }
        if (!defined $hlen) {
            my $i = index $buf, "\r\n\r\n";
            next if $i < 0;
            $hlen = $i + 4;
            my @l = split /\r\n/, substr($buf, 0, $i);
            ($status) = (shift(@l) // '') =~ m{^HTTP/1\.\d (\d{3})};
            return (-1, {}) unless $status;
            for (@l) { $h{lc $1} = $2 if /^([^:]+):\s*(.*)$/ }
            if (defined $h{'content-length'}) {
                $need = $hlen + $h{'content-length'};
            } elsif (($h{'transfer-encoding'} // '') =~ /chunked/i) {
                $need = -1;
            } else {
                $need = -2;     # until close
            }
        }
        if ($need >= 0) {
            last if length $buf >= $need;
        } elsif ($need == -1) {
            last if substr($buf, $hlen) =~ /(?:^|\r\n)0\r\n\r\n\z/;
        }
    }
    if (($h{connection} // '') =~ /close/i) {
        close $$sock;
        undef $$sock;
    }
    return ($status, \%h);
}

sub connect_to {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => $TIMEOUT)
        or return undef;
    setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1);
    return $s;
}

sub request_line {
    my ($pair) = @_;
    return "GET $pair->{path} HTTP/1.1\r\nHost: faults\r\n"
         . "Authorization: Bearer $pair->{token}\r\n"
         . ($pair->{headers} // '') . "\r\n";
}

sub do_request {
    my ($sockref, $port, $pair, $deadline) = @_;
    my $req = request_line($pair);
    for my $try (0, 1) {
        my $reused = defined $$sockref;
        $$sockref //= connect_to($port);
        return (-1, {}, $try) unless $$sockref;
        my ($st, $h) = http_request($sockref, $req, $deadline);
        if ($st <= 0) {
            close $$sockref if $$sockref;
            undef $$sockref;
            next if $st < 0 && $h->{eof0} && $reused && $try == 0;
        }
        return ($st, $h, $try);
    }
}

sub fetch {
    my ($port, $pair) = @_;
    my $s;
    my ($st, $h) = do_request(\$s, $port, $pair, time + $TIMEOUT);
    close $s if $s;
    return ($st, $h);
}

sub worker_connections {
    my ($n, $pair, $workers) = @_;
    $workers //= $WORKERS;
    my %conn;
    for my $try (1 .. 100) {
        my $s = connect_to($n->{port}) or next;
        my ($st, $h) = do_request(\$s, $n->{port}, $pair, time + $TIMEOUT);
        my $pid = $h->{'x-pid'};
        if ($s && $pid && !$conn{$pid}) {
            $conn{$pid} = $s;
        } elsif ($s) {
            close $s;
        }
        last if keys %conn >= $workers;
    }
    return \%conn;
}

1;
