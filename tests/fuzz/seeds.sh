#!/bin/sh
# seeds.sh - assemble the fuzzers' seed corpora from tests/data.
#
# Usage: sh tests/fuzz/seeds.sh OUTDIR
#
# Writes OUTDIR/<target>/ for each target of tests/fuzz/fuzz.mk, from the
# fixtures the unit and integration tests already use, so no fixture is
# copied into the repository twice:
#   event   tests/data/datagrams/*.json and tests/data/aggregate/*.json
#   txt     one file per line of tests/fuzz/txt.seeds, the records quoted
#           in tests/unit/check_txt.c, and a DNS answer with three records
#           (NUL-separated, as fuzz_txt.c reads them)
#   rparse  tests/data/real-reports/*.json (and the .json.gz inflated),
#           tests/data/golden/*.json
#   mailin  tests/data/real-reports/*.eml, plus mails made here from the
#           JSON reports: gzip and zip attachments, inline text, a nested
#           message/rfc822, quoted-printable; and raw gzip, zip and JSON
#           attachments for fuzz_mailin.c's attachment mode
#   accept  Content-Type line + body: each report as JSON and gzipped, the
#           real .json.gz, and a body that is neither
# OUTDIR is emptied first. Needs gzip and base64; python3 for the zip seed
# (skipped without it).

set -eu

