/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * log.c - diagnostics to stderr with a timestamp and the program name.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

static const char *log_prog = "slicer";
static int log_verbosity;
/* set once before threads start; read on the way out */
static void (*log_fatal_fn)(void *arg);
static void *log_fatal_arg;

void
log_init(const char *progname, int verbosity)
{
	log_prog = progname;
	log_verbosity = verbosity;
}

static void
log_vwrite(const char *level, int with_errno, int saved, const char *fmt,
    va_list ap)
{
	char msg[1024], ts[32];
	struct timespec now;
	struct tm tm;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	if (with_errno)
		fprintf(stderr, "%s.%03ldZ %s %s: %s: %s\n", ts,
		    now.tv_nsec / 1000000, log_prog, level, msg,
		    strerror(saved));
	else
		fprintf(stderr, "%s.%03ldZ %s %s: %s\n", ts,
		    now.tv_nsec / 1000000, log_prog, level, msg);
}

void
log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vwrite("warning", 1, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite("warning", 0, 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite("info", 0, 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_verbosity < 1)
		return;
	va_start(ap, fmt);
	log_vwrite("debug", 0, 0, fmt, ap);
	va_end(ap);
}

void
log_on_fatal(void (*fn)(void *arg), void *arg)
{
	log_fatal_fn = fn;
	log_fatal_arg = arg;
}

static void __attribute__((noreturn))
log_fatal_exit(void)
{
	void (*fn)(void *) = log_fatal_fn;

	log_fatal_fn = NULL; /* once, even if fn itself ends in fatal() */
	if (fn != NULL)
		fn(log_fatal_arg);
	exit(1);
}

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vwrite("fatal", 1, saved, fmt, ap);
	va_end(ap);
	log_fatal_exit();
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite("fatal", 0, 0, fmt, ap);
	va_end(ap);
	log_fatal_exit();
}
