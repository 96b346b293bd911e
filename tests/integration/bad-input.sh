#!/bin/sh
# Catalogue of bad input (issue 9): every kind of hostile or broken input
# the programs meet, each case against the real daemons on loopback, with
# the clear error it must produce, the counter that must move, and,
# wherever good data travels beside the bad, proof that the good data
# was stored and nothing valid was lost.
#
#  id   input                                         expected error                              counter
#  ---- --------------------------------------------- ------------------------------------------- -----------------------------
#  D01  empty datagram                                log "empty: empty datagram"                 rejected_empty
#  D02  the word garbage                              log "syntax:"                               rejected_syntax
#  D03  a datagram cut after 100 bytes                log "syntax:"                               rejected_syntax
#  D04  data after the JSON object                    log "syntax: data after the JSON object"    rejected_syntax
#  D05  NUL byte inside the d string                  log "syntax: control character in string"   rejected_syntax
#  D06  top level is an array                         log "not_object:"                           rejected_not_object
#  D07  nested 200 deep (cap 16)                      log "depth:"                                rejected_depth
#  D08  d is a number                                 log "wrong_type:"                           rejected_wrong_type
#  D09  no d                                          log "missing_member:"                       rejected_missing_member
#  D10  d with a space and a Latin-1 byte             log "bad_domain:"                           rejected_bad_domain
#  D11  d of 300 bytes (cap 253)                      log "bad_domain:"                           rejected_bad_domain
#  D12  d twice                                       log "duplicate_member:"                     rejected_duplicate_member
#  D13  no policies                                   log "no_policies:"                          rejected_no_policies
#  D14  policies is a string                          log "wrong_type:"                           rejected_wrong_type
#  D15  the only policy has f=7                       log "no_policies:" naming bad_number        rejected_no_policies
#  D16  5000 bytes (collector_max_datagram_bytes 4096) log "is more than collector_max_..."     rejected_oversize
#  D17  65 policies (cap 64): 64 kept                 log "(over_limit), kept 64 policies"        dropped_policies
#  D18  failure-details entry with a string code      log "(wrong_type), kept 1 policies"         dropped_failure_details
#  D19  Latin-1 bytes in EHLO and reason (repaired)   stored as UTF-8                             repaired_utf8_strings
#  D20  unknown policy type 7, failure code 999       log "unknown policy types", kept as sent    unknown_policy_type/_result_code
#  D21  UTF-8 BOM before the object                   log "syntax:"                               rejected_syntax
#  T01  rua field before v=TLSRPTv1                   txt-lookup "none: no TLSRPT record" (1)     -
#  T02  v=TLSRPTv2                                    "none: no TLSRPT record"                    -
#  T03  v=tlsrptv1 (case-sensitive)                   "none: no TLSRPT record"                    -
#  T04  two TLSRPT records                            "invalid: 2 TLSRPT records" (2); send: no-destination
#  T05  ruf= but no rua=                              "invalid: no rua field"; send: no-destination
#  T06  empty rua=                                    "invalid: empty rua field"
#  T07  only an http: URI                             "invalid: no usable rua URI (...http...)"; send: no-destination
#  T08  raw '!' in a mailto                           "invalid: malformed rua URI ...raw '!'"; send: no-destination
#  T09  ';;'                                          "invalid: empty field (';;')"
#  T10  space after rua=                              "invalid: space after 'rua='"
#  T11  no ';' after the version                      "none: no TLSRPT record"
#  T12  mailto without '@'                            "invalid: ... address without '@'"; send: no-destination
#  T13  extension name starting with '_'              "invalid: bad field name '_x'"
#  T14  https:/// without a host                      "invalid: ... no host"
#  T15  '%ZZ' in a URI                                "invalid: ... '%' not followed by two hex digits"
#  T16  33 rua URIs (cap 32)                          "invalid: more than 32 rua URIs"
#  T17  a 5000-byte record (cap 4096)                 "invalid: record longer than 4096 bytes"
#  T18  SPF record only                               "none: no TLSRPT record"
#  T19  no record at all (NXDOMAIN)                   "none: ...: NXDOMAIN"; send: no-destination
#  T20  http: and mailto: URI                         ok, note "1 rua URI skipped"; send: delivered to the mailto
#  H01  GET ingest_path                               405 "only POST", Allow: POST                rejected_method
#  H02  PUT                                           405                                         rejected_method
#  H03  HEAD                                          405                                         rejected_method
#  H04  POST to another path                          404 "not found"                             rejected_not_found
#  H05  body over ingest_max_body_bytes (Content-Length) 413 "body too large"                    rejected_too_big
#  H06  body over the cap, chunked                    413 "body too large"                        rejected_too_big
#  H07  gzip bomb (100 MiB of zeros)                  413 "too_big: inflates to more than ..."    rejected_too_big
#  H08  gzip cut short                                400 "malformed: broken gzip data"           rejected_bad_gzip
#  H09  gzip with a wrong CRC                         400 "malformed: broken gzip data"           rejected_bad_gzip
#  H10  invalid JSON                                  400 "malformed: not JSON..."                rejected_not_json
#  H11  JSON with a NUL byte                          400 "malformed: not JSON: NUL byte..."      rejected_not_json
#  H12  a JSON array                                  400, a reason that does not deny it is JSON rejected_not_report
#  H13  JSON that is not a report                     400 "malformed: no organization-name"       rejected_missing
#  H14  policies is an object                         400 "malformed: policies: not an array"     rejected_invalid
#  H15  a negative session count                      400 "...: negative count"                   rejected_invalid
#  H16  start-datetime "yesterday"                    400 "...: not a date-time..."               rejected_invalid
#  H17  duplicate member                              400 "malformed: not JSON: duplicate..."     rejected_not_json
#  H18  neither gzip nor JSON, Content-Type image/png 415 "unsupported: image/png is ..."         rejected_unsupported
#  H19  Content-Encoding: br on bytes that are neither 400 "malformed: body is neither gzip nor JSON" rejected_not_report
#  H20  Content-Encoding: gzip on a plain JSON report 200 stored (the bytes decide)               stored
#  H21  a 20 KiB header (ingest_max_header_bytes 16 KiB) 431                                       -
#  H22  broken chunked encoding                       400                                         -
#  H23  Content-Length: abc                           400                                         -
#  H24  two different Content-Length headers          400, nothing stored (RFC 9112 6.3)          -
#  H25  empty body                                    400 "malformed: ..."                        rejected_not_report
#  H26  JSON nested 100 deep (cap 64)                 400 "malformed: nesting deeper than 64..."  rejected_too_deep
#  H27  HTTP/9.9                                      505                                         -
#  M01  mail without an attachment                    exit 65 "no attachment looks like a report" rejected_no_report
#  M02  broken base64 in the attachment               65 "corrupt gzip data (part 2 ...)"         rejected_no_report
#  M03  zip that is not one                           65 "corrupt zip data"                       rejected_no_report
#  M04  zip bomb (16 MiB entry, cap 1 MiB)            65 "inflated report larger than 1048576..." rejected_no_report
#  M05  gzip bomb (16 MiB)                           65 "inflated report larger than 1048576..." rejected_no_report
#  M06  encrypted zip entry                           65 "unsupported zip entry"                  rejected_no_report
#  M07  zip holding only a directory                  65 "zip has no file entry"                  rejected_no_report
#  M08  PNG labelled application/tlsrpt+gzip          65 "attachment is not gzip/zip/JSON"        rejected_no_report
#  M09  gzip of plain text                            65 "inflated attachment is not JSON"        rejected_no_report
#  M10  gzip of truncated JSON                        65 "report refused: malformed: not JSON"    rejected_not_json
#  M11  JSON that is not a report                     65 "report refused: malformed: no organization-name" rejected_missing
#  M12  binary garbage instead of a mail              65 "not a MIME message"                     rejected_no_report
#  M13  empty input                                   65 "not a MIME message"                     rejected_no_report
#  M14  mail over ingest_max_mail_bytes               65 "message larger than ingest_max_mail_bytes" rejected_too_big
#  M15  70 text parts, the report after them          65 "looked at only the first 64 MIME parts" rejected_no_report
#  M16  broken gzip attachment, then a good one       0, the good one stored                      stored
#  M17  a JSON attachment that is not a report, then a good one  0, the good one stored           stored
#  M18  the report labelled octet-stream image.png    0, stored (the bytes decide)                stored
#  M19  two good reports in one mail                  0, the first stored                         stored
#  C01  unknown key                                   exit 2 "cf:2: unknown key 'no_such_key'"
#  C02  '10s' for a number, in every program          exit 2 "cf:1: flush_interval_ms: '10s' is not a number"
#  C03  below the minimum                             exit 2 "... is outside 10..86400000"
#  C04  more than 64 bits                             exit 2 "... is not a number"
#  C05  negative                                      exit 2 "... -1 is outside 1..64"
#  C06  boolean "maybe"                               exit 2 "... is not yes or no"
#  C07  mode 0999                                     exit 2 "... is not an octal number"
#  C08  mode 01777                                    exit 2 "... 01777 is outside 0..777"
#  C09  the same key twice                            a diagnostic naming the key and line 2
#  C10  -c names a missing file                       exit 2 "...: No such file or directory"
#  C11  TLSRPTD_CONF names a missing file             exit 2 "...: No such file or directory"
#  C12  unreadable file                               exit 2 "...: Permission denied"
#  C13  a directory as config file                    exit 2 "...: Is a directory"
#  C14  a line without '='                            exit 2 "cf:1: expected 'key = value'"
#  C15  a line over 8190 bytes                        exit 2 "cf:1: line longer than 8190 bytes"
#  C16  a value over 4096 bytes                       exit 2 "... value longer than 4096 bytes"
#  C17  a control character in a value                exit 2 "... control character in value"
#  C18  -o with an unknown key                        exit 2 "-o unknown key 'nosuch'"
#  C19  -o without '='                                exit 2 "... is not key=value"
#  C20  tlsrpt-ingest with a broken config            exit 75 (the MTA keeps the mail)
#  C21  ingest_listen = localhost:8460                exit 1 "ingest_listen: ... is not address:port"
#  C22  ingest_tls_cert without ingest_tls_key        exit 2 "... go together"
#  C23  ingest_tls_cert names a missing file          exit 1, the path named
#  B01  corrupt database file                         collector/ingestd/send 1, ingest 75 "file is not a database"; file unchanged
#  B02  database of a newer schema version            1 / 75 "schema version 999 is newer ..."; file unchanged
#  B03  read-only database file                       1 / 75 "attempt to write a readonly database"
#  B04  a directory instead of the database file      1 / 75 "unable to open database file"
#  B05  database in a missing directory               1 / 75 "unable to open database file"
#  B06  locked database, mail                         75 "database is locked", stored on the retry -
#  B07  locked database, HTTP                         500 "fault: database is locked", stored later store_errors
#  B08  locked database, collector                    every datagram written after the lock       flush_errors
#
# Each check prints "ok N - ID what" or "not ok N - ID what" and the script
# goes on; it exits 1 when any check failed.
# shellcheck source=tests/integration/common.sh disable=SC1091
. tests/integration/common.sh

