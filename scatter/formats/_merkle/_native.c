/* Possession tree (format version 2, docs/trust.md) hashing, native: a CPython extension.
 *
 * The same tree as merkle.c (the portable WebAssembly build), but many nodes of one
 * level are hashed at once, one keccak-f1600 per SIMD lane: 8 at a time with AVX-512
 * (vprolq rotations, vpternlogq for chi and theta), 4 with AVX2, else one by one. The
 * instruction set is chosen at run time (__builtin_cpu_supports), so one build runs on
 * any x86-64; other machines get the portable scalar code. Every call releases the GIL.
 *
 * H(x) = keccak256(x)[0:20]; leaf = H(128-byte segment, 16 words); node = H(left || right)
 * (40 bytes, 5 words). An output is 2.5 words: words 0 and 1, then the low half of word 2.
 * Built by setup.py (an optional extension: without a compiler the wasm path is used).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MERKLE_X86 1
#include <immintrin.h>
#endif

typedef uint64_t u64;
typedef uint8_t u8;

#define SEGMENT 128
#define NODE 20
#define RATE_WORDS 17 /* 136-byte rate of keccak256 */

#include "keccak_rc.h"

/* keccak-f1600 over 25 lanes of type V, written once for every lane width. The ops:
 * X5 (five-way xor), XOR, ROL (by a constant), CHI(a, b, c) = a ^ (~b & c), RCV(r). */
#define KECCAK_F(s, V, X5, XOR, ROL, CHI, RCV)                                                  \
    do {                                                                                        \
        V a00 = s[0], a01 = s[1], a02 = s[2], a03 = s[3], a04 = s[4];                           \
        V a05 = s[5], a06 = s[6], a07 = s[7], a08 = s[8], a09 = s[9];                           \
        V a10 = s[10], a11 = s[11], a12 = s[12], a13 = s[13], a14 = s[14];                      \
        V a15 = s[15], a16 = s[16], a17 = s[17], a18 = s[18], a19 = s[19];                      \
        V a20 = s[20], a21 = s[21], a22 = s[22], a23 = s[23], a24 = s[24];                      \
        for (int r = 0; r < 24; r++) {                                                          \
            V c0 = X5(a00, a05, a10, a15, a20), c1 = X5(a01, a06, a11, a16, a21);               \
            V c2 = X5(a02, a07, a12, a17, a22), c3 = X5(a03, a08, a13, a18, a23);               \
            V c4 = X5(a04, a09, a14, a19, a24);                                                 \
            V d0 = XOR(c4, ROL(c1, 1)), d1 = XOR(c0, ROL(c2, 1)), d2 = XOR(c1, ROL(c3, 1));     \
            V d3 = XOR(c2, ROL(c4, 1)), d4 = XOR(c3, ROL(c0, 1));                               \
            V b00 = XOR(a00, d0), b01 = ROL(XOR(a06, d1), 44), b02 = ROL(XOR(a12, d2), 43);     \
            V b03 = ROL(XOR(a18, d3), 21), b04 = ROL(XOR(a24, d4), 14);                         \
            V b05 = ROL(XOR(a03, d3), 28), b06 = ROL(XOR(a09, d4), 20), b07 = ROL(XOR(a10, d0), 3); \
            V b08 = ROL(XOR(a16, d1), 45), b09 = ROL(XOR(a22, d2), 61);                         \
            V b10 = ROL(XOR(a01, d1), 1), b11 = ROL(XOR(a07, d2), 6), b12 = ROL(XOR(a13, d3), 25); \
            V b13 = ROL(XOR(a19, d4), 8), b14 = ROL(XOR(a20, d0), 18);                          \
            V b15 = ROL(XOR(a04, d4), 27), b16 = ROL(XOR(a05, d0), 36), b17 = ROL(XOR(a11, d1), 10); \
            V b18 = ROL(XOR(a17, d2), 15), b19 = ROL(XOR(a23, d3), 56);                         \
            V b20 = ROL(XOR(a02, d2), 62), b21 = ROL(XOR(a08, d3), 55), b22 = ROL(XOR(a14, d4), 39); \
            V b23 = ROL(XOR(a15, d0), 41), b24 = ROL(XOR(a21, d1), 2);                          \
            a00 = XOR(CHI(b00, b01, b02), RCV(r));                                              \
            a01 = CHI(b01, b02, b03), a02 = CHI(b02, b03, b04);                                 \
            a03 = CHI(b03, b04, b00), a04 = CHI(b04, b00, b01);                                 \
            a05 = CHI(b05, b06, b07), a06 = CHI(b06, b07, b08), a07 = CHI(b07, b08, b09);       \
            a08 = CHI(b08, b09, b05), a09 = CHI(b09, b05, b06);                                 \
            a10 = CHI(b10, b11, b12), a11 = CHI(b11, b12, b13), a12 = CHI(b12, b13, b14);       \
            a13 = CHI(b13, b14, b10), a14 = CHI(b14, b10, b11);                                 \
            a15 = CHI(b15, b16, b17), a16 = CHI(b16, b17, b18), a17 = CHI(b17, b18, b19);       \
            a18 = CHI(b18, b19, b15), a19 = CHI(b19, b15, b16);                                 \
            a20 = CHI(b20, b21, b22), a21 = CHI(b21, b22, b23), a22 = CHI(b22, b23, b24);       \
            a23 = CHI(b23, b24, b20), a24 = CHI(b24, b20, b21);                                 \
        }                                                                                       \
        s[0] = a00, s[1] = a01, s[2] = a02, s[3] = a03, s[4] = a04;                             \
        s[5] = a05, s[6] = a06, s[7] = a07, s[8] = a08, s[9] = a09;                             \
        s[10] = a10, s[11] = a11, s[12] = a12, s[13] = a13, s[14] = a14;                        \
        s[15] = a15, s[16] = a16, s[17] = a17, s[18] = a18, s[19] = a19;                        \
        s[20] = a20, s[21] = a21, s[22] = a22, s[23] = a23, s[24] = a24;                        \
    } while (0)

