/* dump.h — traffic dumps (--dump=hex|text, -x): records of the bytes a
 * relay writes, each naming its connection, and a writer that never
 * holds a relay up (usock(7), TRAFFIC DUMPS). */
#ifndef USOCK_DUMP_H
#define USOCK_DUMP_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

enum dump_format { DUMP_HEX = 1, DUMP_TEXT = 2 };

/* The longest record: one write(2) of at most PIPE_BUF bytes is atomic
 * on a pipe, so records of concurrent connections (or processes) sharing
 * one stderr never mix. */
#define DUMP_RECORD_MAX PIPE_BUF
/* Bytes of records waiting for the writer before new ones are dropped. */
#define DUMP_QUEUE_MAX  (4u << 20)
/* The peer's name is shown up to this many bytes of its canonical
 * (escaped) form, then "...". */
#define DUMP_PEER_MAX   200

/* dump_open() flags */
#define DUMP_SYNC 1  /* write each record at once, in the caller's thread
                        (blocking): for an interactive session, whose
                        screen must show a record before the next prompt */

/* "hex" or "text" as a format; -1 for anything else. */
int dump_parse_format(const char *s);

/* ---- the record format (pure: no I/O) ----
 * A record is a header line and the data lines of one chunk:
 *   > #1 2026/11/29 21:41:03.123456 length=6 from=0 to=5 peer=tcp:127.0.0.1:40312
 * (the peer last: it is the rest of the line, whatever it holds)
 * then, for DUMP_HEX, 16 bytes a line:
 *   > 00000000  68 65 6c 6c 6f 0a                                 |hello.|
 * or for DUMP_TEXT (socat -v's view), the bytes line by line after the
 * mark and two spaces, an LF ending a line, printable text as it is and
 * every other byte \xHH (the one escaping rule, esc_bytes()):
 *   >  hello
 * '>' is the request direction (from the side that connected to the
 * side that accepted), '<' the answer.  A record ends with a newline,
 * also when its bytes do not (length= says how many there were). */
struct dump_hdr {
	unsigned long id;    /* connection number, from 1 */
	char mark;           /* '>' or '<' */
	const char *peer;    /* canonical (already escaped) name, <= DUMP_PEER_MAX */
	const char *when;    /* timestamp text */
	uint64_t off;        /* offset of the first byte in its direction */
};
/* Format the first bytes of the N at P (N > 0) as one record into OUT
 * (DUMP_RECORD_MAX bytes, no NUL).  Returns the record's length; *USED
 * is how many bytes it shows (at least 1: the rest goes in the next
 * record, at offset off + *USED). */
size_t dump_record(char *out, enum dump_format fmt, const struct dump_hdr *h,
		   const char *p, size_t n, size_t *used);
/* Local time of the realtime clock as "YYYY/MM/DD HH:MM:SS.uuuuuu" (as
 * socat -v prints it) into BUF (at least 32 bytes). */
void dump_now(char *buf, size_t n);

/* ---- the writer ---- */

struct dump;

/* Dump to FD (left open, never made non-blocking: it may be a file
 * description shared with other processes) in format FMT (0: no
 * records yet, log lines only; see dump_set_format()).  Records wait
 * in a queue of at most QUEUE_MAX bytes (0: DUMP_QUEUE_MAX) for a thread
 * that writes them with ordinary blocking writes, one write(2) each;
 * when the queue is full a record is dropped, counted, and a note
 * "[#N: K bytes not shown]" is queued as soon as there is room.  FLAGS:
 * DUMP_SYNC.  Returns NULL with errno (ENOMEM; EAGAIN when no thread can
 * be started). */
struct dump *dump_open(int fd, enum dump_format fmt, size_t queue_max, int flags);
/* Write what is queued and stop.  Waits at most TIMEOUT_MS (ms, >= 0)
 * for the writer; returns 0 when everything was written, or -1 with
 * errno ETIMEDOUT (the writer is left blocked, its records and notes
 * untold: the process is about to exit) or EIO (writing failed: what
 * came after was not shown). */
int dump_close(struct dump *d, int timeout_ms);
/* Set the format of the records (a dump opened with FMT 0 carries log
 * lines only, until this is called before the first connection). */
void dump_set_format(struct dump *d, enum dump_format fmt);

/* ---- log lines, in the same queue as the records ----
 * One queue keeps lines and records in their order, each whole.  A
 * line that finds the queue full (or still draining to half after a
 * drop) is dropped and counted; once there is room the note
 * "PROG: [N log lines not shown]" goes in first (usock(7)). */

/* The PROG of that note (at most 63 bytes kept; "usock" until set). */
void dump_set_prog(struct dump *d, const char *prog);
/* Queue the LEN bytes of TEXT (one or more whole lines) to be written
 * in one write(2); never blocks unless the dump is DUMP_SYNC, then it
 * writes at once.  Thread-safe.  0, or -1 when the line was dropped (the
 * queue is full, or writing failed before). */
int dump_line(struct dump *d, const char *text, size_t len);
/* Log lines dropped so far. */
uint64_t dump_lines_dropped(struct dump *d);
/* Records dropped so far for want of room, and their data bytes. */
uint64_t dump_dropped(struct dump *d);

/* One connection's two directions.  PEER is the canonical (escaped)
 * name of the peer (sa_format(), addr_format()); ID its number. */
struct dump_conn;
struct dump_conn *dump_conn_new(struct dump *d, unsigned long id,
				const char *peer);
void dump_conn_free(struct dump_conn *dc);
/* The tap of direction MARK ('>' or '<') of DC, for dump_tap(). */
void *dump_conn_dir(struct dump_conn *dc, char mark);
/* A pump tap (pump_set_tap()): N bytes written in the direction DIR
 * (from dump_conn_dir()) become one or more records, the offset goes on.
 * Never blocks unless the dump is DUMP_SYNC; thread-safe across
 * connections (one connection's directions belong to one thread). */
void dump_tap(void *dir, const char *p, size_t n);
/* The same for taps that name the direction: CONN is a dump_conn, MARK
 * '>' or '<'. */
void dump_tap_mark(void *conn, char mark, const char *p, size_t n);

#endif
