/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_relay.c - the splice relay and its pipe pool, on real socketpairs
 * and pipes: pool reuse and its cap, reading only when readable, the pipe
 * ceiling, a slow reader, end of stream, errors, and no descriptor leaks.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "relay.h"

/* Bytes each way in the large transfer: many pipes' worth. */
#define BIG (1024 * 1024)
/* Bytes the slow reader takes per round. */
#define SLOW_READ 4096
/* Rounds before a transfer test gives up. */
#define MAX_ROUNDS 200000

static int
fd_count(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(dir);
	while ((e = readdir(dir)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n - 1; /* the directory itself */
}

static int
fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

/* Non-blocking AF_UNIX stream pair. */
static void
pair_open(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX,
			     SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv),
	    0);
}

static void
pair_close(int sv[2])
{
	close(sv[0]);
	close(sv[1]);
}

/* What a level-triggered epoll would add for fd now: EPOLLIN when it has
 * bytes or its end of stream to read. */
static void
lt_ready(int fd, uint32_t *ready)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	if (poll(&p, 1, 0) == 1 && (p.revents & (POLLIN | POLLHUP)))
		*ready |= EPOLLIN;
}

static int
bytes_queued(int fd)
{
	int n = -1;

	assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
	return n;
}

/* Write junk into fd until it takes no more; returns the bytes written. */
static size_t
fill(int fd)
{
	char junk[4096];
	size_t total = 0;
	ssize_t n;
	int i;

	memset(junk, 'j', sizeof(junk));
	for (i = 0; i < 10000; i++) {
		n = write(fd, junk, sizeof(junk));
		if (n <= 0)
			break;
		total += (size_t)n;
	}
	assert_int_equal(errno, EAGAIN);
	return total;
}

/* Read and drop everything queued on fd; returns the bytes read. */
static size_t
drain(int fd)
{
	char sink[65536];
	size_t total = 0;
	ssize_t n;
	int i;

	for (i = 0; i < 10000; i++) {
		n = read(fd, sink, sizeof(sink));
		if (n <= 0)
			break;
		total += (size_t)n;
	}
	return total;
}

static unsigned char
pattern(size_t i, unsigned int seed)
{
	return (unsigned char)((i * 31 + i / 251 + seed) & 0xff);
}

/* ------------------------------------------------------------- pool */

