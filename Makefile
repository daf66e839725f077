# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# mcpfence: `make` builds build/mcpfenced and build/mcpfence; `make test` runs
# every test (as root); `make deps` installs what the build and tests need.

OUTPUT := build
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= cc
ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux

WARN := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wformat=2
CFLAGS ?= -g -O2
CFLAGS += $(WARN) -std=gnu11 -D_GNU_SOURCE -I$(OUTPUT) -Iuserspace/lib -MMD -MP
LDLIBS := $(shell pkg-config --libs libbpf jansson 2>/dev/null || echo -lbpf -ljansson) -lelf -lz
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror -I$(OUTPUT) -Ibpf -MMD -MP

# SAN=1: AddressSanitizer and UBSan for the userspace binaries.
ifeq ($(SAN),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

LIB_SRCS := $(wildcard userspace/lib/*.c)
AGENT_SRCS := $(wildcard userspace/agent/*.c)
CLI_SRCS := $(wildcard userspace/cli/*.c)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
HELPER_SRCS := $(wildcard tests/helpers/*.c)

LIB_OBJS := $(patsubst %.c,$(OUTPUT)/%.o,$(LIB_SRCS))
AGENT_OBJS := $(patsubst %.c,$(OUTPUT)/%.o,$(AGENT_SRCS))
CLI_OBJS := $(patsubst %.c,$(OUTPUT)/%.o,$(CLI_SRCS))
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))
HELPER_BINS := $(patsubst tests/helpers/%.c,$(OUTPUT)/tests/%,$(HELPER_SRCS))

.DEFAULT_GOAL := all
.DELETE_ON_ERROR:
# Keep generated intermediates (BPF object, embedded policy): nothing is rebuilt twice.
.SECONDARY:
.PHONY: all deps test unit e2e demo bench clean format format-check fuzz fuzz-build install uninstall deb FORCE

# The shell completion scripts, printed by the CLI from its table of verbs.
COMPLETIONS := $(OUTPUT)/completion/mcpfence.bash $(OUTPUT)/completion/_mcpfence

all: $(OUTPUT)/mcpfenced $(OUTPUT)/mcpfence $(COMPLETIONS) $(UNIT_BINS) $(HELPER_BINS) \
	$(OUTPUT)/bench/mfbench $(OUTPUT)/bench/floor.bpf.o

deps:
	$(Q)scripts/deps.sh

$(OUTPUT) $(OUTPUT)/bpf $(OUTPUT)/tests:
	$(Q)mkdir -p $@

# vmlinux.h from the running kernel's BTF, replaced only when it changed.
$(OUTPUT)/vmlinux.h: $(VMLINUX_BTF) | $(OUTPUT)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file $< format c > $@.tmp
	$(Q)if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

$(OUTPUT)/bpf/%.bpf.o: bpf/%.bpf.c $(OUTPUT)/vmlinux.h | $(OUTPUT)/bpf
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(Q)llvm-strip -g $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/bpf/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

# The agent includes the skeleton: build it before compiling agent sources.
$(AGENT_OBJS): $(OUTPUT)/mcpfence.skel.h

$(OUTPUT)/default_policy.o: $(OUTPUT)/default_policy.c
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUTPUT)/%.o: %.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# The version: VERSION, and the commit from git (COMMIT=... where there is no .git).
MF_VERSION := $(shell cat VERSION)
COMMIT ?= $(shell git describe --always --dirty --abbrev=12 --exclude '*' 2>/dev/null || echo unknown)

$(OUTPUT)/mf_version.h: FORCE | $(OUTPUT)
	$(Q)printf '#define MF_VERSION "%s"\n#define MF_COMMIT "%s"\n' '$(MF_VERSION)' '$(COMMIT)' \
		> $@.tmp
	$(Q)if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

# Order-only: it exists before anything is compiled; -MMD then tracks who
# includes it, so a new commit rebuilds only those.
$(LIB_OBJS) $(AGENT_OBJS) $(CLI_OBJS): | $(OUTPUT)/mf_version.h

$(OUTPUT)/libmcpfence.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)$(AR) rcs $@ $^

# The embedded default policy, as a C string.
$(OUTPUT)/default_policy.c: policy/default.json | $(OUTPUT)
	$(call msg,GEN,$@)
	$(Q){ printf 'const char mf_default_policy[] =\n'; \
	      sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/\t"/' -e 's/$$/\\n"/' $<; \
	      printf ';\n'; } > $@

$(OUTPUT)/mcpfenced: $(AGENT_OBJS) $(OUTPUT)/default_policy.o $(OUTPUT)/libmcpfence.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# The CLI's tables (ps): libsmartcols, util-linux's (column widths, truncation
# on a terminal, --raw), rather than printf widths of our own.
$(CLI_OBJS): CFLAGS += $(shell pkg-config --cflags smartcols 2>/dev/null || echo -I/usr/include/libsmartcols)
$(OUTPUT)/mcpfence: $(CLI_OBJS) $(OUTPUT)/libmcpfence.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) $(shell pkg-config --libs smartcols 2>/dev/null || echo -lsmartcols) -o $@

$(OUTPUT)/completion/mcpfence.bash: $(OUTPUT)/mcpfence
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$< --completion bash > $@

$(OUTPUT)/completion/_mcpfence: $(OUTPUT)/mcpfence
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$< --completion zsh > $@

$(UNIT_BINS): $(OUTPUT)/tests/%: $(OUTPUT)/tests/unit/%.o $(OUTPUT)/libmcpfence.a | $(OUTPUT)/tests
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $(filter %.o,$^) $(filter %.a,$^) $(LDLIBS) -o $@

# The policy test shares the kernel-like lookup of the compiled form with the fuzzer.
$(OUTPUT)/tests/test_policy: $(OUTPUT)/tests/unit/policy_ref.o

$(HELPER_BINS): $(OUTPUT)/tests/%: $(OUTPUT)/tests/helpers/%.o | $(OUTPUT)/tests
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -lpthread -o $@

# Unit tests (no root needed), then end-to-end tests on the real kernel (root).
test: deps
	$(Q)$(MAKE) --no-print-directory format-check
	$(Q)$(MAKE) --no-print-directory all fuzz-build
	$(Q)tests/run

unit: all
	$(Q)prove -v $(UNIT_BINS)

e2e: all
	$(Q)prove -v tests/e2e/*.t

# demo.sh installs what it needs (make deps) before it builds: on a fresh
# machine nothing here may assume bpftool or clang yet.
demo:
	$(Q)scripts/demo.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bench/run

# ---- install: PREFIX and DESTDIR as usual; the policy in SYSCONFDIR is never replaced ----
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share/mcpfence
UNITDIR ?= $(PREFIX)/lib/systemd/system
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/vendor-completions
SYSCONFDIR ?= /etc
INSTALL ?= install
MAN8 := docs/man/mcpfence.8 docs/man/mcpfenced.8
MAN5 := docs/man/mcpfence-policy.5

install: $(OUTPUT)/mcpfenced $(OUTPUT)/mcpfence $(COMPLETIONS)
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(COMPLETIONDIR) \
		$(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(DATADIR)/examples
	$(Q)$(INSTALL) -m 0755 $(OUTPUT)/mcpfenced $(DESTDIR)$(SBINDIR)/mcpfenced
	$(Q)$(INSTALL) -m 0755 $(OUTPUT)/mcpfence $(DESTDIR)$(BINDIR)/mcpfence
	$(Q)$(INSTALL) -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	$(Q)$(INSTALL) -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	$(Q)sed 's|/usr/sbin/mcpfenced|$(SBINDIR)/mcpfenced|; s|/etc/mcpfence/|$(SYSCONFDIR)/mcpfence/|g' \
		packaging/mcpfenced.service > $(DESTDIR)$(UNITDIR)/mcpfenced.service
	$(Q)sed 's|/usr/bin/mcpfence|$(BINDIR)/mcpfence|' packaging/mcpfence-metrics.service \
		> $(DESTDIR)$(UNITDIR)/mcpfence-metrics.service
	$(Q)$(INSTALL) -m 0644 packaging/mcpfence-metrics.timer $(DESTDIR)$(UNITDIR)/
	$(Q)chmod 0644 $(DESTDIR)$(UNITDIR)/mcpfenced.service $(DESTDIR)$(UNITDIR)/mcpfence-metrics.service
	$(Q)$(INSTALL) -m 0644 $(OUTPUT)/completion/mcpfence.bash $(DESTDIR)$(COMPLETIONDIR)/mcpfence
	$(Q)$(INSTALL) -m 0644 packaging/mcpfenced.bash-completion \
		$(DESTDIR)$(COMPLETIONDIR)/mcpfenced
	$(Q)$(INSTALL) -m 0644 $(OUTPUT)/completion/_mcpfence $(DESTDIR)$(ZSHCOMPDIR)/_mcpfence
	$(Q)$(INSTALL) -m 0644 policy/schema.json policy/default.json $(DESTDIR)$(DATADIR)/
	$(Q)$(INSTALL) -m 0644 docs/audit-schema.json $(DESTDIR)$(DATADIR)/
	$(Q)$(INSTALL) -m 0644 policy/examples/*.json $(DESTDIR)$(DATADIR)/examples/
	$(Q)$(INSTALL) -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/mcpfence $(DESTDIR)$(SYSCONFDIR)/logrotate.d
	$(Q)$(INSTALL) -m 0644 packaging/mcpfence.logrotate $(DESTDIR)$(SYSCONFDIR)/logrotate.d/mcpfence
	$(Q)if [ -e $(DESTDIR)$(SYSCONFDIR)/mcpfence/policy.json ]; then \
		echo "  KEEP     $(DESTDIR)$(SYSCONFDIR)/mcpfence/policy.json"; \
	else \
		$(INSTALL) -m 0600 policy/default.json $(DESTDIR)$(SYSCONFDIR)/mcpfence/policy.json; \
	fi

# The policy in SYSCONFDIR is the operator's: uninstall leaves it.
uninstall:
	$(call msg,UNINSTALL,$(DESTDIR)$(PREFIX))
	$(Q)rm -f $(DESTDIR)$(SBINDIR)/mcpfenced $(DESTDIR)$(BINDIR)/mcpfence \
		$(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(MAN8))) \
		$(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(MAN5))) \
		$(DESTDIR)$(UNITDIR)/mcpfenced.service $(DESTDIR)$(COMPLETIONDIR)/mcpfence \
		$(DESTDIR)$(COMPLETIONDIR)/mcpfenced $(DESTDIR)$(ZSHCOMPDIR)/_mcpfence \
		$(DESTDIR)$(UNITDIR)/mcpfence-metrics.service $(DESTDIR)$(UNITDIR)/mcpfence-metrics.timer \
		$(DESTDIR)$(SYSCONFDIR)/logrotate.d/mcpfence
	$(Q)rm -rf $(DESTDIR)$(DATADIR)

# `make deb`: the Debian package, built by dpkg-buildpackage from a copy of
# the tracked files in $(OUTPUT)/deb (its parent directory gets the .deb).
DEB_DIR := $(OUTPUT)/deb
deb:
	$(call msg,DEB,$(DEB_DIR))
	$(Q)rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/mcpfence-$(MF_VERSION)
	$(Q)git ls-files -z | xargs -0 cp -a --parents -t $(DEB_DIR)/mcpfence-$(MF_VERSION)
	$(Q)cd $(DEB_DIR)/mcpfence-$(MF_VERSION) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		COMMIT=$(COMMIT) dpkg-buildpackage -b -us -uc > ../build.log 2>&1 || \
		{ tail -30 ../build.log; exit 1; }
	$(Q)ls $(DEB_DIR)/*.deb

clean:
	$(call msg,CLEAN)
	$(Q)rm -rf $(OUTPUT)

# C sources in the kernel's style (.clang-format). format-check changes nothing and
# fails on the first file that format would change; it is not part of `make test`.
FORMAT_SRCS = $(wildcard bench/floor/*.c bpf/*.c bpf/*.h userspace/*/*.c userspace/*/*.h tests/*/*.c tests/*/*.h)

format:
	$(Q)clang-format -i $(FORMAT_SRCS)

format-check:
	$(Q)clang-format --dry-run --Werror $(FORMAT_SRCS)

# Dependency files of this build, not those of the package build in $(OUTPUT)/deb.
-include $(shell find $(OUTPUT) -path $(OUTPUT)/deb -prune -o -name '*.d' -type f -print 2>/dev/null)

# ---- benchmarks (bench/): `make bench` builds build/bench/mfbench, then runs bench/run ----
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_OBJS := $(patsubst %.c,$(OUTPUT)/%.o,$(BENCH_SRCS))

$(OUTPUT)/bench/mfbench: $(BENCH_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -lm -o $@

# The kernel's floor: programs that pass everything, on the agent's hooks.
$(OUTPUT)/bench/floor.bpf.o: bench/floor/floor.bpf.c $(OUTPUT)/vmlinux.h | $(OUTPUT)/bpf
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# ---- fuzzing (tests/fuzz/): `make fuzz` builds build/fuzz/fuzz_* with clang's libFuzzer,
# ASan and UBSan, then runs each for FUZZ_TIME seconds (tests/fuzz/run); `make test`
# runs each for a few seconds (tests/fuzz/smoke.t) ----
FUZZ_OUT := $(OUTPUT)/fuzz
FUZZ_TIME ?= 60
FUZZ_SAN := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS := -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN) $(WARN) -std=gnu11 -D_GNU_SOURCE \
	-I$(OUTPUT) -Iuserspace/lib -Iuserspace/agent -Itests/unit -MMD -MP
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(FUZZ_OUT)/%,$(FUZZ_SRCS))
FUZZ_LIB := $(patsubst %.c,$(FUZZ_OUT)/%.o,$(LIB_SRCS))

$(FUZZ_OUT)/%.o: %.c
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -c $< -o $@

# What each harness runs besides the library; fuzz_request links the agent's
# request handling against stand-ins for the kernel maps (see its header).
$(FUZZ_OUT)/fuzz_policy: $(FUZZ_OUT)/tests/unit/policy_ref.o
$(FUZZ_OUT)/fuzz_dns: $(FUZZ_OUT)/userspace/agent/dns_wire.o
$(FUZZ_OUT)/fuzz_jline: $(FUZZ_OUT)/userspace/agent/jline.o
# fuzz_audit links audit.c whole against stand-ins for the rest (see its header).
$(FUZZ_OUT)/fuzz_audit: $(FUZZ_OUT)/userspace/agent/audit.o $(FUZZ_OUT)/userspace/agent/jline.o
$(FUZZ_OUT)/userspace/agent/audit.o $(FUZZ_OUT)/tests/fuzz/fuzz_audit.o: $(OUTPUT)/mcpfence.skel.h
FUZZ_AGENT_OBJS := $(patsubst %,$(FUZZ_OUT)/userspace/agent/%.o,ops control trust tag_request maps)
$(FUZZ_OUT)/fuzz_request: $(FUZZ_AGENT_OBJS)
$(FUZZ_AGENT_OBJS) $(FUZZ_OUT)/tests/fuzz/fuzz_request.o: $(OUTPUT)/mcpfence.skel.h

$(FUZZ_OUT)/libmcpfence.a: $(FUZZ_LIB)
	$(call msg,AR,$@)
	$(Q)$(AR) rcs $@ $^

# The library as an archive: a harness's stand-in replaces what it defines.
$(FUZZ_BINS): $(FUZZ_OUT)/%: $(FUZZ_OUT)/tests/fuzz/%.o $(FUZZ_OUT)/libmcpfence.a
	$(call msg,LINK,$@)
	$(Q)$(CLANG) -fsanitize=fuzzer,address,undefined $(filter %.o,$^) $(filter %.a,$^) \
		-ljansson -o $@

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	$(Q)FUZZ_TIME=$(FUZZ_TIME) tests/fuzz/run $(FUZZ_BINS)

# The resolver's wire format is tested alone.
$(OUTPUT)/tests/test_dns_wire: $(OUTPUT)/userspace/agent/dns_wire.o
