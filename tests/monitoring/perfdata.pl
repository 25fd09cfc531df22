#!/usr/bin/perl
# Reads plugin output lines on stdin and prints, for each perfdata item that
# Monitoring::Plugin::Performance (the monitoring-plugins' Perl library)
# parses, one line "label<TAB>value<TAB>uom<TAB>warn<TAB>crit<TAB>min<TAB>max"
# (empty for what is not there), after a line "status<TAB>WORD<TAB>text".
# check_plugin.sh compares it with hlctl check --json.
use strict;
use warnings;
use Monitoring::Plugin::Performance use_die => 1;

while (my $line = <STDIN>) {
    chomp $line;
    my ($head, $perf) = split /\s\|\s/, $line, 2;
    my ($status, $text) = $head =~ /^[A-Z]+ (OK|WARNING|CRITICAL|UNKNOWN) - (.*)$/
        or die "not a plugin status line: $line\n";
    print "status\t$status\t$text\n";
    next unless defined $perf;
    for my $p (Monitoring::Plugin::Performance->parse_perfstring($perf)) {
        my $t = $p->threshold;
        my $w = $t && $t->warning->is_set ? "$t->{warning}" : "";
        my $c = $t && $t->critical->is_set ? "$t->{critical}" : "";
        print join("\t", $p->label, $p->value, $p->uom // "", $w, $c,
                   $p->min // "", $p->max // ""), "\n";
    }
}
