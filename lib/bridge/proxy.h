/* proxy.h — HAProxy PROXY protocol headers (v1 text, v2 binary), as
 * specified in haproxy/doc/proxy-protocol.txt. */
#ifndef USOCK_PROXY_H
#define USOCK_PROXY_H

#include <stddef.h>
#include <sys/socket.h>

#define PROXY_MAX 240  /* room for any v1 or v2 header we build */

/* Build a PROXY VERSION (1 or 2) header telling that SRC connected to
 * DST.  UNIX clients give "UNKNOWN" (v1) or an AF_UNIX block (v2).
 * Returns its length, or -1 if BUF is too small. */
int proxy_header(int version, const struct sockaddr *src, socklen_t srclen,
		 const struct sockaddr *dst, socklen_t dstlen,
		 char *buf, size_t n);

#endif
