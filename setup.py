"""The one thing pyproject.toml cannot say: the optional native possession-tree hasher.

``scatter/formats/_merkle/_native.c`` (keccak-f1600, 8 lanes at once with AVX-512, 4 with
AVX2) is built by ``pip install`` when a C compiler is there. It is optional: without a
compiler the install still succeeds and the tree is hashed by the committed
``merkle.wasm`` instead (same roots, ~7x slower; docs/formats.md, "Possession roots").
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "scatter.formats._merkle._native",
            ["scatter/formats/_merkle/_native.c"],
            depends=["scatter/formats/_merkle/keccak_rc.h"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