static void
test_pool_reuse(void **state)
{
	struct relay_pool pool;
	int base = fd_count(), p[2], q[2];

	(void)state;
	relay_pool_init(&pool);
	assert_int_equal(relay_pool_get(&pool, p), 0);
	assert_int_equal(fd_count(), base + 2);
	assert_true(fcntl(p[0], F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(p[1], F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(p[0], F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(p[1], F_GETFD) & FD_CLOEXEC);
	q[0] = p[0];
	q[1] = p[1];
	relay_pool_put(&pool, p, 1);
	assert_int_equal(p[0], -1);
	assert_int_equal(p[1], -1);
	assert_int_equal(pool.len, 1);
	assert_true(fd_is_open(q[0]) && fd_is_open(q[1]));
	/* the pooled pipe comes back, no new descriptors */
	assert_int_equal(relay_pool_get(&pool, p), 0);
	assert_int_equal(p[0], q[0]);
	assert_int_equal(p[1], q[1]);
	assert_int_equal(pool.len, 0);
	assert_int_equal(fd_count(), base + 2);
	/* and it still works as a pipe */
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(read(p[0], q, 1), 1);
	relay_pool_put(&pool, p, 1);
	/* -1 is a no-op */
	relay_pool_put(&pool, p, 1);
	assert_int_equal(pool.len, 1);
	relay_pool_reset(&pool);
	assert_int_equal(pool.len, 0);
	assert_false(fd_is_open(q[0]));
	assert_int_equal(fd_count(), base);
	/* usable again after a reset */
	assert_int_equal(relay_pool_get(&pool, p), 0);
	relay_pool_put(&pool, p, 1);
	relay_pool_reset(&pool);
	assert_int_equal(fd_count(), base);
}

static void
test_pool_cap(void **state)
{
	static int p[LIMIT_PIPE_POOL + 1][2], again[LIMIT_PIPE_POOL + 1][2];
	static int orig[LIMIT_PIPE_POOL];
	struct relay_pool pool;
	int base = fd_count(), i, j, found;

	(void)state;
	relay_pool_init(&pool);
	for (i = 0; i < LIMIT_PIPE_POOL + 1; i++)
		assert_int_equal(relay_pool_get(&pool, p[i]), 0);
	assert_int_equal(fd_count(), base + 2 * (LIMIT_PIPE_POOL + 1));
	/* up to the cap they are kept ... */
	for (i = 0; i < LIMIT_PIPE_POOL; i++) {
		orig[i] = p[i][0];
		relay_pool_put(&pool, p[i], 1);
		assert_int_equal(pool.len, (size_t)i + 1);
		assert_true(fd_is_open(orig[i]));
	}
	assert_int_equal(pool.len, LIMIT_PIPE_POOL);
	/* ... one past it is closed */
	{
		int r = p[LIMIT_PIPE_POOL][0], w = p[LIMIT_PIPE_POOL][1];

		relay_pool_put(&pool, p[LIMIT_PIPE_POOL], 1);
		assert_int_equal(pool.len, LIMIT_PIPE_POOL);
		assert_false(fd_is_open(r));
		assert_false(fd_is_open(w));
	}
	assert_int_equal(fd_count(), base + 2 * LIMIT_PIPE_POOL);
	/* taking them all again: the pooled ones first, then a new one */
	for (i = 0; i < LIMIT_PIPE_POOL + 1; i++)
		assert_int_equal(relay_pool_get(&pool, again[i]), 0);
	assert_int_equal(pool.len, 0);
	assert_int_equal(fd_count(), base + 2 * (LIMIT_PIPE_POOL + 1));
	for (i = 0; i < LIMIT_PIPE_POOL; i++) {
		found = 0;
		for (j = 0; j < LIMIT_PIPE_POOL; j++)
			if (again[i][0] == orig[j])
				found = 1;
		assert_true(found);
	}
	for (i = 0; i < LIMIT_PIPE_POOL + 1; i++)
		relay_pool_put(&pool, again[i], 1);
	relay_pool_reset(&pool);
	assert_int_equal(fd_count(), base);
}

static void
test_pool_put_with_bytes(void **state)
{
	struct relay_pool pool;
	int base = fd_count(), p[2], r, w;

	(void)state;
	relay_pool_init(&pool);
	assert_int_equal(relay_pool_get(&pool, p), 0);
	r = p[0];
	w = p[1];
	assert_int_equal(write(p[1], "left", 4), 4);
	relay_pool_put(&pool, p, 0);
	assert_int_equal(pool.len, 0);
	assert_int_equal(p[0], -1);
	assert_false(fd_is_open(r));
	assert_false(fd_is_open(w));
	assert_int_equal(fd_count(), base);
	relay_pool_reset(&pool);
}

/* pipe2 fails (EMFILE): get and a read that needs a pipe say so; a pooled
 * pipe is still handed out. */
static void
test_pool_no_descriptors(void **state)
{
	struct relay_pool pool;
	struct relay_dir d;
	struct rlimit old, low;
	uint32_t ready = EPOLLIN;
	int base = fd_count(), a[2], b[2], p[2], q[2], probe;

	(void)state;
	relay_pool_init(&pool);
	relay_dir_init(&d);
	pair_open(a);
	pair_open(b);
	assert_int_equal(write(a[0], "data", 4), 4);
	assert_int_equal(relay_pool_get(&pool, p), 0);
	relay_pool_put(&pool, p, 1);
	probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(probe >= 0);
	close(probe);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)probe + 1; /* one more fd, a pipe needs two */
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);

	assert_int_equal(relay_pool_get(&pool, p), 0); /* the pooled one */
	errno = 0;
	assert_int_equal(relay_pool_get(&pool, q), -1);
	assert_int_equal(errno, EMFILE);
	relay_pool_put(&pool, p, 1);
	assert_int_equal(pool.len, 1);
	/* take the pooled pipe away so the relay has to make one */
	{
		int keep[2];

		assert_int_equal(relay_pool_get(&pool, keep), 0);
		errno = 0;
		assert_int_equal(
		    relay_dir_splice(&pool, &d, a[1], &ready, b[0]), -1);
		assert_int_equal(errno, EMFILE);
		assert_int_equal(d.pipe[0], -1);
		assert_int_equal(d.inpipe, 0);
		assert_int_equal(ready, EPOLLIN); /* nothing was consumed */
		assert_int_equal(bytes_queued(a[1]), 4);
		relay_pool_put(&pool, keep, 1);
	}
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	/* with descriptors again, the same call goes through */
	assert_int_equal(relay_dir_splice(&pool, &d, a[1], &ready, b[0]), 4);
	relay_dir_close(&pool, &d);
	relay_pool_reset(&pool);
	pair_close(a);
	pair_close(b);
	assert_int_equal(fd_count(), base);
}

/* ------------------------------------------------------- direction */

/* Which epoll bits let a direction read. */
static const struct {
	uint32_t ready;
	int reads;
} ready_cases[] = {
    {0, 0},
    {EPOLLOUT, 0},
    {EPOLLPRI, 0},
    {EPOLLIN, 1},
    {EPOLLHUP, 1},
    {EPOLLERR, 1},
    {EPOLLIN | EPOLLOUT, 1},
    {EPOLLRDHUP, 0},
};

static void
test_dir_reads_only_when_ready(void **state)
{
	struct relay_pool pool;
	struct relay_dir d;
	char got[16];
	size_t i;
	int base = fd_count(), a[2], b[2];
	ssize_t n;

	(void)state;
	relay_pool_init(&pool);
	for (i = 0; i < sizeof(ready_cases) / sizeof(ready_cases[0]); i++) {
		uint32_t ready = ready_cases[i].ready;
		size_t pooled = pool.len;

		pair_open(a);
		pair_open(b);
		relay_dir_init(&d);
		assert_int_equal(write(a[0], "hello", 5), 5);
		n = relay_dir_splice(&pool, &d, a[1], &ready, b[0]);
		if (ready_cases[i].reads) {
			assert_int_equal(n, 5);
			assert_int_equal(read(b[1], got, sizeof(got)), 5);
			assert_memory_equal(got, "hello", 5);
			assert_int_equal(bytes_queued(a[1]), 0);
			/* a short read took all there was: the readable bits
			 * go (a level-triggered loop reports more), so no
			 * read is spent on EAGAIN; others stay */
			assert_int_equal(ready, ready_cases[i].ready &
			    ~(uint32_t)(EPOLLIN | EPOLLHUP | EPOLLERR));
		} else {
			assert_int_equal(n, 0);
			assert_int_equal(bytes_queued(a[1]), 5);
			assert_int_equal(ready, ready_cases[i].ready);
			assert_int_equal(pool.len, pooled); /* none taken */
		}
		/* either way no pipe is held afterwards */
		assert_int_equal(d.pipe[0], -1);
		assert_int_equal(d.inpipe, 0);
		relay_dir_close(&pool, &d);
		pair_close(a);
		pair_close(b);
	}
	relay_pool_reset(&pool);
	assert_int_equal(fd_count(), base);
}

static void
test_dir_eagain_clears_ready(void **state)
{
	struct relay_pool pool;
	struct relay_dir d;
	uint32_t ready = EPOLLIN | EPOLLOUT | EPOLLHUP | EPOLLERR;
	int base = fd_count(), a[2], b[2];

	(void)state;
	relay_pool_init(&pool);
	relay_dir_init(&d);
	pair_open(a);
	pair_open(b);
	assert_int_equal(relay_dir_splice(&pool, &d, a[1], &ready, b[0]), 0);
	assert_int_equal(ready, EPOLLOUT); /* only the readable bits go */
	assert_int_equal(d.pipe[0], -1);
	assert_int_equal(d.is_eof, 0);
	assert_int_equal(d.is_full, 0);
	assert_int_equal(pool.len, 1); /* borrowed, empty, given back */
	assert_true(relay_dir_wants_read(&d));
	assert_false(relay_dir_wants_write(&d));
	/* not readable now: no read even though bytes arrived */
	assert_int_equal(write(a[0], "x", 1), 1);
	assert_int_equal(relay_dir_splice(&pool, &d, a[1], &ready, b[0]), 0);
	assert_int_equal(bytes_queued(a[1]), 1);
	relay_dir_close(&pool, &d);
	relay_pool_reset(&pool);
	pair_close(a);
	pair_close(b);
	assert_int_equal(fd_count(), base);
}

/* Both directions of a tunnel a[0] <-> (a[1] relay b[1]) <-> b[0]. */
static void
test_dir_both_ways(void **state)
{
	static const char *const msgs[] = {"GET / HTTP/1.1\r\n\r\n", "x",
	    "HTTP/1.1 200 OK\r\n\r\nbody", "\0\1\2\377"};
	struct relay_pool pool;
	struct relay_dir cu, uc;
	char got[64];
	size_t i, len;
	int base = fd_count(), a[2], b[2];

	(void)state;
	relay_pool_init(&pool);
	relay_dir_init(&cu);
	relay_dir_init(&uc);
	pair_open(a);
	pair_open(b);
	for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		uint32_t cr = EPOLLIN, ur = EPOLLIN;

		len = i == 3 ? 4 : strlen(msgs[i]);
		assert_int_equal(write(a[0], msgs[i], len), (ssize_t)len);
		assert_int_equal(relay_dir_splice(&pool, &cu, a[1], &cr, b[1]),
		    (ssize_t)len);
		assert_int_equal(
		    relay_dir_splice(&pool, &uc, b[1], &ur, a[1]), 0);
		assert_int_equal(read(b[0], got, sizeof(got)), (ssize_t)len);
		assert_memory_equal(got, msgs[i], len);
		assert_int_equal(write(b[0], msgs[i], len), (ssize_t)len);
		ur = EPOLLIN;
		assert_int_equal(relay_dir_splice(&pool, &uc, b[1], &ur, a[1]),
		    (ssize_t)len);
		assert_int_equal(read(a[0], got, sizeof(got)), (ssize_t)len);
		assert_memory_equal(got, msgs[i], len);
		/* idle again: both pipes in the pool */
		assert_int_equal(cu.pipe[0], -1);
		assert_int_equal(uc.pipe[0], -1);
		assert_int_equal(pool.len, 1);
	}
	relay_dir_close(&pool, &cu);
	relay_dir_close(&pool, &uc);
	relay_pool_reset(&pool);
	pair_close(a);
	pair_close(b);
	assert_int_equal(fd_count(), base);
}