/* Writes the first NODE (20) bytes of a digest whose words 0-2 are w0..w2 (little-endian). */
static inline void store_node(u8 *out, u64 w0, u64 w1, u64 w2) {
    uint32_t half = (uint32_t)w2;
    memcpy(out, &w0, 8);
    memcpy(out + 8, &w1, 8);
    memcpy(out + 16, &half, 4);
}

/* One message of `words` 64-bit words (< RATE_WORDS) in each of W lanes: gather each word
 * into its lane, pad, permute, store the first 20 bytes. Messages are `stride` bytes apart,
 * outputs NODE bytes apart; all inputs are read before any output is written. */
#define HASH_BATCH(W, V, LOAD, STORE, ZERO, PERMUTE)                                            \
    do {                                                                                        \
        u64 t[RATE_WORDS][W] __attribute__((aligned(64)));                                      \
        V s[25];                                                                                \
        for (int w = words; w < RATE_WORDS; w++)                                                \
            for (int j = 0; j < W; j++) t[w][j] = 0;                                            \
        for (int j = 0; j < W; j++) {                                                           \
            const u8 *m = in + (size_t)stride * j;                                              \
            for (int w = 0; w < words; w++) memcpy(&t[w][j], m + 8 * w, 8);                     \
            t[words][j] ^= 0x01ULL;                                                             \
            t[RATE_WORDS - 1][j] ^= 0x8000000000000000ULL;                                      \
        }                                                                                       \
        for (int w = 0; w < RATE_WORDS; w++) s[w] = LOAD(t[w]);                                 \
        for (int w = RATE_WORDS; w < 25; w++) s[w] = ZERO;                                      \
        PERMUTE(s);                                                                             \
        for (int w = 0; w < 3; w++) STORE(t[w], s[w]);                                          \
        for (int j = 0; j < W; j++) store_node(out + (size_t)NODE * j, t[0][j], t[1][j], t[2][j]); \
    } while (0)

