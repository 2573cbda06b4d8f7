#!/bin/sh
# Writes the ionats(1) man page (roff, man macros) on stdout, made from what the binary
# says: `BINARY --help` gives the options and the notes after them, `BINARY --version` the
# version; the name, description, files and see-also sections are written here. A help line
# of the form "    -a, --addr <host>    text" becomes an option (.TP, flags in bold, the
# argument in italics); any other line after the options joins the NOTES section, a blank
# line ending a paragraph. Usage: mkman.sh BINARY [DATE] (DATE as 2026-12-07; default: today,
# or SOURCE_DATE_EPOCH's day when that is set). Needs only sh and awk (mawk will do).
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 BINARY [DATE]" >&2
    exit 2
fi
binary=$1
if [ $# -eq 2 ]; then
    date=$2
elif [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
    date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)
else
    date=$(date -u +%Y-%m-%d)
fi

help=$("$binary" --help 2>&1)
# "ionats: v0.1.0" -> 0.1.0
version=$("$binary" --version 2>&1 |
    sed -n 's/^[^0-9]*\([0-9][0-9A-Za-z.+~-]*\).*$/\1/p' | head -n 1)
if [ -z "$version" ]; then
    echo "$0: $binary --version printed no version" >&2
    exit 1
fi
if ! printf '%s\n' "$help" | grep -q '^Usage: '; then
    echo "$0: $binary --help printed no 'Usage:' line" >&2
    exit 1
fi

printf '%s\n' "$help" | awk -v version="$version" -v date="$date" '
# roff escapes: a backslash first, then every minus as \- (so flags copy as ASCII), and a
# line that starts with a dot or quote protected by \&.
function esc(s) {
    gsub(/\\/, "\\e", s)
    gsub(/-/, "\\-", s)
    if (s ~ /^[.'\'']/) {
        s = "\\&" s
    }
    return s
}
# "-a, --addr, --net <host>" -> \fB\-a\fR, \fB\-\-addr\fR, \fB\-\-net\fR \fIhost\fR
function flags(s,    n, i, w, out, comma) {
    n = split(s, words, " ")
    out = ""
    for (i = 1; i <= n; i++) {
        w = words[i]
        comma = ""
        if (w ~ /,$/) {
            comma = ","
            w = substr(w, 1, length(w) - 1)
        }
        if (w ~ /^<.*>$/) {
            w = "\\fI" esc(substr(w, 2, length(w) - 2)) "\\fR"
        } else {
            w = "\\fB" esc(w) "\\fR"
        }
        out = out (i > 1 ? " " : "") w comma
    }
    return out
}
BEGIN {
    print ".\\\" Made by packaging/debian/mkman.sh from ionats --help; edit that, not this."
    printf ".TH IONATS 1 \"%s\" \"ionats %s\" \"User Commands\"\n", date, version
    print ".SH NAME"
    print "ionats \\- message broker speaking the NATS client protocol, on io_uring"
    state = "head"
}
state == "head" && /^Usage: / {
    sub(/^Usage: /, "")
    print ".SH SYNOPSIS"
    n = split($0, parts, " ")
    line = "\\fB" esc(parts[1]) "\\fR"
    for (i = 2; i <= n; i++) {
        p = parts[i]
        if (p ~ /^\[.*\]$/) {
            p = "[\\fI" esc(substr(p, 2, length(p) - 2)) "\\fR]"
        } else {
            p = esc(p)
        }
        line = line " " p
    }
    print line
    print ".SH DESCRIPTION"
    print "\\fBionats\\fR serves NATS clients unchanged: core publish/subscribe, request/reply,"
    print "queue groups, JetStream streams and consumers, KV and object store, and NATS"
    print "Streaming. Its flags, configuration file (\\fB\\-c\\fR) and HTTP monitoring"
    print "endpoints (\\fB\\-m\\fR) are nats\\-server'\''s. Each shard thread runs its own"
    print "io_uring; where io_uring is refused (a seccomp profile, kernel.io_uring_disabled)"
    print "\\fB\\-\\-io auto\\fR falls back to epoll with a warning."
    print ".PP"
    print "SIGINT and SIGTERM drain the broker: it stops accepting, flushes pending output,"
    print "closes every connection and exits 0."
    state = "intro"
    next
}
state == "intro" && /^Options/ {
    print ".SH OPTIONS"
    print esc($0)
    state = "options"
    next
}
state == "options" && /^    -/ {
    line = $0
    sub(/^    /, "", line)
    # the flags end at the first run of two or more spaces; the text follows
    if (match(line, /   */) && RLENGTH >= 2) {
        flagpart = substr(line, 1, RSTART - 1)
        text = substr(line, RSTART + RLENGTH)
    } else {
        flagpart = line
        text = ""
    }
    print ".TP"
    print flags(flagpart)
    if (text != "") {
        print esc(text)
    }
    next
}
state == "options" && /^[ \t]*$/ {
    state = "notes"
    print ".SH NOTES"
    para = 0
    next
}
state == "notes" {
    if ($0 ~ /^[ \t]*$/) {
        para = 0
        next
    }
    if (para == 0 && printed_note) {
        print ".PP"
    }
    line = $0
    sub(/^[ \t]+/, "", line)
    print esc(line)
    para = 1
    printed_note = 1
    next
}
END {
    if (state != "notes" && state != "options") {
        print "mkman.sh: no options found in --help" > "/dev/stderr"
        exit 1
    }
    print ".SH FILES"
    print ".TP"
    print ".I /etc/ionats/ionats.conf"
    print "The configuration read by ionats.service, in nats\\-server'\''s format;"
    print "\\fBionats \\-t \\-c\\fR \\fIfile\\fR checks one."
    print ".TP"
    print ".I /var/lib/ionats"
    print "The JetStream store of the packaged service (its StateDirectory)."
    print ".TP"
    print ".I /usr/share/doc/ionats/README.md.gz"
    print "What ionats serves, the configuration keys it refuses or ignores, benchmarks."
    print ".SH SEE ALSO"
    print "\\fBnats\\-server\\fR(1), \\fBsystemctl\\fR(1), \\fBjournalctl\\fR(1)"
}
'
