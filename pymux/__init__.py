"""pymux: fast, trustworthy access to the kernel's I/O readiness machinery.

Layers, bottom up: C backends and loop core (compiled into pymux._mux),
pymux.select (drop-in for the stdlib select module), pymux.selectors,
the reactor and the echo server; beside them pymux.uring (an io_uring
ring) and pymux.sys (the system calls themselves, by their C names).
"""
__version__ = "0.1.0"
