/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_buf.c - the bounded buffer: ceilings, consume, fd I/O.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"

static void
test_ceiling(void **state)
{
	struct buf b;
	char data[100];

	(void)state;
	memset(data, 'x', sizeof(data));
	buf_init(&b, 100);
	assert_null(b.data); /* lazily allocated */
	assert_int_equal(buf_append(&b, data, 60), 0);
	assert_int_equal(buf_room(&b), 40);
	assert_int_equal(buf_append(&b, data, 40), 0); /* exactly at max */
	assert_int_equal(buf_room(&b), 0);
	errno = 0;
	assert_int_equal(buf_append(&b, data, 1), -1); /* one past */
	assert_int_equal(errno, ENOBUFS);
	assert_int_equal(b.len, 100);
	assert_true(b.cap <= 100);
	buf_release(&b);
}

static void
test_consume_and_reuse(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(buf_append(&b, "abcdefgh", 8), 0);
	buf_consume(&b, 5);
	assert_int_equal(b.len, 3);
	assert_memory_equal(buf_ptr(&b), "fgh", 3);
	/* room comes back after consuming; data is moved to the front */
	assert_int_equal(buf_append(&b, "12345", 5), 0);
	assert_memory_equal(buf_ptr(&b), "fgh12345", 8);
	buf_consume(&b, 100);
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_printf(&b, "%d-%s", 42, "ok"), 0);
	assert_memory_equal(buf_ptr(&b), "42-ok", 5);
	assert_int_equal(buf_printf(&b, "%s", "toolong"), -1);
	buf_release(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

static void
test_fd_io(void **state)
{
	struct buf in, out, wide;
	int p[2];
	char big[300];

	(void)state;
	assert_int_equal(pipe(p), 0);
	memset(big, 'z', sizeof(big));
	buf_init(&out, 1024);
	buf_init(&in, 256);
	assert_int_equal(buf_append(&out, big, sizeof(big)), 0);
	assert_int_equal(buf_write_fd(&out, p[1]), 300);
	assert_int_equal(out.len, 0);
	/* read stops at the ceiling */
	assert_int_equal(buf_read_fd(&in, p[0]), 256);
	errno = 0;
	assert_int_equal(buf_read_fd(&in, p[0]), -1);
	assert_int_equal(errno, ENOBUFS);
	buf_consume(&in, 256);
	/* at most "most" bytes, the block only as large as they need */
	buf_init(&wide, BUF_READ_MAX);
	assert_int_equal(buf_read_fd_max(&wide, p[0], 10), 10);
	assert_int_equal(wide.cap, 4096);
	errno = 0;
	assert_int_equal(buf_read_fd_max(&wide, p[0], 0), -1);
	assert_int_equal(errno, EINVAL);
	buf_release(&wide);
	assert_int_equal(buf_read_fd(&in, p[0]), 34);
	close(p[1]);
	assert_int_equal(buf_read_fd(&in, p[0]), 0);
	close(p[0]);
	buf_release(&in);
	buf_release(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ceiling),
		cmocka_unit_test(test_consume_and_reuse),
		cmocka_unit_test(test_fd_io),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
