/* dump.c — traffic dumps: the record format (hex, and socat -v's text
 * view) and a bounded queue with a writer thread, so that a slow stderr
 * costs records, never the relay's time. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "dump.h"

int dump_parse_format(const char *s)
{
	if (!strcmp(s, "hex"))
		return DUMP_HEX;
	if (!strcmp(s, "text"))
		return DUMP_TEXT;
	return -1;
}

void dump_now(char *buf, size_t n)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	snprintf(buf, n, "%04d/%02d/%02d %02d:%02d:%02d.%06ld",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
}

/* ---- the record format ---- */

static const char hexd[] = "0123456789abcdef";

static size_t header(char *out, size_t n, const struct dump_hdr *h, size_t len)
{
	int k = snprintf(out, n, "%c #%lu %s length=%zu from=%llu to=%llu peer=%s\n",
			 h->mark, h->id, h->when, len, (unsigned long long)h->off,
			 (unsigned long long)(h->off + len - 1), h->peer);
	return k < 0 ? 0 : (size_t)k >= n ? n - 1 : (size_t)k;
}

/* One hex line of the K (1..16) bytes at P, at offset OFF, into OUT;
 * returns its length (at most 96). */
static size_t hex_line(char *out, char mark, uint64_t off, const char *p, size_t k)
{
	size_t o = (size_t)snprintf(out, 32, "%c %08llx  ", mark,
				    (unsigned long long)off);
	for (size_t j = 0; j < 16; j++) {
		if (j < k) {
			unsigned char c = (unsigned char)p[j];
			out[o++] = hexd[c >> 4];
			out[o++] = hexd[c & 15];
		} else {
			out[o++] = ' ';
			out[o++] = ' ';
		}
		out[o++] = ' ';
		if (j == 7)
			out[o++] = ' ';
	}
	out[o++] = ' ';
	out[o++] = '|';
	for (size_t j = 0; j < k; j++) {
		unsigned char c = (unsigned char)p[j];
		out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '.';
	}
	out[o++] = '|';
	out[o++] = '\n';
	return o;
}

static size_t body_hex(char *out, size_t room, char mark, uint64_t off,
		       const char *p, size_t n, size_t *used)
{
	char line[96];
	size_t o = 0, i = 0;

	while (i < n) {
		size_t k = n - i < 16 ? n - i : 16;
		size_t l = hex_line(line, mark, off + i, p + i, k);
		if (o + l > room)
			break;
		memcpy(out + o, line, l);
		o += l;
		i += k;
	}
	*used = i;
	return o;
}

/* The text view: each line after MARK and two spaces, LF ending it. */
static size_t body_text(char *out, size_t room, char mark, const char *p,
			size_t n, size_t *used)
{
	size_t o = 0, i = 0;
	int bol = 1;

	while (i < n) {
		char piece[8];
		size_t pl, take;
		if (p[i] == '\n') {
			piece[0] = '\n';
			pl = take = 1;
		} else {
			int k = esc_keep(p + i, n - i);
			if (k > 0) {
				memcpy(piece, p + i, (size_t)k);
				pl = take = (size_t)k;
			} else {
				unsigned char c = (unsigned char)p[i];
				piece[0] = '\\';
				piece[1] = 'x';
				piece[2] = hexd[c >> 4];
				piece[3] = hexd[c & 15];
				pl = 4;
				take = 1;
			}
		}
		/* room for the line's start, the piece, and a closing LF */
		size_t need = (bol ? 3 : 0) + pl + (piece[0] == '\n' ? 0 : 1);
		if (o + need > room)
			break;
		if (bol) {
			out[o++] = mark;
			out[o++] = ' ';
			out[o++] = ' ';
		}
		memcpy(out + o, piece, pl);
		o += pl;
		i += take;
		bol = piece[0] == '\n';
	}
	if (!bol)
		out[o++] = '\n';
	*used = i;
	return o;
}

size_t dump_record(char *out, enum dump_format fmt, const struct dump_hdr *h,
		   const char *p, size_t n, size_t *used)
{
	char body[DUMP_RECORD_MAX];
	char hd[DUMP_PEER_MAX + 160];

	/* the header for all N bytes is at least as long as the one for
	 * the bytes that fit: reserve that much */
	size_t hl = header(hd, sizeof hd, h, n);
	size_t room = DUMP_RECORD_MAX - hl;
	size_t bl = fmt == DUMP_TEXT ? body_text(body, room, h->mark, p, n, used) :
		    body_hex(body, room, h->mark, h->off, p, n, used);
	hl = header(out, DUMP_RECORD_MAX, h, *used);
	memcpy(out + hl, body, bl);
	return hl + bl;
}

