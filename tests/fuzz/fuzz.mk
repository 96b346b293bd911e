# tests/fuzz/fuzz.mk - libFuzzer targets, included by the Makefile.
#
#   make fuzz          replay tests/fuzz/regress/, then fuzz each target for
#                      FUZZ_SECONDS (600); make -j2 fuzz runs two at a time
#   make fuzz-short    the same for FUZZ_SHORT_SECONDS (10) each (make test)
#   make fuzz-build    only build $(BUILD)/fuzz/fuzz_<target>
#   make fuzz-<target> / fuzz-short-<target>   one target
#
# Targets (tests/fuzz/fuzz_<target>.c): event (datagram parse, encode,
# parse again), txt (TLSRPT TXT record), rparse (report JSON), mailin
# (mail as tlsrpt-ingest reads it, no database), accept (HTTP POST body
# as tlsrpt-ingestd decodes it, no database).
#
# clang (FUZZ_CC; Debian 12: clang-14, and libclang-rt-14-dev for the
# libFuzzer runtime) builds LIB_SRCS, ingest/accept.c and the targets
# with coverage instrumentation, ASan and UBSan into $(BUILD)/fuzz/, apart
# from the cc build. Seeds are assembled from tests/data by
# tests/fuzz/seeds.sh; tests/fuzz/run.sh runs a target and fails on any
# crash, leak, timeout or sanitizer report. Inputs that once crashed live
# in tests/fuzz/regress/<target>/ and are replayed by every run.

FUZZ_CC            ?= clang-14
FUZZ_SECONDS       ?= 600
FUZZ_SHORT_SECONDS ?= 10
FUZZ_DIR            = $(BUILD)/fuzz
FUZZ_TARGETS        = event txt rparse mailin accept
FUZZ_BINS           = $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
# Per-target input size cap (-max_len): a little above what the parser
# must see to reach each of its limits.
FUZZ_MAXLEN_event   = 16384
FUZZ_MAXLEN_txt     = 8192
FUZZ_MAXLEN_rparse  = 32768
FUZZ_MAXLEN_mailin  = 32768
FUZZ_MAXLEN_accept  = 16384

FUZZ_SAN     = -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
FUZZ_CFLAGS  = -std=c11 -D_GNU_SOURCE $(WARN) -O1 -g $(FUZZ_SAN) \
	-fsanitize=fuzzer-no-link -pthread -DTLSRPTD_VERSION='"$(VERSION)"' \
	-DTLSRPTD_SYSCONFDIR='"$(SYSCONFDIR)"' -Ilib -Iingest -I$(BUILD)/gen
# The library as the Makefile builds it (LIB_OBJS), plus the body decoder
# of the ingest endpoint; the archive lets each target take what it needs.
FUZZ_LIB_OBJS = $(patsubst $(BUILD)/%,$(FUZZ_DIR)/%,$(LIB_OBJS)) \
	$(FUZZ_DIR)/ingest/accept.o
FUZZ_LIBA     = $(FUZZ_DIR)/libtlsrptd-fuzz.a
FUZZ_LIBS     =
FUZZ_MORE_CFLAGS =

.PHONY: fuzz fuzz-short fuzz-build $(FUZZ_TARGETS:%=fuzz-%) \
	$(FUZZ_TARGETS:%=fuzz-short-%)

fuzz-build: $(FUZZ_BINS) $(FUZZ_DIR)/seeds.stamp

fuzz: $(FUZZ_TARGETS:%=fuzz-%)

fuzz-short: $(FUZZ_TARGETS:%=fuzz-short-%)

$(FUZZ_TARGETS:%=fuzz-%): fuzz-%: $(FUZZ_DIR)/fuzz_% $(FUZZ_DIR)/seeds.stamp
	@sh tests/fuzz/run.sh $(FUZZ_DIR) $* $(FUZZ_SECONDS) $(FUZZ_MAXLEN_$*)

$(FUZZ_TARGETS:%=fuzz-short-%): fuzz-short-%: $(FUZZ_DIR)/fuzz_% $(FUZZ_DIR)/seeds.stamp
	@sh tests/fuzz/run.sh $(FUZZ_DIR) $* $(FUZZ_SHORT_SECONDS) $(FUZZ_MAXLEN_$*)

$(FUZZ_DIR)/lib/mailin.o: FUZZ_MORE_CFLAGS = $(MAILIN_CFLAGS)
$(FUZZ_DIR)/fuzz_mailin: FUZZ_LIBS = $(MAILIN_LIBS)

$(FUZZ_DIR)/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(PKG_CFLAGS) $(FUZZ_MORE_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_DIR)/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_LIBA): $(FUZZ_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BINS): $(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/tests/fuzz/fuzz_%.o $(FUZZ_LIBA)
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -pthread -o $@ $^ $(PKG_LIBS) $(FUZZ_LIBS)

$(FUZZ_DIR)/seeds.stamp: tests/fuzz/seeds.sh tests/fuzz/txt.seeds tests/unit/check_txt.c \
    $(wildcard tests/data/datagrams/*.json tests/data/aggregate/*.json \
    tests/data/real-reports/* tests/data/golden/*.json)
	@sh tests/fuzz/seeds.sh $(FUZZ_DIR)/seeds
	@touch $@
