/*
 * format.h — shared by format.c and log.c inside libataru.a (hidden symbols:
 * not part of the function API in include/ataru.h).
 */
#ifndef ATARU_SDK_FORMAT_H
#define ATARU_SDK_FORMAT_H

#include <stdarg.h>
#include <stddef.h>

/* vsnprintf: writes at most size-1 bytes and a NUL, returns the full length. */
int ataru_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

#endif
