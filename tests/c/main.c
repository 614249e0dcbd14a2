/* main.c - runs the C tests of csrc/, each in its own forked child.
 *
 * Usage: test_core [-l] [-n] [name-substring ...]
 *   -l  list the tests and exit
 *   -n  run in this process, no fork (for gdb; a crash stops everything)
 * MUX_TEST_TIMEOUT (seconds, default 20) bounds each test with alarm().
 * A test passes when its child exits 0: no failed CHECK, no crash, no
 * timeout, and (under valgrind --error-exitcode=1 or LeakSanitizer) no
 * memory error or leak. The last line is "N passed, M failed".
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

int t_failures;

static const test_t *const suites[] = {
    grow_tests, backend_tests, selector_tests, loop_tests, stream_tests, uring_tests, sys_tests,
    loop_uring_tests,
};

static int selected(const char *name, int argc, char **argv, int first)
{
    int i;

    if (first >= argc)
        return 1;
    for (i = first; i < argc; i++)
        if (strstr(name, argv[i]) != NULL)
            return 1;
    return 0;
}

/* Runs one test in a child; returns 1 if it passed. */
static int run_isolated(const test_t *t, unsigned timeout_s)
{
    pid_t pid;
    int status;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        perror("fork");
        return 0;
    }
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);   /* the core must not need SIGPIPE ignored */
        alarm(timeout_s);
        t_failures = 0;
        t->fn();
        fflush(stdout);
        fflush(stderr);
        exit(t_failures ? 3 : 0);   /* exit(), not _exit(): leak checks run */
    }
    while (waitpid(pid, &status, 0) < 0)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 1;
    if (WIFEXITED(status)) {
        int code = WEXITSTATUS(status);
        fprintf(stderr, "    exit status %d (%s)\n", code,
                code == 3 ? "failed checks"
                : code == 4 ? "setup failed"
                : "memory error or leak reported by valgrind/sanitizer");
    } else if (WIFSIGNALED(status)) {
        fprintf(stderr, "    killed by signal %d%s\n", WTERMSIG(status),
                WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *env = getenv("MUX_TEST_TIMEOUT");
    unsigned timeout_s = env ? (unsigned)atoi(env) : 20;
    int list = 0, nofork = 0, first = 1, passed = 0, failed = 0;
    size_t s;

    while (first < argc && argv[first][0] == '-') {
        if (strcmp(argv[first], "-l") == 0)
            list = 1;
        else if (strcmp(argv[first], "-n") == 0)
            nofork = 1;
        first++;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (s = 0; s < sizeof(suites) / sizeof(suites[0]); s++) {
        const test_t *t;

        for (t = suites[s]; t->name != NULL; t++) {
            int ok;

            if (!selected(t->name, argc, argv, first))
                continue;
            if (list) {
                printf("%s\n", t->name);
                continue;
            }
            if (nofork) {
                t_failures = 0;
                t->fn();
                ok = t_failures == 0;
            } else {
                ok = run_isolated(t, timeout_s ? timeout_s : 20);
            }
            printf("%s %s\n", ok ? "ok  " : "FAIL", t->name);
            if (ok)
                passed++;
            else
                failed++;
        }
    }
    if (!list)
        printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
