/* mux_fork.h - tells an object made before fork() that it is now in the
 * child: a pthread_atfork child handler counts the forks.
 *
 * An object records mux__fork_generation() when it is made and compares it
 * on every call; a different value means this process is a child forked
 * after the object was made, whose kernel objects (epoll instance, io_uring
 * ring, sockets) are shared with the parent and must not be changed.
 */
#ifndef MUX_FORK_H
#define MUX_FORK_H

/* Installs the fork handler once per process; 0 or -errno. Call it before
 * the first mux__fork_generation() whose value will be compared. */
int mux__fork_watch(void);

unsigned mux__fork_generation(void);

#endif
