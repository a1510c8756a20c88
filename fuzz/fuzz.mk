# fuzz/fuzz.mk - builds postern's fuzz targets out of tree (fuzz/run and
# tests/t-fuzz-regress.sh call it; the tree's own objects are untouched).
#   make -f fuzz/fuzz.mk MODE=fuzz   OUT=fuzz/out        libFuzzer (clang)
#   make -f fuzz/fuzz.mk MODE=replay OUT=DIR CC=cc       standalone main
#                                    that replays files (any compiler)
# SAN: sanitizer flags (default ASan + UBSan, every report fatal).
# Targets are $(OUT)/$(MODE)/bin/NAME for every fuzz/NAME_fuzz.c; the
# session targets also link a handler's own sources (its main() renamed,
# unused: they call the session functions in process) and see its
# header.
MODE   ?= fuzz
OUT    ?= fuzz/out
SAN    ?= -fsanitize=address,undefined -fno-sanitize-recover=all \
          -fno-omit-frame-pointer
O       = $(OUT)/$(MODE)
ifeq ($(MODE),fuzz)
CC      = clang
MODEFLAGS = -fsanitize=fuzzer-no-link
LINKMODE  = -fsanitize=fuzzer
MAIN_OBJ  =
else
MODEFLAGS =
LINKMODE  =
MAIN_OBJ  = $(O)/fuzz/standalone.o
endif
LIB_DIRS = $(patsubst %/,%,$(sort $(dir $(wildcard lib/*/*.c lib/*/*.h))))
CPPFLAGS = -D_GNU_SOURCE -DPOSTERN_VERSION='"fuzz"' \
           $(addprefix -I ,$(LIB_DIRS)) -I fuzz
XCFLAGS  = -std=c11 -g -O1 -Wall -Wextra -Wno-unused-parameter -MMD -MP \
           $(MODEFLAGS) $(SAN)
LIBS     = -lbearssl -lcdb -lcrypt

LIB_SRC  = $(filter-out %_test.c,$(wildcard lib/*/*.c))
LIB_OBJ  = $(patsubst lib/%.c,$(O)/lib/%.o,$(LIB_SRC))
POP3_OBJ = $(patsubst pop3-handler/%.c,$(O)/pop3/%.o,\
           $(filter-out %_test.c,$(wildcard pop3-handler/*.c)))
SMTP_OBJ = $(patsubst smtp-handler/%.c,$(O)/smtp/%.o,\
           $(filter-out %_test.c,$(wildcard smtp-handler/*.c)))
NAMES    = $(patsubst fuzz/%_fuzz.c,%,$(wildcard fuzz/*_fuzz.c))
BINS     = $(addprefix $(O)/bin/,$(NAMES))
COMMON   = $(O)/fuzz/fuzz_util.o $(MAIN_OBJ)

all: $(BINS)

$(O)/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(XCFLAGS) -c -o $@ $<
$(O)/pop3/%.o: pop3-handler/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Dmain=pop3_handler_main $(XCFLAGS) -c -o $@ $<
$(O)/smtp/%.o: smtp-handler/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Dmain=smtp_handler_main $(XCFLAGS) -c -o $@ $<
$(O)/fuzz/%.o: fuzz/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(XCFLAGS) -c -o $@ $<

$(O)/fuzz/pop3_session_fuzz.o: CPPFLAGS += -I pop3-handler
$(O)/fuzz/smtp_session_fuzz.o: CPPFLAGS += -I smtp-handler

$(O)/libpostern.a: $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(O)/bin/pop3_session: $(O)/fuzz/pop3_session_fuzz.o $(O)/fuzz/session.o \
    $(POP3_OBJ) $(COMMON) $(O)/libpostern.a
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(LINKMODE) -o $@ $^ $(LIBS) -ldl
$(O)/bin/smtp_session: $(O)/fuzz/smtp_session_fuzz.o $(O)/fuzz/session.o \
    $(SMTP_OBJ) $(COMMON) $(O)/libpostern.a
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(LINKMODE) -o $@ $^ $(LIBS) -ldl
$(O)/bin/%: $(O)/fuzz/%_fuzz.o $(COMMON) $(O)/libpostern.a
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(LINKMODE) -o $@ $^ $(LIBS)

.PHONY: all
.SECONDARY:
-include $(wildcard $(O)/*/*.d $(O)/lib/*/*.d)