/*
 * out is full: a read stops at LIMIT_SPLICE_PIPE bytes in the pipe (at the
 * ceiling, no read), the pipe is held; then a slow reader takes it all in
 * order, more than 64 KiB each way at once.
 */
static void
test_dir_slow_reader(void **state)
{
	struct relay_pool pool;
	struct relay_dir dir[2];
	unsigned char *src[2], got[SLOW_READ];
	size_t sent[2] = {0, 0}, recvd[2] = {0, 0}, junk[2], i, k;
	uint32_t ready[2];
	int base = fd_count(), a[2], b[2], in[2], out[2], wr[2], rd[2];
	int rounds, is_shut[2] = {0, 0}, is_out_shut[2] = {0, 0};
	int saw_held = 0;
	ssize_t n;

	(void)state;
	relay_pool_init(&pool);
	pair_open(a);
	pair_open(b);
	/* direction 0: a[0] -> a[1] => b[1] -> b[0]; direction 1 back */
	in[0] = a[1], out[0] = b[1], wr[0] = a[0], rd[0] = b[0];
	in[1] = b[1], out[1] = a[1], wr[1] = b[0], rd[1] = a[0];
	for (k = 0; k < 2; k++) {
		src[k] = malloc(BIG);
		assert_non_null(src[k]);
		for (i = 0; i < BIG; i++)
			src[k][i] = pattern(i, (unsigned int)k * 77);
		relay_dir_init(&dir[k]);
	}

	/* out full before anything moves: one read fills the pipe to the
	 * ceiling and holds it */
	junk[0] = fill(out[0]);
	n = write(wr[0], src[0], BIG);
	assert_true(n > LIMIT_SPLICE_PIPE);
	sent[0] = (size_t)n;
	ready[0] = EPOLLIN;
	for (i = 0; i < 4 && dir[0].inpipe < LIMIT_SPLICE_PIPE; i++)
		assert_int_equal(
		    relay_dir_splice(&pool, &dir[0], in[0], &ready[0], out[0]),
		    0);
	assert_int_equal(dir[0].inpipe, LIMIT_SPLICE_PIPE);
	assert_true(dir[0].pipe[0] != -1);
	assert_true(relay_dir_wants_write(&dir[0]));
	assert_false(relay_dir_wants_read(&dir[0]));
	/* at the ceiling: readable, yet nothing is read and the flag stays */
	k = (size_t)bytes_queued(in[0]);
	assert_int_equal(
	    relay_dir_splice(&pool, &dir[0], in[0], &ready[0], out[0]), 0);
	assert_int_equal(ready[0], EPOLLIN);
	assert_int_equal((size_t)bytes_queued(in[0]), k);
	assert_int_equal(dir[0].inpipe, LIMIT_SPLICE_PIPE);
	assert_int_equal(pool.len, 0);

	/* now a slow reader each way; readiness as a level-triggered loop
	 * would report it for what the relay wants watched */
	junk[1] = 0;
	ready[0] = ready[1] = 0;
	for (rounds = 0; rounds < MAX_ROUNDS; rounds++) {
		struct pollfd pfd[2];

		for (k = 0; k < 2; k++) {
			if (sent[k] < BIG) {
				n = write(
				    wr[k], src[k] + sent[k], BIG - sent[k]);
				if (n > 0)
					sent[k] += (size_t)n;
				else
					assert_int_equal(errno, EAGAIN);
			} else if (!is_shut[k]) {
				assert_int_equal(shutdown(wr[k], SHUT_WR), 0);
				is_shut[k] = 1;
			}
			pfd[k].fd = in[k];
			pfd[k].events =
			    relay_dir_wants_read(&dir[k]) ? POLLIN : 0;
			pfd[k].revents = 0;
		}
		assert_true(poll(pfd, 2, 0) >= 0);
		for (k = 0; k < 2; k++) {
			if (pfd[k].revents & POLLIN)
				ready[k] |= EPOLLIN;
			if (pfd[k].revents & POLLHUP)
				ready[k] |= EPOLLHUP;
			n = relay_dir_splice(
			    &pool, &dir[k], in[k], &ready[k], out[k]);
			assert_true(n >= 0);
			assert_true(dir[k].inpipe <= LIMIT_SPLICE_PIPE);
			if (n == 0 && dir[k].inpipe > 0) {
				assert_true(dir[k].pipe[0] != -1);
				saw_held = 1;
			}
			if (dir[k].inpipe == 0)
				assert_int_equal(dir[k].pipe[0], -1);
			/* as a caller does: pass the end on once all is out */
			if (dir[k].is_eof && dir[k].inpipe == 0 &&
			    !is_out_shut[k]) {
				assert_int_equal(shutdown(out[k], SHUT_WR), 0);
				is_out_shut[k] = 1;
			}
		}
		for (k = 0; k < 2; k++) {
			n = read(rd[k], got, sizeof(got));
			if (n <= 0)
				continue;
			for (i = 0; i < (size_t)n; i++) {
				if (junk[k] > 0) {
					assert_int_equal(got[i], 'j');
					junk[k]--;
					continue;
				}
				assert_int_equal(got[i], src[k][recvd[k]]);
				recvd[k]++;
			}
		}
		if (dir[0].is_eof && dir[1].is_eof && dir[0].inpipe == 0 &&
		    dir[1].inpipe == 0 && recvd[0] == BIG && recvd[1] == BIG)
			break;
	}
	assert_true(rounds < MAX_ROUNDS);
	assert_true(saw_held);
	assert_int_equal(recvd[0], BIG);
	assert_int_equal(recvd[1], BIG);
	assert_int_equal(junk[0], 0);
	/* nothing after the end of stream */
	assert_int_equal(read(rd[0], got, sizeof(got)), 0);
	assert_int_equal(read(rd[1], got, sizeof(got)), 0);
	assert_int_equal(dir[0].pipe[0], -1);
	assert_int_equal(dir[1].pipe[0], -1);
	for (k = 0; k < 2; k++) {
		relay_dir_close(&pool, &dir[k]);
		free(src[k]);
	}
	relay_pool_reset(&pool);
	pair_close(a);
	pair_close(b);
	assert_int_equal(fd_count(), base);
}

