#!/bin/sh
# The shipped sample config must be exactly what the config table prints
# (so docs cannot drift from the code) and must load cleanly.
# shellcheck source=tests/integration/common.sh
. tests/integration/common.sh
"$BIN/tlsrpt-collectd" -C >"$T/sample" || fail "-C failed"
cmp -s "$T/sample" contrib/tlsrptd.conf.sample ||
	fail "contrib/tlsrptd.conf.sample is stale: regenerate with tlsrpt-collectd -C"
ok "contrib/tlsrptd.conf.sample matches the config table"
sed 's/^#\([a-z_]* = \)/\1/' contrib/tlsrptd.conf.sample >"$T/active.conf"
"$BIN/tlsrpt-collectd" -c "$T/active.conf" -n >"$T/active.out" 2>&1 || fail "sample with every key set does not load: $(cat "$T/active.out")"
"$BIN/tlsrpt-collectd" -n >"$T/default.out" 2>&1 || fail "defaults do not print"
cmp -s "$T/active.out" "$T/default.out" || fail "sample values differ from the built-in defaults"
ok "sample config loads and equals the defaults"
