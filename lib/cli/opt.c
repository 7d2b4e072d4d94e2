/* opt.c — strict parsers for option values, and their command-line
 * wrappers that report "PROG: --opt: why" and exit 2. */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <getopt.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "cli.h"
#include "core/num.h"

unsigned long opt_ulong(const char *opt, const char *s,
			unsigned long min, unsigned long max)
{
	unsigned long v;
	const char *why;
	if (num_parse_ulong(s, min, max, &v, &why) < 0) {
		if (!strcmp(why, "out of range"))
			die(EXIT_USAGE, "%s: %s is out of range %lu..%lu",
			    opt, log_esc(s), min, max);
		die(EXIT_USAGE, "%s: '%s' is %s", opt, log_esc(s), why);
	}
	return v;
}

int64_t opt_duration(const char *opt, const char *s)
{
	int64_t ms;
	const char *why;
	if (num_parse_duration(s, &ms, &why) < 0)
		die(EXIT_USAGE, "%s: '%s': %s", opt, log_esc(s), why);
	return ms;
}

int64_t opt_duration0(const char *opt, const char *s)
{
	int64_t ms;
	const char *why;
	if (num_parse_duration_z(s, 1, &ms, &why) < 0)
		die(EXIT_USAGE, "%s: '%s': %s", opt, log_esc(s), why);
	return ms;
}

mode_t opt_mode(const char *opt, const char *s)
{
	char *end;
	if (!*s || strspn(s, "01234567") != strlen(s))
		die(EXIT_USAGE, "%s: '%s' is not an octal mode", opt, log_esc(s));
	errno = 0;
	unsigned long v = strtoul(s, &end, 8);
	if (errno || v > 07777)
		die(EXIT_USAGE, "%s: %s is out of range 0..0777", opt, log_esc(s));
	if (v > 0777)
		die(EXIT_USAGE, "%s: %s sets the setuid, setgid or sticky bit, "
		    "which mean nothing on a socket (0..0777)", opt, log_esc(s));
	return (mode_t)v;
}

/* A user or group: a name, or a number when no such name exists. */
static int id_lookup(const char *s, int group, unsigned long *id)
{
	if (group) {
		struct group *g = getgrnam(s);
		if (g) {
			*id = g->gr_gid;
			return 0;
		}
	} else {
		struct passwd *pw = getpwnam(s);
		if (pw) {
			*id = pw->pw_uid;
			return 0;
		}
	}
	const char *why;
	return num_parse_ulong(s, 0, UINT_MAX - 1, id, &why);
}

void opt_owner(const char *opt, const char *s, uid_t *uid, gid_t *gid)
{
	char user[256];
	const char *colon = strchr(s, ':');
	size_t ulen = colon ? (size_t)(colon - s) : strlen(s);
	unsigned long v;

	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (ulen >= sizeof user || (!ulen && (!colon || !colon[1])))
		die(EXIT_USAGE, "%s: '%s' is not USER[:GROUP]", opt, log_esc(s));
	ulen = ulen < sizeof user ? ulen : sizeof user - 1; /* checked above */
	memcpy(user, s, ulen);
	user[ulen] = 0;
	if (ulen) {
		if (id_lookup(user, 0, &v) < 0)
			die(EXIT_USAGE, "%s: no such user: %s", opt, log_esc(user));
		*uid = (uid_t)v;
	}
	if (colon && colon[1]) {
		if (id_lookup(colon + 1, 1, &v) < 0)
			die(EXIT_USAGE, "%s: no such group: %s", opt, log_esc(colon + 1));
		*gid = (gid_t)v;
	}
}

void opt_addr(struct addr *a, const char *s, int flags)
{
	const char *why;
	int usage;
	if (addr_parse(a, s, flags, &why) < 0)
		die(EXIT_USAGE, "address '%s': %s", log_esc(s), why);
	if (addr_resolve(a, flags, &why, &usage) < 0)
		die(usage ? EXIT_USAGE : 1, "address '%s': %s", log_esc(s), why);
}

int opt_keepalive(const char *arg)
{
	if (!arg)
		return -1;
	int64_t ms = opt_duration("--keepalive", arg);
	if (ms > 32767 * 1000)
		die(EXIT_USAGE, "--keepalive: '%s' is over 32767 s, the kernel's "
		    "limit of TCP_KEEPIDLE", log_esc(arg));
	return (int)((ms + 999) / 1000);
}

void opt_family(int *family, int c)
{
	int f = c == '4' ? AF_INET : AF_INET6;
	if (*family && *family != f)
		die(EXIT_USAGE, "cannot use -4 with -6");
	*family = f;
}

void opt_narrow(struct addr *a, const char *what, const char *s,
		int family)
{
	if (!family || a->kind != ADDR_TCP)
		return;
	int has = a->family;
	struct in_addr in4;
	if (!has && inet_pton(AF_INET, a->host, &in4) == 1)
		has = AF_INET; /* an IPv6 literal already sets a->family */
	if (has && has != family)
		die(EXIT_USAGE, "cannot use %s with %s'%s'",
		    family == AF_INET ? "-4" : "-6", what, log_esc(s));
	a->family = family;
}

void opt_source(struct addr *src, const char *s, int family)
{
	const char *why;
	int usage;
	if (addr_parse_source(src, s, &why) < 0)
		die(EXIT_USAGE, "--source '%s': %s", log_esc(s), why);
	opt_narrow(src, "--source ", s, family);
	if (addr_resolve(src, ADDR_LISTEN, &why, &usage) < 0)
		die(usage ? EXIT_USAGE : 1, "--source '%s': %s", log_esc(s), why);
}

