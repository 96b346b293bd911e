# tests/valgrind.mk - `make check-valgrind`: every unit suite and the
# integration scripts that make sense there, with each of our programs
# under valgrind memcheck (tests/run-valgrind.sh says which scripts and
# why). Included at the end of the Makefile, after UNIT_TESTS.
#
# Valgrind needs no special build: it runs the programs of $(BUILD)
# (default build/, -O2 -g), so after `make test` it compiles nothing.
# Any memcheck error, or a definite or indirect leak, fails the target;
# suppressions (tests/valgrind.supp) are for third-party libraries only.

DEB_PACKAGES += valgrind strace

.PHONY: check-valgrind

check-valgrind: deps all $(UNIT_TESTS)
	@BIN=$(CURDIR)/$(BUILD)/bin TOOLS=$(CURDIR)/$(BUILD)/tests BUILD=$(BUILD) \
	    sh tests/run-valgrind.sh $(UNIT_TESTS)
