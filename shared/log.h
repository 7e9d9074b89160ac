/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * log.h - diagnostics to stderr (the daemon's own messages, not the audit
 * log).  log_warn appends strerror(errno); log_warnx does not.  Nothing
 * secret is ever passed here: callers log names, never values.
 */
#ifndef SLICER_LOG_H
#define SLICER_LOG_H

void log_init(const char *progname, int verbosity);
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
/* fn(arg) runs once, after the fatal message and before exit: for the
 * last writes that must not be lost (the audit log).  One hook. */
void log_on_fatal(void (*fn)(void *arg), void *arg);

#endif
