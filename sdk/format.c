/*
 * format.c — the SDK's small printf: ataru_snprintf and ataru_vsnprintf
 * (behind ataru_log). Formats: %d %i %u %x %X %p %s %c %% with the l, ll and
 * z length modifiers, a width, and the '-' and '0' flags.
 */
#include "format.h"
#include "ataru.h"

/* Output cursor: writes at most cap-1 bytes, counts all. */
struct out {
  char *buf;
  size_t cap, len;
};

static void put(struct out *o, char c) {
  if (o->len + 1 < o->cap) o->buf[o->len] = c;
  o->len++;
}

static void put_padded(struct out *o, const char *s, size_t n, int width, int left, char pad) {
  int fill = width > (int)n ? width - (int)n : 0;
  if (!left)
    while (fill-- > 0) put(o, pad);
  for (size_t i = 0; i < n; i++) put(o, s[i]);
  if (left)
    while (fill-- > 0) put(o, ' ');
}

static void put_number(struct out *o, unsigned long long v, int neg, unsigned base, int upper,
                       int width, int left, char pad) {
  const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  char tmp[24];
  int n = 0;
  do {
    tmp[sizeof tmp - 1 - n++] = digits[v % base];
    v /= base;
  } while (v);
  if (neg) {
    if (pad == '0') {
      put(o, '-');
      width--;
    } else {
      tmp[sizeof tmp - 1 - n++] = '-';
    }
  }
  put_padded(o, tmp + sizeof tmp - n, (size_t)n, width, left, pad);
}

static int format(struct out *o, const char *fmt, va_list ap) {
  for (; *fmt; fmt++) {
    if (*fmt != '%') {
      put(o, *fmt);
      continue;
    }
    fmt++;
    int left = 0, width = 0, lng = 0;
    char pad = ' ';
    for (;; fmt++) {
      if (*fmt == '-') left = 1;
      else if (*fmt == '0') pad = '0';
      else break;
    }
    while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
    if (left) pad = ' ';
    while (*fmt == 'l' || *fmt == 'z') {
      lng++;
      fmt++;
    }
    switch (*fmt) {
    case 'd':
    case 'i': {
      long long v = lng ? va_arg(ap, long long) : va_arg(ap, int);
      unsigned long long mag = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
      put_number(o, mag, v < 0, 10, 0, width, left, pad);
      break;
    }
    case 'u':
    case 'x':
    case 'X': {
      unsigned long long v = lng ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned);
      put_number(o, v, 0, *fmt == 'u' ? 10 : 16, *fmt == 'X', width, left, pad);
      break;
    }
    case 'p':
      put(o, '0');
      put(o, 'x');
      put_number(o, (unsigned long long)(uintptr_t)va_arg(ap, void *), 0, 16, 0, 0, 0, ' ');
      break;
    case 's': {
      const char *s = va_arg(ap, const char *);
      if (!s) s = "(null)";
      put_padded(o, s, strlen(s), width, left, ' ');
      break;
    }
    case 'c': {
      char c = (char)va_arg(ap, int);
      put_padded(o, &c, 1, width, left, ' ');
      break;
    }
    case '%':
      put(o, '%');
      break;
    case '\0':
      fmt--; /* a lone '%' at the end */
      break;
    default:
      put(o, '%');
      put(o, *fmt);
    }
  }
  if (o->cap) o->buf[o->len < o->cap ? o->len : o->cap - 1] = '\0';
  return (int)o->len;
}

int ataru_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) {
  struct out o = {buf, size, 0};
  return format(&o, fmt, ap);
}

int ataru_snprintf(char *buf, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = ataru_vsnprintf(buf, size, fmt, ap);
  va_end(ap);
  return n;
}
