/* fuzz_escape.c — the one escaping rule (usock(7), "Canonical form"):
 * for any bytes, esc_bytes() writes no byte the rule forbids (no control
 * byte, C1 control or format character), esc_decode() reads it back to
 * the same bytes, a text cut short is a prefix cut between two
 * characters or escapes, and the canonical text of esc_decode() of any
 * string decodes to the same bytes again. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[4 * 4096 + 1], back[4096 + 1], again[4 * 4096 + 1];
	const char *s = (const char *)data, *why = NULL;

	if (size > 4096)
		return 0;
	size_t need = esc_bytes(out, sizeof out, s, size);
	FUZZ_CHECK(need == strlen(out) && need <= 4 * size, "length %zu", need);
	FUZZ_CHECK(fuzz_escaped(out), "escaped text breaks the rule: %s", out);
	ssize_t n = esc_decode(back, sizeof back, out, &why);
	FUZZ_CHECK(n == (ssize_t)size && !memcmp(back, s, size),
		   "'%s' decodes to %zd bytes, not the %zu given: %s", out, n,
		   size, n < 0 ? why : "other bytes");

	/* cut into a smaller buffer: a prefix, whole escapes and characters */
	size_t small = size ? 1 + data[0] % (need + 1) : 1;
	char *cut = malloc(small);
	FUZZ_CHECK(esc_bytes(cut, small, s, size) == need, "need changes");
	FUZZ_CHECK(strlen(cut) < small && !strncmp(cut, out, strlen(cut)) &&
		   fuzz_escaped(cut), "cut to %zu: '%s' of '%s'", small, cut, out);
	free(cut);

	/* any text: decoded or refused, never past the buffer; what it
	 * decodes to is printed canonically and reads back the same */
	char *text = fuzz_strdup(data, size);
	n = esc_decode(back, sizeof back, text, &why);
	if (n >= 0) {
		esc_bytes(again, sizeof again, back, (size_t)n);
		ssize_t m = esc_decode(out, sizeof out, again, &why);
		FUZZ_CHECK(m == n && !memcmp(out, back, (size_t)n),
			   "'%s' printed as '%s' reads back otherwise", text, again);
	} else {
		FUZZ_CHECK(why && *why, "no reason");
	}
	free(text);
	return 0;
}
