#!/bin/sh
# make install / make uninstall into a temporary DESTDIR, as a packager
# runs them: every file lands where the layout says and nowhere else, with
# the right mode; the installed programs run (-V); the systemd units name
# the installed programs; the man pages render without warnings and
# tlsrptd.conf(5) matches the configuration table; PREFIX moves everything
# under it; installing twice is harmless; uninstall removes every file it
# installed and keeps the administrator's tlsrptd.conf.
#
# Layout (PREFIX=/usr SYSCONFDIR=/etc):
#   usr/sbin/PROG        administrator and MTA programs, with man8/PROG.8
#   usr/bin/PROG         user commands, with man1/PROG.1
#   usr/share/man/man5/tlsrptd.conf.5
#   etc/tlsrptd/tlsrptd.conf.sample
#   usr/lib/systemd/system/*.service, *.timer
#   usr/lib/sysusers.d/tlsrptd.conf, usr/lib/tmpfiles.d/tlsrptd.conf,
#   usr/lib/sysctl.d/60-tlsrptd.conf
# Which programs: those in the Makefile's PROGS, each of which must be in
# the table below (a new program has to choose bin or sbin).
#
# Runs make from the repository root (the cwd of every integration test)
# with the build in use: BUILD from the environment, else the directory
# above $BIN ($(CURDIR)/$(BUILD)/bin), else build.
# shellcheck source=tests/integration/common.sh
. tests/integration/common.sh

