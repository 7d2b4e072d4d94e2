/* bench.h — the load generators of usock-bench: throughput, round-trip
 * latency, connection rate and many held connections, all driven by one
 * epoll loop in the calling process. */
#ifndef USOCK_BENCH_H
#define USOCK_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/addr.h"
#include "core/sock.h"
#include "core/sys.h"

enum bench_mode { BENCH_THROUGHPUT = 1, BENCH_LATENCY, BENCH_CONNECT_RATE,
		  BENCH_HOLD };

struct bench_result;

struct bench_opts {
	enum bench_mode mode;
	const struct addr *addr;
	const struct addr *source; /* bind each connection to it first
	                              (sock_source_bind()), or NULL */
	unsigned long conns;    /* parallel connections, workers, or N of hold */
	uint64_t count;         /* bytes, round trips or connections; 0: none */
	int64_t duration_ms;    /* how long to count (hold: to hold); -1: none */
	size_t size;            /* write size or message size */
	int64_t warmup_ms;      /* run uncounted this long first; 0: none */
	int64_t timeout_ms;     /* longest wait for any one step */
	int64_t wait_ms;        /* first connect: retry this long; -1: not */
	/* connect-rate: send these bytes instead of an echo-checked
	 * message, and read whatever comes back until the peer closes */
	const char *request;
	size_t request_len;
	/* called about four times a second while counting, with the
	 * figures so far and the seconds counted */
	void (*progress)(void *ctx, const struct bench_result *r, double secs);
	/* hold: called once every connection is open and checked */
	void (*held)(void *ctx, unsigned long n);
	void *ctx;
};

struct bench_result {
	enum bench_mode mode;
	uint64_t bytes;         /* throughput: bytes sent while counting */
	uint64_t received;      /* throughput: bytes that came back */
	uint64_t count;         /* round trips, connections (hold: checks) */
	double seconds;         /* time counted (hold: to open them all) */
	double rate;            /* bytes, round trips or connections a second */
	double min, mean, p50, p90, p99, max;  /* microseconds (latency;
						  connect-rate: per connection) */
	double held;            /* hold: seconds the connections were held */
	/* on failure */
	const char *what;       /* the step: "connect", "write", "read", ... */
	const char *why;        /* a protocol failure, else NULL (see errno) */
	unsigned long conn;     /* which connection, from 0 */
};

/* Run the workload O describes.  Returns 0 with R filled, or -1 with
 * errno set (ETIMEDOUT: a step waited past o->timeout_ms, or the first
 * connect past o->wait_ms) and R->what, R->why, R->conn saying where. */
int bench_run(const struct bench_opts *o, struct bench_result *r);

/* Mode names: "throughput", "latency", "connect-rate", "hold". */
int bench_mode_parse(const char *s, enum bench_mode *m);
const char *bench_mode_name(enum bench_mode m);

/* A byte count with an optional binary suffix: 64, 128K, 1.5M, 4G, 1T
 * (also KiB, MiB, ...).  0 or -1 with *why set. */
int bench_parse_size(const char *s, uint64_t *out, const char **why);
/* Bytes in human form ("4.00 GiB", "64 B") into BUF; returns BUF. */
char *bench_format_bytes(double v, char *buf, size_t n);
/* Microseconds in human form ("8.1us", "1.20ms", "2.3s"). */
char *bench_format_us(double us, char *buf, size_t n);
/* A rate with a unit ("4.93 GiB/s", "121.9k/s") */
char *bench_format_rate(double v, int bytes, char *buf, size_t n);

/* ---- bench_report.c ---- */

/* Results of one mode as an aligned table: a header and a row each. */
#define BENCH_ROWS 3
#define BENCH_COLS 10
#define BENCH_CELL 200
struct bench_table {
	int ncol, nrow;
	char cell[BENCH_ROWS][BENCH_COLS][BENCH_CELL];
};
/* Add R (the result of a run against ADDR) as the next row of T. */
void bench_table_add(struct bench_table *t, const char *addr, size_t size,
		     unsigned long conns, const struct bench_result *r);
void bench_table_print(FILE *f, const struct bench_table *t);

/* R as one JSON object on one line of F. */
void bench_json_result(FILE *f, const char *addr, size_t size,
		       unsigned long conns, const struct bench_result *r);
/* The --compare verdict as one JSON object: RATIO > 1 means ADDR did
 * better than VERSUS by BASIS ("rate" or "p50"). */
void bench_json_compare(FILE *f, enum bench_mode mode, const char *addr,
			const char *versus, size_t size, unsigned long conns,
			const char *basis, double ratio);

#endif
