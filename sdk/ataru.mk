# ataru.mk — the one place with the compiler and linker flags for Ataru
# functions, the shared code image (exec[0]) and DT_NEEDED libraries.
#
# Use from a Makefile (sources in the Makefile's folder, outputs in $(ATARU_OUT)):
#     ATARU_OUT := build                  # optional, the default
#     include path/to/sdk/ataru.mk
#     all: build/hello.elf build/libmath.so
#     build/hello.elf: build/libmath.so   # a .so prerequisite is also linked
#
#   $(ATARU_OUT)/NAME.elf  <- NAME.c: a function (static PIE, no interpreter,
#                            entry point = the symbol `entry`)
#   $(ATARU_OUT)/NAME.so   <- NAME.c: exec[0] or a library (-shared, soname NAME.so)
# Extra sources: add them as prerequisites (build/f.elf: util.c). Every .c/.S
# prerequisite is compiled in, every .so prerequisite linked (DT_NEEDED by soname).
#
# `ataru build` runs this file's `ataru-build` target with
#     ATARU_BUILD_OUT, ATARU_BUILD_SRCS, ATARU_BUILD_KIND (function|shared),
#     ATARU_BUILD_INCLUDES (dirs), ATARU_BUILD_LINK (.so files).

ataru_saved_goal := $(.DEFAULT_GOAL)
ATARU_SDK  := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
ATARU_ROOT := $(ATARU_SDK)/..
ATARU_OUT  ?= build
ATARU_CC   ?= gcc

# -fno-stack-protector: no TLS (%fs) in the guest. -ffreestanding -nostdlib:
# no libc; libataru.a supplies memcpy & co. Unwind tables are never used.
# -mno-direct-extern-access: a library's (or exec[0]'s) variables are reached
# through the GOT, never copied into the function (COPY relocations would
# give each function a private snapshot that the library never sees).
ATARU_CFLAGS := -std=gnu11 -O2 -Wall -Wextra -ffreestanding -fno-stack-protector \
  -fno-asynchronous-unwind-tables -fno-unwind-tables -fcf-protection=none \
  -mno-direct-extern-access \
  -I$(ATARU_SDK)/include -I$(ATARU_ROOT)/common
# 4 KiB pages and code on its own pages: the loader maps every segment with
# exact permissions (W^X). -z now: no lazy binding (the host binds all).
# DT_HASH (--hash-style=both) sizes the dynamic symbol table for the loader.
ATARU_LDFLAGS := -nostdlib -Wl,-z,max-page-size=4096 -Wl,-z,common-page-size=4096 \
  -Wl,-z,separate-code -Wl,-z,now -Wl,-z,relro -Wl,-z,noexecstack \
  -Wl,--hash-style=both -Wl,--build-id=none
# entry and the optional init hook are the exports the host looks up.
ATARU_FUNCTION_FLAGS := -fPIE -pie -Wl,--no-dynamic-linker -Wl,-e,entry \
  -Wl,--export-dynamic-symbol=entry -Wl,--export-dynamic-symbol=ataru_init
ATARU_SHARED_FLAGS := -fPIC -shared

ATARU_LIBATARU := $(ATARU_SDK)/build/libataru.a

ataru_srcs = $(filter %.c %.S %.o,$^)
ataru_libs = $(filter %.so,$^)
, := ,
# ld finds the libraries of linked libraries in the same folders (as the loader does).
ataru_rpath_link = $(foreach d,$(sort $(dir $(1))),-Wl$(,)-rpath-link$(,)$(d))

$(ATARU_OUT)/%.elf: %.c $(ATARU_LIBATARU)
	@mkdir -p $(@D)
	$(ATARU_CC) $(ATARU_CFLAGS) $(CPPFLAGS) $(ATARU_FUNCTION_FLAGS) $(ATARU_LDFLAGS) \
	  $(call ataru_rpath_link,$(ataru_libs)) -o $@ $(ataru_srcs) $(ataru_libs) $(ATARU_LIBATARU)

$(ATARU_OUT)/%.so: %.c $(ATARU_LIBATARU)
	@mkdir -p $(@D)
	$(ATARU_CC) $(ATARU_CFLAGS) $(CPPFLAGS) $(ATARU_SHARED_FLAGS) $(ATARU_LDFLAGS) \
	  -Wl,-soname,$(@F) $(call ataru_rpath_link,$(ataru_libs)) -o $@ $(ataru_srcs) $(ataru_libs) $(ATARU_LIBATARU)

# libataru.a: -fPIC serves both PIEs and shared objects; hidden visibility
# binds each image's memcpy & co. to its own copy at link time. One object
# per concern, so an image links only what it uses.
ATARU_SDK_OBJS := $(addprefix $(ATARU_SDK)/build/,mem.o format.o log.o)
$(ATARU_SDK_OBJS): $(ATARU_SDK)/build/%.o: $(ATARU_SDK)/%.c $(ATARU_SDK)/include/ataru.h $(ATARU_SDK)/format.h \
  $(ATARU_ROOT)/common/ataru_abi.h
	@mkdir -p $(@D)
	$(ATARU_CC) $(ATARU_CFLAGS) -fPIC -fvisibility=hidden -fno-tree-loop-distribute-patterns \
	  -c -o $@ $<

$(ATARU_LIBATARU): $(ATARU_SDK_OBJS)
	rm -f $@ && ar rcs $@ $^

# The target behind `ataru build` (src/sdk/build.ts).
ATARU_BUILD_KIND ?= function
ataru_build_flags = $(if $(filter shared,$(ATARU_BUILD_KIND)),$(ATARU_SHARED_FLAGS) \
  -Wl$(,)-soname$(,)$(notdir $(ATARU_BUILD_OUT)),$(ATARU_FUNCTION_FLAGS))
.PHONY: ataru-build
ataru-build: $(ATARU_LIBATARU)
	$(ATARU_CC) $(ATARU_CFLAGS) $(addprefix -I,$(ATARU_BUILD_INCLUDES)) $(ataru_build_flags) \
	  $(ATARU_LDFLAGS) $(call ataru_rpath_link,$(ATARU_BUILD_LINK)) -o $(ATARU_BUILD_OUT) $(ATARU_BUILD_SRCS) \
	  $(ATARU_BUILD_LINK) $(ATARU_LIBATARU)

.DELETE_ON_ERROR:
# The includer's first target stays its default goal.
.DEFAULT_GOAL := $(ataru_saved_goal)
