# keel -- PGXS build.  `make && make install` builds keel.so and every extension's
# install script; `make demo` / `make test` are the README's two commands.
#
# Every extension is a control file in control/ plus a directory of SQL sources in
# src/sql/<extension>/ that is concatenated (in file-name order) into
# build/sql/<extension>--<version>.sql, the version being the control file's
# default_version.  Beside them are installed, as they are in git:
#   src/sql/released/<extension>--<old>.sql        install scripts of released versions,
#                                                  frozen (tools/freeze_release.sh TAG)
#   src/sql/upgrade/<extension>--<old>--<new>.sql  hand-written upgrade scripts
# so that CREATE EXTENSION ... VERSION '<old>' and ALTER EXTENSION ... UPDATE work.

PG_CONFIG ?= pg_config

EXTENSION_CONTROLS := $(sort $(wildcard control/*.control))
EXTENSIONS         := $(basename $(notdir $(EXTENSION_CONTROLS)))
ext_version         = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" control/$(1).control)
INSTALL_SCRIPTS    := $(foreach e,$(EXTENSIONS),build/sql/$(e)--$(call ext_version,$(e)).sql)
RELEASED_SCRIPTS   := $(sort $(wildcard src/sql/released/*.sql))
UPGRADE_SCRIPTS    := $(sort $(wildcard src/sql/upgrade/*.sql))

MODULE_big = keel
SRCS      := $(sort $(shell find src -name '*.cpp'))
OBJS      := $(SRCS:.cpp=.o)
PGFILEDESC = "keel - schema, triggers, partitions, audit chain and field encryption"

# Control files live in control/, so PGXS is told where everything goes.
MODULEDIR  = extension
DATA       = $(EXTENSION_CONTROLS) $(RELEASED_SCRIPTS) $(UPGRADE_SCRIPTS)
DATA_built = $(INSTALL_SCRIPTS)
EXTRA_CLEAN = build $(OBJS:.o=.d)

# No bitcode: JIT inlining of keel's functions buys nothing and needs clang++.
override with_llvm := no

PG_CXXFLAGS = -std=c++17 -fvisibility=hidden -fvisibility-inlines-hidden -Wall -Wextra \
              -Wno-missing-field-initializers -Wno-unused-parameter -Wno-register -Werror=return-type
PG_CPPFLAGS = -Isrc
# Header dependencies: each object's .d file (next to it) makes a changed header rebuild
# every object that includes it.
PG_CXXFLAGS += -MMD -MP
SHLIB_LINK += -lstdc++ -lcrypto -largon2

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Server headers are not ours: -isystem keeps their warnings out of our build.
override CPPFLAGS := $(patsubst -I$(includedir_server),-isystem $(includedir_server),$(CPPFLAGS))

-include $(OBJS:.o=.d)

build/sql/%.sql: $(EXTENSION_CONTROLS) $(shell find $(patsubst %,src/sql/%,$(EXTENSIONS)) -name '*.sql')
	@mkdir -p $(dir $@)
	@ext=$$(echo $(notdir $@) | sed 's/--.*//'); \
	{ echo "-- $(notdir $@): generated from src/sql/$$ext/ by make; do not edit."; \
	  printf '%s\n' "\\echo Use \"CREATE EXTENSION $$ext\" to load this file. \\quit"; \
	  for f in $$(ls src/sql/$$ext/*.sql | sort); do echo; echo "-- ---- $$f"; cat $$f; done; } > $@

all: $(INSTALL_SCRIPTS)

.PHONY: demo test unit deps
demo:
	@tools/demo.sh
test:
	@tools/test.sh
deps:
	@tools/deps.sh
