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

PKGS     = libevent_core libbsd-overlay openssl libcrypt zlib
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

.PHONY: all deps test unit integration san run install fuzz clean docs
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
	$(CC) $(CFLAGS) $(shell pkg-config --cflags cmocka) -o $@ $< $(BUILD)/libestafeta.a \
	    $(LDFLAGS) $(LDLIBS) $(shell pkg-config --libs cmocka)

unit: $(UNIT_BIN)

# `make test`: deps, release build + unit + integration, then the same under ASan+UBSan.
test: deps
	$(MAKE) all unit
	$(MAKE) CC=clang BUILD=build-clang all
	$(MAKE) SAN=1 all unit
	sh tests/run.sh

san:
	$(MAKE) SAN=1 all unit

integration: all
	python3 tests/integration/run.py --bin $(BUILD)/estafeta

run: deps all
	ESTAFETA_PORT_BASE=$${ESTAFETA_PORT_BASE-20000} $(BUILD)/estafeta demo $${DEMO_DIR:-/tmp/estafeta-demo}

build-fuzz/%: tests/fuzz/%.c $(LIB_SRC)
	@mkdir -p build-fuzz
	clang -std=c17 -D_GNU_SOURCE -g -O1 -Isrc $(PKG_CFLAGS) -fsanitize=fuzzer,address,undefined \
	    -o $@ $< $(LIB_SRC) $(PKG_LIBS) -pthread

fuzz: $(FUZZ_BIN)

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/doc/estafeta
	install -m 0755 $(BUILD)/estafeta $(DESTDIR)$(PREFIX)/sbin/estafeta
	ln -sf estafeta $(DESTDIR)$(PREFIX)/sbin/sendmail
	ln -sf estafeta $(DESTDIR)$(PREFIX)/sbin/mailq
	ln -sf estafeta $(DESTDIR)$(PREFIX)/sbin/newaliases
	install -m 0644 docs/*.md $(DESTDIR)$(PREFIX)/share/doc/estafeta/

# Refresh the generated settings table in docs/CONFIG.md.
docs: all
	python3 tools/gendoc.py $(BUILD)/estafeta docs/CONFIG.md

clean:
	rm -rf build build-san build-fuzz build-clang

-include $(LIB_OBJ:.o=.d) $(BUILD)/src/daemon/main.d
