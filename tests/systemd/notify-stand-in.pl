#!/usr/bin/perl
# Stand-in for `easbox serve` in tests/systemd-nspawn.sh until the server exists:
#   tests/systemd-nspawn.sh tests/systemd/notify-stand-in.pl
# It does what src/systemd.rs does for the real binary, from the main process itself (so the
# unit's NotifyAccess=main holds; systemd-notify would be a child and be ignored): READY=1
# once its state is written, then WATCHDOG=1 at half of WATCHDOG_USEC. It counts its starts
# in STATE_DIR/stand-in-starts, so a restart that lost the state directory shows.
# Perl because perl-base is Essential in Debian: it is in every rootfs, no package added.
use strict;
use warnings;
use Socket qw(AF_UNIX SOCK_DGRAM pack_sockaddr_un);

my $state_dir = '/var/lib/easbox';
for my $i (0 .. $#ARGV - 1) {
    $state_dir = $ARGV[$i + 1] if $ARGV[$i] eq '--state-dir';
}

sub notify {
    my ($msg) = @_;
    my $path = $ENV{NOTIFY_SOCKET} or return;
    $path =~ s/^@/\0/;    # abstract socket
    socket(my $sock, AF_UNIX, SOCK_DGRAM, 0) or die "socket: $!";
    defined send($sock, $msg, 0, pack_sockaddr_un($path)) or die "notify: $!";
    close $sock;
}

my $file = "$state_dir/stand-in-starts";
my $starts = 0;
if (open my $in, '<', $file) { $starts = <$in> // 0; chomp $starts; close $in; }
$starts++;
open my $out, '>', "$file.tmp" or die "$file.tmp: $!";
print $out "$starts\n";
close $out or die "close: $!";
rename "$file.tmp", $file or die "rename: $!";
print STDERR "stand-in: start number $starts, state in $state_dir\n";

notify("READY=1\nSTATUS=stand-in serving (start $starts)\n");
my $usec = $ENV{WATCHDOG_USEC} // 0;
my $period = $usec > 0 ? $usec / 2 / 1e6 : 3600;
while (1) {
    select(undef, undef, undef, $period);
    notify("WATCHDOG=1\n") if $usec > 0;
}
