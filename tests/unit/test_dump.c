/* test_dump.c — unit tests of the traffic dump: the record format (hex
 * and text), records cut at DUMP_RECORD_MAX, and the writer: whole
 * records from concurrent threads, and a stderr nobody reads costing
 * records (counted in a note), never the caller's time. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "core/dump.h"
#include "core/sys.h"

static size_t rec(char *out, enum dump_format f, const char *p, size_t n,
		  uint64_t off, size_t *used)
{
	struct dump_hdr h = { 7, '>', "unix:/tmp/a b.sock", "2026/01/02 03:04:05.000006", off };
	size_t len = dump_record(out, f, &h, p, n, used);
	out[len] = 0;
	return len;
}

static void formats(void)
{
	char out[DUMP_RECORD_MAX + 1];
	size_t used;

	rec(out, DUMP_HEX, "hello\n", 6, 16, &used);
	CHECK(used == 6, "used %zu", used);
	CHECK(!strcmp(out, "> #7 2026/01/02 03:04:05.000006 length=6 from=16 to=21 peer=unix:/tmp/a b.sock\n"
		      "> 00000010  68 65 6c 6c 6f 0a                                 |hello.|\n"),
	      "hex record:\n%s", out);

	rec(out, DUMP_TEXT, "GET / HTTP/1.0\r\n\r\n\\\x01\xc3\xa9\xff", 23, 0, &used);
	CHECK(used == 23, "used %zu", used);
	CHECK(!strcmp(out, "> #7 2026/01/02 03:04:05.000006 length=23 from=0 to=22 peer=unix:/tmp/a b.sock\n"
		      ">  GET / HTTP/1.0\\x0d\n"
		      ">  \\x0d\n"
		      ">  \\x5c\\x01\xc3\xa9\\xff\n"),
	      "text record:\n%s", out);

	/* a line that looks like a header stays a data line */
	rec(out, DUMP_TEXT, "x\n> #9 2026", 11, 0, &used);
	CHECK(strstr(out, "\n>  > #9 2026\n") != NULL, "forged header:\n%s", out);
}

/* Every byte of N, cut into records: each at most DUMP_RECORD_MAX, one
 * header each, at least one byte each, offsets in sequence. */
static void cuts(enum dump_format f, const char *p, size_t n)
{
	char out[DUMP_RECORD_MAX + 1];
	size_t done = 0, records = 0;
	while (done < n) {
		size_t used;
		size_t len = rec(out, f, p + done, n - done, done, &used);
		CHECK(len <= DUMP_RECORD_MAX && used > 0, "record of %zu bytes shows %zu",
		      len, used);
		if (!used)
			return;
		char want[64];
		snprintf(want, sizeof want, " length=%zu from=%zu to=%zu ", used, done,
			 done + used - 1);
		CHECK(strstr(out, want) && out[len - 1] == '\n',
		      "header lacks '%s':\n%.200s", want, out);
		/* no control byte but the line ends */
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)out[i] < 0x20 && out[i] != '\n') {
				CHECK(0, "control byte 0x%02x at %zu", out[i], i);
				break;
			}
		done += used;
		records++;
	}
	CHECK(records > 1, "%zu bytes in one record", n);
}

struct flood {
	struct dump *d;
	unsigned long id;
	size_t chunks;
};

static void *flood_run(void *arg)
{
	struct flood *f = arg;
	struct dump_conn *dc = dump_conn_new(f->d, f->id, "tcp:127.0.0.1:1");
	char buf[3000];
	memset(buf, 'a' + (int)f->id, sizeof buf);
	for (size_t i = 0; i < f->chunks; i++)
		dump_tap(dump_conn_dir(dc, i & 1 ? '<' : '>'), buf, sizeof buf);
	dump_conn_free(dc);
	return NULL;
}

/* Read FD to its end into a malloc'd string. */
static char *slurp(int fd, size_t *n)
{
	size_t cap = 1 << 16, len = 0;
	char *s = malloc(cap);
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *t = realloc(s, cap *= 2);
			if (!t)
				abort();
			s = t;
		}
		ssize_t r = read(fd, s + len, 4096);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	s[len] = 0;
	*n = len;
	return s;
}

