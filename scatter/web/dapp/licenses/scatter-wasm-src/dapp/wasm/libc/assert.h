/* Freestanding shim: a failed assertion traps (the JS caller sees a RuntimeError). */
#define assert(x) ((x) ? (void)0 : __builtin_trap())
