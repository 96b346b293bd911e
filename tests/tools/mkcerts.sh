#!/bin/sh
# mkcerts.sh DIR - throwaway test PKI for the HTTPS and SMTP test servers.
#
# Creates DIR if needed and writes (EC P-256 keys, SHA-256 signatures):
#   ca.pem ca.key            test CA (self-signed, valid 10 years)
#   server.pem server.key    CN=localhost, SAN DNS:localhost, IP:127.0.0.1,
#                            IP:::1, signed by ca.pem, valid 10 years
#   wrongca.pem wrongca.key  a second, unrelated CA
#   wrong.pem wrong.key      same names as server.pem, signed by wrongca.pem
#                            (fails verification against ca.pem)
#   expired.pem expired.key  same names as server.pem, signed by ca.pem,
#                            valid 2020-01-01 .. 2021-01-01 only
# wrong.pem and expired.pem carry the same names as server.pem, so the only
# reason a client rejects them is the issuer or the dates.
# openssl.cnf (the config used) is left in DIR too. Existing files are
# overwritten. Nothing outside DIR is touched.
# Prints nothing on success; exits non-zero with openssl's message on error.
set -eu

[ $# -eq 1 ] || { echo "usage: mkcerts.sh DIR" >&2; exit 2; }
mkdir -p "$1"
cd "$1"
umask 077

# Everything is relative to DIR; the config is only read from here.
cat >openssl.cnf <<'EOF'
[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
[ ca_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ server_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ ca ]
default_ca = test_ca
[ test_ca ]
database = index.txt
new_certs_dir = .
rand_serial = yes
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
[ policy_any ]
commonName = supplied
EOF
rm -f index.txt index.txt.attr index.txt.old index.txt.attr.old
: >index.txt

newkey() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -out "$1" 2>/dev/null
}

# mkca NAME CN: self-signed CA NAME.pem / NAME.key
mkca() {
	newkey "$1.key"
	openssl req -config openssl.cnf -new -x509 -key "$1.key" -subj "/CN=$2" \
	    -days 3650 -sha256 -extensions ca_ext -out "$1.pem"
}

# mkleaf NAME CA [openssl ca date options]: NAME.pem / NAME.key for
# localhost, signed by CA.pem / CA.key. openssl ca writes a copy named
# after the serial into new_certs_dir; it is removed.
mkleaf() {
	name=$1 ca=$2
	shift 2
	newkey "$name.key"
	openssl req -config openssl.cnf -new -key "$name.key" -subj "/CN=localhost" \
	    -out "$name.csr"
	openssl ca -config openssl.cnf -batch -notext -cert "$ca.pem" -keyfile "$ca.key" \
	    -extensions server_ext -in "$name.csr" -out "$name.pem" "$@" 2>"$name.err" ||
	    { cat "$name.err" >&2; exit 1; }
	serial=$(openssl x509 -in "$name.pem" -noout -serial | sed 's/^serial=//')
	rm -f "$name.csr" "$name.err" "$serial.pem"
}

mkca ca "tlsrptd test CA"
mkca wrongca "tlsrptd wrong test CA"
mkleaf server ca -days 3650
mkleaf wrong wrongca -days 3650
mkleaf expired ca -startdate 20200101000000Z -enddate 20210101000000Z
rm -f index.txt index.txt.attr index.txt.old index.txt.attr.old
chmod 644 ./*.pem
