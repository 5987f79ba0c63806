package Test::Nginx::Socket;

# Minimal, independently written subset of OpenResty's Test::Nginx::Socket,
# used only when the real CPAN module is not installed.  Test files are
# parsed by Test::Base exactly as with the real module; see the POD at the
# end of this file for what is (not) supported.

use strict;
use warnings;

use Test::Base -base;     # block parsing, filters, plan/is/like/... exports

our $VERSION = '0.33_compat';

use Encode ();
use Errno qw(EAGAIN EWOULDBLOCK EINTR);
use IO::Select ();
use IO::Socket::INET ();
use List::Util qw(min);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep);
use Test::LongString ();
use Test::Nginx::Util;

our @EXPORT = qw(
    env_to_nginx is_str plan run_tests run_test repeat_each config_preamble
    worker_connections master_process_enabled no_long_string workers
    master_on master_off log_level no_shuffle no_root_location use_hup
    server_name server_addr server_root html_dir server_port
    server_port_for_client timeout no_nginx_manager check_accum_error_log
    add_block_preprocessor bail_out add_test_cleanup_handler
    add_cleanup_handler add_response_body_check
);

# Test::Base's END block calls run_compare() when no plan() was made, e.g.
# for files ending with Test::More::done_testing(); it would then plan a
# second time and die.  The real module never gets there (Test::Base notes
# a die() trapped while its dependencies load), so switch it off here.
{
    no warnings 'redefine';
    *Test::Base::run_compare = sub { };
}

our @ResponseBodyChecks;
our $TotalConnectingTimeouts = 0;

sub add_response_body_check ($) { push @ResponseBodyChecks, shift }

$Test::Nginx::Util::RunTestHelper         = \&run_test_helper;
$Test::Nginx::Util::CheckErrorLog         = \&check_error_log;
$Test::Nginx::Util::CheckShutdownErrorLog = \&check_shutdown_error_log;

#-----------------------------------------------------------------------------
# Building requests
#-----------------------------------------------------------------------------

# --- more_headers text -> ("Key: value\r\n"..., is_chunked)
sub parse_more_headers ($) {
    my $text = shift;
    my ($out, $chunked) = ('', 0);
    for my $line (split /\n+/, $text) {
        next if $line =~ /^\s*#/;
        my ($key, $val) = split /:\s*/, $line, 2;
        $key //= '';
        $val //= '';
        $chunked = 1 if lc $key eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $chunked);
}

