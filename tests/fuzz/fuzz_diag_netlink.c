/* fuzz_diag_netlink.c — sockinfo's readers of NETLINK_SOCK_DIAG dumps
 * (lib/diag.c: the message walk of diag_run, unix_cb, tcp_cb) on any
 * answer.  Input: byte 0 chooses the dump (bit 0: TCP, else AF_UNIX;
 * bits 1-2: DIAG_LISTENERS, DIAG_DETAIL), then the answers, each a
 * little-endian u16 length and its bytes (see diag_fake.h). */
#include "diag_fake.h"
#include "fuzz.h"

static void check_unix(const struct diag_unix_set *s, int flags)
{
	FUZZ_CHECK(s->n <= s->cap, "%zu of %zu", s->n, s->cap);
	for (size_t i = 0; i < s->n; i++) {
		const struct diag_unix *u = &s->v[i];
		size_t len = u->name ? strlen(u->name) : 0;
		FUZZ_CHECK(!(flags & DIAG_LISTENERS) || u->name, "a listener without a name");
		FUZZ_CHECK(len <= 65536, "name of %zu bytes", len);
		/* every pending connection's inode is readable */
		if (u->nicons) {
			uint32_t *copy = malloc(u->nicons * sizeof *copy);
			memcpy(copy, u->icons, u->nicons * sizeof *copy);
			free(copy);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	fake_feed(data + 1, size - 1);
	if (data[0] & 1) {
		struct diag_tcp_set s = { 0 };
		int family = data[0] & 2 ? AF_INET6 : AF_INET;
		if (diag_tcp_dump(&s, family, 1u << DIAG_LISTEN) == 0)
			FUZZ_CHECK(s.n <= s.cap, "%zu of %zu", s.n, s.cap);
		diag_tcp_free(&s);
	} else {
		struct diag_unix_set s;
		int flags = (data[0] >> 1) & 3;
		if (diag_unix_dump(&s, flags) == 0) {
			check_unix(&s, flags);
			diag_unix_free(&s);
		} else {
			FUZZ_CHECK(!s.v && !s.n, "a failed dump keeps %zu sockets", s.n);
		}
	}
	return 0;
}
