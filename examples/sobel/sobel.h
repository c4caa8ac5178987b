/*
 * sobel.h — what the four nodes of the sobel app agree on: a 128×128 8-bit
 * grayscale image (row-major, 16,384 bytes = msg_len) and the int16
 * (little-endian) gradient planes. The offsets live in sobel.tmpl.
 */
#ifndef SOBEL_APP_H
#define SOBEL_APP_H

#include <stdint.h>
#include "ataru.h"
#include "shared/imageops.h"

#define SOBEL_W 128
#define SOBEL_H 128
#define SOBEL_PIXELS (SOBEL_W * SOBEL_H)
#define SOBEL_GRAD_BYTES (SOBEL_PIXELS * (uint64_t)sizeof(int16_t))

#endif