# Turn a request spec ("METHOD [/uri [HTTP/x.y]]\nbody", possibly split
# into packets) into the packets to send: normalised request line, then
# Host / Connection / more_headers / Content-Length, then the body
# (whitespace-trimmed when we compute Content-Length ourselves).
# Packet boundaries inside the body are kept at the same body offsets.
sub build_request {
    my ($name, $packets, $more, $chunked, $conn) = @_;

    my $raw = join '', map { $_->{value} // '' } @$packets;
    my ($first, $content) = $raw =~ /\A([^\n]*\n?)(.*)\z/s;
    bail_out("$name - Request line should be non-empty") if $first eq '';
    $first =~ /^\s*(\S+) *(?:(\S+) *)?(?:(\S+) *)?\s*$/
        or bail_out("$name - Request line is not valid. Should be "
                    . "'meth [url [version]]' but got \"$first\".");
    my ($meth, $url, $ver) = ($1, $2 // '/', $3 // 'HTTP/1.1');

    my $headers = '';
    $headers .= "Host: $ServerName\r\n" if $more !~ /(?:^|\n)Host:/i;
    $headers .= "Connection: $conn\r\n" if $more !~ /(?:^|\n)Connection/i;
    $headers .= $more;

    my $body = $content;
    my $lead = 0;
    if (!$chunked && $content ne '' && $more !~ /(?:^|\n)Content-Length:/) {
        $body =~ s/^\s+//;
        $lead = length($content) - length($body);
        $body =~ s/\s+$//;
        $headers .= "Content-Length: " . length($body) . "\r\n";
    }

    my $head = "$meth $url $ver\r\n$headers\r\n";
    my $full = $head . $body;
    return [{ value => $full }] if @$packets < 2;

    # map every original packet boundary onto the rewritten request
    my (@out, $orig, $prev);
    $orig = $prev = 0;
    for my $i (0 .. $#$packets) {
        $orig += length($packets->[$i]{value} // '');
        my $pos = $i == $#$packets ? length $full
                : $orig < length $first
                  ? min(length("$meth $url $ver"), $orig)
                : length($head) + min(length $body,
                                      _max(0, $orig - length($first) - $lead));
        $pos = $prev if $pos < $prev;
        push @out, { %{ $packets->[$i] },
                     value => substr($full, $prev, $pos - $prev) };
        $prev = $pos;
    }
    return \@out;
}

sub _max { $_[0] > $_[1] ? $_[0] : $_[1] }

# Returns a list of requests; each request is an array of packets
# ({ value => ..., delay_before => ... }) sent on one connection.
sub get_req_from_block ($) {
    my $block = shift;
    my $name = $block->name;

    if (defined(my $raw = $block->raw_request)) {
        return [[ map { { value => $_ } } ref $raw eq 'ARRAY' ? @$raw : $raw ]];
    }

    my $more = $block->more_headers || '';
    my $headers_for = sub {
        my $i = shift;
        return parse_more_headers($more) unless ref $more eq 'ARRAY';
        bail_out("--- more_headers lacks data for the ${i}th request")
            unless defined $more->[$i];
        return parse_more_headers($more->[$i]);
    };

    if (my $reqs = $block->pipelined_requests) {
        bail_out("$name - invalid entries in --- pipelined_requests")
            unless ref $reqs eq 'ARRAY';
        my $all = '';
        for my $i (0 .. $#$reqs) {
            my $r = expand_env_in_text($reqs->[$i], $name,
                                       $Test::Nginx::Util::RandPorts);
            my $conn = $i == $#$reqs ? 'close' : 'keep-alive';
            $all .= $_->{value}
                for @{ build_request($name, [{ value => $r }],
                                     $headers_for->($i), $conn) };
        }
        return [[{ value => $all }]];
    }

    my $request = $block->request;
    if (defined $request && !ref $request) {
        # drop leading blank and "# comment" lines
        1 while $request =~ s/^\s*#[^\n]+\s+|^\s+//gs;
    }

    if (!ref $request) {
        return [ build_request($name, [{ value => $request }],
                               $headers_for->(0), 'close') ];
    }

    bail_out("$name - invalid ---request : MUST be string or array of "
             . "requests") unless ref $request eq 'ARRAY';

    my @list;
    for my $i (0 .. $#$request) {
        my $one = $request->[$i];
        my @packets;
        if (!ref $one) {
            @packets = ({ value => $one });
        } elsif (ref $one eq 'ARRAY') {
            for my $p (@$one) {
                push @packets, !ref $p ? { value => $p }
                             : ref $p eq 'HASH' ? { %$p }
                             : bail_out("$name - Invalid syntax. $p should "
                                        . "be a string or hash with value.");
            }
        } else {
            bail_out("$name - Invalid syntax. $one should be a string or an "
                     . "array of packets.");
        }
        push @list, build_request($name, \@packets, $headers_for->($i),
                                  'close');
    }
    return \@list;
}

#-----------------------------------------------------------------------------
# HTTP client
#-----------------------------------------------------------------------------

# True once the nginx we manage has certainly exited (crash, ...), so that
# we don't keep retrying the connection for ~40 seconds.
sub nginx_gone () {
    return 0 if $Test::Nginx::Util::NoNginxManager;
    my $child = $Test::Nginx::Util::ChildPid;
    if (defined $child) {
        return 0 if waitpid($child, WNOHANG) == 0;
        undef $Test::Nginx::Util::ChildPid;
        return 1;
    }
    return 0 unless -f $PidFile;
    my $pid = get_pid_from_pidfile('');
    return $pid ne '' && !is_running($pid);
}

sub connect_to_nginx ($$) {
    my ($block, $timeout) = @_;
    my $name = $block->name;
    my $addr = $block->server_addr_for_client // $ServerAddr;
    my $port = $ServerPortForClient;
    my $tries = $TotalConnectingTimeouts ? 20 : 50;
    my $err;

    for my $try (1 .. $tries) {
        my $sock = IO::Socket::INET->new(PeerAddr => $addr, PeerPort => $port,
                                         Proto => 'tcp', Timeout => $timeout);
        return $sock if $sock;
        $err = $!;

        if (nginx_gone()) {
            Test::More::diag("$name - nginx is not running any more; last "
                             . "error.log lines:\n"
                             . `tail -n20 '$ErrLogFile' 2>/dev/null`);
            Test::More::fail("$name - Can't connect to $addr:$port: $err "
                             . "(aborted)\n");
            return undef;
        }

        my $s = sleep_time();
        my $wait = min(1, ($s + $s * $try) * $try / 2);
        warn "$name - Can't connect to $addr:$port: $err\n"
             . "\tRetry connecting after $wait sec\n" if $wait >= 0.6;
        sleep $wait;
    }

    my $msg = "$name - Can't connect to $addr:$port: $err (aborted)\n";
    bail_out($msg) if ++$TotalConnectingTimeouts >= 3;
    Test::More::fail($msg);
    return undef;
}

# Send the packets of one request and read until the server closes the
# connection (we always send "Connection: close", like the real module).
# $timeout applies to each wait for I/O, not to the whole exchange.
sub send_request ($$$$) {
    my ($packets, $middle_delay, $timeout, $block) = @_;
    my $name = $block->name;

    my $is_head = (join '', map { $_->{value} // '' } @$packets)
                  =~ /^\s*HEAD\s+/ ? 1 : 0;

    my $sock = connect_to_nginx($block, $timeout) or return (undef, $is_head);
    $sock->blocking(0);
    local $SIG{PIPE} = 'IGNORE';

    my @queue = @$packets;
    my $buf = (shift @queue)->{value} // '';
    my $off = 0;
    my $writing = 1;
    my $resp = '';
    my $readers = IO::Select->new($sock);

    while (1) {
        my ($r, $w) = IO::Select->select($readers,
                                         $writing ? $readers : undef,
                                         undef, $timeout);
        if (!$r && !$w) {
            if ($! == EINTR) { next }
            if (defined $block->abort) {
                sleep 0.005;
            } else {
                Test::More::fail("ERROR: client socket timed out - $name\n");
            }
            last;
        }

        if ($w && @$w) {
            while (1) {
                if ($off < length $buf) {
                    my $n = syswrite $sock, $buf, length($buf) - $off, $off;
                    if (!defined $n) {
                        last if $! == EAGAIN || $! == EWOULDBLOCK;
                        # the server may have answered and closed early;
                        # keep reading what it sent
                        warn "WARNING: $name - write failed: $!\n";
                        $writing = 0;
                        last;
                    }
                    $off += $n;
                    next;
                }
                my $next = shift @queue;
                if (!$next) {
                    $writing = 0;
                    if (defined(my $how = $block->shutdown)) {
                        shutdown $sock, $how =~ /^\s*$/ ? 1 : $how;
                    }
                    last;
                }
                ($buf, $off) = ($next->{value} // '', 0);
                my $delay = $next->{delay_before} // $middle_delay;
                sleep $delay if $delay;
            }
        }

        if ($r && @$r) {
            my $n = sysread $sock, my $chunk, 65536;
            if (!defined $n) {
                next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
                warn "WARNING: $name - HTTP response read failure: $!\n";
                last;
            }
            last if $n == 0;
            $resp .= $chunk;
        }
    }

    close $sock;
    return ($resp, $is_head);
}

#-----------------------------------------------------------------------------
# Parsing responses
#-----------------------------------------------------------------------------

# Header value as HTTP::Headers would give it: case-insensitive, "_" taken
# as "-", repeated headers joined with ", ".
sub resp_header ($$) {
    my ($res, $key) = @_;
    return undef unless $res;
    $key = lc $key;
    $key =~ tr/_/-/ unless $key =~ /^:/;
    my @v = map { $_->[1] } grep { lc $_->[0] eq $key } @{ $res->{headers} };
    return @v ? join(', ', @v) : undef;
}

# Returns ($res, $raw_headers, $left) where $res = { code, headers =>
# [[name, value], ...], content } and $left holds bytes after the message
# (next pipelined response).  Returns nothing after reporting a malformed
# chunked body.
sub parse_response ($$$) {
    my ($name, $raw, $is_head) = @_;

    my $raw_headers = $raw =~ /(.*?\r\n)\r\n/s ? $1 : '';

    my ($status, $rest) = $raw =~ /\A([^\n]*)\n(.*)\z/s ? ($1, $2) : ($raw, '');
    $status =~ s/\r\z//;
    my $code = $status =~ /^\d{3} / ? (split ' ', $status)[0]
                                    : (split ' ', $status, 3)[1];
    undef $code if defined $code && $code !~ /^\d+$/;

    my @headers;
    pos($rest) = 0;
    while (1) {
        if ($rest =~ /\G([^\s:]+)[ \t]*: ?([^\n]*)\n?/gc) {
            push @headers, [$1, $2];
            $headers[-1][1] =~ s/\r\z//;
        } elsif (@headers && $rest =~ /\G([ \t][^\n]*)\n?/gc) {
            $headers[-1][1] .= "\n$1";
            $headers[-1][1] =~ s/\r\z//;
        } else {
            $rest =~ /\G\r?\n/gc;
            last;
        }
    }
    my $res = { code => $code, headers => \@headers,
                content => substr($rest, pos($rest) // 0) };

    return ($res, $raw_headers) if $code && ($code == 304 || $code == 101);

    my $left;
    my $te  = resp_header($res, 'Transfer-Encoding');
    my $len = resp_header($res, 'Content-Length');

    if (defined $te && $te eq 'chunked') {
        my $body = $res->{content};
        my $decoded = '';
        pos($body) = 0;
        while (1) {
            if ($body =~ /\G0[ \t]*\r\n/gc) {
                1 while $body =~ /\G[^\r\n:]+:[^\n]*\r\n/gc;   # trailers
                if ($body !~ /\G\r\n/gc) {
                    Test::More::fail("$name - invalid chunked data received "
                                     . "(expected CRLF).");
                    return;
                }
                $left = substr $body, pos $body
                    if pos($body) < length $body;
                last;
            }
            if ($body =~ /\G[ \t]*([A-Fa-f0-9]+)[ \t]*(?:;[^\r\n]*)?\r\n/gc) {
                my $size = hex $1;
                if (length($body) - pos($body) < $size) {
                    Test::More::fail("$name - invalid chunked data received "
                        . "(not enought octets for the data section)");
                    return;
                }
                $decoded .= substr $body, pos($body), $size;
                pos($body) += $size;
                if ($body !~ /\G\r\n/gc) {
                    Test::More::fail("$name - invalid chunked data received "
                                     . "(expected CRLF).");
                    return;
                }
            } elsif ($body =~ /\G(.+)/gcs) {
                Test::More::fail("$name - invalid chunked body received: $1");
                return;
            } else {
                Test::More::fail("$name - no last chunk found - $body");
                return;
            }
        }
        $res->{content} = $decoded;

    } elsif (defined $len && $len =~ /^\s*(\d+)/) {
        $len = $1;
        my $got = length $res->{content};
        if ($got < $len) {
            warn "WARNING: $name - response body truncated: $len expected, "
                 . "but got $got\n" unless $is_head;
        } elsif ($got > $len) {
            $left = substr $res->{content}, $len;
            substr($res->{content}, $len) = '';
        }
    }

    return ($res, $raw_headers, $left);
}

#-----------------------------------------------------------------------------
# Assertions
#-----------------------------------------------------------------------------

# Run one assertion, or - when nginx could not be started - report it as
# skipped (TEST_NGINX_IGNORE_MISSING_DIRECTIVES) or failed, so that the
# number of tests stays the same.
sub assert ($$$) {
    my ($dry, $desc, $code) = @_;
    if (!$dry) {
        $code->();
    } elsif ($dry->{skip}) {
        SKIP: { Test::More::skip("$desc - tests skipped due to $dry->{reason}", 1) }
    } else {
        Test::More::fail("$desc ($dry->{reason})");
    }
}

# With several requests in a block, expectations must be arrays indexed by
# request; a single request also accepts a one-element array.
sub get_indexed_value ($$$$) {
    my ($name, $value, $idx, $need_array) = @_;
    if (ref $value && ref $value eq 'ARRAY') {
        bail_out("$name - SHOULD NOT HAPPEN: idx != 0 and don't need array.")
            if !$need_array && $idx != 0;
        return $value->[$idx];
    }
    bail_out("$name - You asked for many requests, the expected results "
             . "should be arrays as well.") if $need_array;
    return $value;
}

sub check_error_code ($$$$$) {
    my ($block, $res, $dry, $idx, $need_array) = @_;
    my $name = $block->name;
    my $got = ($res && $res->{code}) || '';
    assert $dry, "$name - status code ok", sub {
        if (defined $block->error_code_like) {
            my $pat = get_indexed_value($name, $block->error_code_like, $idx,
                                        $need_array);
            like($got, qr/$pat/sm, "$name - status code ok");
        } elsif (defined $block->error_code) {
            is($got, get_indexed_value($name, $block->error_code, $idx,
                                       $need_array), "$name - status code ok");
        } else {
            is($got, 200, "$name - status code ok");
        }
    };
}

sub check_raw_response_headers ($$$$$) {
    my ($block, $raw_headers, $dry, $idx, $need_array) = @_;
    my $name = $block->name;
    for my $t ([like => 'raw_response_headers_like'],
               [unlike => 'raw_response_headers_unlike'])
    {
        my ($how, $section) = @$t;
        next unless defined $block->$section;
        my $pat = get_indexed_value($name, $block->$section, $idx, $need_array);
        assert $dry, "$name - raw resp headers $how", sub {
            my $desc = "$name - raw resp headers $how";
            $how eq 'like' ? like($raw_headers // '', qr/$pat/s, $desc)
                           : unlike($raw_headers // '', qr/$pat/s, $desc);
        };
    }
}

sub check_response_headers ($$$$$$) {
    my ($block, $res, $raw_headers, $dry, $idx, $need_array) = @_;
    my $name = $block->name;

    if (defined $block->response_headers) {
        my ($h, $order) = parse_headers(get_indexed_value(
            $name, $block->response_headers, $idx, $need_array));
        for my $key (@$order) {
            my $want = $h->{$key};
            if (!defined $want) {
                # "!Name": the header must not be there at all
                my $desc = "$name - header $key not present in the raw headers";
                assert $dry, $desc, sub {
                    unlike($raw_headers // '', qr/^\s*\Q$key\E\s*:/ms, $desc);
                };
                next;
            }
            $want =~ s/\$ServerPort\b/$ServerPort/g;
            $want =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            my $desc = "$name - header $key ok";
            assert $dry, $desc, sub {
                is(resp_header($res, $key) // '', $want, $desc);
            };
        }

    } elsif (defined $block->response_headers_like) {
        my ($h, $order) = parse_headers(get_indexed_value(
            $name, $block->response_headers_like, $idx, $need_array));
        for my $key (@$order) {
            my $pat = $h->{$key} // '';
            my $desc = "$name - header $key like ok";
            assert $dry, $desc, sub {
                like(resp_header($res, $key) // '', qr/^$pat$/, $desc);
            };
        }
    }
}

sub check_response_body ($$$$$$) {
    my ($block, $res, $dry, $idx, $rep, $need_array) = @_;
    my $name = $block->name;
    my $content = $res ? $res->{content} : undef;

    if (defined $block->response_body) {
        my $want = get_indexed_value($name, $block->response_body, $idx,
                                     $need_array);
        Encode::from_to($want, 'UTF-8', $block->charset)
            if $block->charset && defined $want;
        if (defined $want && !ref $want) {
            $want =~ s/\$ServerPort\b/$ServerPort/g;
            $want =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            $want = expand_env_in_text($want, $name,
                                       $Test::Nginx::Util::RandPorts);
        }
        my $where = "(repeated req $rep, req $idx)";
        if (ref $want) {
            my $desc = "$name - response_body - like $where";
            assert $dry, $desc, sub { like($content, $want, $desc) };
        } else {
            my $desc = "$name - response_body - response is expected $where";
            assert $dry, $desc, sub { is_str($content, $want, $desc) };
        }

    } elsif (defined $block->response_body_like
             || defined $block->response_body_unlike)
    {
        my $type = defined $block->response_body_like ? 'like' : 'unlike';
        my $section = "response_body_$type";
        my $pat = get_indexed_value($name, $block->$section, $idx, $need_array);
        $pat =~ s/\$ServerPort\b/$ServerPort/g;
        $pat =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        my $desc = "$name - response_body_$type - response is expected ("
                   . (trim($content) // '') . ")";
        assert $dry, "$name - response_body_$type", sub {
            $type eq 'like' ? like($content, qr/$pat/s, $desc)
                            : unlike($content, qr/$pat/s, $desc);
        };
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $content, $idx, $rep, $dry ? $dry->{reason} : undef);
    }
}

sub fmt_str ($) {
    my $s = shift;
    chomp $s;
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

# Normalise an error_log-like section: text (one pattern per non-empty
# line), a qr//, or an array of strings / qr//s.
sub patterns ($) {
    my $p = shift;
    return [ grep { defined } @$p ] if ref $p eq 'ARRAY';
    return [ $p ] if ref $p;
    chomp $p;
    return [ split /\n+/, $p ];
}

sub value_contains ($$) {
    my ($val, $str) = @_;
    return scalar grep { index("$_", $str) >= 0 } @{ patterns($val) };
}

sub line_matches ($$) {
    my ($line, $pat) = @_;
    return ref $pat ? $line =~ $pat : index($line, $pat) >= 0;
}

# One assertion per pattern: it must (or, negated, must not) match a log
# line.  A negated pattern matching several lines fails once per line.
sub check_log_patterns (%) {
    my %a = @_;
    my ($name, $file, $lines, $dry, $sfx) = @a{qw(name file lines dry suffix)};
    $sfx = defined $sfx ? " $sfx" : '';

    for my $pat (@{ patterns($a{patterns}) }) {
        my @hits = grep { line_matches($_, $pat) } @$lines;
        if (!$a{negate}) {
            if (@hits) {
                my $desc = "$name - pattern \"$pat\" matches a line in $file$sfx";
                assert $dry, $desc, sub { pass($desc) };
            } else {
                my $desc = "$name - pattern \"$pat\" should match a line in $file$sfx";
                assert $dry, $desc, sub { fail($desc) };
            }
            next;
        }

        my $p = fmt_str($pat);
        if (!@hits) {
            my $desc = "$name - pattern \"$p\" does not match a line in $file$sfx";
            assert $dry, $desc, sub { pass($desc) };
            next;
        }
        for my $line (@hits) {
            my $desc = "$name - pattern \"$p\" should not match any line in "
                       . "$file but matches line \"" . fmt_str($line) . "\"$sfx";
            assert $dry, $desc, sub { fail($desc) };
        }
    }
}

sub check_error_log ($$$$$) {
    my ($block, $res, $dry, $rep, $need_array) = @_;
    my $name = $block->name;
    my $lines = $dry ? [] : (error_log_data() || []);

    if (defined(my $grep = $block->grep_error_log)) {
        $grep = $grep->[$rep] if ref $grep eq 'ARRAY';
        my $want = $block->grep_error_log_out;
        bail_out("$name - No --- grep_error_log_out defined but --- "
                 . "grep_error_log is defined") unless defined $want;
        $want = expand_env_in_text($want, $name,
                                   $Test::Nginx::Util::RandPorts);
        $want = $want->[$rep] if ref $want eq 'ARRAY';

        my $got = '';
        for my $line (@$lines) {
            next unless ref $grep ? $line =~ $grep : $line =~ /\Q$grep\E/;
            $got .= "$&\n" if $& !~ /\n/;
        }
        my $desc = "$name - grep_error_log_out (req $rep)";
        assert $dry, $desc, sub { is_str($got, $want, $desc) };

    } elsif (defined $block->grep_error_log_out) {
        bail_out("$name - No --- grep_error_log defined but --- "
                 . "grep_error_log_out is defined");
    }

    my %warn_about = map { $_ => 1 } qw(alert crit emerg);
    for my $section (qw(error_log no_error_log)) {
        my $pats = $block->$section;
        next unless defined $pats;
        for my $level (keys %warn_about) {
            delete $warn_about{$level} if value_contains($pats, "[$level");
        }
        check_log_patterns(name => $name, file => 'error.log', lines => $lines,
                           dry => $dry, patterns => $pats,
                           negate => $section eq 'no_error_log',
                           suffix => "(req $rep)");
    }

    # like the real module: unexpected [alert]/[crit]/[emerg] lines only
    # produce warnings, failed C assertions fail the test
    for my $line (@$lines) {
        if ($line =~ /\[(alert|crit|emerg)\]/ && $warn_about{$1}) {
            warn "WARNING: $name - " . fmt_str($line) . "\n";
        }
        if ($line =~ /\bAssertion .*?failed\b/) {
            chomp(my $l = $line);
            fail("$name - $l\n");
        }
    }
}

sub check_access_log ($$$) {
    my ($block, $dry, $rep) = @_;
    return unless defined $block->access_log || defined $block->no_access_log;
    my $lines = $dry ? [] : access_log_data();
    for my $section (qw(access_log no_access_log)) {
        next unless defined $block->$section;
        check_log_patterns(name => $block->name, file => 'access.log',
                           lines => $lines, dry => $dry,
                           patterns => $block->$section,
                           negate => $section eq 'no_access_log',
                           suffix => "(req $rep)");
    }
}

# --- shutdown_error_log / no_shutdown_error_log: checked against what nginx
# logged while being stopped (before the next block starts, or at exit).
sub check_shutdown_error_log ($) {
    my $block = shift;
    return unless defined $block->shutdown_error_log
               || defined $block->no_shutdown_error_log;
    my $dry = $ENV{TEST_NGINX_NO_CLEAN}
            ? { skip => 1, reason => 'TEST_NGINX_NO_CLEAN' } : undef;
    my $lines = $dry ? [] : (error_log_data() || []);
    for my $section (qw(shutdown_error_log no_shutdown_error_log)) {
        next unless defined $block->$section;
        check_log_patterns(name => $block->name, file => 'error.log',
                           lines => $lines, dry => $dry,
                           patterns => $block->$section,
                           negate => $section eq 'no_shutdown_error_log');
    }
}

#-----------------------------------------------------------------------------
# One repetition of one block
#-----------------------------------------------------------------------------

sub run_test_helper ($$$) {
    my ($block, $dry, $rep) = @_;
    my $name = $block->name;

    my $reqs = get_req_from_block($block);
    bail_out("$name - request empty") unless @$reqs;

    my $timeout = parse_time($block->timeout) // timeout();
    my $pipelined = $block->pipelined_requests ? @{ $block->pipelined_requests }
                                               : 0;
    my $need_array = $pipelined || @$reqs > 1;
    my $check_resp = !defined $block->ignore_response;

    my ($res, $idx) = (undef, 0);
    for my $i (0 .. $#$reqs) {
        my ($raw, $is_head) = $dry ? ('', 0)
            : send_request($reqs->[$i], $block->raw_request_middle_delay,
                           $timeout, $block);
        $raw //= '';

        # pipelined requests share one connection: split the responses
        my $n = $pipelined || 1;
        for my $k (1 .. $n) {
            my ($raw_headers, $left);
            if ($check_resp) {
                if (defined $block->http09) {
                    ($res, $raw_headers) = ({ code => 200, headers => [],
                                              content => $raw }, '');
                } else {
                    ($res, $raw_headers, $left) =
                        parse_response($name, $raw, $is_head);
                }
                check_error_code($block, $res, $dry, $idx, $need_array);
                check_raw_response_headers($block, $raw_headers, $dry, $idx,
                                           $need_array);
                check_response_headers($block, $res, $raw_headers, $dry, $idx,
                                       $need_array);
                check_response_body($block, $res, $dry, $idx, $rep,
                                    $need_array);
            }

            if ($k < $n) {
                $raw = $left // '';
            } elsif (defined $left && length $left && !$pipelined) {
                (my $l = $left) =~ s/([\0-\037\200-\377])/sprintf('\x{%02x}', ord $1)/eg;
                warn "WARNING: $name - unexpected extra bytes after last "
                     . "chunk in response: \"$l\"\n";
            }

            # logs are checked after every request, not only the last one
            if ($k < $n || $i < $#$reqs) {
                sleep $block->wait if $block->wait;
                check_error_log($block, $res, $dry, $rep, $need_array);
                check_access_log($block, $dry, $rep) if $check_resp;
            }
            $idx++;
        }
    }

    sleep $block->wait if $block->wait;
    check_error_log($block, $res, $dry, $rep, $need_array);
    check_access_log($block, $dry, $rep) if $check_resp;
}

1;
__END__

=head1 NAME

Test::Nginx::Socket - bundled subset of OpenResty's Test::Nginx::Socket

=head1 DESCRIPTION

Only put on C<PERL5LIB> when the CPAN module is missing.  Test files must
keep working with the real module, so this one follows its semantics
(test names, number of assertions, generated F<nginx.conf>) and rejects
the sections it does not implement instead of ignoring them.

Exports: run_tests, run_test, repeat_each, no_shuffle, master_on,
master_off, master_process_enabled, workers, worker_connections,
log_level, no_long_string, no_root_location, config_preamble,
add_block_preprocessor, add_response_body_check, add_cleanup_handler,
add_test_cleanup_handler, env_to_nginx, server_name, server_addr,
server_port, server_port_for_client, server_root, html_dir, timeout,
no_nginx_manager, check_accum_error_log, bail_out, is_str, plus
Test::Base's (blocks, plan, is, ok, like, unlike, diag, pass, fail, skip,
...).  Like the real module it does I<not> export done_testing.

Sections: config, http_config, main_config, post_main_config,
server_name, init, post_setup_server_root, user_files, request (string
or eval array, packets with delay_before), more_headers, pipelined_requests,
raw_request, raw_request_middle_delay, error_code, error_code_like,
response_headers, response_headers_like, raw_response_headers_like,
raw_response_headers_unlike, response_body (string or qr//),
response_body_like, response_body_unlike, charset, error_log,
no_error_log, grep_error_log, grep_error_log_out, access_log,
no_access_log, shutdown_error_log, no_shutdown_error_log, error_log_file,
log_level, timeout, abort, shutdown, wait, ignore_response, http09,
must_die, suppress_stderr, server_addr_for_client, skip_eval, skip_nginx,
skip_openssl, todo, no_check_leak, ONLY, SKIP, LAST.

Environment: TEST_NGINX_BINARY, TEST_NGINX_LOAD_MODULES, TEST_NGINX_PORT,
TEST_NGINX_SERVER_PORT, TEST_NGINX_CLIENT_PORT, TEST_NGINX_SERVROOT,
TEST_NGINX_RANDOMIZE, TEST_NGINX_NO_CLEAN, TEST_NGINX_NO_SHUFFLE,
TEST_NGINX_TIMEOUT, TEST_NGINX_SLEEP, TEST_NGINX_LOG_LEVEL,
TEST_NGINX_MASTER_PROCESS, TEST_NGINX_FORCE_RESTART_ON_TEST,
TEST_NGINX_USE_VALGRIND, TEST_NGINX_VALGRIND_EXIT_ON_FIRST_ERR,
TEST_NGINX_LD_PRELOAD, TEST_NGINX_EVENT_TYPE, TEST_NGINX_POSTPONE_OUTPUT,
TEST_NGINX_WORKER_USER, TEST_NGINX_ERROR_LOG, TEST_NGINX_FAST_SHUTDOWN,
TEST_NGINX_CHECK_ACCUM_ERR_LOG, TEST_NGINX_IGNORE_MISSING_DIRECTIVES,
TEST_NGINX_NO_NGINX_MANAGER; C<$TEST_NGINX_*> and
C<$TEST_NGINX_RAND_PORT_N> are expanded in the config sections.

Differences from the real module: nginx failing to start is reported as
failures of the block's assertions (with the C<nginx -t> output) instead of
a bail-out after 30 seconds of retries; under TEST_NGINX_USE_VALGRIND a
memory error (and, with TEST_NGINX_VALGRIND_LEAKS_FAIL=1, a definite leak)
adds a failing test for the block; a crashed nginx is detected instead of
retrying the connection for ~40 seconds.  Not implemented: HTTP/2, HTTP/3,
curl, stap, tcp/udp mock servers, response_body_filters, check-leak,
benchmark and HUP modes.

=cut