/*
 * Small writes: each lands in its own pipe slot, so the pipe is full long
 * before LIMIT_SPLICE_PIPE bytes.  The direction then stops asking to read
 * (a level-triggered loop would spin on the readable socket) until out has
 * taken some, and no byte is lost.
 */
static void
test_dir_pipe_full_early(void **state)
{
	struct relay_pool pool;
	struct relay_dir d;
	unsigned char msg[100], got[100];
	uint32_t ready;
	size_t total = 100 * sizeof(msg), recvd = 0, junk, i;
	int base = fd_count(), a[2], b[2], rounds;
	ssize_t n;

	(void)state;
	relay_pool_init(&pool);
	relay_dir_init(&d);
	pair_open(a);
	pair_open(b);
	junk = fill(b[1]);
	for (i = 0; i < 100; i++) {
		memset(msg, (int)i, sizeof(msg));
		assert_int_equal(
		    write(a[0], msg, sizeof(msg)), (ssize_t)sizeof(msg));
	}
	ready = EPOLLIN;
	for (i = 0; i < 40 && !d.is_full; i++) {
		lt_ready(a[1], &ready);
		assert_int_equal(
		    relay_dir_splice(&pool, &d, a[1], &ready, b[1]), 0);
	}
	assert_true(d.is_full);
	assert_true(d.inpipe > 0);
	assert_true(d.inpipe < LIMIT_SPLICE_PIPE);
	assert_true(bytes_queued(a[1]) > 0); /* readable, but no room */
	assert_int_equal(ready, 0);
	assert_false(relay_dir_wants_read(&d));
	assert_true(relay_dir_wants_write(&d));
	assert_true(d.pipe[0] != -1);
	/* out drains: room again, reading resumes */
	assert_int_equal(drain(b[0]), junk);
	n = relay_dir_splice(&pool, &d, a[1], &ready, b[1]);
	assert_true(n > 0);
	assert_false(d.is_full);
	assert_true(relay_dir_wants_read(&d));
	for (rounds = 0; rounds < 10000 && recvd < total; rounds++) {
		if (relay_dir_wants_read(&d) && bytes_queued(a[1]) > 0)
			ready |= EPOLLIN;
		assert_true(
		    relay_dir_splice(&pool, &d, a[1], &ready, b[1]) >= 0);
		n = read(b[0], got, sizeof(got));
		for (i = 0; n > 0 && i < (size_t)n; i++, recvd++)
			assert_int_equal(got[i], (unsigned char)(recvd / 100));
	}
	assert_int_equal(recvd, total);
	assert_int_equal(d.inpipe, 0);
	assert_int_equal(d.pipe[0], -1);
	relay_dir_close(&pool, &d);
	relay_pool_reset(&pool);
	pair_close(a);
	pair_close(b);
	assert_int_equal(fd_count(), base);
}

