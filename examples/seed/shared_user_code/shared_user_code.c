/* The seed's exec[0] (shared_user_code): the sobel example's image helpers. */
#include "../../sobel/shared/imageops.c"
