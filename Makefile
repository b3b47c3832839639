# PGXS build of the queue extension.
#
#   make && make install        build and install (as root), with the
#                               programs beside the extension (CMake)
#   make installcheck           pg_regress + isolation specs in a temporary
#                               instance with queue preloaded (run as a user
#                               PostgreSQL accepts, not root)
#
# The whole test suite, including unit, pgTAP, stress and crash tests, runs
# with test/run-all.sh (see README.md).

PG_CONFIG ?= pg_config

MODULE_big = queue
EXTENSION = queue
DATA = $(wildcard src/sql/queue--*.sql)
OBJS = $(patsubst %.cpp,%.o,$(sort $(wildcard src/extension/*.cpp src/policy/*.cpp)))

# PostgreSQL headers as system headers: -Wextra is for our code, not theirs.
PG_CPPFLAGS = -Iinclude -isystem $(shell $(PG_CONFIG) --includedir-server)
PG_CXXFLAGS = -std=c++17 -Wall -Wextra -Wno-register -Wno-missing-field-initializers -fno-strict-aliasing
SHLIB_LINK = -lstdc++

# LLVM bitcode of C++ code would only feed the JIT, which never inlines these
# functions; skipping it also drops the clang dependency.
override with_llvm = no

# Objects record the headers they include (PGXS's autodepend covers C files
# only), so changing a header rebuilds every object that includes it.
EXTRA_CLEAN = $(OBJS:.o=.d)

REGRESS = $(sort $(notdir $(basename $(wildcard sql/*.sql))))
REGRESS_OPTS = --temp-instance=tmp_check --temp-config=test/preload.conf
ISOLATION = $(sort $(notdir $(basename $(wildcard test/isolation/specs/*.spec))))
ISOLATION_OPTS = --inputdir=test/isolation --outputdir=output_iso \
	--temp-instance=tmp_check_iso --temp-config=test/preload.conf


PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

%.o: %.cpp
	$(CXX) $(CXXFLAGS) $(CPPFLAGS) -MMD -MP -c -o $@ $<
-include $(OBJS:.o=.d)

# The programs beside the extension (src/client, src/worker, src/dashboard) and
# the unit tests are built by CMake, in PROGRAMS_BUILD; `make install` installs
# queue-worker and queue-dashboard too, into PROGRAMS_PREFIX/bin.
PROGRAMS_BUILD ?= build/programs
PROGRAMS_PREFIX ?= /usr/local

programs:
	cmake -S . -B '$(PROGRAMS_BUILD)' -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build '$(PROGRAMS_BUILD)' -j2

install: install-programs
install-programs: programs
	cmake --install '$(PROGRAMS_BUILD)' --prefix '$(DESTDIR)$(PROGRAMS_PREFIX)' >/dev/null

# Format every C++ file in place with the project's .clang-format.
format:
	clang-format -i $(wildcard src/extension/*.cpp src/policy/*.cpp include/queue/*.hpp include/queue/policy/*.hpp test/unit/*.cpp)

.PHONY: format programs install-programs