/* ---- the writer ---- */

struct rec {
	struct rec *next;
	size_t len;
	char text[];
};

struct note {
	unsigned long id;
	uint64_t bytes;
};

struct dump {
	int fd;
	int fmt;
	int flags;
	size_t max;
	pthread_mutex_t mu;
	pthread_cond_t more;    /* the writer has work, or must stop */
	pthread_cond_t idle;    /* the writer has nothing left */
	pthread_cond_t room;    /* the writer took a record off the queue */
	int wait_room;          /* a regular file or /dev/null: a full
	                           queue waits for room, drops nothing */
	struct rec *head, *tail;
	size_t queued;          /* bytes of records in the queue */
	struct note *notes;     /* drops not told yet, by connection */
	size_t nnotes, capnotes;
	uint64_t lines_untold;  /* log lines dropped, not told yet */
	uint64_t lines_dropped; /* log lines dropped in all */
	char prog[64];          /* names the lines' note */
	uint64_t dropped, dropped_bytes;
	int writing;            /* the writer is in write(2) */
	int stop, failed, thread;
	pthread_t th;
};

struct dump_dir {
	struct dump_conn *conn;
	char mark;
	uint64_t off;
};

struct dump_conn {
	struct dump *d;
	unsigned long id;
	struct dump_dir dir[2];   /* '>' and '<' */
	char peer[DUMP_PEER_MAX + 4];
};

/* A dump whose writer did not finish in time: still reachable, so that
 * its records are not taken for leaks at exit. */
static struct dump *abandoned;

/* Write all LEN bytes; 0, or -1 with errno. */
static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static struct rec *rec_new(const char *text, size_t len)
{
	struct rec *r = malloc(sizeof *r + len);
	if (r) {
		r->next = NULL;
		r->len = len;
		memcpy(r->text, text, len);
	}
	return r;
}

static void push_locked(struct dump *d, struct rec *r)
{
	if (d->tail)
		d->tail->next = r;
	else
		d->head = r;
	d->tail = r;
	d->queued += r->len;
}

/* Drops not told yet: nothing more is queued until they are. */
static int pending(const struct dump *d)
{
	return d->nnotes || d->lines_untold;
}

/* Queue the notes of dropped lines and bytes that fit; the rest wait. */
static void notes_locked(struct dump *d)
{
	size_t i = 0;
	if (d->lines_untold) {
		char t[128];
		int k = snprintf(t, sizeof t, "%s: [%llu log line%s not shown]\n",
				 d->prog, (unsigned long long)d->lines_untold,
				 d->lines_untold == 1 ? "" : "s");
		if (k < 0 || d->queued + (size_t)k > d->max)
			return;
		struct rec *r = rec_new(t, (size_t)k);
		if (!r)
			return;
		push_locked(d, r);
		d->lines_untold = 0;
	}
	for (; i < d->nnotes; i++) {
		char t[96];
		int k = snprintf(t, sizeof t, "[#%lu: %llu bytes not shown]\n",
				 d->notes[i].id,
				 (unsigned long long)d->notes[i].bytes);
		if (d->queued + (size_t)k > d->max)
			break;
		struct rec *r = rec_new(t, (size_t)k);
		if (!r)
			break;
		push_locked(d, r);
	}
	if (i) {
		memmove(d->notes, d->notes + i, (d->nnotes - i) * sizeof *d->notes);
		d->nnotes -= i;
	}
}

static void drop_locked(struct dump *d, unsigned long id, uint64_t bytes)
{
	d->dropped++;
	d->dropped_bytes += bytes;
	for (size_t i = 0; i < d->nnotes; i++) {
		if (d->notes[i].id == id) {
			d->notes[i].bytes += bytes;
			return;
		}
	}
	if (d->nnotes == d->capnotes) {
		size_t cap = d->capnotes ? 2 * d->capnotes : 16;
		struct note *nn = realloc(d->notes, cap * sizeof *nn);
		if (!nn)
			return;  /* counted in dropped, not told per connection */
		d->notes = nn;
		d->capnotes = cap;
	}
	d->notes[d->nnotes++] = (struct note){ id, bytes };
}

