# tlsrptd - TLS reporting (RFC 8460) for mail servers.
# Plain make + pkg-config. Objects and programs go to $(BUILD) (default
# build/; the sanitizer build uses build/asan), so both builds coexist.

VERSION     = 0.1.0
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
SYSCONFDIR ?= /etc
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
SYSCTLDIR  ?= $(PREFIX)/lib/sysctl.d
DESTDIR    ?=
BUILD      ?= build
CC         ?= cc

# Debian 12 packages needed to build and test; `make deps` installs the
# missing ones.
DEB_PACKAGES = build-essential pkg-config sqlite3 libsqlite3-dev \
	libjansson-dev libcurl4-openssl-dev zlib1g-dev libmicrohttpd-dev \
	check libsubunit-dev faketime python3 python3-jsonschema time \
	dnsmasq-base python3-aiosmtpd openssl curl libopendkim-dev libssl-dev \
	python3-dkim python3-dnspython libgmime-3.0-dev chromium shellcheck groff-base \
	libpq-dev postgresql clang-14 libclang-rt-14-dev

PKGS       = sqlite3 jansson zlib libpq
TEST_PKGS  = check
# GMime (and GLib) only where mail is read.
MAILIN_CFLAGS = $(shell pkg-config --cflags gmime-3.0 2>/dev/null)
MAILIN_LIBS   = $(shell pkg-config --libs gmime-3.0 2>/dev/null)
MHD_LIBS   = $(shell pkg-config --libs libmicrohttpd 2>/dev/null)
SEND_LIBS  = $(shell pkg-config --libs libcurl 2>/dev/null) -lopendkim -lcrypto -lresolv

WARN     = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	   -Wformat=2 -Wno-format-nonliteral
OPT     ?= -O2 -g
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
CFLAGS  ?=
EXTRA   := $(if $(SAN),$(SAN_FLAGS))
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(OPT) $(EXTRA) -pthread \
	-DTLSRPTD_VERSION='"$(VERSION)"' -DTLSRPTD_SYSCONFDIR='"$(SYSCONFDIR)"' \
	-Ilib -I$(BUILD)/gen $(CFLAGS)
ALL_LDFLAGS = $(EXTRA) -pthread $(LDFLAGS)

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_LIBS  = $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

LIB_SRCS = lib/log.c lib/mem.c lib/buf.c lib/conf.c lib/conf_table.c lib/cli.c \
	lib/event.c lib/event_enc.c lib/tally.c lib/store.c lib/day.c \
	lib/gz.c lib/report.c lib/txt.c lib/mail.c lib/dns.c lib/dkim.c \
	lib/rparse.c lib/rparse_scan.c lib/mailin.c lib/inbound.c \
	lib/db.c lib/db_sqlite.c lib/db_pg.c
