/* fuzz_diag_proc.c — sockinfo's reader of /proc/net/unix (lib/diag.c
 * diag_unix_proc, the fallback when sock_diag is missing) on any file
 * contents: the input is the file.  Names holding a newline are read
 * whole, abstract names come out escaped, and a doubtful line never
 * repeats another socket's inode. */
#include "diag_fake.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct diag_unix_set s;
	fake_feed(data, size);
	if (diag_unix_proc(&s) < 0)
		return 0;
	FUZZ_CHECK(s.from_proc && s.n <= s.cap, "set of %zu", s.n);
	for (size_t i = 0; i < s.n; i++) {
		const struct diag_unix *u = &s.v[i];
		FUZZ_CHECK(!u->name || *u->name, "empty name");
		FUZZ_CHECK(!u->name || u->name[0] != '@' || fuzz_escaped(u->name + 1),
			   "abstract name not escaped: '%s'", u->name);
		for (size_t j = 0; u->doubtful && j < s.n; j++)
			FUZZ_CHECK(j == i || s.v[j].ino != u->ino,
				   "a doubtful line repeats inode %u", u->ino);
		FUZZ_CHECK(u->state == DIAG_LISTEN || u->state == DIAG_ESTABLISHED ||
			   u->state == DIAG_CLOSE, "state %u", u->state);
	}
	diag_unix_free(&s);
	return 0;
}