void opt_source_check(const struct addr *src, const char *s,
		      const struct addr *t, const char *targ)
{
	if ((src->kind == ADDR_TCP) != (t->kind == ADDR_TCP))
		die(EXIT_USAGE, "--source '%s': a %s source for the %s address "
		    "'%s'", log_esc(s), src->kind == ADDR_TCP ? "TCP" : "UNIX",
		    t->kind == ADDR_TCP ? "TCP" : "UNIX", log_esc(targ));
	if (t->kind != ADDR_TCP || !t->nsa)
		return;
	for (int i = 0; i < t->nsa; i++)
		if (sock_source_fits(src, (const struct sockaddr *)&t->sa[i]))
			return;
	die(EXIT_USAGE, "--source '%s': no address of the family of '%s' (%s)",
	    log_esc(s), log_esc(targ),
	    t->sa[0].ss_family == AF_INET ? "IPv4" : "IPv6");
}

/* Reverse argv[a..b). */
static void reverse(char **v, int a, int b)
{
	while (a < --b) {
		char *t = v[a];
		v[a++] = v[b];
		v[b] = t;
	}
}

/* The long options of the last opt_next() call, for opt_bad(). */
static const struct option *last_longopts;

int opt_next(struct opt_iter *it, const char *optstring,
	     const struct option *longopts)
{
	char **v = it->argv;
	last_longopts = longopts;
	for (;;) {
		int prev = optind;
		int c = getopt_long(it->end, v, optstring, longopts, NULL);
		if (c != -1)
			return c;
		int nops = it->argc - it->end;
		if (optind == prev + 1 && !strcmp(v[prev], "--")) {
			/* "--": what follows is operands, after those seen */
			int from = it->keep_dashdash && nops >= it->keep_dashdash ?
				   prev : optind;
			reverse(v, from, it->end);
			reverse(v, it->end, it->argc);
			reverse(v, from, it->argc);
			optind = from;
			return -1;
		}
		if (optind >= it->end) {
			optind = it->end;
			return -1;
		}
		/* an operand: move it to the end, after those seen before */
		char *w = v[optind];
		memmove(v + optind, v + optind + 1,
			(size_t)(it->argc - optind - 1) * sizeof *v);
		v[it->argc - 1] = w;
		it->end--;
	}
}

/* An unknown long option ARG (its first N bytes), or an abbreviation
 * of several: name them ("--a: --all or --audit"). */
_Noreturn static void bad_long(const char *arg, int n)
{
	char list[512];
	size_t len = 0;
	int found = 0, last = -1;

	list[0] = 0;
	for (int i = 0; last_longopts && last_longopts[i].name; i++) {
		if (strncmp(last_longopts[i].name, arg + 2, (size_t)n - 2))
			continue;
		if (found++ && last >= 0 && len < sizeof list)
			len += (size_t)snprintf(list + len, sizeof list - len, "%s--%s",
						len ? ", " : "", last_longopts[last].name);
		last = i;
	}
	if (found < 2)
		die(EXIT_USAGE, "unknown option %.*s (try --help)", n, arg);
	die(EXIT_USAGE, "ambiguous option %.*s: %s or --%s (try --help)", n, arg,
	    list, last_longopts[last].name);
}

void opt_bad(int c, char **argv)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "?";
	if (!strncmp(arg, "--", 2)) {
		/* a long option: name it as it was written */
		int n = (int)strcspn(arg, "=");
		if (c == ':')
			die(EXIT_USAGE, "option %.*s needs a value (try --help)", n, arg);
		if (arg[n] == '=' && optopt)
			die(EXIT_USAGE, "option %.*s takes no value (try --help)", n, arg);
		bad_long(arg, n);
	}
	if (c == ':')
		die(EXIT_USAGE, "option -%c needs a value (try --help)", optopt);
	die(EXIT_USAGE, "unknown option -%c (try --help)", optopt);
}

void opt_common(int c, const char *usage, char **argv)
{
	switch (c) {
	case 'v':
		if (log_level == 0)
			die(EXIT_USAGE, "cannot use --verbose with --quiet");
		log_level++;
		return;
	case 'q':
		if (log_level > 1)
			die(EXIT_USAGE, "cannot use --quiet with --verbose");
		log_level = 0;
		return;
	case 'h':
		fputs(usage, stdout);
		exit(0);
	case 'V':
		print_version();
		exit(0);
	default:
		opt_bad(c, argv);
	}
}

void opt_check_file_opts(const struct listen_opts *lo, const struct addr *a,
			 const char *arg)
{
	if ((lo->has_mode || lo->uid != (uid_t)-1 || lo->gid != (gid_t)-1) &&
	    a->kind != ADDR_UNIX)
		die(EXIT_USAGE, "--mode and --owner need a UNIX socket path, not '%s'",
		    log_esc(arg));
}

void opt_stream_only(const struct addr *a, const char *arg, const char *does)
{
	if (a->type == SOCK_STREAM)
		return;
	die(EXIT_USAGE, "address '%s': %s byte streams only; a %s socket keeps "
	    "message boundaries that a stream does not have (use usock-connect "
	    "or usock-listen for it)", log_esc(arg), does,
	    a->type == SOCK_DGRAM ? "datagram" : "seqpacket");
}

int opt_listen(int c, const char *arg, struct listen_opts *lo)
{
	switch (c) {
	case 'm':
		lo->mode = opt_mode("--mode", arg);
		lo->has_mode = 1;
		return 1;
	case 'o':
		opt_owner("--owner", arg, &lo->uid, &lo->gid);
		return 1;
	case 'b':
		lo->backlog = (int)opt_ulong("--backlog", arg, 1, 65535);
		return 1;
	default:
		return 0;
	}
}
