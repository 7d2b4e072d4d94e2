/* hexdump.c — show relayed bytes on a file descriptor, 16 a line:
 * "> 00000010  68 65 6c 6c 6f 0a   ...   |hello.|" */
#include <stdio.h>
#include <unistd.h>

#include "relay.h"

void hexdump_tap(void *ctx, const char *p, size_t n)
{
	struct hexdump *h = ctx;
	static const char hx[] = "0123456789abcdef";
	char line[96];

	for (size_t i = 0; i < n; i += 16) {
		size_t k = n - i < 16 ? n - i : 16;
		int o = snprintf(line, sizeof line, "%c %08llx  ", h->mark,
				 (unsigned long long)h->off + i);
		for (size_t j = 0; j < 16; j++) {
			if (j < k) {
				unsigned char c = (unsigned char)p[i + j];
				line[o++] = hx[c >> 4];
				line[o++] = hx[c & 15];
			} else {
				line[o++] = ' ';
				line[o++] = ' ';
			}
			line[o++] = ' ';
			if (j == 7)
				line[o++] = ' ';
		}
		line[o++] = ' ';
		line[o++] = '|';
		for (size_t j = 0; j < k; j++) {
			unsigned char c = (unsigned char)p[i + j];
			line[o++] = c >= 0x20 && c < 0x7f ? (char)c : '.';
		}
		line[o++] = '|';
		line[o++] = '\n';
		ssize_t w = write(h->fd, line, (size_t)o);
		(void)w;
	}
	h->off += n;
}
