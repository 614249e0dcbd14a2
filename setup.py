"""Build glue: everything else lives in pyproject.toml."""
from setuptools import setup

setup(cffi_modules=["pymux/_build.py:ffibuilder"])