static void
test_dir_eof(void **state)
{
	struct relay_pool pool;
	struct relay_dir d;
	uint32_t ready = 0;
	char got[8];
	int base = fd_count(), a[2], b[2];

	(void)state;
	relay_pool_init(&pool);
	relay_dir_init(&d);
	pair_open(a);
	pair_open(b);
	assert_int_equal(write(a[0], "abc", 3), 3);
	assert_int_equal(shutdown(a[0], SHUT_WR), 0);
	/* not reported readable: end of stream not seen either */
	assert_int_equal(relay_dir_splice(&pool, &d, a[1], &ready, b[0]), 0);
	assert_int_equal(d.is_eof, 0);
	ready = EPOLLIN;
	assert_int_equal(relay_dir_splice(&pool, &d, a[1], &ready, b[0]), 3);
	assert_int_equal(d.is_eof, 0); /* the bytes come first */
	/* the short read dropped the readable bit; the loop reports the end */
	assert_int_equal(ready, 0);
	lt_ready(a[1], &ready);
	assert_int_equal(ready, EPOLLIN);
	assert_int_equal(relay_dir_splice(&pool, &d, a[1], &ready, b[0]), 0);
	assert_int_equal(d.is_eof, 1);
	assert_int_equal(d.pipe[0], -1);
	assert_int_equal(pool.len, 1);
	assert_false(relay_dir_wants_read(&d));
	assert_false(relay_dir_wants_write(&d));
	/* after the end nothing is read, whatever epoll says */
	ready = EPOLLIN;
	assert_int_equal(relay_dir_splice(&pool, &d, a[1], &ready, b[0]), 0);
	assert_int_equal(read(b[1], got, sizeof(got)), 3);
	assert_memory_equal(got, "abc", 3);
	/* the caller passes the end on once the pipe is empty */
	assert_int_equal(shutdown(b[0], SHUT_WR), 0);
	assert_int_equal(read(b[1], got, sizeof(got)), 0);
	relay_dir_close(&pool, &d);
	relay_pool_reset(&pool);
	pair_close(a);
	pair_close(b);
	assert_int_equal(fd_count(), base);
}

