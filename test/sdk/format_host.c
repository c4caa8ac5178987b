/*
 * format_host.c — runs the SDK's ataru_snprintf on the host against the C
 * library's snprintf as the oracle (test/sdk/format.test.ts builds it with
 * sdk/libataru.c, whose mem* functions are renamed so libc's stay in use).
 * Prints one line per mismatch and "checked N" at the end.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int ataru_snprintf(char *buf, size_t size, const char *fmt, ...);

static int checked, bad;

#define CHECK(size, ...)                                                        \
  do {                                                                          \
    char a[64], b[64];                                                          \
    memset(a, 'x', sizeof a), memset(b, 'x', sizeof b);                         \
    int ra = ataru_snprintf(a, size, __VA_ARGS__);                              \
    int rb = snprintf(b, size, __VA_ARGS__);                                    \
    checked++;                                                                  \
    if (ra != rb || memcmp(a, b, sizeof a) != 0) {                              \
      bad++;                                                                    \
      printf("mismatch for %s (size %d): got %d \"%.*s\", want %d \"%.*s\"\n", \
             #__VA_ARGS__, (int)(size), ra, (int)(size), a, rb, (int)(size), b);\
    }                                                                           \
  } while (0)

int main(void) {
  CHECK(64, "plain text");
  CHECK(64, "%d %i %d", 0, -42, 2147483647);
  CHECK(64, "%d", (int)-2147483647 - 1);
  CHECK(64, "%u %x %X", 4000000000u, 0xbeefu, 0xbeefu);
  CHECK(64, "%lld %llu", -9223372036854775807ll - 1, 18446744073709551615ull);
  CHECK(64, "%ld %lx %zu %zx", -5l, 0xfffffffffl, (size_t)12345, (size_t)255);
  CHECK(64, "%5d|%-5d|%05d|%-05d|", 42, 42, 42, 42);
  CHECK(64, "%05d|%6d|%08x", -42, -42, 0xabcu);
  CHECK(64, "%s|%8s|%-8s|%c|%3c", "hi", "hi", "hi", 'z', 'q');
  CHECK(64, "%p", (void *)0x1234);
  CHECK(64, "100%%");
  CHECK(8, "truncated %s", "output here");
  CHECK(1, "%d", 12345);
  CHECK(5, "%08x", 0xdeadbeefu);
  printf("checked %d bad %d\n", checked, bad);
  return bad != 0;
}
