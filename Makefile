# usock — build, test, install.  `make V=1` shows full command lines.
.DELETE_ON_ERROR:
.SUFFIXES:
.SECONDARY:

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DESTDIR ?=
# bash-completion looks in $XDG_DATA_DIRS/bash-completion/completions
# (/usr/local/share and /usr/share by default), so this works whether or not
# bash-completion is installed, and never writes outside PREFIX.
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions

# every cmd/TOOL.c is one binary
TOOLS := $(sort $(basename $(notdir $(wildcard cmd/*.c))))

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wformat=2 -Wshadow -Wno-missing-field-initializers
CPPFLAGS_ALL := -D_GNU_SOURCE -Ilib $(CPPFLAGS)
CFLAGS_ALL   := -std=c11 -pthread $(WARN) $(CFLAGS)
LDLIBS_ALL   := $(LDLIBS) -lm -pthread

# Hardening by default: fortified libc calls, stack protector, PIE, full
# RELRO.  (Fortify is left out under the sanitizers, which replace it.)
HARDEN_CFLAGS  ?= -fstack-protector-strong -fPIE
HARDEN_LDFLAGS ?= -pie -Wl,-z,relro,-z,now
CFLAGS_ALL += $(HARDEN_CFLAGS)
LDFLAGS    += $(HARDEN_LDFLAGS)
ifeq ($(SANITIZE),)
CPPFLAGS_ALL += -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3
endif

# Sanitizers: make check SANITIZE=address,undefined
ifneq ($(SANITIZE),)
CFLAGS_ALL += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS    += -fsanitize=$(SANITIZE)
export ASAN_OPTIONS  ?= halt_on_error=1:detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS ?= halt_on_error=1:print_stacktrace=1
BUILD      ?= build/san
endif
BUILD ?= build

# readline is optional: found with pkg-config, else the tools build without it.
READLINE_CFLAGS := $(shell pkg-config --cflags readline 2>/dev/null)
READLINE_LIBS   := $(shell pkg-config --libs readline 2>/dev/null)
ifneq ($(READLINE_LIBS),)
ifneq ($(NO_READLINE),1)
CPPFLAGS_ALL += -DHAVE_READLINE $(READLINE_CFLAGS)
RL_LIBS := $(READLINE_LIBS)
endif
endif

ifeq ($(V),1)
Q :=
say :=
else
Q := @
say = @printf '  %-6s %s\n' $(1) $(2);
endif

LIB_SRC  := $(wildcard lib/*/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIBA     := $(BUILD)/libusock.a
BINS     := $(TOOLS:%=$(BUILD)/bin/%)
UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/unit/%)

all: $(BINS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -MMD -MP -c -o $@ $<

$(LIBA): $(LIB_OBJ)
	$(call say,AR,$@)rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/bin/%: $(BUILD)/cmd/%.o $(LIBA)
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) $(CFLAGS_ALL) $(LDFLAGS) -o $@ $< $(LIBA) $(RL_LIBS) $(LDLIBS_ALL)

$(BUILD)/unit/%: $(BUILD)/tests/unit/%.o $(LIBA)
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) $(CFLAGS_ALL) $(LDFLAGS) -o $@ $< $(LIBA) $(LDLIBS_ALL)

unit: $(UNIT_BIN)
	$(Q)for t in $(UNIT_BIN); do echo "  UNIT   $$t"; $$t || exit 1; done

# make check sets itself up: the packages the tests use (tests/deps) are
# checked first; as root the missing ones are installed (make deps), as
# anyone else make stops here with the one command to run.  Then the build,
# the unit tests and the bats suites: the tools, then load and faults
# (tests/stress).
ifneq ($(filter check check-valgrind,$(MAKECMDGOALS)),)
ifneq ($(shell id -u),0)
DEPS_MISSING := $(shell tests/deps.sh missing)
ifneq ($(DEPS_MISSING),)
$(error packages missing; run: sudo apt-get install --no-install-recommends $(DEPS_MISSING))
endif
endif
endif

deps:
	$(Q)tests/deps.sh install

# the bats suites make check runs (SUITES=tests/waits.bats for one)
SUITES ?= tests/ tests/stress/

check: deps
	$(Q)$(MAKE) --no-print-directory all unit
	$(Q)USOCK_BIN=$(CURDIR)/$(BUILD)/bin bats $(BATSFLAGS) $(SUITES)

# The stdio tools' suites under valgrind memcheck: make check-valgrind
# (or make check VALGRIND=1); any error or leak fails the run.
VG_BIN := $(BUILD)/valgrind/bin
check-valgrind: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)rm -rf $(VG_BIN) && mkdir -p $(VG_BIN)
	$(Q)for t in $(TOOLS); do \
		printf '#!/bin/sh\nexec valgrind -q --error-exitcode=97 --leak-check=full --errors-for-leak-kinds=definite --trace-children=no %s "$$@"\n' \
			"$(CURDIR)/$(BUILD)/bin/$$t" > $(VG_BIN)/$$t; chmod +x $(VG_BIN)/$$t; done
	$(Q)USOCK_BIN=$(CURDIR)/$(VG_BIN) bats $(BATSFLAGS) tests/usock-connect.bats \
		tests/usock-listen.bats tests/compose.bats
ifeq ($(VALGRIND),1)
check: check-valgrind
endif

# libFuzzer harnesses (clang): make fuzz FUZZ_SECONDS=60 [FUZZ_JOBS=2]
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 1
fuzz:
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) tests/fuzz/run

bench: all
	$(Q)./bench/run

demo: all
	$(Q)./tests/demo.sh $(BUILD)/bin

lint:
	mandoc -T lint -W warning man/*.[0-9]
	tests/fnlen.sh 80
	shellcheck -x tests/*.bash tests/lib/*.bash tests/demo.sh tests/deps.sh tests/fnlen.sh tests/other-user-tests tests/fuzz/run .ci/run \
		$(wildcard bench/*.sh bench/run)
	shellcheck -x -s bash completions/bash/*
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr -D_GNU_SOURCE -Ilib lib cmd tests/unit
	clang-tidy --quiet $(wildcard lib/*/*.c cmd/*.c) -- -std=c11 $(CPPFLAGS_ALL)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7 \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR)
	install -m 0755 $(BINS) $(DESTDIR)$(BINDIR)/
	install -m 0644 $(wildcard man/*.1) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(wildcard man/*.7) $(DESTDIR)$(MANDIR)/man7/
	install -m 0644 $(TOOLS:%=completions/bash/%) completions/bash/_usock $(DESTDIR)$(BASHCOMPDIR)/
	install -m 0644 $(TOOLS:%=completions/zsh/_%) completions/zsh/_usock_address $(DESTDIR)$(ZSHCOMPDIR)/

uninstall:
	rm -f $(TOOLS:%=$(DESTDIR)$(BINDIR)/%)
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(wildcard man/*.1)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man7/,$(notdir $(wildcard man/*.7)))
	rm -f $(TOOLS:%=$(DESTDIR)$(BASHCOMPDIR)/%) $(DESTDIR)$(BASHCOMPDIR)/_usock
	rm -f $(TOOLS:%=$(DESTDIR)$(ZSHCOMPDIR)/_%) $(DESTDIR)$(ZSHCOMPDIR)/_usock_address

clean:
	rm -rf build

.PHONY: all deps check check-valgrind unit fuzz bench demo lint install uninstall clean

-include $(LIB_OBJ:.o=.d) $(TOOLS:%=$(BUILD)/cmd/%.d) $(UNIT_SRC:%.c=$(BUILD)/%.d)
