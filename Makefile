# estafeta — GNU make, non-recursive. Targets: all, test, run, install, fuzz, san, clean.
PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
SAN     ?= 0
BUILD   ?= build
ifeq ($(SAN),1)
BUILD   := build-san
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

PKGS     = libevent_core libbsd-overlay openssl libcrypt zlib sqlite3 libargon2
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS  ?= -O2 -g
CFLAGS  += -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wpointer-arith -Wformat=2 -Wvla -Wimplicit-fallthrough \
           -fstack-protector-strong -pthread -Isrc $(PKG_CFLAGS) $(SANFLAGS)
# Truncation of bounded log and path text is deliberate; gcc's heuristic is noisy.
ifneq ($(findstring Free Software Foundation,$(shell $(CC) --version 2>/dev/null)),)
CFLAGS  += -Wno-format-truncation
endif
LDFLAGS += -pthread $(SANFLAGS)
LDLIBS  += $(PKG_LIBS)

LIB_SRC  := $(sort $(shell find src -name '*.c' ! -name 'main.c'))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)

.PHONY: all deps test unit integration san run install fuzz fuzz-smoke clean docs
all: $(BUILD)/estafeta

deps:
	@sh tools/deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libestafeta.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/estafeta: $(BUILD)/src/daemon/main.o $(BUILD)/libestafeta.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libestafeta.a tests/unit/tu.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP $(shell pkg-config --cflags cmocka) -o $@ $< $(BUILD)/libestafeta.a \
	    $(LDFLAGS) $(LDLIBS) $(shell pkg-config --libs cmocka)

unit: $(UNIT_BIN)

# `make test`: deps, release build + unit + integration, then the same under ASan+UBSan.
test: deps
	$(MAKE) -j2 all unit
	$(MAKE) -j2 CC=clang BUILD=build-clang all
	$(MAKE) -j2 SAN=1 all unit
	$(MAKE) -j2 fuzz
	sh tests/run.sh

san:
	$(MAKE) SAN=1 all unit

integration: all
	python3 tests/integration/run.py --bin $(BUILD)/estafeta

run: deps all
	ESTAFETA_PORT_BASE=$${ESTAFETA_PORT_BASE-20000} $(BUILD)/estafeta demo $${DEMO_DIR:-/tmp/estafeta-demo}

# libFuzzer targets: the library is compiled once with coverage, each target links it.
FUZZ_CFLAGS = -std=c17 -D_GNU_SOURCE -g -O1 -Isrc $(PKG_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined
FUZZ_OBJ := $(LIB_SRC:%.c=build-fuzz/obj/%.o)
build-fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@
build-fuzz/libestafeta.a: $(FUZZ_OBJ)
	$(AR) rcs $@ $^
build-fuzz/%: tests/fuzz/%.c build-fuzz/libestafeta.a
	clang $(FUZZ_CFLAGS) -MMD -MP -fsanitize=fuzzer -o $@ $< build-fuzz/libestafeta.a $(PKG_LIBS) -pthread

fuzz: $(FUZZ_BIN)

# Every fuzz target over its seed corpus plus a short run of new inputs.
FUZZ_RUNS ?= 20000
fuzz-smoke: fuzz
	@set -e; for t in $(FUZZ_BIN); do n=$$(basename $$t); c=tests/fuzz/corpus/$${n#fuzz_}; \
	    mkdir -p build-fuzz/work/$$n; \
	    $$t -runs=$(FUZZ_RUNS) -max_len=4096 build-fuzz/work/$$n $$c >build-fuzz/$$n.log 2>&1 \
	    || { tail -30 build-fuzz/$$n.log; echo "fuzz $$n: FAILED"; exit 1; }; \
	    echo "fuzz $$n: ok ($(FUZZ_RUNS) runs)"; done

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/doc/estafeta
	install -m 0755 $(BUILD)/estafeta $(DESTDIR)$(PREFIX)/sbin/estafeta
	ln -sf estafeta $(DESTDIR)$(PREFIX)/sbin/sendmail
	ln -sf estafeta $(DESTDIR)$(PREFIX)/sbin/mailq
	ln -sf estafeta $(DESTDIR)$(PREFIX)/sbin/newaliases
	install -m 0644 docs/*.md $(DESTDIR)$(PREFIX)/share/doc/estafeta/
	install -m 0644 etc/estafeta.conf $(DESTDIR)$(PREFIX)/share/doc/estafeta/estafeta.conf.example

# Refresh the generated settings table in docs/CONFIG.md.
docs: all
	python3 tools/gendoc.py $(BUILD)/estafeta docs/CONFIG.md

clean:
	rm -rf build build-san build-fuzz build-clang

# Header dependencies of every build (objects, unit tests, fuzz targets).
-include $(LIB_OBJ:.o=.d) $(BUILD)/src/daemon/main.d $(UNIT_BIN:=.d) \
    $(FUZZ_OBJ:.o=.d) $(FUZZ_BIN:=.d)
