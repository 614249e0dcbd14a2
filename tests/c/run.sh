#!/usr/bin/env bash
# tests/c/run.sh - builds the C-level tests of csrc/ and runs them twice:
# under valgrind memcheck (leaks of kind definite/indirect are errors), and
# built with AddressSanitizer + UBSan (LeakSanitizer on). Independent of
# Python. Works from any directory; exits non-zero on any failure.
#
# Environment:
#   MUX_SKIP_VALGRIND=1   skip the valgrind pass (e.g. no valgrind, not root)
#   MUX_TEST_TIMEOUT      per-test alarm in seconds (default 20; 60 under valgrind)
#   CC                    compiler (default gcc)
#   MUX_EXTRA_CFLAGS      extra compiler flags (word-split)
#   MUX_CSRC              the C sources to test (default: <repo>/csrc)
# Arguments are passed to the test program (test name substrings).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cc="${CC:-gcc}"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/pymux-ctest.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

csrc="${MUX_CSRC:-$root/csrc}"
cflags=(-std=gnu11 -Wall -Wextra -Werror -g -O1 -pthread -I"$csrc" -I"$here")
# shellcheck disable=SC2206
extra=(${MUX_EXTRA_CFLAGS:-})
cflags+=("${extra[@]}")
sources=("$csrc"/*.c "$here"/*.c)
status=0

section() { printf '\n=== %s ===\n' "$*"; }

section "build: $cc ${cflags[*]}"
if ! "$cc" "${cflags[@]}" "${sources[@]}" -o "$tmp/test_core"; then
    echo "error: the C tests do not build" >&2
    exit 1
fi
# csrc/ asserts its internal invariants; these tests are where they count.
if ! nm "$tmp/test_core" | grep __assert_fail >/dev/null; then  # no -q: SIGPIPE under pipefail
    echo "error: the C tests were built without asserts (NDEBUG in MUX_EXTRA_CFLAGS?)" >&2
    exit 1
fi

# --- valgrind ----------------------------------------------------------------
if [ "${MUX_SKIP_VALGRIND:-0}" = 1 ]; then
    section "valgrind: skipped (MUX_SKIP_VALGRIND=1)"
else
    if ! command -v valgrind >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            echo "valgrind is not installed: installing it with apt-get"
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
        fi
    fi
    if ! command -v valgrind >/dev/null 2>&1; then
        echo "error: valgrind is not installed and could not be installed" >&2
        echo "       (install it, e.g. 'apt-get install valgrind', or set MUX_SKIP_VALGRIND=1)" >&2
        status=1
    else
        section "valgrind memcheck ($(valgrind --version))"
        # Every test runs in a forked child, and each process writes its own
        # log; valgrind makes a child with errors or leaks exit 1, which the
        # runner reports as that test's failure.
        MUX_TEST_TIMEOUT="${MUX_TEST_TIMEOUT:-60}" \
        valgrind --leak-check=full --show-leak-kinds=definite,indirect \
                 --errors-for-leak-kinds=definite,indirect --error-exitcode=1 \
                 --track-fds=no --log-file="$tmp/vg.%p.log" \
                 "$tmp/test_core" "$@"
        rc=$?
        logs=("$tmp"/vg.*.log)
        bad=0
        for log in "${logs[@]}"; do
            if ! grep -q 'ERROR SUMMARY: 0 errors' "$log"; then
                bad=$((bad + 1))
                echo "--- $(basename "$log") (first 80 lines) ---"
                head -n 80 "$log"
            fi
        done
        lost=$(grep -h 'definitely lost:' "${logs[@]}" | awk '{gsub(/,/, "", $4); s += $4} END {print s + 0}')
        echo "valgrind: ${#logs[@]} processes, $bad with errors, definitely lost $lost bytes in total"
        if [ $rc -ne 0 ] || [ $bad -ne 0 ]; then
            echo "valgrind pass FAILED (exit $rc)"
            status=1
        else
            echo "valgrind pass clean"
        fi
    fi
fi

# --- ASan + UBSan ---------------------------------------------------------------
section "AddressSanitizer + UBSan build"
san=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
if ! "$cc" "${cflags[@]}" "${san[@]}" "${sources[@]}" -o "$tmp/test_core_asan"; then
    echo "error: the sanitizer build failed" >&2
    exit 1
fi
ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=1:strict_string_checks=1:detect_stack_use_after_return=1" \
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    "$tmp/test_core_asan" "$@"
rc=$?
if [ $rc -ne 0 ]; then
    echo "sanitizer pass FAILED (exit $rc)"
    status=1
else
    echo "sanitizer pass clean"
fi

section "result"
if [ $status -ne 0 ]; then
    echo "C tests FAILED"
else
    echo "C tests passed under valgrind and ASan/UBSan"
fi
exit $status