if [ "$#" -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
out=$1
top=$(cd "$(dirname "$0")/../.." && pwd)
data=$top/tests/data
rm -rf "$out"
mkdir -p "$out/event" "$out/txt" "$out/rparse" "$out/mailin" "$out/accept"

# --- event --------------------------------------------------------------
for f in "$data"/datagrams/*.json "$data"/aggregate/*.json; do
	[ -f "$f" ] && cp "$f" "$out/event/$(basename "$(dirname "$f")")-$(basename "$f")"
done

# --- txt ----------------------------------------------------------------
n=0
while IFS= read -r line; do
	n=$((n + 1))
	printf '%s' "$line" > "$out/txt/list-$n"
done < "$top/tests/fuzz/txt.seeds"
n=0
grep -o '"v=TLSRPTv1[^"]*"' "$top/tests/unit/check_txt.c" 2>/dev/null | sed 's/^"//; s/"$//' |
while IFS= read -r line; do
	n=$((n + 1))
	printf '%s' "$line" > "$out/txt/unit-$n"
done
printf 'v=spf1 -all\000v=TLSRPTv1; rua=mailto:a@example.com\000v=TLSRPTv1;rua=https://b.example.com/' \
	> "$out/txt/answer-3"

# --- rparse -------------------------------------------------------------
for f in "$data"/real-reports/*.json "$data"/golden/*.json; do
	[ -f "$f" ] && cp "$f" "$out/rparse/$(basename "$f")"
done
for f in "$data"/real-reports/*.json.gz; do
	[ -f "$f" ] && gzip -dc "$f" > "$out/rparse/$(basename "$f" .gz)"
done

# --- mailin -------------------------------------------------------------
for f in "$data"/real-reports/*.eml; do
	[ -f "$f" ] && cp "$f" "$out/mailin/$(basename "$f")"
done

# A multipart/report mail around one attachment. $1 Content-Type line,
# $2 Content-Transfer-Encoding, $3 file with the encoded body.
mail_with() {
	printf 'From: TLS Reporter <noreply-tlsrpt@reporter.example>\r\n'
	printf 'To: tlsrpt@example.com\r\n'
	printf 'Subject: Report Domain: example.com Submitter: reporter.example Report-ID: <seed@reporter.example>\r\n'
	printf 'Message-ID: <seed-%s@reporter.example>\r\n' "$2"
	printf 'TLS-Report-Domain: example.com\r\nTLS-Report-Submitter: reporter.example\r\n'
	printf 'MIME-Version: 1.0\r\n'
	printf 'Content-Type: multipart/report; report-type="tlsrpt"; boundary="b1"\r\n\r\n'
	printf -- '--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThis is a report.\r\n'
	printf -- '--b1\r\n%s\r\nContent-Transfer-Encoding: %s\r\n\r\n' "$1" "$2"
	cat "$3"
	printf '\r\n--b1--\r\n'
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-seeds.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
set -- "$data"/real-reports/*.json
first=$1
second=${2:-$1}
gzip -9n < "$first" > "$tmp/r.gz"
base64 < "$tmp/r.gz" > "$tmp/r.gz.b64"
mail_with 'Content-Type: application/tlsrpt+gzip; name="reporter.example!example.com!1!2.json.gz"' \
	base64 "$tmp/r.gz.b64" > "$out/mailin/gen-gzip.eml"
base64 < "$second" > "$tmp/r.b64"
mail_with 'Content-Type: application/tlsrpt+json' base64 "$tmp/r.b64" > "$out/mailin/gen-json.eml"
mail_with 'Content-Type: text/plain' 7bit "$first" > "$out/mailin/gen-inline.eml"
sed 's/=/=3D/g' "$second" > "$tmp/r.qp"
mail_with 'Content-Type: application/octet-stream; name="r.json"' quoted-printable \
	"$tmp/r.qp" > "$out/mailin/gen-qp.eml"
{
	printf 'From: forwarder@example.org\r\nSubject: Fwd: report\r\nMIME-Version: 1.0\r\n'
	printf 'Content-Type: multipart/mixed; boundary="outer"\r\n\r\n--outer\r\n'
	printf 'Content-Type: message/rfc822\r\n\r\n'
	cat "$out/mailin/gen-gzip.eml"
	printf '\r\n--outer--\r\n'
} > "$out/mailin/gen-nested.eml"
# Attachment mode of fuzz_mailin.c: a NUL byte, then the attachment's bytes.
{ printf '\000'; cat "$tmp/r.gz"; } > "$out/mailin/att-gzip"
{ printf '\000'; cat "$second"; } > "$out/mailin/att-json"
if command -v python3 >/dev/null 2>&1; then
	python3 -c 'import sys, zipfile
with zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_DEFLATED) as z:
    z.write(sys.argv[1], "report.json")
with zipfile.ZipFile(sys.argv[3], "w", zipfile.ZIP_STORED) as z:
    z.writestr("dir/", "")
    z.writestr("readme.txt", "x")
    z.write(sys.argv[1], "r.json")' "$first" "$tmp/r.zip" "$tmp/s.zip"
	base64 < "$tmp/r.zip" > "$tmp/r.zip.b64"
	mail_with 'Content-Type: application/zip; name="report.zip"' base64 "$tmp/r.zip.b64" \
		> "$out/mailin/gen-zip.eml"
	{ printf '\000'; cat "$tmp/r.zip"; } > "$out/mailin/att-zip-deflate"
	{ printf '\000'; cat "$tmp/s.zip"; } > "$out/mailin/att-zip-stored"
fi

# --- accept -------------------------------------------------------------
for f in "$data"/real-reports/*.json "$data"/golden/*.json; do
	[ -f "$f" ] || continue
	b=$(basename "$(dirname "$f")")-$(basename "$f" .json)
	{ printf 'application/tlsrpt+json\n'; cat "$f"; } > "$out/accept/$b-json"
	{ printf 'application/tlsrpt+gzip\n'; gzip -9n < "$f"; } > "$out/accept/$b-gzip"
done
for f in "$data"/real-reports/*.json.gz; do
	[ -f "$f" ] && { printf 'application/gzip; charset=binary\n'; cat "$f"; } \
		> "$out/accept/$(basename "$f")"
done
printf 'text/html\n<html>not a report</html>' > "$out/accept/not-report"
printf 'image/png\n\211PNG' > "$out/accept/unsupported"
exit 0