LIB_OBJS = $(LIB_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/gen/schema_sql.o
LIBA     = $(BUILD)/libtlsrptd.a

COLLECTD_SRCS = collector/collectd.c collector/receiver.c collector/flusher.c \
	collector/sockopen.c
TLSRPTLOG_SRCS = collector/tlsrpt-log.c
POSTFIXLOG_SRCS = collector/postfix-log.c collector/pflog_line.c \
	collector/pflog_parse.c collector/pflog_track.c collector/pflog_follow.c
AGGREGATE_SRCS = aggregator/aggregate.c aggregator/dayreports.c aggregator/reportstore.c
SEND_SRCS = sender/send.c sender/plan.c sender/deliver.c sender/outbox.c
INGESTD_SRCS = ingest/ingestd.c ingest/http.c ingest/accept.c ingest/web.c \
	ingest/webapi.c ingest/metrics.c ingest/query.c ingest/query_out.c \
	ingest/query_report.c
CTL_SRCS = ingest/ctl.c ingest/render.c ingest/query.c ingest/query_out.c \
	ingest/query_report.c
WEB_ASSETS = $(sort $(wildcard ingest/web/*.html ingest/web/*.css ingest/web/*.js \
	ingest/web/*.svg))
INGEST_SRCS = ingest/mailpipe.c ingest/accept.c

PROGS = $(BUILD)/bin/tlsrpt-collectd $(BUILD)/bin/tlsrpt-log $(BUILD)/bin/tlsrpt-aggregate \
	$(BUILD)/bin/tlsrpt-send $(BUILD)/bin/tlsrpt-ingestd $(BUILD)/bin/tlsrpt-ingest \
	$(BUILD)/bin/tlsrpt-postfix-log $(BUILD)/bin/tlsrptctl
TOOLS = $(BUILD)/bin/tlsrpt-loadgen $(BUILD)/tests/dgram-send $(BUILD)/tests/txt-lookup \
	$(BUILD)/tests/mail-compose $(BUILD)/tests/dkim-verify $(BUILD)/bin/tlsrpt-ingest-load

# make install: administrator and MTA programs go to SBINDIR with a section
# 8 page, user commands to BINDIR with a section 1 page (contrib/man/).
# A program is installed once it is in PROGS; each must be in one list
# (tests/integration/install.sh checks).
SBIN_PROGS = tlsrpt-collectd tlsrpt-aggregate tlsrpt-send tlsrpt-ingestd tlsrpt-ingest \
	tlsrpt-postfix-log
BIN_PROGS  = tlsrpt-log tlsrptctl
INST_SBIN  = $(filter $(SBIN_PROGS),$(notdir $(PROGS)))
INST_BIN   = $(filter $(BIN_PROGS),$(notdir $(PROGS)))
UNITS      = tlsrpt-collectd.service tlsrpt-ingestd.service tlsrpt-aggregate.service \
	tlsrpt-aggregate.timer tlsrpt-send.service tlsrpt-send.timer

UNIT_TESTS = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/check_*.c))

SCHEMA_SQL = $(sort $(wildcard schema/*/*.sql))

.PHONY: all deps test check check-unit check-integration check-asan lint bench \
	run install uninstall clean docs

all: $(PROGS) $(TOOLS)

deps:
	@sh contrib/deps.sh $(DEB_PACKAGES)

$(BUILD)/lib/mailin.o: PKG_CFLAGS += $(MAILIN_CFLAGS)
$(BUILD)/tests/check_mailin: PKG_LIBS += $(MAILIN_LIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/gen/schema_sql.c: $(SCHEMA_SQL) schema/embed.awk
	@mkdir -p $(@D)
	awk -f schema/embed.awk $(SCHEMA_SQL) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/schema_sql.o: $(BUILD)/gen/schema_sql.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIBA): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/bin/tlsrpt-collectd: $(COLLECTD_SRCS:%.c=$(BUILD)/%.o) $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/bin/tlsrpt-log: $(TLSRPTLOG_SRCS:%.c=$(BUILD)/%.o) $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/bin/tlsrpt-postfix-log: $(POSTFIXLOG_SRCS:%.c=$(BUILD)/%.o) $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/bin/tlsrpt-aggregate: $(AGGREGATE_SRCS:%.c=$(BUILD)/%.o) $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/bin/tlsrpt-send: $(SEND_SRCS:%.c=$(BUILD)/%.o) $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(SEND_LIBS)

$(BUILD)/gen/web_assets.c: $(WEB_ASSETS) ingest/web-embed.awk
	@mkdir -p $(@D)
	LC_ALL=C awk -f ingest/web-embed.awk $(WEB_ASSETS) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/web_assets.o: $(BUILD)/gen/web_assets.c ingest/webassets.h
	$(CC) $(ALL_CFLAGS) -Iingest -c -o $@ $<

$(BUILD)/bin/tlsrptctl: $(CTL_SRCS:%.c=$(BUILD)/%.o) $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/bin/tlsrpt-ingestd: $(INGESTD_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/gen/web_assets.o $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(MHD_LIBS)

$(BUILD)/bin/tlsrpt-ingest: $(INGEST_SRCS:%.c=$(BUILD)/%.o) $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(MAILIN_LIBS) $(SEND_LIBS)

$(BUILD)/bin/tlsrpt-ingest-load: $(BUILD)/tests/bench/ingest-load.o $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(shell pkg-config --libs libcurl 2>/dev/null)

$(BUILD)/bin/tlsrpt-loadgen: $(BUILD)/tests/bench/loadgen.o $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/dgram-send: $(BUILD)/tests/tools/dgram-send.o $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^

$(BUILD)/tests/txt-lookup: $(BUILD)/tests/tools/txt-lookup.o $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lresolv

$(BUILD)/tests/mail-compose: $(BUILD)/tests/tools/mail-compose.o $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(SEND_LIBS)

$(BUILD)/tests/dkim-verify: $(BUILD)/tests/tools/dkim-verify.o $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(SEND_LIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) $(PKG_LIBS) $(SEND_LIBS)

# make test: what the README and CI run.
test: deps
	$(MAKE) check
	$(MAKE) fuzz-short

check: all $(UNIT_TESTS)
	@$(MAKE) --no-print-directory check-unit check-integration

check-unit: $(UNIT_TESTS)
	@sh tests/run-unit.sh $(UNIT_TESTS)

check-integration: all $(UNIT_TESTS)
	@BIN=$(CURDIR)/$(BUILD)/bin TOOLS=$(CURDIR)/$(BUILD)/tests BUILD=$(BUILD) sh tests/run-integration.sh

check-asan: deps
	$(MAKE) BUILD=build/asan SAN=1 OPT='-O1 -g' check

lint:
	@sh tests/lint.sh

bench: all
	-@BIN=$(CURDIR)/$(BUILD)/bin sh tests/bench/collector.sh
	@BIN=$(CURDIR)/$(BUILD)/bin sh tests/bench/aggregator.sh
	@BIN=$(CURDIR)/$(BUILD)/bin sh tests/bench/sender.sh
	@BIN=$(CURDIR)/$(BUILD)/bin sh tests/bench/ingest.sh
	-@BIN=$(CURDIR)/$(BUILD)/bin sh tests/bench/pg.sh

run: deps all
	@BIN=$(CURDIR)/$(BUILD)/bin sh contrib/run-local.sh

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/tlsrptd \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
	    $(DESTDIR)$(SYSCTLDIR)
	install -m 0755 $(INST_SBIN:%=$(BUILD)/bin/%) $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(INST_BIN:%=$(BUILD)/bin/%) $(DESTDIR)$(BINDIR)/
	install -m 0644 $(INST_SBIN:%=contrib/man/%.8) $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(INST_BIN:%=contrib/man/%.1) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 contrib/man/tlsrptd.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 contrib/tlsrptd.conf.sample $(DESTDIR)$(SYSCONFDIR)/tlsrptd/
	for u in $(UNITS); do \
	    sed -e 's|/usr/sbin/|$(SBINDIR)/|g' -e 's|/usr/bin/|$(BINDIR)/|g' \
	        contrib/systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u && \
	    chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	install -m 0644 contrib/systemd/tlsrptd.sysusers $(DESTDIR)$(SYSUSERSDIR)/tlsrptd.conf
	install -m 0644 contrib/systemd/tlsrptd.tmpfiles $(DESTDIR)$(TMPFILESDIR)/tlsrptd.conf
	install -m 0644 contrib/systemd/60-tlsrptd.conf $(DESTDIR)$(SYSCTLDIR)/

uninstall:
	rm -f $(SBIN_PROGS:%=$(DESTDIR)$(SBINDIR)/%) $(BIN_PROGS:%=$(DESTDIR)$(BINDIR)/%)
	rm -f $(SBIN_PROGS:%=$(DESTDIR)$(MANDIR)/man8/%.8) \
	    $(BIN_PROGS:%=$(DESTDIR)$(MANDIR)/man1/%.1) $(DESTDIR)$(MANDIR)/man5/tlsrptd.conf.5
	rm -f $(UNITS:%=$(DESTDIR)$(UNITDIR)/%) $(DESTDIR)$(SYSUSERSDIR)/tlsrptd.conf \
	    $(DESTDIR)$(TMPFILESDIR)/tlsrptd.conf $(DESTDIR)$(SYSCTLDIR)/60-tlsrptd.conf
	rm -f $(DESTDIR)$(SYSCONFDIR)/tlsrptd/tlsrptd.conf.sample
	rmdir $(DESTDIR)$(SYSCONFDIR)/tlsrptd 2>/dev/null || true

# Regenerate the two documents made from lib/conf_table.c (after changing
# a key): the sample configuration and tlsrptd.conf(5).
docs: $(BUILD)/bin/tlsrpt-collectd
	$(BUILD)/bin/tlsrpt-collectd -C > contrib/tlsrptd.conf.sample
	sh contrib/man/mkconfman.sh $(BUILD)/bin/tlsrpt-collectd > contrib/man/tlsrptd.conf.5

clean:
	rm -rf build

# libFuzzer targets (make fuzz, make fuzz-short) and make check-valgrind.
include tests/fuzz/fuzz.mk
include tests/valgrind.mk

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