static void *writer(void *arg)
{
	struct dump *d = arg;

	pthread_mutex_lock(&d->mu);
	for (;;) {
		if (!d->head && pending(d) && !d->failed)
			notes_locked(d);
		if (!d->head) {
			pthread_cond_broadcast(&d->idle);
			if (d->stop)
				break;
			pthread_cond_wait(&d->more, &d->mu);
			continue;
		}
		struct rec *r = d->head;
		d->head = r->next;
		if (!d->head)
			d->tail = NULL;
		d->queued -= r->len;
		d->writing = 1;
		if (d->wait_room)
			pthread_cond_broadcast(&d->room);
		pthread_mutex_unlock(&d->mu);
		int bad = d->failed || write_all(d->fd, r->text, r->len) < 0;
		free(r);
		pthread_mutex_lock(&d->mu);
		d->writing = 0;
		if (bad) {
			d->failed = 1;  /* nobody reads: the rest is dropped */
			pthread_cond_broadcast(&d->room);
		}
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

struct dump *dump_open(int fd, enum dump_format fmt, size_t queue_max, int flags)
{
	struct dump *d = calloc(1, sizeof *d);
	if (!d)
		return NULL;
	d->fd = fd;
	d->fmt = fmt;
	d->flags = flags;
	snprintf(d->prog, sizeof d->prog, "usock");
	d->max = queue_max ? queue_max : DUMP_QUEUE_MAX;
	if (d->max < DUMP_RECORD_MAX)
		d->max = DUMP_RECORD_MAX;
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->more, NULL);
	pthread_cond_init(&d->idle, NULL);
	pthread_cond_init(&d->room, NULL);
	/* a file always takes what it is given, in time: capture it all,
	 * as socat -v does; a pipe, terminal or socket may stall for ever */
	struct stat st;
	if (fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) ||
	    (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))))
		d->wait_room = 1;
	if (flags & DUMP_SYNC)
		return d;
	/* the writer takes no signal: they are the main thread's events */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int e = pthread_create(&d->th, NULL, writer, d);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		pthread_mutex_destroy(&d->mu);
		pthread_cond_destroy(&d->more);
		pthread_cond_destroy(&d->idle);
		pthread_cond_destroy(&d->room);
		free(d);
		errno = e;
		return NULL;
	}
	d->thread = 1;
	return d;
}

static void free_queue(struct dump *d)
{
	while (d->head) {
		struct rec *r = d->head;
		d->head = r->next;
		free(r);
	}
	d->tail = NULL;
	free(d->notes);
	d->notes = NULL;
	d->nnotes = d->capnotes = 0;
}

int dump_close(struct dump *d, int timeout_ms)
{
	if (!d)
		return 0;
	if (!d->thread) {
		int failed = d->failed;
		free(d);
		errno = EIO;
		return failed ? -1 : 0;
	}
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&d->mu);
	d->stop = 1;
	pthread_cond_signal(&d->more);
	int timed_out = 0;
	while ((d->head || d->writing || (pending(d) && !d->failed)) && !timed_out)
		timed_out = pthread_cond_timedwait(&d->idle, &d->mu, &until) == ETIMEDOUT;
	/* the writer may be blocked on a stderr nobody reads: leave it */
	if (d->writing || (d->head && !d->failed)) {
		pthread_mutex_unlock(&d->mu);
		abandoned = d;
		errno = ETIMEDOUT;
		return -1;
	}
	pthread_mutex_unlock(&d->mu);
	pthread_join(d->th, NULL);
	int failed = d->failed;
	free_queue(d);
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->more);
	pthread_cond_destroy(&d->idle);
	pthread_cond_destroy(&d->room);
	free(d);
	errno = EIO;
	return failed ? -1 : 0;
}

uint64_t dump_dropped(struct dump *d)
{
	pthread_mutex_lock(&d->mu);
	uint64_t n = d->dropped_bytes;
	pthread_mutex_unlock(&d->mu);
	return n;
}

/* Hand one record (showing BYTES data bytes of connection ID) over. */
static void emit(struct dump *d, unsigned long id, const char *text,
		 size_t len, size_t bytes)
{
	if (!d->thread) {
		if (!d->failed && write_all(d->fd, text, len) < 0)
			d->failed = 1;
		return;
	}
	/* copied before taking the lock: the writer waits for no malloc */
	struct rec *r = rec_new(text, len);
	pthread_mutex_lock(&d->mu);
	/* a file: wait for the writer to make room (a write error drops) */
	while (d->wait_room && r && !d->failed && d->head &&
	       d->queued + len > d->max)
		pthread_cond_wait(&d->room, &d->mu);
	/* once records were dropped, the queue drains to half before taking
	 * more: one note per stall, not one per record */
	if (pending(d) && !d->failed && d->queued <= d->max / 2)
		notes_locked(d);
	if (r && !d->failed && !pending(d) && d->queued + len <= d->max) {
		push_locked(d, r);
		r = NULL;
		pthread_cond_signal(&d->more);
	} else if (!d->failed) {
		drop_locked(d, id, bytes);
	}
	pthread_mutex_unlock(&d->mu);
	free(r);
}

