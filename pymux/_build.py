"""cffi build script: compiles csrc/*.c into the extension module pymux._mux.

API mode, out of line: the public C headers double as the cffi declarations
(preprocessor lines stripped), and the compiler fills in the kernel's
constant values. Set PYMUX_SANITIZE=1 to build with AddressSanitizer and
UBSan and with csrc/'s asserts on (used by CI); the regular build leaves
the asserts out.
"""
import os
import pathlib

from cffi import FFI

ROOT = pathlib.Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"
# Headers whose declarations Python may call, in dependency order.
PUBLIC_HEADERS = ["mux_common.h", "mux_backend.h", "mux_selector.h", "mux_loop.h",
                  "mux_uring.h"]

# Kernel constants re-exported by pymux.select; values come from the
# compiler, so they are always the running platform's.
CONSTANTS = """
POLLIN POLLPRI POLLOUT POLLERR POLLHUP POLLNVAL POLLRDHUP POLLRDNORM
POLLRDBAND POLLWRNORM POLLWRBAND POLLMSG
EPOLLIN EPOLLPRI EPOLLOUT EPOLLERR EPOLLHUP EPOLLET EPOLLONESHOT
EPOLLEXCLUSIVE EPOLLRDHUP EPOLLRDNORM EPOLLRDBAND EPOLLWRNORM EPOLLWRBAND
EPOLLMSG EPOLL_CLOEXEC FD_SETSIZE
""".split()


def _declarations(header):
    """The header's text without preprocessor lines, as cffi wants it."""
    lines = (CSRC / header).read_text().splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("#"))


def _compile_args():
    args = ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter",
            "-Werror=implicit-function-declaration"]
    if os.environ.get("PYMUX_SANITIZE"):
        san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all",
               "-fno-omit-frame-pointer", "-O1", "-g"]
        # csrc/ asserts its internal invariants: on here, even though
        # Python's own CFLAGS (which come first) say -DNDEBUG.
        return args + san + ["-UNDEBUG"], san
    return args + ["-O2", "-DNDEBUG"], []


ffibuilder = FFI()
ffibuilder.cdef("\n".join(f"#define {name} ..." for name in CONSTANTS))
for _header in PUBLIC_HEADERS:
    ffibuilder.cdef(_declarations(_header))

_cflags, _ldflags = _compile_args()
ffibuilder.set_source(
    "pymux._mux",
    "#include <poll.h>\n#include <sys/epoll.h>\n#include <sys/select.h>\n"
    + "".join(f'#include "{h}"\n' for h in PUBLIC_HEADERS),
    sources=sorted(str(p.relative_to(ROOT)) for p in CSRC.glob("*.c")),
    include_dirs=[str(CSRC.relative_to(ROOT))],
    depends=sorted(str(p.relative_to(ROOT)) for p in CSRC.glob("*.h")),
    extra_compile_args=_cflags,
    extra_link_args=_ldflags,
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
