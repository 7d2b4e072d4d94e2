/* fuzz_sa_format.c — sa_format() on any socket address bytes, as
 * accept(2) and getsockname(2) fill a struct sockaddr_storage.  Input:
 * byte 0 the socket type, byte 1 the output buffer size, then the
 * address (its length is the socklen_t).  The output is a NUL-terminated,
 * printable prefix of the full form, and a form without escapes parses
 * back to itself. */
#include <sys/socket.h>
#include <sys/un.h>

#include "fuzz.h"
#include "cli/cli.h"
#include "core/addr.h"
#include "core/num.h"
#include "core/relay.h"
#include "core/sock.h"
#include "core/sys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int types[4] = { SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, 0 };
	static char full[ADDR_STRLEN], again[ADDR_STRLEN];
	static struct addr a;

	if (size < 2 + sizeof(sa_family_t) ||
	    size - 2 > sizeof(struct sockaddr_storage))
		return 0;
	int type = types[data[0] & 3];
	socklen_t len = (socklen_t)(size - 2);
	/* exactly one sockaddr_storage, so that reading past it is caught */
	struct sockaddr_storage *ss = malloc(sizeof *ss);
	memset(ss, 0, sizeof *ss);
	memcpy(ss, data + 2, len);
	const struct sockaddr *sa = (const struct sockaddr *)ss;

	sa_format(sa, len, type, full, sizeof full);
	FUZZ_CHECK(strlen(full) < sizeof full && fuzz_escaped(full),
		   "not printable: %s", full);

	size_t n = 1 + data[1];
	char *small = malloc(n);
	sa_format(sa, len, type, small, n);
	FUZZ_CHECK(strlen(small) < n && !strncmp(small, full, strlen(small)),
		   "into %zu bytes: '%s' is no prefix of '%s'", n, small, full);
	free(small);

	/* Every printed name parses back to the same printed form, escapes
	 * and all (parsed as a listening address: port 0 is a real bound
	 * port), but for a 108-byte path whose last component is too long
	 * to reach through its directory. */
	const char *name = strchr(full, ':');
	name = full[0] == '@' ? full + 1 : name ? name + 1 : full;
	if (*name == '@' && strncmp(full, "unix:", 5))
		name++;         /* unix-dgram:@NAME, unix-seqpacket:@NAME */
	if (strncmp(full, "family-", 7) && *name) {
		const char *why = NULL;
		int r = addr_parse(&a, full, ADDR_LISTEN, &why);
		if (r < 0 && sa->sa_family == AF_UNIX && strstr(why, "sun_path") &&
		    len >= sizeof(struct sockaddr_un)) {
			free(ss);
			return 0;
		}
		FUZZ_CHECK(r == 0, "'%s' does not parse: %s", full, why);
		addr_format(&a, again, sizeof again);
		FUZZ_CHECK(!strcmp(full, again), "'%s' printed again as '%s'",
			   full, again);
	}
	free(ss);
	return 0;
}