void dump_set_format(struct dump *d, enum dump_format fmt)
{
	d->fmt = fmt;
}

void dump_set_prog(struct dump *d, const char *prog)
{
	snprintf(d->prog, sizeof d->prog, "%s", prog);
}

int dump_line(struct dump *d, const char *text, size_t len)
{
	if (!d->thread) {
		if (!d->failed && write_all(d->fd, text, len) < 0)
			d->failed = 1;
		return d->failed ? -1 : 0;
	}
	struct rec *r = rec_new(text, len);
	int rc = 0;
	pthread_mutex_lock(&d->mu);
	if (pending(d) && !d->failed && d->queued <= d->max / 2)
		notes_locked(d);
	if (r && !d->failed && !pending(d) && d->queued + len <= d->max) {
		push_locked(d, r);
		r = NULL;
		pthread_cond_signal(&d->more);
	} else {
		if (!d->failed)
			d->lines_untold++;
		d->lines_dropped++;
		rc = -1;
	}
	pthread_mutex_unlock(&d->mu);
	free(r);
	return rc;
}

uint64_t dump_lines_dropped(struct dump *d)
{
	pthread_mutex_lock(&d->mu);
	uint64_t n = d->lines_dropped;
	pthread_mutex_unlock(&d->mu);
	return n;
}

/* Cut NAME (canonical text) to DUMP_PEER_MAX bytes, between two
 * characters or escapes, into OUT with "..." after a cut. */
static void peer_cut(char *out, const char *name)
{
	size_t len = strlen(name);
	if (len <= DUMP_PEER_MAX) {
		memcpy(out, name, len + 1);
		return;
	}
	size_t k = DUMP_PEER_MAX;
	/* not inside "\xHH" */
	for (size_t j = k >= 3 ? k - 3 : 0; j < k; j++)
		if (name[j] == '\\')
			k = j;
	/* not inside a UTF-8 character */
	while (k > 0 && ((unsigned char)name[k] & 0xc0) == 0x80)
		k--;
	memcpy(out, name, k);
	memcpy(out + k, "...", 4);
}

struct dump_conn *dump_conn_new(struct dump *d, unsigned long id,
				const char *peer)
{
	struct dump_conn *dc = calloc(1, sizeof *dc);
	if (!dc)
		return NULL;
	dc->d = d;
	dc->id = id;
	peer_cut(dc->peer, peer ? peer : "");
	dc->dir[0] = (struct dump_dir){ dc, '>', 0 };
	dc->dir[1] = (struct dump_dir){ dc, '<', 0 };
	return dc;
}

void dump_conn_free(struct dump_conn *dc)
{
	free(dc);
}

void *dump_conn_dir(struct dump_conn *dc, char mark)
{
	return &dc->dir[mark == '<'];
}

/* While the queue drains after a drop, or after writing failed, N more
 * bytes of ID are counted at once, not formatted: a stuck stderr costs
 * the relay almost nothing.  1 when they were. */
static int skip(struct dump *d, unsigned long id, size_t n)
{
	if (!d->thread)
		return d->failed;
	pthread_mutex_lock(&d->mu);
	int busy = d->failed || (pending(d) && d->queued > d->max / 2);
	if (busy && !d->failed)
		drop_locked(d, id, n);
	pthread_mutex_unlock(&d->mu);
	return busy;
}

void dump_tap(void *dir, const char *p, size_t n)
{
	struct dump_dir *t = dir;
	struct dump_conn *dc = t->conn;
	char when[32], rec[DUMP_RECORD_MAX];

	if (skip(dc->d, dc->id, n)) {
		t->off += n;
		return;
	}
	dump_now(when, sizeof when);
	while (n) {
		struct dump_hdr h = { dc->id, t->mark, dc->peer, when, t->off };
		size_t used;
		size_t len = dump_record(rec, (enum dump_format)dc->d->fmt, &h, p,
					 n, &used);
		emit(dc->d, dc->id, rec, len, used);
		t->off += used;
		p += used;
		n -= used;
	}
}

void dump_tap_mark(void *conn, char mark, const char *p, size_t n)
{
	dump_tap(dump_conn_dir(conn, mark), p, n);
}