/* ---------------------------------------------------------------- scalar (any machine) */

#define S_X5(a, b, c, d, e) ((a) ^ (b) ^ (c) ^ (d) ^ (e))
#define S_XOR(a, b) ((a) ^ (b))
#define S_ROL(x, n) (((x) << (n)) | ((x) >> (64 - (n))))
#define S_CHI(a, b, c) ((a) ^ (~(b) & (c)))
#define S_RC(r) (RC[r])
#define S_LOAD(p) ((p)[0])
#define S_STORE(p, v) ((p)[0] = (v))

static void permute1(u64 *s) { KECCAK_F(s, u64, S_X5, S_XOR, S_ROL, S_CHI, S_RC); }

static void hash1(const u8 *in, size_t stride, int words, u8 *out) {
    HASH_BATCH(1, u64, S_LOAD, S_STORE, 0, permute1);
}

/* ---------------------------------------------------------------- AVX2: 4 lanes */
#ifdef MERKLE_X86
#define A2_XOR(a, b) _mm256_xor_si256((a), (b))
#define A2_X5(a, b, c, d, e) A2_XOR(A2_XOR(A2_XOR((a), (b)), A2_XOR((c), (d))), (e))
#define A2_ROL(x, n) _mm256_or_si256(_mm256_slli_epi64((x), (n)), _mm256_srli_epi64((x), 64 - (n)))
#define A2_CHI(a, b, c) _mm256_xor_si256((a), _mm256_andnot_si256((b), (c)))
#define A2_RC(r) _mm256_set1_epi64x((long long)RC[r])
#define A2_LOAD(p) _mm256_load_si256((const __m256i *)(p))
#define A2_STORE(p, v) _mm256_store_si256((__m256i *)(p), (v))

__attribute__((target("avx2"))) static void permute4(__m256i *s) {
    KECCAK_F(s, __m256i, A2_X5, A2_XOR, A2_ROL, A2_CHI, A2_RC);
}

__attribute__((target("avx2"))) static void hash4(const u8 *in, size_t stride, int words, u8 *out) {
    HASH_BATCH(4, __m256i, A2_LOAD, A2_STORE, _mm256_setzero_si256(), permute4);
}

/* ---------------------------------------------------------------- AVX-512: 8 lanes */
#define A5_XOR(a, b) _mm512_xor_si512((a), (b))
#define A5_X5(a, b, c, d, e) \
    _mm512_ternarylogic_epi64(_mm512_ternarylogic_epi64((a), (b), (c), 0x96), (d), (e), 0x96)
#define A5_ROL(x, n) _mm512_rol_epi64((x), (n))
#define A5_CHI(a, b, c) _mm512_ternarylogic_epi64((a), (b), (c), 0xD2)
#define A5_RC(r) _mm512_set1_epi64((long long)RC[r])

__attribute__((target("avx512f"))) static void permute8(__m512i *s) {
    KECCAK_F(s, __m512i, A5_X5, A5_XOR, A5_ROL, A5_CHI, A5_RC);
}

/* Rows r[0..7] (8 words of each of 8 messages) to columns c[0..7] (word w of each message). */
__attribute__((target("avx512f"))) static inline void transpose8(const __m512i *r, __m512i *c) {
    const __m512i lo = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0);
    const __m512i hi = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
    __m512i t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm512_unpacklo_epi64(r[i], r[i + 1]);     /* words 0 2 4 6 of rows i, i+1 */
        t[i + 1] = _mm512_unpackhi_epi64(r[i], r[i + 1]); /* words 1 3 5 7 */
    }
    for (int i = 0; i < 8; i += 4) {
        for (int k = 0; k < 2; k++) {
            u[i + k] = _mm512_permutex2var_epi64(t[i + k], lo, t[i + k + 2]);     /* words 0 4 | 1 5 */
            u[i + k + 2] = _mm512_permutex2var_epi64(t[i + k], hi, t[i + k + 2]); /* words 2 6 | 3 7 */
        }
    }
    /* u[0..3]: rows 0-3, words (0,4) (1,5) (2,6) (3,7); u[4..7]: the same for rows 4-7. */
    for (int w = 0; w < 4; w++) {
        c[w] = _mm512_shuffle_i64x2(u[w], u[w + 4], 0x44);
        c[w + 4] = _mm512_shuffle_i64x2(u[w], u[w + 4], 0xEE);
    }
}

