# postern: one non-recursive Makefile for the whole tree.
#   make            build every program
#   make check      run every test (installs missing Debian packages first)
#   make check-systemd  the units under a booted systemd (root, network)
#   make check-fresh  the two commands on a pristine Debian 12 (chroot; CI)
#   make demo       start the suite on loopback with a demo user
#   make install PREFIX=/usr/local DESTDIR=
#   make deb        the Debian package into build/deb/ (debian/)
#   make check-deb  the package in a booted Debian 12 (root, network)
VERSION   = 0.1.0
CC       ?= cc
PREFIX   ?= /usr/local
DESTDIR  ?=
# systemd units; the Debian package uses /lib/systemd/system (bookworm).
UNITDIR  ?= $(PREFIX)/lib/systemd/system
OPT      ?= -O2 -g
CFLAGS   ?= $(OPT)
# lib/ is one archive from folders by concern (DESIGN.md, lib/*/README):
# includes stay flat ("maildir.h"), each folder is on the include path.
LIB_DIRS  = $(patsubst %/,%,$(sort $(dir $(wildcard lib/*/*.c lib/*/*.h))))
CPPFLAGS += -D_GNU_SOURCE -DPOSTERN_VERSION='"$(VERSION)"' $(addprefix -I ,$(LIB_DIRS))
XCFLAGS   = -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wformat=2 -Wvla \
            -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE -MMD -MP
XLDFLAGS  = -pie -Wl,-z,relro,-z,now
# BearSSL, TinyCDB and libxcrypt are linked statically (Debian ships the
# .a files): every connection is a new exec, and each shared library
# costs start-up time and resident memory.
LIBS     ?= -lbearssl -lcdb -lcrypt
LIBS_DYN  = -Wl,-Bstatic $(LIBS) -Wl,-Bdynamic

PROGNAMES = pop3-handler smtp-handler etrn-client mailbox-admin
# A program is built once its folder holds sources.
PROGS     = $(foreach p,$(PROGNAMES),$(if $(wildcard $(p)/*.c),$(p)/$(p)))

LIB_SRC   = $(filter-out %_test.c,$(wildcard lib/*/*.c))
LIB_OBJ   = $(LIB_SRC:.c=.o)
UNIT_SRC  = $(wildcard lib/*/*_test.c)
UNITS     = $(UNIT_SRC:.c=)

all: $(PROGS)

%.o: %.c
	$(CC) $(CPPFLAGS) $(XCFLAGS) $(CFLAGS) -c -o $@ $<

lib/libpostern.a: $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

# The per-connection handlers are static PIEs: no dynamic loader work at
# each exec (measured: ~0.3 ms less per connection and ~0.6 MiB less
# resident memory). They use no NSS lookups but getaddrinfo() in the hold
# flusher, which static glibc serves from /etc/hosts and DNS itself (ld
# warns about it). STATIC_PROGS= links them dynamically (sanitizers).
STATIC_PROGS ?= pop3-handler smtp-handler
STATIC_LD     = -static-pie -Wl,-z,relro,-z,now

define prog_rule
$(1)/$(1): $(patsubst %.c,%.o,$(filter-out %_test.c,$(wildcard $(1)/*.c))) lib/libpostern.a
	$$(CC) $$(XCFLAGS) $$(CFLAGS) $$(if $$(filter $(1),$$(STATIC_PROGS)),$$(STATIC_LD) $$(LDFLAGS) -o $$@ $$^ $$(LIBS),$$(XLDFLAGS) $$(LDFLAGS) -o $$@ $$^ $$(LIBS_DYN))
endef
$(foreach p,$(PROGNAMES),$(eval $(call prog_rule,$(p))))

lib/%_test: lib/%_test.o lib/libpostern.a
	$(CC) $(XCFLAGS) $(CFLAGS) $(XLDFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS_DYN)

units: $(UNITS)

deps:
	@scripts/deps

check: deps all units
	@tests/run

# The units under a booted systemd: tests/t-systemd.sh boots a minimal
# Debian 12 root with systemd-nspawn (root only; apt needs the network).
# Not part of `make check`.
check-systemd:
	@scripts/deps fresh
	@tests/run t-systemd

check-asan:
	$(MAKE) clean
	$(MAKE) STATIC_PROGS= OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" check
	$(MAKE) clean

# The README's two commands on a pristine Debian 12 (a chroot of a fresh
# mmdebstrap root, the checkout's HEAD at /root/postern): scripts/check-fresh.
check-fresh:
	@scripts/deps fresh
	@scripts/check-fresh

# The Debian package (debian/): dpkg-buildpackage -us -uc -b on a copy of
# the tracked files in build/deb/postern-$(VERSION)/; the .deb (and
# .buildinfo, .changes) land in build/deb/. scripts/deps deb first.
deb:
	@scripts/deps deb
	@scripts/mkdeb

# The package installed, used, removed and purged in a booted Debian 12
# (tests/t-deb.sh; root, network). Not part of `make check`.
check-deb:
	@scripts/deps fresh
	@tests/run t-deb

demo: deps all
	@scripts/demo start

demo-stop:
	@scripts/demo stop

bench: deps all
	@bench/run

# libFuzzer targets under ASan+UBSan (clang), FUZZ_SECONDS each.
FUZZ_SECONDS ?= 30
fuzz: deps
	fuzz/run $(FUZZ_SECONDS)

# The reliability tests with many more trials and rounds.
soak: deps all units
	RELIABILITY_TRIALS=1000 LOAD_MESSAGES=1000 LOAD_ROUNDS=200 tests/run reliability

install: all
	install -d $(DESTDIR)$(PREFIX)/libexec/postern $(DESTDIR)$(PREFIX)/sbin
	for p in pop3-handler smtp-handler; do \
	  [ ! -f $$p/$$p ] || install -m 0755 $$p/$$p $(DESTDIR)$(PREFIX)/libexec/postern/; done
	for p in etrn-client mailbox-admin; do \
	  [ ! -f $$p/$$p ] || install -m 0755 $$p/$$p $(DESTDIR)$(PREFIX)/sbin/; done
	for s in 5 8; do \
	  install -d $(DESTDIR)$(PREFIX)/share/man/man$$s; \
	  for m in man/*.$$s; do [ ! -f $$m ] || install -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man$$s/; done; \
	done
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(PREFIX)/lib/sysusers.d \
	  $(DESTDIR)$(PREFIX)/lib/tmpfiles.d $(DESTDIR)/etc/xinetd.d
	for u in units/*.socket units/*.service units/*.timer; do \
	  [ ! -f $$u ] || sed 's|@PREFIX@|$(PREFIX)|g' $$u > $(DESTDIR)$(UNITDIR)/$${u##*/}; done
	[ ! -f units/postern.sysusers ] || install -m 0644 units/postern.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/postern.conf
	[ ! -f units/postern.tmpfiles ] || install -m 0644 units/postern.tmpfiles $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/postern.conf
	for x in units/xinetd/*; do \
	  [ ! -f $$x ] || sed 's|@PREFIX@|$(PREFIX)|g' $$x > $(DESTDIR)/etc/xinetd.d/$${x##*/}; done

clean:
	rm -f lib/*/*.o lib/*/*.d lib/libpostern.a $(UNITS) */*.o */*.d \
	  lib/*_test \
	  $(foreach p,$(PROGNAMES),$(p)/$(p)) fuzz/*_fuzz
	rm -rf tests/tmp

.PHONY: all units deps deb check check-asan check-deb check-fresh check-systemd demo demo-stop bench fuzz soak install clean
-include $(wildcard lib/*/*.d */*.d)
