/* addr.h — the address grammar shared by every tool (usock(7)):
 * parsing, resolving and the canonical printer. */
#ifndef USOCK_ADDR_H
#define USOCK_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

/* The longest path a sockaddr_un holds, without its terminating NUL. */
#define UNIX_PATH_LIMIT ((int)sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
/* A final path component must fit after "/proc/self/fd/NNNNNNNNNN/". */
#define UNIX_NAME_LIMIT (UNIX_PATH_LIMIT - 25)

/* ---- addr.c: the address grammar ---- */

enum addr_kind { ADDR_UNIX = 1, ADDR_ABSTRACT, ADDR_TCP };

/* addr_parse() flags */
#define ADDR_LISTEN 1 /* a bare PORT means 127.0.0.1, not localhost */

struct addr {
	enum addr_kind kind;
	int type;          /* SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET */
	int family;        /* TCP: AF_UNSPEC, AF_INET or AF_INET6 */
	int wildcard;      /* TCP: every interface (*:PORT) */
	int passive;       /* parsed for listening (ADDR_LISTEN) */
	char host[256];    /* TCP: name or literal, without brackets */
	char port[8];      /* TCP: decimal 0..65535 */
	char path[4096];   /* UNIX path, or abstract name without '@' */
	size_t pathlen;    /* bytes in path: an abstract name may hold NUL */
	/* filled by addr_resolve(): where to connect or bind */
	int nsa;
	struct sockaddr_storage sa[8];
	socklen_t salen[8];
};

/* Parse S into A, decoding the \xHH escapes of the canonical form in
 * every kind of address.  A leading WORD: that is not one of ours (nor a
 * host name followed by a port) is refused, with a hint.  Returns 0, or
 * -1 with *why set to a static reason. */
int addr_parse(struct addr *a, const char *s, int flags, const char **why);
/* Parse S, a source address to bind a connecting socket to (--source),
 * into A: unix:PATH, ./PATH (at most UNIX_PATH_LIMIT bytes: the name
 * the server sees) or @NAME; or for TCP ADDRESS, ADDRESS:PORT,
 * [IPV6]:PORT, a bare IPv6 address, *:PORT or :PORT (any address,
 * a->wildcard), optionally after tcp:, tcp4: or tcp6:.  No port means
 * port 0 (any).  A bare number is refused (a port is written :PORT).
 * Resolve a TCP or abstract result with addr_resolve(ADDR_LISTEN).
 * Returns 0, or -1 with *why set to a static reason. */
int addr_parse_source(struct addr *a, const char *s, const char **why);
/* Resolve a TCP or abstract address into a->sa (UNIX paths need
 * nothing).  Returns 0, or -1 with *why set and *usage telling whether
 * it is the address's fault (unknown host) rather than the resolver's. */
int addr_resolve(struct addr *a, int flags, const char **why, int *usage);
/* Canonical form of A into BUF (truncated to N); returns BUF. */
char *addr_format(const struct addr *a, char *buf, size_t n);
/* Canonical form of a kernel socket address; type is the socket type. */
/* The numeric host (IPv4 dotted, IPv6 without brackets; an IPv4-mapped
 * IPv6 address as IPv4, as sa_format() prints it) and port of a TCP
 * address SA.  0, or -1 when SA is not AF_INET or AF_INET6. */
int sa_host_port(const struct sockaddr *sa, char *host, size_t n,
		 unsigned *port);
char *sa_format(const struct sockaddr *sa, socklen_t len, int type,
		char *buf, size_t n);
/* Room for any canonical address: a prefix and a 4095-byte path with
 * every byte escaped. */
#define ADDR_STRLEN (16 + 4 * 4096)

/* ---- addr.c: the one escaping rule (usock(7), "Canonical form") ----
 * Every name that comes from outside (socket paths, abstract names,
 * peer addresses, process, user and group names, file names in reasons)
 * is printed through esc_bytes(), in every output; esc_decode() reads
 * it back: esc_decode(esc_bytes(x)) == x for every byte string x.
 *
 * Written as they are: printable ASCII (0x20..0x7e, the space included)
 * except the backslash, and well-formed UTF-8 characters other than the
 * C1 controls (U+0080..U+009F), the line and paragraph separators
 * (U+2028, U+2029), the format characters (Unicode category Cf: U+00AD,
 * U+200B..U+200F, U+202A..U+202E, U+2060..U+206F, U+FEFF, tags...) and
 * the non-printing specials (U+FFF0..U+FFFB, U+FFFE, U+FFFF).  Every
 * other byte (NUL, C0 controls, DEL, '\', bytes of malformed UTF-8 and
 * each byte of a hidden character) is written \xHH, two lowercase hex
 * digits.  The output never holds a control byte. */

/* How many bytes at S (LEN of them) are written as they are: 1 for
 * printable ASCII, 2..4 for a printable UTF-8 character; 0 when the
 * byte at S is written \xHH; -1 when the LEN bytes are the proper start
 * of a well-formed multibyte character cut short (a reader of a stream
 * waits for more; for a whole string it means 0). */
int esc_keep(const char *s, size_t len);
/* Write the LEN bytes at S, escaped, into BUF (N bytes), NUL-terminated
 * when N > 0.  Like snprintf, returns the length the whole text needs
 * (without the NUL); when that is N or more, BUF holds the part that
 * fits, cut between two characters or escapes, never inside one (BUF
 * may be NULL when N is 0, to measure).  The
 * whole text is at most 4 * LEN bytes. */
size_t esc_bytes(char *buf, size_t n, const char *s, size_t len);
/* esc_bytes() of the string S (NULL is ""); returns BUF. */
const char *esc_str(char *buf, size_t n, const char *s);
/* Decode the \xHH escapes of the string S (hex digits in either case)
 * into OUT (room for N bytes, a NUL added after the decoded bytes, which
 * may hold NUL bytes themselves).  Returns the number of decoded bytes,
 * or -1 with *why set (static) and errno EINVAL (a backslash that does
 * not start \xHH) or ENAMETOOLONG (OUT too small). */
ssize_t esc_decode(char *out, size_t n, const char *s, const char **why);

#endif