/* As HASH_BATCH, but the words go into lanes by an in-register transpose (masked loads,
 * so a message is never read past its end). */
__attribute__((target("avx512f"))) static void hash8(const u8 *in, size_t stride, int words, u8 *out) {
    __m512i s[25], r[8];
    u64 t[3][8] __attribute__((aligned(64)));
    for (int w = 0; w < 25; w++) s[w] = _mm512_setzero_si512();
    for (int half = 0; 8 * half < words; half++) {
        int have = words - 8 * half;
        __mmask8 mask = have >= 8 ? 0xFF : (__mmask8)((1u << have) - 1);
        for (int j = 0; j < 8; j++) r[j] = _mm512_maskz_loadu_epi64(mask, in + stride * j + 64 * half);
        transpose8(r, s + 8 * half);
    }
    s[words] = _mm512_xor_si512(s[words], _mm512_set1_epi64(0x01));
    s[RATE_WORDS - 1] = _mm512_xor_si512(s[RATE_WORDS - 1], _mm512_set1_epi64((long long)0x8000000000000000ULL));
    permute8(s);
    for (int w = 0; w < 3; w++) _mm512_store_si512((void *)t[w], s[w]);
    for (int j = 0; j < 8; j++) store_node(out + (size_t)NODE * j, t[0][j], t[1][j], t[2][j]);
}
#endif

/* ---------------------------------------------------------------- levels */

static int lanes = 1; /* 8, 4 or 1: set once at import */

/* n messages of `words` words, `stride` bytes apart -> n nodes at out. out may equal in
 * (a batch reads all its inputs before it writes, and writes no further than it read). */
static void hash_many(const u8 *in, size_t stride, int words, size_t n, u8 *out) {
    size_t i = 0;
#ifdef MERKLE_X86
    if (lanes == 8)
        for (; i + 8 <= n; i += 8) hash8(in + stride * i, stride, words, out + NODE * i);
    if (lanes >= 4)
        for (; i + 4 <= n; i += 4) hash4(in + stride * i, stride, words, out + NODE * i);
#endif
    for (; i < n; i++) hash1(in + stride * i, stride, words, out + NODE * i);
}

static void leaves(const u8 *in, size_t n, u8 *out) { hash_many(in, SEGMENT, SEGMENT / 8, n, out); }

static void parents(const u8 *in, size_t n, u8 *out) { hash_many(in, 2 * NODE, 2 * NODE / 8, n, out); }

/* The nodes of `count` consecutive subtrees of 2^height segments each; scratch holds
 * NODE * 2^height bytes. Each subtree's leaves are hashed then folded level by level
 * while they are still in cache. */
static void subtrees(const u8 *in, size_t count, int height, u8 *scratch, u8 *out) {
    size_t n0 = (size_t)1 << height;
    for (size_t c = 0; c < count; c++) {
        size_t n = n0;
        leaves(in + (size_t)SEGMENT * n0 * c, n, scratch);
        while (n > 1) {
            n >>= 1;
            parents(scratch, n, scratch);
        }
        memcpy(out + NODE * c, scratch, NODE);
    }
}

/* ---------------------------------------------------------------- Python */

static PyObject *py_leaves(PyObject *self, PyObject *args) {
    Py_buffer in;
    if (!PyArg_ParseTuple(args, "y*:leaves", &in)) return NULL;
    if (in.len % SEGMENT) {
        PyBuffer_Release(&in);
        return PyErr_Format(PyExc_ValueError, "leaves takes whole 128-byte segments, not %zd bytes", in.len);
    }
    size_t n = (size_t)in.len / SEGMENT;
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(NODE * n));
    if (out != NULL) {
        u8 *dst = (u8 *)PyBytes_AS_STRING(out);
        Py_BEGIN_ALLOW_THREADS leaves(in.buf, n, dst);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&in);
    return out;
}

