#!/bin/sh
# Build dapp/wasm/scatter.wasm: zfec's own fec.c (zfec 1.6.0.0, unmodified) + glue.c (SIMD) + the possession
# tree of format 2 in merkle_simd.c (20-byte keccak nodes, two keccaks per permutation in wasm SIMD)
# + sha256.c (streaming SHA-256), with Debian's clang and lld, no libc (shims in libc/).
# Reproducible: the same clang gives the same bytes (tests/dapp/test_formats_ts.py checks the committed
# one). Run from anywhere: `make dapp-wasm`; SCATTER_WASM_OUT=path writes elsewhere.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
merkle="$here/merkle_simd.c"
${CLANG:-clang} --target=wasm32 -msimd128 -nostdlib -fno-builtin -O3 -I"$here/libc" \
  -Wl,--no-entry -Wl,--export-dynamic -Wl,--strip-all -Wl,-z,stack-size=262144 \
  -o "${SCATTER_WASM_OUT:-$here/scatter.wasm}" "$here/glue.c" "$here/zfec/fec.c" "$merkle" "$here/sha256.c"
