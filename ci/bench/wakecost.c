// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What a cross-CPU wake-up costs on this machine: a thread on CPU A and
 * one on CPU B pass a token back and forth over two eventfds, N times.
 * With "sleep" B blocks in read(2), so each token A sends must wake B's
 * CPU; with "spin" B polls its eventfd without blocking, so nothing has
 * to be woken on B's side.  Printed: the round trip and the CPU time A
 * spent per round trip (thread CPU clock), for each of the two.  The
 * difference of A's CPU is what a sender pays to wake a sleeping peer on
 * another CPU: on a VM whose idle vCPUs halt at once it is large, and it
 * is what a proxy that sleeps between events costs the CPU of its
 * clients and upstreams.
 *
 * usage: wakecost CPU_A CPU_B [ROUNDS]
 * prints: sleep_rtt_us sleep_sender_us spin_rtt_us spin_sender_us
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct pingpong {
	int to_peer;   /* eventfd A writes, B reads */
	int to_sender; /* eventfd B writes, A reads */
	int peer_cpu;
	int does_peer_spin;
	long rounds;
};

static int
pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static double
seconds_of(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
peer_main(void *arg)
{
	const struct pingpong *pp = arg;
	uint64_t token;
	long i;

	if (pin_to(pp->peer_cpu) != 0)
		return (void *)1;
	for (i = 0; i < pp->rounds; i++) {
		while (read(pp->to_peer, &token, sizeof(token)) != sizeof(token))
			if (!pp->does_peer_spin || errno != EAGAIN)
				return (void *)1;
		if (write(pp->to_sender, &token, sizeof(token)) != sizeof(token))
			return (void *)1;
	}
	return NULL;
}

/* one measurement; rtt_us and sender_us per round trip */
static int
measure(int sender_cpu, int peer_cpu, int does_peer_spin, long rounds,
    double *rtt_us, double *sender_us)
{
	struct pingpong pp = { -1, -1, peer_cpu, does_peer_spin, rounds };
	uint64_t token = 1;
	double wall0, cpu0;
	pthread_t peer;
	void *peer_rc;
	long i;
	int rc = -1;

	pp.to_peer = eventfd(0, does_peer_spin ? EFD_NONBLOCK : 0);
	pp.to_sender = eventfd(0, 0);
	if (pp.to_peer == -1 || pp.to_sender == -1 || pin_to(sender_cpu) != 0)
		goto out;
	if (pthread_create(&peer, NULL, peer_main, &pp) != 0)
		goto out;
	usleep(50000); /* the peer settles on its CPU */
	wall0 = seconds_of(CLOCK_MONOTONIC);
	cpu0 = seconds_of(CLOCK_THREAD_CPUTIME_ID);
	for (i = 0; i < rounds; i++) {
		if (write(pp.to_peer, &token, sizeof(token)) != sizeof(token) ||
		    read(pp.to_sender, &token, sizeof(token)) != sizeof(token))
			break;
	}
	*sender_us = (seconds_of(CLOCK_THREAD_CPUTIME_ID) - cpu0) / (double)rounds * 1e6;
	*rtt_us = (seconds_of(CLOCK_MONOTONIC) - wall0) / (double)rounds * 1e6;
	if (pthread_join(peer, &peer_rc) == 0 && peer_rc == NULL && i == rounds)
		rc = 0;
out:
	if (pp.to_peer != -1)
		close(pp.to_peer);
	if (pp.to_sender != -1)
		close(pp.to_sender);
	return rc;
}

int
main(int argc, char **argv)
{
	double sleep_rtt, sleep_sender, spin_rtt, spin_sender;
	long rounds = 20000;
	int a, b;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: wakecost CPU_A CPU_B [ROUNDS]\n");
		return 2;
	}
	a = atoi(argv[1]);
	b = atoi(argv[2]);
	if (argc == 4)
		rounds = atol(argv[3]);
	if (rounds < 1 || rounds > 10000000) {
		fprintf(stderr, "wakecost: ROUNDS must be 1..10000000\n");
		return 2;
	}
	if (measure(a, b, 0, rounds, &sleep_rtt, &sleep_sender) != 0 ||
	    measure(a, b, 1, rounds, &spin_rtt, &spin_sender) != 0) {
		fprintf(stderr, "wakecost: measurement failed\n");
		return 1;
	}
	printf("%.2f %.2f %.2f %.2f\n", sleep_rtt, sleep_sender, spin_rtt,
	    spin_sender);
	return 0;
}
