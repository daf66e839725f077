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
.PHONY: all deps test unit e2e demo bench clean format

all: $(OUTPUT)/mcpfenced $(OUTPUT)/mcpfence $(UNIT_BINS) $(HELPER_BINS) $(OUTPUT)/bench/mfbench

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

$(OUTPUT)/mcpfence: $(CLI_OBJS) $(OUTPUT)/libmcpfence.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(UNIT_BINS): $(OUTPUT)/tests/%: $(OUTPUT)/tests/unit/%.o $(OUTPUT)/libmcpfence.a | $(OUTPUT)/tests
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(HELPER_BINS): $(OUTPUT)/tests/%: $(OUTPUT)/tests/helpers/%.o | $(OUTPUT)/tests
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -lpthread -o $@

# Unit tests (no root needed), then end-to-end tests on the real kernel (root).
test: deps
	$(Q)$(MAKE) --no-print-directory all
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

clean:
	$(call msg,CLEAN)
	$(Q)rm -rf $(OUTPUT)

format:
	$(Q)clang-format -i bpf/*.c bpf/*.h userspace/*/*.c userspace/*/*.h tests/*/*.c

-include $(shell find $(OUTPUT) -name '*.d' 2>/dev/null)

# ---- benchmarks (bench/): `make bench` builds build/bench/mfbench, then runs bench/run ----
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_OBJS := $(patsubst %.c,$(OUTPUT)/%.o,$(BENCH_SRCS))

$(OUTPUT)/bench/mfbench: $(BENCH_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -lm -o $@


# The DNS parser's libFuzzer harness (folds into `make fuzz`: it links
# userspace/agent/dns_wire.c alone). Run: build/fuzz/fuzz_dns -max_total_time=60
# build/fuzz/corpus_dns tests/fuzz/corpus/fuzz_dns
$(OUTPUT)/fuzz/fuzz_dns: tests/fuzz/fuzz_dns.c userspace/agent/dns_wire.c userspace/agent/dns_wire.h
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D) $(@D)/corpus_dns
	$(Q)$(CLANG) -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all $(WARN) -std=gnu11 -D_GNU_SOURCE -Iuserspace/agent \
		$(filter %.c,$^) -o $@

# The resolver's wire format is tested alone.
$(OUTPUT)/tests/test_dns_wire: $(OUTPUT)/userspace/agent/dns_wire.o