/* End of stream while out is full: seen, and the pipe is kept until the
 * bytes before it are out. */
static void
test_dir_eof_with_bytes_in_pipe(void **state)
{
	struct relay_pool pool;
	struct relay_dir d;
	uint32_t ready = EPOLLIN;
	char got[16];
	size_t junk;
	int base = fd_count(), a[2], b[2], i;

	(void)state;
	relay_pool_init(&pool);
	relay_dir_init(&d);
	pair_open(a);
	pair_open(b);
	junk = fill(b[1]);
	assert_int_equal(write(a[0], "tail", 4), 4);
	assert_int_equal(shutdown(a[0], SHUT_WR), 0);
	for (i = 0; i < 4 && !d.is_eof; i++) {
		lt_ready(a[1], &ready);
		assert_int_equal(
		    relay_dir_splice(&pool, &d, a[1], &ready, b[1]), 0);
	}
	assert_int_equal(d.is_eof, 1);
	assert_int_equal(d.inpipe, 4);
	assert_true(d.pipe[0] != -1);
	assert_true(relay_dir_wants_write(&d));
	assert_int_equal(drain(b[0]), junk);
	assert_int_equal(relay_dir_splice(&pool, &d, a[1], &ready, b[1]), 4);
	assert_int_equal(d.inpipe, 0);
	assert_int_equal(d.pipe[0], -1);
	assert_int_equal(pool.len, 1);
	assert_int_equal(read(b[0], got, sizeof(got)), 4);
	assert_memory_equal(got, "tail", 4);
	relay_dir_close(&pool, &d);
	relay_pool_reset(&pool);
	pair_close(a);
	pair_close(b);
	assert_int_equal(fd_count(), base);
}