REPO=$(pwd -P)
if [ -z "${BUILD:-}" ]; then
	case $BIN in
	"$REPO"/*/bin)
		BUILD=${BIN#"$REPO"/}
		BUILD=${BUILD%/bin}
		;;
	*) BUILD=build ;;
	esac
fi

SBIN_KNOWN="tlsrpt-collectd tlsrpt-aggregate tlsrpt-send tlsrpt-ingestd tlsrpt-ingest tlsrpt-postfix-log"
BIN_KNOWN="tlsrpt-log tlsrptctl"
UNITS="tlsrpt-collectd.service tlsrpt-ingestd.service tlsrpt-aggregate.service
tlsrpt-aggregate.timer tlsrpt-send.service tlsrpt-send.timer"

# mk TARGET VAR=value...: make in the repository, output in $T/make.log.
mk() {
	make -s --no-print-directory -C "$REPO" BUILD="$BUILD" "$@" >"$T/make.log" 2>&1 ||
	    fail "make $*: $(tail -n 20 "$T/make.log")"
}

# The programs the Makefile builds and installs.
progs=$(make -s --no-print-directory -C "$REPO" -f Makefile -f - BUILD="$BUILD" \
    print-install-progs 2>"$T/progs.err" <<'EOF'
print-install-progs:
	@echo $(notdir $(PROGS))
EOF
) || fail "cannot read PROGS from the Makefile: $(cat "$T/progs.err")"
sbin="" bin=""
for p in $progs; do
	case " $SBIN_KNOWN " in *" $p "*) sbin="$sbin $p"; continue ;; esac
	case " $BIN_KNOWN " in *" $p "*) bin="$bin $p"; continue ;; esac
	fail "PROGS has $p, which install does not know: add it to SBIN_PROGS or BIN_PROGS in the Makefile and to this test"
done
for p in tlsrpt-collectd tlsrpt-aggregate tlsrpt-send tlsrpt-log; do
	case " $progs " in *" $p "*) ;; *) fail "PROGS lacks $p (got: $progs)" ;; esac
done
ok "PROGS: sbin:$sbin; bin:$bin"

# expected PREFIX SYSCONFDIR: "MODE PATH" lines, sorted, for the layout.
expected() {
	pre=${1#/} etc=${2#/}
	{
		for p in $sbin; do
			echo "755 $pre/sbin/$p"
			echo "644 $pre/share/man/man8/$p.8"
		done
		for p in $bin; do
			echo "755 $pre/bin/$p"
			echo "644 $pre/share/man/man1/$p.1"
		done
		echo "644 $pre/share/man/man5/tlsrptd.conf.5"
		echo "644 $etc/tlsrptd/tlsrptd.conf.sample"
		for u in $UNITS; do
			echo "644 $pre/lib/systemd/system/$u"
		done
		echo "644 $pre/lib/sysusers.d/tlsrptd.conf"
		echo "644 $pre/lib/tmpfiles.d/tlsrptd.conf"
		echo "644 $pre/lib/sysctl.d/60-tlsrptd.conf"
	} | sort -k2
}

# actual ROOT: the same for every non-directory under ROOT.
actual() {
	(cd "$1" && find . ! -type d | sed 's|^\./||' | sort) | while IFS= read -r f; do
		if [ -L "$1/$f" ] || [ ! -f "$1/$f" ]; then
			echo "not-a-file $f"
		elif [ -n "$(find "$1/$f" -prune -perm 755)" ]; then
			echo "755 $f"
		elif [ -n "$(find "$1/$f" -prune -perm 644)" ]; then
			echo "644 $f"
		else
			echo "other-mode $f"
		fi
	done
}

# Where the files would go without DESTDIR: nothing named like ours may
# appear there while the test runs.
MARK=$T/mark
: >"$MARK"
leaked() {
	for d in /usr/sbin /usr/bin /usr/share/man/man1 /usr/share/man/man5 \
	    /usr/share/man/man8 /usr/lib/systemd/system /usr/lib/sysusers.d \
	    /usr/lib/tmpfiles.d /usr/lib/sysctl.d /etc/tlsrptd /opt/tlsrptd; do
		[ -d "$d" ] && find "$d" -newer "$MARK" \( -name 'tlsrpt*' -o -name '60-tlsrptd*' \) -print
	done
}

# --- 1. install with PREFIX=/usr -----------------------------------------
ROOT=$T/destdir
mk install DESTDIR="$ROOT" PREFIX=/usr SYSCONFDIR=/etc
expected /usr /etc >"$T/want"
actual "$ROOT" >"$T/got"
cmp -s "$T/want" "$T/got" ||
    fail "installed files differ from the layout (- expected, + installed):
$(diff "$T/want" "$T/got" | sed -n 's/^</-/p; s/^>/+/p')"
ok "install: $(wc -l <"$T/got" | tr -d ' ') files, each where the layout says, with its mode"

for p in $sbin; do
	cmp -s "$BIN/$p" "$ROOT/usr/sbin/$p" || fail "usr/sbin/$p is not $BIN/$p"
done
for p in $bin; do
	cmp -s "$BIN/$p" "$ROOT/usr/bin/$p" || fail "usr/bin/$p is not $BIN/$p"
done
for p in $sbin $bin; do
	f=$ROOT/usr/sbin/$p
	[ -f "$f" ] || f=$ROOT/usr/bin/$p
	out=$("$f" -V 2>&1) || fail "$p -V from the install root failed: $out"
	case $out in
	"$p "[0-9]*) ;;
	*) fail "$p -V printed '$out'" ;;
	esac
done
ok "installed programs are the built ones and run (-V)"

cmp -s contrib/tlsrptd.conf.sample "$ROOT/etc/tlsrptd/tlsrptd.conf.sample" ||
    fail "etc/tlsrptd/tlsrptd.conf.sample differs from contrib/"
for u in $UNITS; do
	cmp -s "contrib/systemd/$u" "$ROOT/usr/lib/systemd/system/$u" ||
	    fail "$u: with PREFIX=/usr the installed unit must equal contrib/systemd/$u"
	for x in $(sed -n 's/^Exec[A-Za-z]*=[-+@!:]*\([^ ]*\).*/\1/p' "$ROOT/usr/lib/systemd/system/$u"); do
		[ -x "$ROOT$x" ] || fail "$u runs $x, which is not installed"
	done
done
cmp -s contrib/systemd/tlsrptd.sysusers "$ROOT/usr/lib/sysusers.d/tlsrptd.conf" ||
    fail "sysusers.d/tlsrptd.conf differs from contrib/systemd/tlsrptd.sysusers"
ok "sample config, units (each ExecStart installed), sysusers, tmpfiles, sysctl"