struct reading {
	int fd;
	char *s;
	size_t n;
};

static void *read_run(void *arg)
{
	struct reading *r = arg;
	r->s = slurp(r->fd, &r->n);
	return NULL;
}

/* Records of two threads: each a header followed by lines of its own
 * connection only (never mixed). */
static void threads(void)
{
	int p[2];
	if (pipe(p) < 0)
		return;
	struct dump *d = dump_open(p[1], DUMP_HEX, 0, 0);
	CHECK(d != NULL, "dump_open: %s", strerror(errno));
	struct flood f[2] = { { d, 1, 200 }, { d, 2, 200 } };
	pthread_t t[2], rt;
	struct reading r = { p[0], NULL, 0 };
	pthread_create(&rt, NULL, read_run, &r);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, flood_run, &f[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK(dump_close(d, 10000) == 0, "dump_close: %s", strerror(errno));
	close(p[1]);
	pthread_join(rt, NULL);
	close(p[0]);
	char *s = r.s;
	int cur = 0;
	size_t headers = 0, bad = 0;
	for (char *l = s; *l; ) {
		char *e = strchr(l, '\n');
		if (!e)
			break;
		*e = 0;
		int id;
		if (sscanf(l, "%*c #%d ", &id) == 1) {
			cur = id;
			headers++;
		} else if (strlen(l) > 70) {
			/* a data line: its ASCII column is the connection's letter */
			char want = (char)('a' + cur);
			if (l[strlen(l) - 2] != want)
				bad++;
		}
		l = e + 1;
	}
	CHECK(headers >= 400 && bad == 0, "%zu records, %zu lines in the wrong one",
	      headers, bad);
	CHECK(!strstr(s, "not shown"), "records dropped from a pipe being read");
	free(s);
}

/* A pipe nobody reads: the taps return at once; once it is read, a note
 * tells how many bytes were not shown, and shown + not shown = all. */
static void full_pipe(void)
{
	int p[2];
	if (pipe(p) < 0)
		return;
	struct dump *d = dump_open(p[1], DUMP_TEXT, 64 << 10, 0);
	struct dump_conn *dc = dump_conn_new(d, 3, "unix:x");
	static char buf[1 << 20];
	memset(buf, 'z', sizeof buf);
	int64_t t0 = now_ms();
	for (int i = 0; i < 8; i++)
		dump_tap(dump_conn_dir(dc, '>'), buf, sizeof buf);
	int64_t took = now_ms() - t0;
	CHECK(took < 5000, "8 MiB into a full pipe took %lld ms", (long long)took);
	CHECK(dump_dropped(d) > 0, "nothing dropped");
	dump_conn_free(dc);
	/* now read it all while the dump finishes */
	struct reading r = { p[0], NULL, 0 };
	pthread_t rt;
	pthread_create(&rt, NULL, read_run, &r);
	CHECK(dump_close(d, 20000) == 0, "dump_close after draining: %s",
	      strerror(errno));
	close(p[1]);
	pthread_join(rt, NULL);
	unsigned long long lost = 0, k;
	for (const char *l = r.s; (l = strstr(l, "[#3: ")); l++)
		if (sscanf(l, "[#3: %llu bytes not shown]\n", &k) == 1)
			lost += k;
	CHECK(lost > 0, "no note in %zu bytes", r.n);
	/* count the bytes shown: the sum of length= */
	unsigned long long shown = 0;
	for (const char *l = r.s; (l = strstr(l, " length=")); l++)
		shown += strtoull(l + 8, NULL, 10);
	CHECK(shown + lost == 8ull << 20, "shown %llu + not shown %llu != 8 MiB",
	      shown, lost);
	free(r.s);
	close(p[0]);
}

int main(void)
{
	char big[20000];
	formats();
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (char)(i * 7);
	cuts(DUMP_HEX, big, sizeof big);
	cuts(DUMP_TEXT, big, sizeof big);
	memset(big, 0, sizeof big);
	cuts(DUMP_TEXT, big, sizeof big);
	memset(big, '\n', sizeof big);
	cuts(DUMP_TEXT, big, sizeof big);
	threads();
	full_pipe();
	return check_report("dump");
}