/* Closing a direction with bytes in its pipe closes the pipe. */
static void
test_dir_close_with_bytes(void **state)
{
	struct relay_pool pool;
	struct relay_dir d;
	uint32_t ready = EPOLLIN;
	int base = fd_count(), a[2], b[2], r, w;

	(void)state;
	relay_pool_init(&pool);
	relay_dir_init(&d);
	pair_open(a);
	pair_open(b);
	fill(b[1]);
	assert_int_equal(write(a[0], "stuck", 5), 5);
	assert_int_equal(relay_dir_splice(&pool, &d, a[1], &ready, b[1]), 0);
	assert_int_equal(d.inpipe, 5);
	r = d.pipe[0];
	w = d.pipe[1];
	assert_true(fd_is_open(r));
	relay_dir_close(&pool, &d);
	assert_false(fd_is_open(r));
	assert_false(fd_is_open(w));
	assert_int_equal(pool.len, 0);
	assert_int_equal(d.pipe[0], -1);
	assert_int_equal(d.pipe[1], -1);
	assert_int_equal(d.inpipe, 0);
	assert_int_equal(d.is_eof, 0);
	assert_int_equal(d.is_full, 0);
	/* closing an idle direction is a no-op */
	relay_dir_close(&pool, &d);
	assert_int_equal(pool.len, 0);
	relay_pool_reset(&pool);
	pair_close(a);
	pair_close(b);
	assert_int_equal(fd_count(), base);
}