START_S=$(date +%s)
HP=$T/badin.py
NCHK=0
NFAILED=0
NCASES=0
FAILED_CASES=""
CASE=""

# --- reporting ---------------------------------------------------------------
case_() {
	CASE=$1
	NCASES=$((NCASES + 1))
	echo "# $1: $2 (at $(($(date +%s) - START_S)) s)"
}
pass() {
	NCHK=$((NCHK + 1))
	echo "ok $NCHK - $CASE $1"
}
nok() {
	NCHK=$((NCHK + 1))
	NFAILED=$((NFAILED + 1))
	echo "not ok $NCHK - $CASE $1"
	printf '%s\n' "$2" | sed 's/^/#   /'
	case " $FAILED_CASES " in
	*" $CASE "*) ;;
	*) FAILED_CASES="$FAILED_CASES $CASE" ;;
	esac
}
chk_eq() {
	if [ "$2" = "$3" ]; then pass "$1"; else nok "$1" "expected '$2', got '$3'"; fi
}
# chk_glob WHAT PATTERN VALUE
chk_glob() {
	# shellcheck disable=SC2254 # the pattern is meant to match
	case $3 in
	$2) pass "$1" ;;
	*) nok "$1" "expected '$2', got '$3'" ;;
	esac
}
chk_ge() {
	if [ "$3" -ge "$2" ] 2>/dev/null; then pass "$1"; else nok "$1" "expected >= $2, got '$3'"; fi
}
# has_line FILE STRING...: some line of FILE holds every STRING (fixed).
has_line() {
	awk 'BEGIN { n = ARGC - 2; for (i = 1; i <= n; i++) s[i] = ARGV[i + 1]; ARGC = 2 }
	{ for (i = 1; i <= n; i++) if (index($0, s[i]) == 0) next; found = 1; exit }
	END { exit !found }' "$@"
}
# chk_re WHAT FILE ERE: some line of FILE matches.
chk_re() {
	if grep -q -E -e "$3" "$2"; then
		pass "$1"
	else
		nok "$1" "no line of $(basename "$2") matches: $3
$(tail -n 5 "$2")"
	fi
}
# chk_line WHAT FILE STRING...
chk_line() {
	what=$1
	shift
	if has_line "$@"; then
		pass "$what"
	else
		f=$1
		shift
		nok "$what" "no line of $(basename "$f") holds: $*
$(tail -n 5 "$f")"
	fi
}

# --- generated input: reports, datagrams, bodies, mails, raw HTTP -------------
cat >"$HP" <<'EOPY'
import gzip, io, json, os, socket, sys, zipfile, zlib
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
import email.policy

def report(rid, ok=7):
    return json.dumps({"organization-name": "Bad Input Org",
        "date-range": {"start-datetime": "2026-03-01T00:00:00Z",
                       "end-datetime": "2026-03-01T23:59:59Z"},
        "contact-info": "tlsrpt@reporter.example", "report-id": rid,
        "policies": [{"policy": {"policy-type": "sts", "policy-domain": "example.com",
            "policy-string": ["version: STSv1", "mode: enforce",
                              "mx: mx1.example.com", "max_age: 604800"],
            "mx-host": ["mx1.example.com"]},
            "summary": {"total-successful-session-count": ok,
                        "total-failure-session-count": 0}}]}).encode()

def put(d, name, data):
    open(os.path.join(d, name), "wb").write(data)

def dgrams(d):
    pol = b'"policies":[{"policy-type":2,"f":0}]'
    put(d, "D01", b"")
    put(d, "D02", b"garbage")
    ok = b'{"dpv": "1","d": "d03.example","policies":[{"policy-type":2,"policy-domain": "d03.example","policy-string":["version: STSv1","mode: enforce","mx: mx1.d03.example","max_age: 604800"],"t":0,"f":0}]}'
    put(d, "D03", ok[:100])
    put(d, "D04", b'{"d":"d04.example",' + pol + b'} x')
    put(d, "D05", b'{"d":"d05\x00.example",' + pol + b'}')
    put(d, "D06", b'[{"d":"d06.example"}]')
    put(d, "D07", b'{"d":"d07.example","x":' + b"[" * 200 + b"]" * 200 + b',' + pol + b'}')
    put(d, "D08", b'{"d":5,' + pol + b'}')
    put(d, "D09", b'{' + pol + b'}')
    put(d, "D10", b'{"d":"d10 caf\xe9.example",' + pol + b'}')
    put(d, "D11", b'{"d":"' + b"a" * 288 + b'.d11.example",' + pol + b'}')
    put(d, "D12", b'{"d":"d12.example","d":"other.example",' + pol + b'}')
    put(d, "D13", b'{"dpv": "1","d":"d13.example"}')
    put(d, "D14", b'{"d":"d14.example","policies":"sts"}')
    put(d, "D15", b'{"d":"d15.example","policies":[{"policy-type":2,"t":0,"f":7}]}')
    head, tail = b'{"d":"d16.example","pad":"', b'",' + pol + b'}'
    put(d, "D16", head + b"x" * (5000 - len(head) - len(tail)) + tail)
    put(d, "D17", b'{"d":"d17.example","policies":[' +
        b",".join([b'{"policy-type":9,"t":0,"f":0}'] * 65) + b']}')
    put(d, "D18", b'{"d":"d18.example","policies":[{"policy-type":2,"failure-details":'
        b'[{"c":"expired"}],"t":1,"f":1}]}')
    put(d, "D20", b'{"dpv": "1","d":"d20.example","policies":[{"policy-type":7,'
        b'"failure-details":[{"c":999,"s": "192.0.2.1"}],"t":1,"f":1}]}')
    put(d, "D21", b'\xef\xbb\xbf{"d":"d21.example",' + pol + b'}')

