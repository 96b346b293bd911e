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
DESTDIR    ?=
BUILD      ?= build
CC         ?= cc

# Debian 12 packages needed to build and test; `make deps` installs the
# missing ones.
DEB_PACKAGES = build-essential pkg-config sqlite3 libsqlite3-dev \
	libjansson-dev libcurl4-openssl-dev zlib1g-dev libmicrohttpd-dev \
	check libsubunit-dev faketime python3 python3-jsonschema time \
	dnsmasq-base python3-aiosmtpd openssl curl libopendkim-dev libssl-dev \
	python3-dkim python3-dnspython

PKGS       = sqlite3 jansson zlib
TEST_PKGS  = check
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
	lib/gz.c lib/report.c lib/txt.c lib/mail.c lib/dns.c lib/dkim.c
LIB_OBJS = $(LIB_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/gen/schema_sql.o
LIBA     = $(BUILD)/libtlsrptd.a

COLLECTD_SRCS = collector/collectd.c collector/receiver.c collector/flusher.c \
	collector/sockopen.c
TLSRPTLOG_SRCS = collector/tlsrpt-log.c
AGGREGATE_SRCS = aggregator/aggregate.c aggregator/dayreports.c aggregator/reportstore.c
SEND_SRCS = sender/send.c sender/plan.c sender/deliver.c sender/outbox.c

PROGS = $(BUILD)/bin/tlsrpt-collectd $(BUILD)/bin/tlsrpt-log $(BUILD)/bin/tlsrpt-aggregate \
	$(BUILD)/bin/tlsrpt-send
TOOLS = $(BUILD)/bin/tlsrpt-loadgen $(BUILD)/tests/dgram-send $(BUILD)/tests/txt-lookup \
	$(BUILD)/tests/mail-compose $(BUILD)/tests/dkim-verify

UNIT_TESTS = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/check_*.c))

SCHEMA_SQL = $(sort $(wildcard schema/outbound/*.sql))

.PHONY: all deps test check check-unit check-integration check-asan lint bench \
	run install uninstall clean

all: $(PROGS) $(TOOLS)

deps:
	@sh contrib/deps.sh $(DEB_PACKAGES)

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

$(BUILD)/bin/tlsrpt-aggregate: $(AGGREGATE_SRCS:%.c=$(BUILD)/%.o) $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/bin/tlsrpt-send: $(SEND_SRCS:%.c=$(BUILD)/%.o) $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(SEND_LIBS)

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
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lopendkim -lresolv

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) $(PKG_LIBS) $(SEND_LIBS)

# make test: what the README and CI run.
test: deps
	$(MAKE) check

check: all $(UNIT_TESTS)
	@$(MAKE) --no-print-directory check-unit check-integration

check-unit: $(UNIT_TESTS)
	@sh tests/run-unit.sh $(UNIT_TESTS)

check-integration: all
	@BIN=$(CURDIR)/$(BUILD)/bin TOOLS=$(CURDIR)/$(BUILD)/tests sh tests/run-integration.sh

check-asan: deps
	$(MAKE) BUILD=build/asan SAN=1 OPT='-O1 -g' check

lint:
	@sh tests/lint.sh

bench: all
	@BIN=$(CURDIR)/$(BUILD)/bin sh tests/bench/collector.sh
	@BIN=$(CURDIR)/$(BUILD)/bin sh tests/bench/aggregator.sh
	@BIN=$(CURDIR)/$(BUILD)/bin sh tests/bench/sender.sh

run: deps all
	@BIN=$(CURDIR)/$(BUILD)/bin sh contrib/run-local.sh

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/tlsrptd
	install -m 0755 $(BUILD)/bin/tlsrpt-collectd $(BUILD)/bin/tlsrpt-aggregate $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(BUILD)/bin/tlsrpt-log $(DESTDIR)$(BINDIR)/
	install -m 0644 contrib/tlsrptd.conf.sample $(DESTDIR)$(SYSCONFDIR)/tlsrptd/

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/tlsrpt-collectd $(DESTDIR)$(SBINDIR)/tlsrpt-aggregate $(DESTDIR)$(BINDIR)/tlsrpt-log
	rm -f $(DESTDIR)$(SYSCONFDIR)/tlsrptd/tlsrptd.conf.sample

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
