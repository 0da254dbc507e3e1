"""Build the Cython extensions of the core; everything else lives in pyproject.toml.

Every ``.pyx`` under ``src/tsys`` becomes an extension module of the same dotted name, so adding
a compiled module needs only its ``.pyx`` (and ``.pxd``).
"""

from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

SRC = Path(__file__).parent / "src"


def _extensions():
    exts = []
    for pyx in sorted(SRC.rglob("*.pyx")):
        rel = pyx.relative_to(SRC).with_suffix("")
        exts.append(
            Extension(
                ".".join(rel.parts),
                [str(pyx.relative_to(Path(__file__).parent))],
                include_dirs=[numpy.get_include()],
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
                # no -march: wheels must run on any CPU of the platform; no contraction of
                # a * b + c into one fused multiply-add, which would round differently from
                # the pure-Python reference where the compiler would emit it by default
                extra_compile_args=["-O3", "-ffp-contract=off"],
            )
        )
    return exts


setup(
    ext_modules=cythonize(
        _extensions(),
        compiler_directives={
            "language_level": "3",
            "embedsignature": True,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    )
)