static void
test_dir_errors(void **state)
{
	struct relay_pool pool;
	struct relay_dir d;
	uint32_t ready = EPOLLIN;
	int base = fd_count(), a[2], b[2], p[2];

	(void)state;
	relay_pool_init(&pool);
	pair_open(a);
	pair_open(b);

	/* in is not readable at all */
	relay_dir_init(&d);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	errno = 0;
	assert_int_equal(relay_dir_splice(&pool, &d, p[1], &ready, b[0]), -1);
	assert_int_equal(errno, EBADF);
	relay_dir_close(&pool, &d);
	close(p[0]);
	close(p[1]);

	/* out's peer is gone: the bytes cannot go anywhere */
	relay_dir_init(&d);
	assert_int_equal(write(a[0], "lost", 4), 4);
	close(b[1]);
	b[1] = -1;
	errno = 0;
	assert_int_equal(relay_dir_splice(&pool, &d, a[1], &ready, b[0]), -1);
	assert_int_equal(errno, EPIPE);
	assert_int_equal(d.inpipe, 4);
	relay_dir_close(&pool, &d); /* the pipe with bytes is closed */
	relay_pool_reset(&pool);
	pair_close(a);
	close(b[0]);
	assert_int_equal(fd_count(), base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pool_reuse),
	    cmocka_unit_test(test_pool_cap),
	    cmocka_unit_test(test_pool_put_with_bytes),
	    cmocka_unit_test(test_pool_no_descriptors),
	    cmocka_unit_test(test_dir_reads_only_when_ready),
	    cmocka_unit_test(test_dir_eagain_clears_ready),
	    cmocka_unit_test(test_dir_both_ways),
	    cmocka_unit_test(test_dir_slow_reader),
	    cmocka_unit_test(test_dir_pipe_full_early),
	    cmocka_unit_test(test_dir_eof),
	    cmocka_unit_test(test_dir_eof_with_bytes_in_pipe),
	    cmocka_unit_test(test_dir_close_with_bytes),
	    cmocka_unit_test(test_dir_errors),
	};

	/* a write to a closed peer must come back as EPIPE, not kill us */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
