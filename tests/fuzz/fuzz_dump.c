/* fuzz_dump.c — the traffic dump's records (dump.h): for any bytes, in
 * either format, every record fits in DUMP_RECORD_MAX (one atomic write
 * to a pipe), shows at least one byte, ends with a newline, holds no
 * control byte but its line ends, says in its header how many bytes it
 * shows; and the text view's lines are in the escaped form and read back
 * to the very bytes. */
#include "fuzz.h"
#include "core/dump.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[DUMP_RECORD_MAX + 1], back[4 * DUMP_RECORD_MAX];
	if (size < 1 || size > 3 * DUMP_RECORD_MAX)
		return 0;
	enum dump_format f = data[0] & 1 ? DUMP_TEXT : DUMP_HEX;
	const char *p = (const char *)data + 1;
	size_t n = size - 1, done = 0;

	while (done < n) {
		struct dump_hdr h = { 1, '<', "unix:\\x0a", "2026/01/01 00:00:00.000000", done };
		size_t used = 0;
		size_t len = dump_record(out, f, &h, p + done, n - done, &used);
		FUZZ_CHECK(len <= DUMP_RECORD_MAX && used >= 1 && used <= n - done,
			   "record %zu bytes, %zu used", len, used);
		FUZZ_CHECK(out[len - 1] == '\n', "no final newline");
		for (size_t i = 0; i < len; i++)
			FUZZ_CHECK((unsigned char)out[i] >= 0x20 || out[i] == '\n',
				   "control byte at %zu", i);
		out[len] = 0;
		char want[96];
		snprintf(want, sizeof want, " length=%zu from=%zu to=%zu peer=", used,
			 done, done + used - 1);
		char *eol = strchr(out, '\n');
		FUZZ_CHECK(strstr(out, want) && strstr(out, want) < eol, "header: %s", out);
		if (f == DUMP_TEXT) {
			size_t bl = 0;
			for (char *l = eol + 1; *l; ) {
				char *e = strchr(l, '\n');
				*e = 0;
				FUZZ_CHECK(!strncmp(l, "<  ", 3), "line: %s", l);
				FUZZ_CHECK(fuzz_escaped(l + 3), "not escaped: %s", l);
				const char *why;
				ssize_t k = esc_decode(back + bl, sizeof back - bl, l + 3, &why);
				FUZZ_CHECK(k >= 0, "%s: %s", l, why);
				bl += (size_t)k;
				back[bl++] = '\n';
				l = e + 1;
			}
			/* the last line's newline is the record's, unless it was a byte */
			if (bl > used)
				bl--;
			FUZZ_CHECK(bl == used && !memcmp(back, p + done, used),
				   "text view reads back otherwise");
		}
		done += used;
	}
	return 0;
}
