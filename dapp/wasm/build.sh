#!/bin/sh
# Build dapp/wasm/scatter.wasm: zfec's own fec.c (zfec 1.6.0.0, unmodified) + glue.c (SIMD) + the possession
# tree's merkle.c (scatter/formats/_merkle), with Debian's clang and lld, no libc (shims in libc/).
# Reproducible: the same clang gives the same bytes. Run from anywhere: `make dapp-wasm`.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
merkle="$here/../../scatter/formats/_merkle/merkle.c"
${CLANG:-clang} --target=wasm32 -msimd128 -nostdlib -fno-builtin -O3 -I"$here/libc" \
  -Wl,--no-entry -Wl,--export-dynamic -Wl,--strip-all -Wl,-z,stack-size=262144 \
  -o "$here/scatter.wasm" "$here/glue.c" "$here/zfec/fec.c" "$merkle"
