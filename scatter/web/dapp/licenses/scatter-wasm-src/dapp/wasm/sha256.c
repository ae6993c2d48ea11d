/* Streaming SHA-256 (FIPS 180-4) for the dapp's scatter.wasm: the plaintext digest of a file,
 * which WebCrypto cannot compute incrementally. About twice as fast as the JavaScript one
 * (python -m scatter.bench.dapp). No libc; the caller owns the memory:
 *   sha256_init(ctx)                 ctx: SHA256_CTX_SIZE (112) bytes, 8-aligned (sc_alloc)
 *   sha256_update(ctx, in, len)
 *   sha256_final(ctx, out)           out: 32 bytes; ctx must be initialised again to reuse it
 */
typedef unsigned int u32;
typedef unsigned long long u64;
typedef unsigned char u8;

typedef struct {
    u32 h[8];
    u64 length; /* bytes hashed so far */
    u32 fill;   /* bytes in buf */
    u32 pad;
    u8 buf[64];
} ctx_t;

_Static_assert(sizeof(ctx_t) == 112, "the TypeScript side allocates 112 bytes");

static const u32 K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static u32 load_be32(const u8 *p) {
    return ((u32)p[0] << 24) | ((u32)p[1] << 16) | ((u32)p[2] << 8) | (u32)p[3];
}

static void store_be32(u8 *p, u32 v) {
    p[0] = (u8)(v >> 24);
    p[1] = (u8)(v >> 16);
    p[2] = (u8)(v >> 8);
    p[3] = (u8)v;
}

/* One round: the working variables rotate by name, not by moves (R is called with them shifted). */
#define S0(x) (ROR(x, 2) ^ ROR(x, 13) ^ ROR(x, 22))
#define S1(x) (ROR(x, 6) ^ ROR(x, 11) ^ ROR(x, 25))
#define G0(x) (ROR(x, 7) ^ ROR(x, 18) ^ ((x) >> 3))
#define G1(x) (ROR(x, 17) ^ ROR(x, 19) ^ ((x) >> 10))
#define R(a, b, c, d, e, f, g, h, i, wi)                                   \
    do {                                                                   \
        u32 t1 = h + S1(e) + ((e & f) ^ (~e & g)) + K[i] + (wi);           \
        d += t1;                                                           \
        h = t1 + S0(a) + ((a & b) ^ (a & c) ^ (b & c));                    \
    } while (0)
#define W(i) (w[(i) & 15] += G1(w[((i) - 2) & 15]) + w[((i) - 7) & 15] + G0(w[((i) - 15) & 15]))
#define EIGHT(i, X)                                                        \
    R(a, b, c, d, e, f, g, h, (i) + 0, X((i) + 0));                        \
    R(h, a, b, c, d, e, f, g, (i) + 1, X((i) + 1));                        \
    R(g, h, a, b, c, d, e, f, (i) + 2, X((i) + 2));                        \
    R(f, g, h, a, b, c, d, e, (i) + 3, X((i) + 3));                        \
    R(e, f, g, h, a, b, c, d, (i) + 4, X((i) + 4));                        \
    R(d, e, f, g, h, a, b, c, (i) + 5, X((i) + 5));                        \
    R(c, d, e, f, g, h, a, b, (i) + 6, X((i) + 6));                        \
    R(b, c, d, e, f, g, h, a, (i) + 7, X((i) + 7))
#define FIRST(i) (w[i] = load_be32(in + 4 * (i)))

/* Compress `blocks` 64-byte blocks at `in` into hs (fully unrolled; the schedule in 16 words). */
static void compress(u32 *hs, const u8 *in, u32 blocks) {
    u32 w[16];
    while (blocks--) {
        u32 a = hs[0], b = hs[1], c = hs[2], d = hs[3], e = hs[4], f = hs[5], g = hs[6], h = hs[7];
        EIGHT(0, FIRST);
        EIGHT(8, FIRST);
        EIGHT(16, W);
        EIGHT(24, W);
        EIGHT(32, W);
        EIGHT(40, W);
        EIGHT(48, W);
        EIGHT(56, W);
        hs[0] += a; hs[1] += b; hs[2] += c; hs[3] += d;
        hs[4] += e; hs[5] += f; hs[6] += g; hs[7] += h;
        in += 64;
    }
}

__attribute__((export_name("sha256_init"))) void sha256_init(ctx_t *ctx) {
    static const u32 H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                              0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    for (int i = 0; i < 8; i++) ctx->h[i] = H0[i];
    ctx->length = 0;
    ctx->fill = 0;
}

__attribute__((export_name("sha256_update"))) void sha256_update(ctx_t *ctx, const u8 *in, u32 len) {
    ctx->length += len;
    if (ctx->fill > 0) {
        while (len > 0 && ctx->fill < 64) {
            ctx->buf[ctx->fill++] = *in++;
            len--;
        }
        if (ctx->fill < 64) return;
        compress(ctx->h, ctx->buf, 1);
        ctx->fill = 0;
    }
    compress(ctx->h, in, len / 64);
    in += len & ~63u;
    for (u32 i = 0; i < (len & 63u); i++) ctx->buf[i] = in[i];
    ctx->fill = len & 63u;
}

__attribute__((export_name("sha256_final"))) void sha256_final(ctx_t *ctx, u8 *out) {
    u64 bits = ctx->length * 8;
    u32 fill = ctx->fill;
    ctx->buf[fill++] = 0x80;
    if (fill > 56) {
        while (fill < 64) ctx->buf[fill++] = 0;
        compress(ctx->h, ctx->buf, 1);
        fill = 0;
    }
    while (fill < 56) ctx->buf[fill++] = 0;
    for (int i = 0; i < 8; i++) ctx->buf[56 + i] = (u8)(bits >> (56 - 8 * i));
    compress(ctx->h, ctx->buf, 1);
    for (int i = 0; i < 8; i++) store_be32(out + 4 * i, ctx->h[i]);
}
