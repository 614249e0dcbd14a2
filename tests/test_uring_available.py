"""Runtime detection: pymux.uring.available() answers without raising, and
where the kernel refuses io_uring, Ring() raises OSError naming the cause
(no io_uring in the kernel, kernel.io_uring_disabled or a seccomp filter,
a missing feature). This machine's kernel has io_uring, so the refusals
are made by a stand-in for the C constructor."""
import errno

import pytest

from pymux import uring
from pymux._mux import ffi, lib


def test_available_agrees_with_making_a_ring():
    reason = uring.unavailable_reason()
    assert uring.available() is (reason is None)
    if reason is None:
        uring.Ring(1).close()
    else:
        with pytest.raises(OSError, match=reason.split(":")[0]):
            uring.Ring(1)


def refusing(err, missing=0):
    """A stand-in for mux_uring_new that fails as a refusing kernel would."""
    def new(entries, err_out, missing_out):
        err_out[0] = -err
        missing_out[0] = missing
        return ffi.NULL
    return new


CAUSES = [
    (errno.ENOSYS, 0, "has no io_uring"),
    (errno.EPERM, 0, "io_uring_disabled"),
    (errno.EOPNOTSUPP, lib.MUX_URING_NEED_EXT_ARG | lib.MUX_URING_NEED_OPS,
     "lacks IORING_FEAT_EXT_ARG .*, one of the operations"),
]


@pytest.mark.parametrize("err,missing,cause", CAUSES, ids=["ENOSYS", "EPERM", "EOPNOTSUPP"])
def test_a_refused_ring_raises_oserror_naming_the_cause(monkeypatch, err, missing, cause):
    monkeypatch.setattr(uring, "mux_uring_new", refusing(err, missing))
    assert uring.available() is False
    assert cause.split(" ")[0] in uring.unavailable_reason()
    with pytest.raises(OSError, match=cause) as info:
        uring.Ring()
    assert info.value.errno == err


def test_eperm_names_the_sysctl_setting_when_it_is_what_refuses(monkeypatch):
    monkeypatch.setattr(uring, "mux_uring_new", refusing(errno.EPERM))
    monkeypatch.setattr(uring, "_disabled_setting", lambda: "2")
    with pytest.raises(PermissionError, match=r"kernel.io_uring_disabled=2"):
        uring.Ring()
    monkeypatch.setattr(uring, "_disabled_setting", lambda: "0")
    with pytest.raises(PermissionError, match="seccomp"):
        uring.Ring()


def test_other_errors_keep_their_own_message(monkeypatch):
    monkeypatch.setattr(uring, "mux_uring_new", refusing(errno.ENOMEM))
    assert uring.available() is False
    with pytest.raises(OSError) as info:
        uring.Ring()
    assert info.value.errno == errno.ENOMEM
