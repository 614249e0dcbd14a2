"""The C functions Python calls, each bound once under its C name.

Modules import what they call from here (``from ._clib import
mux_backend_wait``): a name means the same C function everywhere, and a
call costs one module-global load, as a local alias would. Constants stay
``lib.NAME``: a constant cannot be confused with another, and the few read
on a hot path are copied to module globals where they are used.
"""
import sys

from ._mux import lib

# PyPy's JIT compiles a cffi call, an index into a C array and a loop over
# ffi.unpack's list down to a few machine instructions, where CPython pays
# an interpreted call for each: the hot paths pick their shape by this.
JIT_INLINES_CFFI = sys.implementation.name == "pypy"

# select(2) in one call (pymux.select.select)
mux_select_once = lib.mux_select_once

# Backends (pymux.select's poll and epoll objects)
mux_backend_new = lib.mux_backend_new
mux_backend_adopt_epoll = lib.mux_backend_adopt_epoll
mux_backend_ctl = lib.mux_backend_ctl
mux_backend_wait = lib.mux_backend_wait
mux_backend_wait_into = lib.mux_backend_wait_into
mux_backend_set_batch = lib.mux_backend_set_batch
mux_backend_fired_fds = lib.mux_backend_fired_fds
mux_backend_fired_events = lib.mux_backend_fired_events
mux_backend_fileno = lib.mux_backend_fileno
mux_backend_close = lib.mux_backend_close
mux_backend_free = lib.mux_backend_free

# Selector fd tables (pymux.selectors)
mux_selector_new = lib.mux_selector_new
mux_selector_codes = lib.mux_selector_codes
mux_selector_register = lib.mux_selector_register
mux_selector_modify = lib.mux_selector_modify
mux_selector_unregister = lib.mux_selector_unregister
mux_selector_wait = lib.mux_selector_wait
mux_selector_poll = lib.mux_selector_poll
mux_selector_fileno = lib.mux_selector_fileno
mux_selector_close = lib.mux_selector_close
mux_selector_free = lib.mux_selector_free

# The loop core (pymux.reactor)
mux_loop_new = lib.mux_loop_new
mux_loop_fired = lib.mux_loop_fired
mux_loop_read_buffer = lib.mux_loop_read_buffer
mux_loop_run_once = lib.mux_loop_run_once
mux_loop_wakeup = lib.mux_loop_wakeup
mux_loop_free = lib.mux_loop_free
mux_loop_now_ns = lib.mux_loop_now_ns
mux_timer_add = lib.mux_timer_add
mux_timer_cancel = lib.mux_timer_cancel
mux_watch = lib.mux_watch
mux_listener_open = lib.mux_listener_open
mux_listener_resume = lib.mux_listener_resume
mux_listener_close = lib.mux_listener_close
mux_stream_open = lib.mux_stream_open
mux_stream_write = lib.mux_stream_write
mux_stream_queued = lib.mux_stream_queued
mux_stream_set_limits = lib.mux_stream_set_limits
mux_stream_set_reading = lib.mux_stream_set_reading
mux_stream_shutdown = lib.mux_stream_shutdown
mux_stream_close = lib.mux_stream_close
mux_token_fd = lib.mux_token_fd

# io_uring rings (pymux.uring)
mux_uring_new = lib.mux_uring_new
mux_uring_close = lib.mux_uring_close
mux_uring_free = lib.mux_uring_free
mux_uring_fileno = lib.mux_uring_fileno
mux_uring_sq_entries = lib.mux_uring_sq_entries
mux_uring_cq_entries = lib.mux_uring_cq_entries
mux_uring_features = lib.mux_uring_features
mux_uring_supports = lib.mux_uring_supports
mux_uring_completions = lib.mux_uring_completions
mux_uring_prep_nop = lib.mux_uring_prep_nop
mux_uring_prep_accept = lib.mux_uring_prep_accept
mux_uring_prep_recv = lib.mux_uring_prep_recv
mux_uring_prep_send = lib.mux_uring_prep_send
mux_uring_prep_poll = lib.mux_uring_prep_poll
mux_uring_prep_timeout = lib.mux_uring_prep_timeout
mux_uring_prep_cancel = lib.mux_uring_prep_cancel
mux_uring_setup_buffers = lib.mux_uring_setup_buffers
mux_uring_buffer_pool = lib.mux_uring_buffer_pool
mux_uring_prep_recv_multishot = lib.mux_uring_prep_recv_multishot
mux_uring_submit = lib.mux_uring_submit
mux_uring_wait = lib.mux_uring_wait
mux_uring_register = lib.mux_uring_register
mux_uring_prep_read_fixed = lib.mux_uring_prep_read_fixed
mux_uring_prep_write_fixed = lib.mux_uring_prep_write_fixed
mux_uring_sqe_set_flags = lib.mux_uring_sqe_set_flags

# The bare system calls (pymux.sys)
mux_sys_fd_zero = lib.mux_sys_fd_zero
mux_sys_fd_set = lib.mux_sys_fd_set
mux_sys_fd_clr = lib.mux_sys_fd_clr
mux_sys_fd_isset = lib.mux_sys_fd_isset
mux_sys_select = lib.mux_sys_select
mux_sys_poll = lib.mux_sys_poll
mux_sys_epoll_create1 = lib.mux_sys_epoll_create1
mux_sys_epoll_ctl = lib.mux_sys_epoll_ctl
mux_sys_epoll_wait = lib.mux_sys_epoll_wait