def bomb(path, mib):
    """mib MiB of zeros as one gzip member (starting with '{' so it
    would be JSON), built from one full-flushed block repeated."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1 << 20)
    first = c.compress(b"{" + chunk[1:]) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(b"{" + chunk[1:])
    for _ in range(mib - 1):
        crc = zlib.crc32(chunk, crc)
    open(path, "wb").write(b"\x1f\x8b\x08\x00\0\0\0\0\x02\xff" + first + block * (mib - 1) +
                           b"\x03\x00" + (crc & 0xffffffff).to_bytes(4, "little") +
                           ((mib << 20) & 0xffffffff).to_bytes(4, "little"))

def bodies(d):
    r = json.loads(report("x"))
    def variant(name, f):
        v = json.loads(report(name))
        f(v)
        put(d, name, json.dumps(v).encode())
    put(d, "big.json", report("big") + b" " * 300000)
    bomb(os.path.join(d, "bomb.gz"), 100)
    gz = gzip.compress(report("gz"), mtime=0)
    put(d, "trunc.gz", gz[:len(gz) // 2])
    bad = bytearray(gz)
    bad[-8] ^= 0xff
    put(d, "crc.gz", bytes(bad))
    put(d, "invalid.json", b'{"organization-name": "Broken Inc.", "report-id": ')
    put(d, "nul.json", b'{"organization-name": "a\x00b"}')
    put(d, "array.json", b'[' + report("array") + b']')
    put(d, "notreport.json", b'{"hello": "world"}')
    variant("H14", lambda v: v.__setitem__("policies", {"policy": 1}))
    variant("H15", lambda v: v["policies"][0]["summary"].__setitem__(
        "total-successful-session-count", -5))
    variant("H16", lambda v: v["date-range"].__setitem__("start-datetime", "yesterday"))
    put(d, "H17", report("H17").replace(b'{"organization-name"',
                                        b'{"report-id": "H17b", "organization-name"', 1))
    put(d, "png", b"\x89PNG\r\n\x1a\n" + bytes(64))
    put(d, "brotli", b"\x1b\x03\x00\xf8\xa5\x40\x6e\x47\x11\x34")
    put(d, "H20.json", report("H20"))
    put(d, "deep.json", b'{"policies":' + b"[" * 100 + b"]" * 100 + b'}')

def goods(d, *ids):
    for i in ids:
        put(d, "good-%s.json" % i, report("good-" + i))

def msg_with(parts, text="This is a TLS report.\n"):
    m = MIMEMultipart("report", **{"report-type": "tlsrpt"})
    m["From"] = "TLS Reporting <tlsrpt@reporter.example>"
    m["To"] = "tlsrpt@example.com"
    m["Subject"] = "Report Domain: example.com Submitter: reporter.example Report-ID: <x>"
    m["TLS-Report-Domain"] = "example.com"
    m["TLS-Report-Submitter"] = "reporter.example"
    m.attach(MIMEText(text))
    for data, sub, name in parts:
        a = MIMEApplication(data, sub)
        if name:
            a.add_header("Content-Disposition", "attachment", filename=name)
        m.attach(a)
    return m.as_bytes(policy=email.policy.SMTP)

def zipped(name, data, method=zipfile.ZIP_DEFLATED):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", method) as z:
        z.writestr(name, data)
    return b.getvalue()

def gzr(rid):
    return gzip.compress(report(rid), mtime=0)

def mails(d, *good_ids):
    for i in good_ids:
        put(d, "good-%s.eml" % i, msg_with([(gzr("good-" + i), "tlsrpt+gzip", "r.json.gz")]))
    put(d, "M01", b"From: someone@example.net\nTo: tlsrpt@example.com\nSubject: hello\n\njust text\n")
    m = msg_with([(gzr("M02"), "tlsrpt+gzip", "r.json.gz")]).decode()
    at = m.index("H4sI")
    put(d, "M02", (m[:at] + "H4sI!!!!****~~~~" + m[at + 44:]).encode())
    put(d, "M03", msg_with([(b"PK\x03\x04" + bytes(range(256)) * 4, "zip", "r.zip")]))
    put(d, "M04", msg_with([(zipped("r.json", b"{" + bytes(16 << 20)), "zip", "r.zip")]))
    put(d, "M05", msg_with([(gzip.compress(b"{" + bytes(16 << 20), mtime=0), "tlsrpt+gzip", "r.json.gz")]))
    z = bytearray(zipped("r.json", report("M06"), zipfile.ZIP_STORED))
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        z[z.index(sig) + off] |= 1  # "encrypted"
    put(d, "M06", msg_with([(bytes(z), "zip", "r.zip")]))
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as zf:
        zf.writestr("reports/", b"")
    put(d, "M07", msg_with([(b.getvalue(), "zip", "r.zip")]))
    put(d, "M08", msg_with([(b"\x89PNG\r\n\x1a\n" + bytes(100), "tlsrpt+gzip", "r.json.gz")]))
    put(d, "M09", msg_with([(gzip.compress(b"hello world", mtime=0), "tlsrpt+gzip", "r.json.gz")]))
    put(d, "M10", msg_with([(gzip.compress(report("M10")[:60], mtime=0), "tlsrpt+gzip", "r.json.gz")]))
    put(d, "M11", msg_with([(gzip.compress(b'{"hello": "world"}', mtime=0), "tlsrpt+gzip", "r.json.gz")]))
    put(d, "M12", bytes(range(256)) * 16)
    put(d, "M13", b"")
    put(d, "M14", msg_with([(gzr("M14"), "tlsrpt+gzip", "r.json.gz")], "x" * 4000 + "\n"))
    m = MIMEMultipart("mixed")
    m["From"] = "someone@example.net"
    m["Subject"] = "many parts"
    for i in range(70):
        m.attach(MIMEText("part %d\n" % i))
    m.attach(MIMEApplication(gzr("M15"), "tlsrpt+gzip"))
    put(d, "M15", m.as_bytes(policy=email.policy.SMTP))
    put(d, "M16", msg_with([(b"\x1f\x8b\x08\x00broken", "tlsrpt+gzip", "a.json.gz"),
                            (gzr("M16"), "tlsrpt+gzip", "b.json.gz")]))
    put(d, "M17", msg_with([(b'{"note": "delivery metadata, not a report"}', "json", "meta.json"),
                            (gzr("M17"), "tlsrpt+gzip", "b.json.gz")]))
    put(d, "M18", msg_with([(gzr("M18"), "octet-stream", "image.png")]))
    put(d, "M19", msg_with([(gzr("M19a"), "tlsrpt+gzip", "a.json.gz"),
                            (gzr("M19b"), "tlsrpt+gzip", "b.json.gz")]))

def rawreq(port, kind, rid=""):
    """One hand-made request; prints the status code of the first
    answer, or "closed" when the server closed without one."""
    body = report(rid) if rid else b"{}"
    head = b"POST /tlsrpt HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if kind == "badchunk":
        req = head + b"Transfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n"
    elif kind == "badlen":
        req = head + b"Content-Length: abc\r\n\r\n{}"
    elif kind == "twolen":
        req = head + b"Content-Length: %d\r\nContent-Length: 5\r\n\r\n" % len(body) + body
    elif kind == "http99":
        req = b"POST /tlsrpt HTTP/9.9\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}"
    s = socket.create_connection(("127.0.0.1", int(port)))
    s.settimeout(5)
    s.sendall(req)
    s.shutdown(socket.SHUT_WR)
    got = b""
    try:
        while b"\r\n" not in got:
            b = s.recv(4096)
            if not b:
                break
            got += b
    except (socket.timeout, OSError):
        pass
    line = got.split(b"\r\n")[0].split()
    print(line[1].decode() if len(line) > 1 else "closed")

def lock(path, seconds, flag):
    """Holds the write lock of the database for seconds (a rollback
    ends it early when killed)."""
    import sqlite3, time
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("BEGIN IMMEDIATE")
    open(flag, "w").write("locked\n")
    time.sleep(float(seconds))
    c.execute("COMMIT")

globals()[sys.argv[1]](*sys.argv[2:])
EOPY

# ============================================================================
# D: datagrams to tlsrpt-collectd; a valid one after each bad one
# ============================================================================
DG=$T/dgram
mkdir "$DG"
$PY "$HP" dgrams "$DG" || fail "generate datagrams"
cp "$FIXTURES_DIR/non-utf8-latin1.json" "$DG/D19"
# id|input|counter|increase|log line holds|and
cat >"$T/dgram.cases" <<'EOF'
D01|empty datagram|rejected_empty|1|empty: empty datagram|
D02|the word garbage|rejected_syntax|1|(7 bytes): syntax:|
D03|a libtlsrpt datagram cut after 100 bytes|rejected_syntax|1|(100 bytes): syntax:|
D04|data after the JSON object|rejected_syntax|1|syntax: data after the JSON object|
D05|NUL byte inside the d string|rejected_syntax|1|syntax: control character in string|
D06|top level is an array|rejected_not_object|1|not_object: top level is not an object|
D07|nested 200 deep (EV_MAX_DEPTH 16)|rejected_depth|1|depth:|
D08|d is a number|rejected_wrong_type|1|wrong_type:|"d":5
D09|no d member|rejected_missing_member|1|missing_member:|
D10|d with a space and a Latin-1 byte|rejected_bad_domain|1|bad_domain:|d10 caf\xe9
D11|d of 300 bytes (cap 253)|rejected_bad_domain|1|bad_domain:|aaaaaaaa
D12|d twice|rejected_duplicate_member|1|duplicate_member:|
D13|no policies member|rejected_no_policies|1|no_policies:|d13.example
D14|policies is a string|rejected_wrong_type|1|wrong_type:|"policies":"sts"
D15|the only policy has f=7 (0 or 1 allowed)|rejected_no_policies|1|no_policies:|bad_number
D16|5000 bytes with collector_max_datagram_bytes=4096|rejected_oversize|1|5000 bytes is more than collector_max_datagram_bytes (4096)|
D17|65 policies (EV_MAX_POLICIES 64)|dropped_policies|1|for d17.example: dropped 1 policies and 0 failure-details entries (over_limit), kept 64 policies|
D18|a failure-details entry with a string code|dropped_failure_details|1|for d18.example: dropped 0 policies and 1 failure-details entries (wrong_type), kept 1 policies|
D19|Latin-1 bytes in the EHLO reply and the reason|repaired_utf8_strings|2||
D20|unknown policy type 7 and failure code 999|unknown_policy_type|1|datagram for d20.example has 1 unknown policy types and 1 unknown failure codes|
D21|UTF-8 byte order mark before the object|rejected_syntax|1|syntax:|\xef\xbb\xbf
EOF

cstat() {
	sql "SELECT COALESCE(SUM(value), 0) FROM collector_stat WHERE name = '$1'" 2>/dev/null
}
# wait_cstat NAME VALUE: up to 10 s for the collector to write it.
wait_cstat() {
	n=0
	while [ "$(cstat "$1")" != "$2" ] && [ $n -lt 200 ]; do
		n=$((n + 1))
		sleep 0.05
	done
}
dsend() {
	"$TOOLS/dgram-send" "$SOCK" "$@" || fail "dgram-send $*"
}

start_collector -o collector_max_datagram_bytes=4096
i=0
while IFS='|' read -r id desc counter inc s1 s2 <&3; do
	case_ "$id" "$desc"
	i=$((i + 1))
	lid=$(echo "$id" | tr 'D' 'd')
	printf '{"dpv": "1","d": "ok-%s.example","policies":[{"policy-type":9,"t":0,"f":0}]}' "$lid" >"$DG/ok-$id"
	before=$(cstat "$counter")
	rbefore=$(cstat rejected)
	dsend "$DG/$id" "$DG/ok-$id"
	wait_cstat received $((2 * i))
	chk_eq "counter $counter +$inc" "$((before + inc))" "$(cstat "$counter")"
	case $counter in
	rejected_*)
		chk_eq "counter rejected +1" "$((rbefore + 1))" "$(cstat rejected)"
		chk_line "logged with the sender's pid and uid: $s1 $s2" "$LOGFILE" \
		    "rejected datagram from pid " " uid " "$s1" ${s2:+"$s2"}
		;;
	*)
		chk_eq "not rejected" "$rbefore" "$(cstat rejected)"
		[ -n "$s1" ] && chk_line "logged: '$s1'" "$LOGFILE" "$s1"
		;;
	esac
	chk_eq "the valid datagram sent next is stored" "1|0" \
	    "$(sql "SELECT successful_sessions || '|' || failed_sessions FROM policy_counter WHERE report_domain = 'ok-$lid.example'")"
done 3<"$T/dgram.cases"
NDG=$i
CASE=D17
chk_eq "the 64 policies kept are counted" 64 \
    "$(sql "SELECT SUM(successful_sessions) FROM policy_counter WHERE report_domain = 'd17.example'")"
CASE=D18
chk_eq "the policy with the bad entry kept as a failed session" "0|1" \
    "$(sql "SELECT successful_sessions || '|' || failed_sessions FROM policy_counter WHERE report_domain = 'd18.example'")"
CASE=D19
chk_eq "Latin-1 repaired to UTF-8" "mx1.example.com ESMTP Café ready|réponse" \
    "$(sql "SELECT receiving_mx_helo || '|' || failure_reason_code FROM failure_counter WHERE result_code = 201 AND failure_reason_code <> ''")"
CASE=D20
chk_eq "unknown type and code stored as sent" "7|999" \
    "$(sql "SELECT p.policy_type || '|' || f.result_code FROM policy_counter p JOIN failure_counter f ON f.policy_id = p.id WHERE p.report_domain = 'd20.example'")"
chk_eq "counter unknown_result_code +1" 1 "$(cstat unknown_result_code)"
CASE=D
if kill -0 "$COLLECTOR_PID" 2>/dev/null; then pass "collector alive after every bad datagram"; else nok "collector alive" "it died"; fi
stop_collector
chk_eq "SIGTERM: exit 0" 0 "$COLLECTOR_STATUS"
chk_eq "every datagram received" "$((2 * NDG))" "$(cstat received)"
chk_eq "every valid datagram between the bad ones stored once" "$NDG|$NDG" \
    "$(sql "SELECT COUNT(*) || '|' || SUM(successful_sessions) FROM policy_counter WHERE report_domain LIKE 'ok-d%'")"
chk_eq "no row for a rejected datagram" 0 \
    "$(sql "SELECT COUNT(*) FROM policy_counter WHERE report_domain IN ('d03.example','d04.example','d05.example','d12.example','d13.example','d14.example','d15.example','d16.example','d21.example','other.example')")"

# ============================================================================
# T: _smtp._tls TXT records from dnsmasq, through txt-lookup and tlsrpt-send
# ============================================================================
cat >"$T/dns.conf" <<'EOF'
local=/example/
txt-record=_smtp._tls.good.example,"v=TLSRPTv1; rua=mailto:tlsrpt@good.example"
txt-record=_smtp._tls.t01.example,"rua=mailto:a@t01.example; v=TLSRPTv1"
txt-record=_smtp._tls.t02.example,"v=TLSRPTv2; rua=mailto:a@t02.example"
txt-record=_smtp._tls.t03.example,"v=tlsrptv1; rua=mailto:a@t03.example"
txt-record=_smtp._tls.t04.example,"v=TLSRPTv1; rua=mailto:a@t04.example"
txt-record=_smtp._tls.t04.example,"v=TLSRPTv1; rua=mailto:b@t04.example"
txt-record=_smtp._tls.t05.example,"v=TLSRPTv1; ruf=mailto:a@t05.example"
txt-record=_smtp._tls.t06.example,"v=TLSRPTv1; rua="
txt-record=_smtp._tls.t07.example,"v=TLSRPTv1; rua=http://r.t07.example/tlsrpt"
txt-record=_smtp._tls.t08.example,"v=TLSRPTv1; rua=mailto:a!b@t08.example"
txt-record=_smtp._tls.t09.example,"v=TLSRPTv1;; rua=mailto:a@t09.example"
txt-record=_smtp._tls.t10.example,"v=TLSRPTv1; rua= mailto:a@t10.example"
txt-record=_smtp._tls.t11.example,"v=TLSRPTv1 rua=mailto:a@t11.example"
txt-record=_smtp._tls.t12.example,"v=TLSRPTv1; rua=mailto:tlsrpt.t12.example"
txt-record=_smtp._tls.t13.example,"v=TLSRPTv1; _x=1; rua=mailto:a@t13.example"
txt-record=_smtp._tls.t14.example,"v=TLSRPTv1; rua=https:///tlsrpt"
txt-record=_smtp._tls.t15.example,"v=TLSRPTv1; rua=mailto:a%ZZ@t15.example"
txt-record=_smtp._tls.t18.example,"v=spf1 -all"
txt-record=_smtp._tls.t20.example,"v=TLSRPTv1; rua=http://r.t20.example/x,mailto:tlsrpt@t20.example"
EOF
uris=""
for n in $(seq 33); do
	uris="$uris${uris:+,}mailto:r$n@t16.example"
done
echo "txt-record=_smtp._tls.t16.example,\"v=TLSRPTv1; rua=$uris\"" >>"$T/dns.conf"
R5000="v=TLSRPTv1; rua=mailto:a@t17.example; x=$(head -c 4960 /dev/zero | tr '\0' 0)"
start_dns "$T/dns.conf" --txt-record="_smtp._tls.t17.example,$R5000"

# id|record|txt-lookup exit|last line
cat >"$T/txt.cases" <<'EOF'
T01|rua field before v=TLSRPTv1|1|none: no TLSRPT record
T02|v=TLSRPTv2|1|none: no TLSRPT record
T03|v=tlsrptv1 (the version is case-sensitive)|1|none: no TLSRPT record
T04|two TLSRPT records|2|invalid: 2 TLSRPT records
T05|ruf= but no rua=|2|invalid: no rua field
T06|empty rua=|2|invalid: empty rua field
T07|only an http: URI|2|invalid: no usable rua URI (1 skipped; first 'http://r.t07.example/tlsrpt': scheme http not supported)
T08|a raw '!' in a mailto URI|2|invalid: malformed rua URI 'mailto:a!b@t08.example': raw '!' (must be written %21)
T09|an empty field ';;'|2|invalid: empty field (';;')
T10|a space after rua=|2|invalid: space after 'rua='
T11|no ';' after the version|1|none: no TLSRPT record
T12|mailto without '@'|2|invalid: no usable rua URI (1 skipped; first 'mailto:tlsrpt.t12.example': address without '@')
T13|an extension name starting with '_'|2|invalid: bad field name '_x'
T14|https:/// without a host|2|invalid: no usable rua URI (1 skipped; first 'https:///tlsrpt': no host)
T15|'%ZZ' in a URI|2|invalid: malformed rua URI 'mailto:a%ZZ@t15.example': '%' not followed by two hex digits
T16|33 rua URIs (TXT_MAX_RUA_URIS 32)|2|invalid: more than 32 rua URIs
T17|a 5000-byte record (TXT_MAX_RECORD_BYTES 4096)|2|invalid: record longer than 4096 bytes
T18|an SPF record only|1|none: no TLSRPT record
T19|no record at all|1|none: _smtp._tls.t19.example: NXDOMAIN
T20|an http: URI beside a mailto: URI|0|ok tlsrpt@t20.example
EOF
while IFS='|' read -r id desc wrc wline <&3; do
	case_ "$id" "$desc"
	name=_smtp._tls.$(echo "$id" | tr 'T' 't').example
	rc=0
	out=$("$TOOLS/txt-lookup" -a -s "127.0.0.1:$DNS_PORT" "$name" 2>&1) || rc=$?
	chk_eq "txt-lookup exit" "$wrc" "$rc"
	chk_eq "txt-lookup says why" "$wline" "$(printf '%s\n' "$out" | tail -n 1)"
done 3<"$T/txt.cases"
CASE=T20
chk_eq "the skipped URI noted" "note: 1 rua URI skipped; first 'http://r.t20.example/x': scheme http not supported" \
    "$(printf '%s\n' "$out" | grep '^note:')"

# tlsrpt-send plans reports for some of these domains beside a good one.
SDB=$T/send.db
cat >"$T/sendmail" <<EOS
#!/bin/sh
cat >"\$(mktemp "$T/outmail/msg.XXXXXX")"
EOS
chmod +x "$T/sendmail"
mkdir "$T/outmail"
cat >"$T/send.conf" <<EOC
database = $SDB
organization_name = Bad Input Test
contact_info = tlsrpt-noreply@reporter.example
report_submitter = reporter.example
retention_days = 3650
dns_server = 127.0.0.1:$DNS_PORT
send_spread_s = 0
smtp_relay =
sendmail_path = $T/sendmail
EOC
"$BIN/tlsrpt-aggregate" -c "$T/send.conf" --day 2026-03-01 2>/dev/null || fail "create $SDB"
SENDDOMAINS="good t04 t05 t07 t08 t12 t19 t20"
for d in $SENDDOMAINS; do
	sqlite3 "$SDB" "INSERT INTO policy_counter (day, report_domain, tlsrpt_record, policy_type,
	    policy_domain, policy_strings, mx_hosts, successful_sessions, failed_sessions)
	    VALUES ('2026-03-14', '$d.example', '', 9, '$d.example', '[]', '[]', 3, 0)" || fail "counter $d"
done
"$BIN/tlsrpt-aggregate" -c "$T/send.conf" --day 2026-03-14 2>"$T/agg.err" || fail "aggregate: $(cat "$T/agg.err")"
src=0
"$BIN/tlsrpt-send" -c "$T/send.conf" 2>"$T/send.log" || src=$?
cat "$T"/outmail/msg.* >"$T/outmail.all" 2>/dev/null
rstate() {
	sqlite3 -batch -noheader "$SDB" "SELECT state || '|' || plan_error FROM report WHERE report_domain = '$1'"
}
CASE=T
chk_eq "tlsrpt-send exit 0 with bad records among the good" 0 "$src"
CASE=T20
chk_eq "tlsrpt-send: the good destination delivered, the http: one skipped" "delivered|" "$(rstate t20.example)"
chk_line "tlsrpt-send logs the skipped URI" "$T/send.log" "t20.example 2026-03-14: 1 destination(s) (some rua URIs skipped)"
CASE=T
chk_eq "tlsrpt-send: good.example beside the bad ones delivered" "delivered|" "$(rstate good.example)"
chk_eq "the two report mails handed to sendmail" "tlsrpt@good.example tlsrpt@t20.example" \
    "$(tr -d '\r' <"$T/outmail.all" | sed -n 's/^To: //p' | sort | tr '\n' ' ' | sed 's/ $//')"
# id|plan_error
cat >"$T/send.cases" <<'EOF'
T04|_smtp._tls.t04.example: 2 TLSRPT records
T05|invalid TLSRPT record "v=TLSRPTv1; ruf=mailto:a@t05.example": no rua field
T07|invalid TLSRPT record "v=TLSRPTv1; rua=http://r.t07.example/tlsrpt": no usable rua URI (1 skipped; first 'http://r.t07.example/tlsrpt': scheme http not supported)
T08|invalid TLSRPT record "v=TLSRPTv1; rua=mailto:a!b@t08.example": malformed rua URI 'mailto:a!b@t08.example': raw '!' (must be written %21)
T12|invalid TLSRPT record "v=TLSRPTv1; rua=mailto:tlsrpt.t12.example": no usable rua URI (1 skipped; first 'mailto:tlsrpt.t12.example': address without '@')
T19|no TXT record at _smtp._tls.t19.example
EOF
while IFS='|' read -r id why <&3; do
	CASE=$id
	d=$(echo "$id" | tr 'T' 't').example
	chk_eq "tlsrpt-send: no-destination with the reason" "no-destination|$why" "$(rstate "$d")"
	chk_line "tlsrpt-send logs it" "$T/send.log" "$d 2026-03-14: no report sent: $why"
done 3<"$T/send.cases"
kill "$DNS_PID" 2>/dev/null

# ============================================================================
# H: HTTP requests to tlsrpt-ingestd; a good report after each bad one
# ============================================================================
HB=$T/bodies
mkdir "$HB"
$PY "$HP" bodies "$HB" || fail "generate bodies"
# shellcheck disable=SC2046 # one argument per case
$PY "$HP" goods "$HB" $(seq -f 'H%02g' 1 27) B07a B07b || fail "generate reports"
ILOG=$T/ingestd.log
IDB=$T/in-http.db
: >"$T/http.want"
: >"$ILOG"
"$BIN/tlsrpt-ingestd" -f -o ingest_listen=127.0.0.1:0 -o "ingest_database=$IDB" \
    -o dashboard_enable=no -o ingest_max_body_bytes=262144 \
    -o ingest_max_inflated_bytes=1048576 >"$ILOG" 2>&1 &
IPID=$!
PIDS="$PIDS $IPID"
n=0
until grep -q "listening on" "$ILOG"; do
	kill -0 "$IPID" 2>/dev/null || fail "tlsrpt-ingestd exited at start: $(cat "$ILOG")"
	n=$((n + 1))
	[ $n -gt 200 ] && fail "tlsrpt-ingestd not ready after 10 s"
	sleep 0.05
done
IPORT=$(sed -n 's/.*listening on 127\.0\.0\.1:0 port \([0-9][0-9]*\) (http).*/\1/p' "$ILOG")
[ -n "$IPORT" ] || fail "no port in $(cat "$ILOG")"
U=http://127.0.0.1:$IPORT/tlsrpt
NGOODH=0
NLOGGED=0

# post URL [curl options...]: sets CODE and BODY (first line of the answer).
post() {
	url=$1
	shift
	: >"$T/resp"
	CODE=$(curl -sS -o "$T/resp" -w '%{http_code}' --max-time 20 "$@" "$url" 2>"$T/curl.err") ||
	    CODE=${CODE:-000}
	BODY=$(head -n 1 "$T/resp" | tr -d '\r')
}
want() {
	for c in $2; do
		echo "$c $1" >>"$T/http.want"
	done
}
# good_after ID: a good report right after the bad request is stored.
good_after() {
	post "$U" -H 'Content-Type: application/tlsrpt+json' --data-binary "@$HB/good-$1.json"
	chk_eq "a good report POSTed next: 200 stored" "200 stored" "$CODE $BODY"
	want good "received stored"
	NGOODH=$((NGOODH + 1))
}
# hcase ID DESC CODE BODY-PATTERN COUNTERS URL [curl options...]: sets
# HBODY to the answer.
hcase() {
	case_ "$1" "$2"
	hid=$1 hcode=$3 hbody=$4 hcount=$5 hurl=$6
	shift 6
	post "$hurl" "$@"
	HBODY=$BODY
	chk_eq "HTTP status" "$hcode" "$CODE"
	chk_glob "answer says why" "$hbody" "$BODY"
	want "$hid" "$hcount"
	# The acceptor logs refusals, at most 10 a minute.
	case " $hcount " in
	*" received "*)
		if [ $NLOGGED -lt 10 ] && [ "$CODE" != 200 ]; then
			NLOGGED=$((NLOGGED + 1))
			chk_line "logged: refused: $BODY" "$ILOG" "report from 127.0.0.1" "refused: $BODY"
		fi
		;;
	esac
	good_after "$hid"
}
# hraw ID DESC KIND STATUS [report-id]: a request made by hand. What the
# server did with it is counted whatever it was (a report it stored
# counts as received and stored).
hraw() {
	case_ "$1" "$2"
	got=$($PY "$HP" rawreq "$IPORT" "$3" ${5:+"$5"} 2>&1)
	chk_eq "HTTP status" "$4" "$got"
	[ "$got" = 200 ] && want "$1" "received stored"
	good_after "$1"
}

hcase H01 "GET on ingest_path" 405 "only POST" rejected_method "$U" -D "$T/h405"
chk_eq "Allow: POST" "Allow: POST" "$(grep -i '^allow:' "$T/h405" | tr -d '\r')"
hcase H02 "PUT on ingest_path" 405 "only POST" rejected_method "$U" -X PUT --data-binary "@$HB/H20.json"
hcase H03 "HEAD on ingest_path" 405 "HTTP/1.1 405 *" rejected_method "$U" -I
hcase H04 "POST to another path" 404 "not found" rejected_not_found "http://127.0.0.1:$IPORT/other" \
    --data-binary "@$HB/H20.json"
hcase H05 "300 KB body, ingest_max_body_bytes=262144, Content-Length" 413 "body too large" rejected_too_big \
    "$U" -H 'Content-Type: application/tlsrpt+json' --data-binary "@$HB/big.json"
hcase H06 "300 KB body over the cap, chunked" 413 "body too large" rejected_too_big \
    "$U" -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/tlsrpt+json' --data-binary "@$HB/big.json"
hcase H07 "gzip bomb: 100 MiB of zeros in $(wc -c <"$HB/bomb.gz" | tr -d ' ') bytes" 413 \
    "too_big: inflates to more than 1048576 bytes" "received rejected_too_big" \
    "$U" -H 'Content-Type: application/tlsrpt+gzip' --data-binary "@$HB/bomb.gz"
hcase H08 "gzip cut in half" 400 "malformed: broken gzip data" "received rejected_bad_gzip" \
    "$U" -H 'Content-Type: application/tlsrpt+gzip' --data-binary "@$HB/trunc.gz"
hcase H09 "gzip with a wrong CRC" 400 "malformed: broken gzip data" "received rejected_bad_gzip" \
    "$U" -H 'Content-Type: application/tlsrpt+gzip' --data-binary "@$HB/crc.gz"
hcase H10 "invalid JSON" 400 "malformed: not JSON*" "received rejected_not_json" \
    "$U" -H 'Content-Type: application/tlsrpt+json' --data-binary "@$HB/invalid.json"
hcase H11 "JSON with a NUL byte" 400 "malformed: not JSON: NUL byte at offset *" "received rejected_not_json" \
    "$U" -H 'Content-Type: application/tlsrpt+json' --data-binary "@$HB/nul.json"
hcase H12 "a JSON array holding a report" 400 "malformed: *" "received rejected_not_report" \
    "$U" -H 'Content-Type: application/tlsrpt+json' --data-binary "@$HB/array.json"
case $HBODY in
*"neither gzip nor JSON"*) nok "the reason does not deny that the body is JSON" "answer '$HBODY' to a body that is JSON (an array, not an object)" ;;
*) pass "the reason does not deny that the body is JSON" ;;
esac
hcase H13 "JSON that is not a report" 400 "malformed: no organization-name" "received rejected_missing" \
    "$U" --data-binary "@$HB/notreport.json"
hcase H14 "policies is an object" 400 "malformed: policies: not an array" "received rejected_invalid" \
    "$U" --data-binary "@$HB/H14"
hcase H15 "a negative session count" 400 \
    "malformed: policies?0?.summary.total-successful-session-count: negative count" "received rejected_invalid" \
    "$U" --data-binary "@$HB/H15"
hcase H16 "start-datetime \"yesterday\"" 400 \
    'malformed: date-range.start-datetime: not a date-time: "yesterday"' "received rejected_invalid" \
    "$U" --data-binary "@$HB/H16"
hcase H17 "report-id twice" 400 "malformed: not JSON: duplicate object key*report-id*" "received rejected_not_json" \
    "$U" --data-binary "@$HB/H17"
hcase H18 "neither gzip nor JSON, Content-Type image/png" 415 "unsupported: image/png is neither gzip nor a JSON object" \
    "received rejected_unsupported" "$U" -H 'Content-Type: image/png' --data-binary "@$HB/png"
hcase H19 "Content-Encoding: br on bytes that are neither gzip nor JSON" 400 \
    "malformed: body is neither gzip nor a JSON object" "received rejected_not_report" \
    "$U" -H 'Content-Type: application/tlsrpt+gzip' -H 'Content-Encoding: br' --data-binary "@$HB/brotli"
hcase H20 "Content-Encoding: gzip on a plain JSON report" 200 "stored" "received stored" \
    "$U" -H 'Content-Type: application/tlsrpt+json' -H 'Content-Encoding: gzip' --data-binary "@$HB/H20.json"
hcase H21 "a 20 KiB header (ingest_max_header_bytes 16384)" 431 "*" "" \
    "$U" -H "X-Padding: $(head -c 20000 /dev/zero | tr '\0' a)" --data-binary "@$HB/H20.json"
hraw H22 "broken chunked encoding (chunk size ZZ)" badchunk 400
hraw H23 "Content-Length: abc" badlen 400
hraw H24 "two different Content-Length headers (the first one right)" twolen 400 H24-smuggled
chk_eq "nothing stored from the request with two Content-Length headers" 0 \
    "$(sqlite3 -batch -noheader "$IDB" "SELECT COUNT(*) FROM report WHERE report_id = 'H24-smuggled'")"
hcase H25 "empty body" 400 "malformed: *" "received rejected_not_report" \
    "$U" -H 'Content-Type: application/tlsrpt+gzip' --data-binary ''
hcase H26 "JSON nested 100 deep (ingest_max_json_depth 64)" 400 "malformed: nesting deeper than 64*" \
    "received rejected_too_deep" "$U" -H 'Content-Type: application/tlsrpt+json' --data-binary "@$HB/deep.json"
hraw H27 "HTTP/9.9" http99 505

CASE=H
if kill -0 "$IPID" 2>/dev/null; then pass "tlsrpt-ingestd alive after every bad request"; else nok "tlsrpt-ingestd alive" "it died"; fi
kill -TERM "$IPID"
n=0
while kill -0 "$IPID" 2>/dev/null && [ $n -lt 100 ]; do
	n=$((n + 1))
	sleep 0.1
done
ist=0
wait "$IPID" || ist=$?
chk_eq "SIGTERM: exit 0" 0 "$ist"
chk_eq "every good report sent between the bad ones stored once" "$NGOODH" \
    "$(sqlite3 -batch -noheader "$IDB" "SELECT COUNT(DISTINCT report_id) FROM report WHERE report_id LIKE 'good-H%'")"
chk_eq "nothing stored from the bad requests but H20 (and H24, checked above)" "H20" \
    "$(sqlite3 -batch -noheader "$IDB" "SELECT group_concat(report_id) FROM report WHERE report_id NOT LIKE 'good-H%' AND report_id != 'H24-smuggled'")"
# Every ingest_stat counter equals what the cases above added up to.
cut -d' ' -f1 "$T/http.want" | sort -u >"$T/http.names"
while read -r c <&3; do
	ids=$(awk -v c="$c" '$1 == c { print $2 }' "$T/http.want" | sort -u | tr '\n' ' ')
	chk_eq "ingest_stat $c (${ids% })" "$(grep -c "^$c " "$T/http.want")" \
	    "$(sqlite3 -batch -noheader "$IDB" "SELECT COALESCE(SUM(value), 0) FROM ingest_stat WHERE name = '$c'")"
done 3<"$T/http.names"
chk_eq "no counter beyond those" "" "$(sqlite3 -batch -noheader "$IDB" "SELECT name FROM ingest_stat WHERE value != 0" |
    grep -v -x -F -f "$T/http.names")"

# ============================================================================
# M: mails piped to tlsrpt-ingest; a good mail after each bad one
# ============================================================================
MD=$T/mails
mkdir "$MD"
MDB=$T/in-mail.db
MCASES="M01 M02 M03 M04 M05 M06 M07 M08 M09 M10 M11 M12 M13 M14 M15 M16 M17 M18 M19"
# shellcheck disable=SC2086 # one argument per case
$PY "$HP" mails "$MD" $MCASES || fail "generate mails"
istat() {
	sqlite3 -batch -noheader "$MDB" "SELECT COALESCE(SUM(value), 0) FROM ingest_stat WHERE name = '$1'" 2>/dev/null || echo 0
}
stored() {
	sqlite3 -batch -noheader "$MDB" "SELECT COUNT(*) FROM report WHERE report_id = '$1'" 2>/dev/null || echo 0
}
# ingest FILE [options]: sets MRC and $T/m.err
ingest() {
	f=$1
	shift
	MRC=0
	"$BIN/tlsrpt-ingest" -o "ingest_database=$MDB" -o ingest_dkim_verify=no \
	    -o ingest_max_inflated_bytes=1048576 "$@" <"$f" >/dev/null 2>"$T/m.err" || MRC=$?
}
# mcase ID DESC EXIT STDERR COUNTERS [options]
mcase() {
	case_ "$1" "$2"
	mid=$1 mexit=$3 merr=$4 mcount=$5
	shift 5
	for c in $mcount; do
		eval "before_$c=\$(istat $c)"
	done
	ingest "$MD/$mid" "$@"
	chk_eq "exit $mexit" "$mexit" "$MRC"
	if [ -n "$merr" ]; then
		chk_line "stderr: $merr" "$T/m.err" "$merr"
	else
		chk_eq "nothing on stderr" "" "$(cat "$T/m.err")"
	fi
	for c in $mcount; do
		b=0
		eval "b=\$before_$c"
		chk_eq "counter $c +1" "$((b + 1))" "$(istat "$c")"
	done
	ingest "$MD/good-$mid.eml"
	chk_eq "a good mail piped next: exit 0, stored" "0|1" "$MRC|$(stored "good-$mid")"
}
mcase M01 "mail without an attachment" 65 \
    "no TLSRPT report in this message: no attachment looks like a report" rejected_no_report
mcase M02 "broken base64 in the attachment" 65 \
    'corrupt gzip data (part 2 application/tlsrpt+gzip "r.json.gz")' rejected_no_report
mcase M03 "a zip attachment that is not a zip" 65 'corrupt zip data (part 2 application/zip "r.zip")' rejected_no_report
mcase M04 "zip bomb: a 16 MiB entry (ingest_max_inflated_bytes 1 MiB)" 65 \
    "inflated report larger than 1048576 bytes (part 2 application/zip" rejected_no_report
mcase M05 "gzip bomb: 16 MiB" 65 \
    "inflated report larger than 1048576 bytes (part 2 application/tlsrpt+gzip" rejected_no_report
mcase M06 "an encrypted zip entry" 65 "unsupported zip entry (part 2 application/zip" rejected_no_report
mcase M07 "a zip holding only a directory" 65 "zip has no file entry (part 2 application/zip" rejected_no_report
mcase M08 "a PNG labelled application/tlsrpt+gzip" 65 "attachment is not gzip/zip/JSON (part 2 application/tlsrpt+gzip" \
    rejected_no_report
mcase M09 "gzip of plain text" 65 "inflated attachment is not JSON (part 2" rejected_no_report
mcase M10 "gzip of JSON cut short" 65 "report refused: malformed: not JSON" "received rejected_not_json"
mcase M11 "gzip of JSON that is not a report" 65 "report refused: malformed: no organization-name" \
    "received rejected_missing"
mcase M12 "4 KiB of binary garbage instead of a mail" 65 "no TLSRPT report in this message: not a MIME message" \
    rejected_no_report
mcase M13 "empty input" 65 "no TLSRPT report in this message: not a MIME message" rejected_no_report
mcase M14 "a 5 KB mail, ingest_max_mail_bytes=1024" 65 "message larger than ingest_max_mail_bytes" \
    rejected_too_big -o ingest_max_mail_bytes=1024
mcase M15 "70 text parts, the report after them" 65 "looked at only the first 64 MIME parts" rejected_no_report
mcase M16 "a broken gzip attachment, then a good report" 0 "" "received stored"
chk_eq "the good report of the mail stored" 1 "$(stored M16)"
mcase M17 "a JSON attachment that is not a report, then a good report" 0 "" "received stored"
chk_eq "the good report of the mail stored" 1 "$(stored M17)"
mcase M18 "the report as application/octet-stream named image.png" 0 "" "received stored"
chk_eq "the report stored" 1 "$(stored M18)"
mcase M19 "two good reports in one mail" 0 "" "received stored"
chk_eq "the first report stored" 1 "$(stored M19a)"
CASE=M
chk_eq "every good mail between the bad ones stored once" 19 \
    "$(sqlite3 -batch -noheader "$MDB" "SELECT COUNT(DISTINCT report_id) FROM report WHERE report_id LIKE 'good-M%'")"
chk_eq "nothing stored from the refused mails" "" \
    "$(sqlite3 -batch -noheader "$MDB" "SELECT group_concat(report_id) FROM report WHERE report_id IN ('M02','M06','M10','M14','M15')")"

# ============================================================================
# C: configuration
# ============================================================================
export TLSRPTD_CONF=/dev/null
# ccheck ID DESC PROGRAM EXIT STDERR [program args...]: runs PROGRAM -c $T/cf ARGS
crun() {
	prog=$1
	shift
	CRC=0
	"$BIN/$prog" "$@" </dev/null >/dev/null 2>"$T/c.err" || CRC=$?
}
ccheck() {
	wexit=$1 werr=$2
	chk_eq "exit $wexit" "$wexit" "$CRC"
	chk_line "stderr: $werr" "$T/c.err" "$werr"
}
# id|input|program|file (printf format)|exit|stderr
cat >"$T/conf.cases" <<'EOF'
C01|unknown key on line 2|tlsrpt-collectd|flush_interval_ms = 500\nno_such_key = 1\n|2|tlsrpt-collectd: cf:2: unknown key 'no_such_key'
C03|below the minimum|tlsrpt-aggregate|flush_interval_ms = 5\n|2|cf:1: flush_interval_ms: 5 is outside 10..86400000
C04|a number over 64 bits|tlsrpt-send|send_timeout_s = 99999999999999999999999\n|2|cf:1: send_timeout_s: '99999999999999999999999' is not a number
C05|a negative number|tlsrpt-ingestd|ingest_threads = -1\n|2|cf:1: ingest_threads: -1 is outside 1..64
C06|a boolean "maybe"|tlsrptctl|log_debug = maybe\n|2|cf:1: log_debug: 'maybe' is not yes or no
C07|socket mode 0999|tlsrpt-collectd|collector_socket_mode = 0999\n|2|cf:1: collector_socket_mode: '0999' is not an octal number
C08|socket mode 01777|tlsrpt-collectd|collector_socket_mode = 01777\n|2|cf:1: collector_socket_mode: 01777 is outside 0..777
C14|a line without '='|tlsrpt-postfix-log|just some words\n|2|cf:1: expected 'key = value'
C17|a control character in a value|tlsrpt-log|database = a\001b\n|2|cf:1: database: control character in value
EOF
while IFS='|' read -r id desc prog content wexit werr <&3; do
	case_ "$id" "$desc"
	# shellcheck disable=SC2059 # the table holds printf formats
	printf "$content" >"$T/cf"
	CRC=0
	(cd "$T" && "$BIN/$prog" -c cf -n </dev/null >/dev/null 2>"$T/c.err") || CRC=$?
	ccheck "$wexit" "$werr"
done 3<"$T/conf.cases"

case_ C02 "'10s' where a number belongs, in every program"
printf 'flush_interval_ms = 10s\n' >"$T/cf"
for prog in tlsrpt-collectd tlsrpt-aggregate tlsrpt-send tlsrpt-ingestd tlsrpt-postfix-log tlsrptctl tlsrpt-log; do
	CRC=0
	(cd "$T" && "$BIN/$prog" -c cf -n </dev/null >/dev/null 2>"$T/c.err") || CRC=$?
	chk_eq "$prog: exit 2" 2 "$CRC"
	chk_line "$prog: says why" "$T/c.err" "$prog: cf:1: flush_interval_ms: '10s' is not a number"
done

case_ C09 "the same key twice"
printf 'flush_interval_ms = 500\nflush_interval_ms = 700\n' >"$T/cf"
CRC=0
(cd "$T" && "$BIN/tlsrpt-collectd" -c cf -n </dev/null >/dev/null 2>"$T/c.err") || CRC=$?
chk_line "a diagnostic naming the key and the second line" "$T/c.err" "cf:2" "flush_interval_ms"

case_ C10 "-c names a missing file"
crun tlsrpt-collectd -c "$T/no-such.conf" -n
ccheck 2 "tlsrpt-collectd: $T/no-such.conf: No such file or directory"

case_ C11 "TLSRPTD_CONF names a missing file"
CRC=0
TLSRPTD_CONF=$T/no-such.conf "$BIN/tlsrpt-ingestd" -n >/dev/null 2>"$T/c.err" || CRC=$?
ccheck 2 "tlsrpt-ingestd: $T/no-such.conf: No such file or directory"

# As root every file is readable and writable: the unreadable file and the
# read-only database are tried as nobody (setpriv), in directories nobody
# may enter; skipped when nobody cannot run the programs where they are.
AS_NOBODY=""
if [ "$(id -u)" = 0 ]; then
	AS_NOBODY=none
	chmod 711 "$T"
	if command -v setpriv >/dev/null 2>&1 &&
	    setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN/tlsrpt-collectd" -V >/dev/null 2>&1; then
		AS_NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
	fi
fi
case_ C12 "an unreadable config file"
mkdir "$T/nb"
chmod 755 "$T/nb"
printf 'flush_interval_ms = 500\n' >"$T/nb/secret.conf"
chmod 000 "$T/nb/secret.conf"
if [ "$AS_NOBODY" = none ]; then
	pass "# SKIP root, and nobody cannot run $BIN/tlsrpt-collectd through setpriv"
else
	CRC=0
	$AS_NOBODY "$BIN/tlsrpt-collectd" -c "$T/nb/secret.conf" -n >/dev/null 2>"$T/c.err" || CRC=$?
	ccheck 2 "tlsrpt-collectd: $T/nb/secret.conf: Permission denied"
fi

case_ C13 "a directory as the config file"
mkdir "$T/conf.d"
crun tlsrpt-collectd -c "$T/conf.d" -n
ccheck 2 "tlsrpt-collectd: $T/conf.d: Is a directory"

case_ C15 "a line over 8190 bytes"
{ printf 'database = '; head -c 9000 /dev/zero | tr '\0' a; echo; } >"$T/cf"
crun tlsrpt-collectd -c "$T/cf" -n
ccheck 2 "$T/cf:1: line longer than 8190 bytes"

case_ C16 "a value over 4096 bytes"
{ printf 'database = '; head -c 5000 /dev/zero | tr '\0' a; echo; } >"$T/cf"
crun tlsrpt-collectd -c "$T/cf" -n
ccheck 2 "$T/cf:1: database: value longer than 4096 bytes"

case_ C18 "-o with an unknown key"
crun tlsrpt-send -o nosuch=1 -n
ccheck 2 "tlsrpt-send: -o unknown key 'nosuch'"

case_ C19 "-o without '='"
crun tlsrpt-aggregate -o flush_interval_ms -n
ccheck 2 "tlsrpt-aggregate: -o 'flush_interval_ms' is not key=value"

case_ C20 "tlsrpt-ingest with a broken config file: the MTA must keep the mail"
printf 'ingest_max_mail_bytes = lots\n' >"$T/cf"
CRC=0
"$BIN/tlsrpt-ingest" -c "$T/cf" -o "ingest_database=$MDB" <"$MD/good-M01.eml" >/dev/null 2>"$T/c.err" || CRC=$?
ccheck 75 "tlsrpt-ingest: $T/cf:1: ingest_max_mail_bytes: 'lots' is not a number"

case_ C21 "ingest_listen = localhost:8460"
crun tlsrpt-ingestd -f -o ingest_listen=localhost:8460 -o "ingest_database=$T/c21.db"
ccheck 1 "tlsrpt-ingestd: ingest_listen: 'localhost:8460' is not address:port"

case_ C22 "ingest_tls_cert without ingest_tls_key"
crun tlsrpt-ingestd -f -o ingest_listen=127.0.0.1:0 -o "ingest_tls_cert=$T/cf" -o "ingest_database=$T/c22.db"
ccheck 2 "tlsrpt-ingestd: ingest_tls_cert and ingest_tls_key go together"

case_ C23 "ingest_tls_cert names a missing file"
crun tlsrpt-ingestd -f -o ingest_listen=127.0.0.1:0 -o "ingest_tls_cert=$T/no-cert.pem" \
    -o "ingest_tls_key=$T/no-key.pem" -o "ingest_database=$T/c23.db"
ccheck 1 "$T/no-cert.pem: No such file or directory"

# ============================================================================
# B: database states
# ============================================================================
GOODMAIL=$MD/good-M01.eml
# dbtry NAME PATH: collector, tlsrpt-ingest, tlsrpt-ingestd and tlsrpt-send
# on the database PATH (run by DBPFX, e.g. as nobody); sets RC_collector ...
# and $T/NAME.{collector,...}.err
DBPFX=""
dbtry() {
	pfx=$DBPFX
	RC_collector=0
	# The daemons must refuse at once; one still running after 2 s is
	# killed (exit 137).
	# shellcheck disable=SC2086 # pfx is a command prefix or empty
	timeout -s KILL 2 $pfx "$BIN/tlsrpt-collectd" -f -o "collector_socket=$T/nbsock/$1.sock" \
	    -o "database=$2" >/dev/null 2>"$T/$1.collector.err" || RC_collector=$?
	RC_ingest=0
	# shellcheck disable=SC2086
	timeout 10 $pfx "$BIN/tlsrpt-ingest" -o "ingest_database=$2" -o ingest_dkim_verify=no \
	    <"$GOODMAIL" >/dev/null 2>"$T/$1.ingest.err" || RC_ingest=$?
	RC_ingestd=0
	# shellcheck disable=SC2086
	timeout -s KILL 2 $pfx "$BIN/tlsrpt-ingestd" -f -o ingest_listen=127.0.0.1:0 -o "ingest_database=$2" \
	    >/dev/null 2>"$T/$1.ingestd.err" || RC_ingestd=$?
	RC_send=0
	# shellcheck disable=SC2086
	timeout 10 $pfx "$BIN/tlsrpt-send" -c "$T/send.conf" -o "database=$2" \
	    >/dev/null 2>"$T/$1.send.err" || RC_send=$?
}
# dbcheck NAME MESSAGE [send-message]: exit codes 1, 75, 1, 1 and MESSAGE on stderr
dbcheck() {
	chk_eq "tlsrpt-collectd: exit 1" 1 "$RC_collector"
	chk_line "tlsrpt-collectd says why" "$T/$1.collector.err" "tlsrpt-collectd: " "$2"
	chk_eq "tlsrpt-ingest: exit 75 (the MTA retries)" 75 "$RC_ingest"
	chk_line "tlsrpt-ingest says why" "$T/$1.ingest.err" "tlsrpt-ingest: " "$2"
	chk_eq "tlsrpt-ingestd: exit 1" 1 "$RC_ingestd"
	chk_line "tlsrpt-ingestd says why" "$T/$1.ingestd.err" "tlsrpt-ingestd: " "$2"
	chk_eq "tlsrpt-send: exit 1" 1 "$RC_send"
	chk_line "tlsrpt-send says why" "$T/$1.send.err" "tlsrpt-send: " "${3:-$2}"
}
mkdir "$T/nbsock" "$T/nbdb" "$T/rodb"
chmod 777 "$T/nbsock"
chmod 1777 "$T/rodb"

case_ B01 "a corrupt database file (8 KiB of random bytes)"
head -c 8192 /dev/urandom >"$T/nbdb/corrupt.db"
cp "$T/nbdb/corrupt.db" "$T/corrupt.orig"
dbtry b01 "$T/nbdb/corrupt.db"
dbcheck b01 "$T/nbdb/corrupt.db: file is not a database"
if cmp -s "$T/nbdb/corrupt.db" "$T/corrupt.orig"; then pass "the file is left as it was"; else nok "the file is left as it was" "it changed"; fi

case_ B02 "a database of a newer schema version (user_version 999)"
sqlite3 "$T/nbdb/newer.db" "CREATE TABLE from_the_future (x); PRAGMA user_version = 999" || fail "make newer.db"
cp "$T/nbdb/newer.db" "$T/newer.orig"
dbtry b02 "$T/nbdb/newer.db"
dbcheck b02 "$T/nbdb/newer.db: schema version 999 is newer than this program knows"
chk_line "the message says it refuses to touch it" "$T/b02.collector.err" "refusing to touch it"
if cmp -s "$T/nbdb/newer.db" "$T/newer.orig"; then
	pass "the file is left byte for byte as it was"
else
	nok "the file is left byte for byte as it was" "it changed although the programs refused to touch it: journal mode now '$(sqlite3 "$T/nbdb/newer.db" 'PRAGMA journal_mode')' (was 'delete')"
fi
chk_eq "the newer schema left alone" "999|from_the_future" \
    "$(sqlite3 -batch -noheader "$T/nbdb/newer.db" "PRAGMA user_version")|$(sqlite3 -batch -noheader "$T/nbdb/newer.db" "SELECT group_concat(name) FROM sqlite_master")"

case_ B03 "a read-only database file"
if [ "$AS_NOBODY" = none ]; then
	pass "# SKIP root, and nobody cannot run $BIN/tlsrpt-collectd through setpriv"
else
	# A valid database of each kind, made by the programs (the outbound
	# one with a report waiting to be sent), then made read-only, in a
	# directory where anyone may create files (-wal, -shm, lock files).
	"$BIN/tlsrpt-ingest" -o "ingest_database=$T/rodb/in.db" -o ingest_dkim_verify=no <"$GOODMAIL" 2>/dev/null ||
	    fail "make rodb/in.db"
	"$BIN/tlsrpt-aggregate" -c "$T/send.conf" -o "database=$T/rodb/out.db" --day 2026-03-01 2>/dev/null ||
	    fail "make rodb/out.db"
	sqlite3 "$T/rodb/out.db" "INSERT INTO policy_counter (day, report_domain, tlsrpt_record, policy_type,
	    policy_domain, policy_strings, mx_hosts, successful_sessions, failed_sessions)
	    VALUES ('2026-03-14', 'good.example', '', 9, 'good.example', '[]', '[]', 3, 0)" || fail "counter"
	"$BIN/tlsrpt-aggregate" -c "$T/send.conf" -o "database=$T/rodb/out.db" --day 2026-03-14 2>/dev/null ||
	    fail "report in rodb/out.db"
	chmod 444 "$T/rodb/in.db" "$T/rodb/out.db"
	cp "$T/rodb/out.db" "$T/out.orig"
	DBPFX=${AS_NOBODY#none}
	dbtry b03o "$T/rodb/out.db"
	chk_eq "tlsrpt-collectd: exit 1 at start" 1 "$RC_collector"
	chk_re "tlsrpt-collectd says why" "$T/b03o.collector.err" "tlsrpt-collectd: .*out\.db.*read-?only"
	chk_eq "tlsrpt-send: exit 1" 1 "$RC_send"
	chk_re "tlsrpt-send says why" "$T/b03o.send.err" "tlsrpt-send: .*read-?only"
	dbtry b03i "$T/rodb/in.db"
	chk_eq "tlsrpt-ingest: exit 75 (the MTA retries)" 75 "$RC_ingest"
	chk_re "tlsrpt-ingest says why" "$T/b03i.ingest.err" "tlsrpt-ingest: .*read-?only"
	chk_eq "tlsrpt-ingestd: exit 1 at start" 1 "$RC_ingestd"
	chk_re "tlsrpt-ingestd says why" "$T/b03i.ingestd.err" "tlsrpt-ingestd: .*in\.db.*read-?only"
	DBPFX=""
	if cmp -s "$T/rodb/out.db" "$T/out.orig"; then pass "the file is left as it was"; else nok "the file is left as it was" "it changed"; fi
	chk_eq "the report waiting there still pending" pending \
	    "$(sqlite3 -batch -noheader "$T/rodb/out.db" "SELECT state FROM report WHERE report_domain = 'good.example'")"
fi

case_ B04 "a directory where the database file belongs"
mkdir "$T/nbdb/dir.db"
dbtry b04 "$T/nbdb/dir.db"
dbcheck b04 "$T/nbdb/dir.db: unable to open database file"

case_ B05 "the database in a directory that does not exist"
dbtry b05 "$T/nbdb/missing/x.db"
dbcheck b05 "$T/nbdb/missing/x.db: unable to open database file" "$T/nbdb/missing/x.db.send-lock: No such file or directory"

# lock DB SECONDS: another process holds the write lock for SECONDS (or
# until unlock); returns once it has it. Sets LOCKER.
lock() {
	rm -f "$T/locked"
	$PY "$HP" lock "$1" "$2" "$T/locked" &
	LOCKER=$!
	PIDS="$PIDS $LOCKER"
	n=0
	until [ -s "$T/locked" ]; do
		kill -0 "$LOCKER" 2>/dev/null || fail "no lock on $1"
		n=$((n + 1))
		[ $n -gt 200 ] && fail "no lock on $1 after 10 s"
		sleep 0.05
	done
}
unlock() {
	kill "$LOCKER" 2>/dev/null
	wait "$LOCKER" 2>/dev/null
}

case_ B06 "a locked database, for a mail"
LDB=$T/locked-in.db
"$BIN/tlsrpt-ingest" -o "ingest_database=$LDB" -o ingest_dkim_verify=no <"$MD/good-M02.eml" 2>/dev/null ||
    fail "make $LDB"
lock "$LDB" 30
MRC=0
"$BIN/tlsrpt-ingest" -o "ingest_database=$LDB" -o ingest_dkim_verify=no -o db_busy_timeout_ms=200 \
    <"$MD/good-M03.eml" >/dev/null 2>"$T/m.err" || MRC=$?
chk_eq "exit 75 (the MTA keeps the mail and retries)" 75 "$MRC"
chk_line "says why" "$T/m.err" "tlsrpt-ingest: " "database is locked"
unlock
MRC=0
"$BIN/tlsrpt-ingest" -o "ingest_database=$LDB" -o ingest_dkim_verify=no <"$MD/good-M03.eml" >/dev/null 2>"$T/m.err" || MRC=$?
chk_eq "the retry once the lock is gone: exit 0, stored" "0|1" \
    "$MRC|$(sqlite3 -batch -noheader "$LDB" "SELECT COUNT(*) FROM report WHERE report_id = 'good-M03'")"

case_ B07 "a locked database, for an HTTP POST"
LDB=$T/locked-http.db
ILOG=$T/ingestd2.log
: >"$ILOG"
"$BIN/tlsrpt-ingestd" -f -o ingest_listen=127.0.0.1:0 -o "ingest_database=$LDB" -o dashboard_enable=no \
    -o db_busy_timeout_ms=200 >"$ILOG" 2>&1 &
IPID=$!
PIDS="$PIDS $IPID"
n=0
until grep -q "listening on" "$ILOG"; do
	kill -0 "$IPID" 2>/dev/null || fail "tlsrpt-ingestd exited at start: $(cat "$ILOG")"
	n=$((n + 1))
	[ $n -gt 200 ] && fail "tlsrpt-ingestd not ready after 10 s"
	sleep 0.05
done
IPORT=$(sed -n 's/.*listening on 127\.0\.0\.1:0 port \([0-9][0-9]*\) (http).*/\1/p' "$ILOG")
U=http://127.0.0.1:$IPORT/tlsrpt
lock "$LDB" 30
post "$U" --data-binary "@$HB/good-B07a.json"
chk_eq "HTTP status 500 (the sender retries)" 500 "$CODE"
chk_glob "answer says why" "fault: *database is locked*" "$BODY"
unlock
post "$U" --data-binary "@$HB/good-B07a.json"
chk_eq "the same report once the lock is gone: 200 stored" "200 stored" "$CODE $BODY"
post "$U" --data-binary "@$HB/good-B07b.json"
chk_eq "the next report: 200 stored" "200 stored" "$CODE $BODY"
kill -TERM "$IPID"
ist=0
wait "$IPID" || ist=$?
chk_eq "SIGTERM: exit 0" 0 "$ist"
chk_eq "counters received 3, store_errors 1, stored 2" "received=3 store_errors=1 stored=2" \
    "$(sqlite3 -batch -noheader "$LDB" "SELECT group_concat(name || '=' || value, ' ') FROM (SELECT * FROM ingest_stat WHERE value != 0 ORDER BY name)")"

case_ B08 "a locked database, for the collector"
rm -f "$DB" "$DB"-*
start_collector -o db_busy_timeout_ms=100
dsend "$FIXTURES_DIR/success.json"
wait_cstat received 1
lock "$DB" 3
"$TOOLS/dgram-send" -r 500 "$SOCK" "$FIXTURES_DIR/failure-certificate-expired.json" || fail "dgram-send"
if kill -0 "$LOCKER" 2>/dev/null; then
	pass "500 datagrams received while the database was locked"
else
	nok "500 datagrams received while the database was locked" "reception took longer than the lock"
fi
wait "$LOCKER"
wait_cstat received 501
stop_collector
chk_eq "SIGTERM: exit 0" 0 "$COLLECTOR_STATUS"
chk_eq "every session written once the lock was gone" "1|500" \
    "$(sql "SELECT SUM(successful_sessions) || '|' || SUM(failed_sessions) FROM policy_counter")"
chk_ge "counter flush_errors" 1 "$(cstat flush_errors)"
chk_line "the failed flush is logged" "$LOGFILE" "keeping them in memory and retrying"

# ============================================================================
END_S=$(date +%s)
echo "# $NCASES cases, $NCHK checks, $NFAILED failed, $((END_S - START_S)) s"
if [ "$NFAILED" -gt 0 ]; then
	echo "FAIL - bad-input: $NFAILED of $NCHK checks failed, in cases:$FAILED_CASES" >&2
	exit 1
fi
echo "bad-input: all $NCHK checks of $NCASES cases passed"