# --- 2. man pages -------------------------------------------------------
sh contrib/man/mkconfman.sh "$ROOT/usr/sbin/tlsrpt-collectd" >"$T/conf.5" ||
    fail "mkconfman.sh failed"
cmp -s "$T/conf.5" "$ROOT/usr/share/man/man5/tlsrptd.conf.5" ||
    fail "contrib/man/tlsrptd.conf.5 does not match the configuration table: regenerate it with
    sh contrib/man/mkconfman.sh $BUILD/bin/tlsrpt-collectd > contrib/man/tlsrptd.conf.5"
ok "tlsrptd.conf(5) lists every key of tlsrpt-collectd -C"
if command -v groff >/dev/null 2>&1; then
	for m in "$ROOT"/usr/share/man/man*/*; do
		w=$(groff -man -ww -z "$m" 2>&1)
		[ -z "$w" ] || fail "$(basename "$m"): groff warnings: $w"
	done
	ok "every man page renders without groff warnings"
else
	echo "skip - groff not installed: man pages not rendered" >&2
fi

# --- 3. install again, uninstall ------------------------------------------
mk install DESTDIR="$ROOT" PREFIX=/usr SYSCONFDIR=/etc
actual "$ROOT" >"$T/got2"
cmp -s "$T/got" "$T/got2" || fail "a second install changed the file list"
ok "installing twice is harmless"

echo "# the administrator's" >"$ROOT/etc/tlsrptd/tlsrptd.conf"
mk uninstall DESTDIR="$ROOT" PREFIX=/usr SYSCONFDIR=/etc
left=$(cd "$ROOT" && find . ! -type d | sed 's|^\./||')
[ "$left" = etc/tlsrptd/tlsrptd.conf ] ||
    fail "after uninstall, expected only etc/tlsrptd/tlsrptd.conf, found: $left"
rm "$ROOT/etc/tlsrptd/tlsrptd.conf"
mk uninstall DESTDIR="$ROOT" PREFIX=/usr SYSCONFDIR=/etc
[ ! -e "$ROOT/etc/tlsrptd" ] || fail "uninstall left an empty etc/tlsrptd"
[ -z "$(cd "$ROOT" && find . ! -type d)" ] || fail "second uninstall left files"
ok "uninstall removes every installed file, keeps tlsrptd.conf, removes etc/tlsrptd once empty"

# --- 4. another PREFIX ----------------------------------------------------
ROOT2=$T/destdir2
mk install DESTDIR="$ROOT2" PREFIX=/opt/tlsrptd SYSCONFDIR=/etc
expected /opt/tlsrptd /etc >"$T/want2"
actual "$ROOT2" >"$T/got3"
cmp -s "$T/want2" "$T/got3" ||
    fail "PREFIX=/opt/tlsrptd: files differ from the layout:
$(diff "$T/want2" "$T/got3" | sed -n 's/^</-/p; s/^>/+/p')"
grep -qx 'ExecStart=/opt/tlsrptd/sbin/tlsrpt-collectd -f' \
    "$ROOT2/opt/tlsrptd/lib/systemd/system/tlsrpt-collectd.service" ||
    fail "PREFIX=/opt/tlsrptd: the collector unit does not run /opt/tlsrptd/sbin/tlsrpt-collectd"
for u in $UNITS; do
	if grep -q '/usr/s\{0,1\}bin/' "$ROOT2/opt/tlsrptd/lib/systemd/system/$u"; then
		fail "PREFIX=/opt/tlsrptd: $u still names /usr/bin or /usr/sbin"
	fi
done
mk uninstall DESTDIR="$ROOT2" PREFIX=/opt/tlsrptd SYSCONFDIR=/etc
[ -z "$(cd "$ROOT2" && find . ! -type d)" ] || fail "PREFIX=/opt/tlsrptd: uninstall left files"
ok "PREFIX=/opt/tlsrptd: everything under it, units rewritten, uninstall clean"

l=$(leaked)
[ -z "$l" ] || fail "files written outside DESTDIR: $l"
ok "nothing written outside DESTDIR"
