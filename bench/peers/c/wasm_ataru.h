/*
 * wasm_ataru.h — force-included (-include) when the functions are compiled
 * for wasm32: sdk/include/ataru.h defines ataru_rdtsc() with x86 inline asm,
 * which clang rejects for wasm32 even unused. The asm statement is
 * preprocessed away while the real header is read (ataru_rdtsc then returns
 * garbage on wasm; no workload calls it), so the SDK stays the one source
 * of the functions' declarations and constants.
 */
#define __asm__
#define volatile(...) (void)0
#include <ataru.h>
#undef volatile
#undef __asm__