static PyObject *py_parents(PyObject *self, PyObject *args) {
    Py_buffer in;
    if (!PyArg_ParseTuple(args, "y*:parents", &in)) return NULL;
    if (in.len % (2 * NODE)) {
        PyBuffer_Release(&in);
        return PyErr_Format(PyExc_ValueError, "parents takes pairs of 20-byte nodes, not %zd bytes", in.len);
    }
    size_t n = (size_t)in.len / (2 * NODE);
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(NODE * n));
    if (out != NULL) {
        u8 *dst = (u8 *)PyBytes_AS_STRING(out);
        Py_BEGIN_ALLOW_THREADS parents(in.buf, n, dst);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&in);
    return out;
}

static PyObject *py_subtrees(PyObject *self, PyObject *args) {
    Py_buffer in;
    int height;
    if (!PyArg_ParseTuple(args, "y*i:subtrees", &in, &height)) return NULL;
    size_t chunk = (size_t)SEGMENT << (height < 0 ? 0 : height);
    if (height < 0 || height > 30 || in.len % chunk) {
        PyBuffer_Release(&in);
        return PyErr_Format(PyExc_ValueError, "subtrees takes whole subtrees of 128 * 2**height bytes "
                                              "(height 0..30), not %zd bytes at height %d", in.len, height);
    }
    size_t count = (size_t)in.len / chunk;
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(NODE * count));
    u8 *scratch = out != NULL ? PyMem_RawMalloc(NODE * ((size_t)1 << height)) : NULL;
    if (out != NULL && scratch == NULL) {
        Py_CLEAR(out);
        PyErr_NoMemory();
    }
    if (out != NULL) {
        u8 *dst = (u8 *)PyBytes_AS_STRING(out);
        Py_BEGIN_ALLOW_THREADS subtrees(in.buf, count, height, scratch, dst);
        Py_END_ALLOW_THREADS
    }
    PyMem_RawFree(scratch);
    PyBuffer_Release(&in);
    return out;
}

static PyObject *py_lanes(PyObject *self, PyObject *args) { return PyLong_FromLong(lanes); }

static PyObject *py_set_lanes(PyObject *self, PyObject *args) {
    int want;
    if (!PyArg_ParseTuple(args, "i:set_lanes", &want)) return NULL;
    if (want != 1 && want != 4 && want != 8) return PyErr_Format(PyExc_ValueError, "lanes are 1, 4 or 8");
#ifdef MERKLE_X86
    if ((want == 8 && !__builtin_cpu_supports("avx512f")) || (want == 4 && !__builtin_cpu_supports("avx2")))
#else
    if (want != 1)
#endif
        return PyErr_Format(PyExc_ValueError, "this CPU cannot hash %d lanes at once", want);
    lanes = want;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"leaves", py_leaves, METH_VARARGS, "leaves(segments) -> H(segment) for each 128-byte segment"},
    {"parents", py_parents, METH_VARARGS, "parents(nodes) -> H(left || right) for each pair of nodes"},
    {"subtrees", py_subtrees, METH_VARARGS, "subtrees(data, height) -> the node of each 2**height segments"},
    {"lanes", py_lanes, METH_NOARGS, "lanes() -> keccak permutations run side by side (8, 4 or 1)"},
    {"set_lanes", py_set_lanes, METH_VARARGS, "set_lanes(n): use n lanes (tests compare them)"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native",
                                    "Possession-tree hashing, native and SIMD (see _native.c).", -1, methods};

PyMODINIT_FUNC PyInit__native(void) {
#ifdef MERKLE_X86
    __builtin_cpu_init();
    lanes = __builtin_cpu_supports("avx512f") ? 8 : __builtin_cpu_supports("avx2") ? 4 : 1;
#endif
    return PyModule_Create(&module);
}
