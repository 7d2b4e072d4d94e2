/* sockinfo — what is this socket, who is behind it, and may I connect?
 * Reports on socket files, abstract names and TCP ports without touching
 * the server; lists every listener; audits for risky sockets. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "inspect/inspect.h"
#include "core/json.h"
#include "cli/cli.h"
#include "core/sys.h"

enum { OPT_TCP = 0x100, OPT_JSON, OPT_AUDIT, OPT_PROBE };

static const char usage_text[] =
	"Usage: sockinfo [OPTIONS] [ADDRESS...]\n"
	"Tell what each socket ADDRESS is: its state, type, file mode and owner,\n"
	"the processes listening on it, queued connections and peers, and whether\n"
	"you may connect, and why not.  Nothing connects to the socket unless\n"
	"--probe is given.  A directory means every socket file below it.\n"
	"Without ADDRESS, list every listening UNIX socket.\n"
	"\n"
	"  -a, --all               list every listening UNIX socket (the default\n"
	"                          without ADDRESS)\n"
	"      --tcp               with --all: TCP listeners too\n"
	"      --json              one JSON array, one object per socket\n"
	"      --audit             report risky sockets only; exit 1 if any\n"
	"  -u, --user USER[:GROUP] may USER connect (instead of you)?\n"
	"      --probe             also connect to each socket and report\n"
	"  -v, --verbose           more detail (inodes, peers' processes)\n"
	"  -q, --quiet             report only what is not a live listener\n"
	"  -h, --help              show this help\n"
	"  -V, --version           show the version\n"
	"\n"
	"ADDRESS: /PATH, ./PATH, unix:PATH, @NAME, HOST:PORT, [IPV6]:PORT, PORT\n"
	"(see usock(7)).\n"
	"Exit status: 0 every ADDRESS is a live listener (--audit: nothing found),\n"
	"1 otherwise, 2 usage, 3 something could not be read (incomplete).\n";

static const struct option longopts[] = {
	{ "all", no_argument, NULL, 'a' },
	{ "tcp", no_argument, NULL, OPT_TCP },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "audit", no_argument, NULL, OPT_AUDIT },
	{ "user", required_argument, NULL, 'u' },
	{ "probe", no_argument, NULL, OPT_PROBE },
	OPT_COMMON_LONG,
	{ NULL, 0, NULL, 0 }
};

struct args {
	int all, tcp, json, audit, probe;
	const char *user_arg;
	struct perm_user user;
	char **addrs;
	int naddrs;
	int color;
};

/* An operand that names an existing file is that path, whatever else
 * it could be read as ("app.sock", "8080"); only an explicit kind
 * (unix:, tcp:, @NAME) keeps its meaning.  Returns ARG, or "./ARG" for a
 * bare name (allocated, kept until exit). */
static char *operand(char *arg)
{
	struct stat st;
	if (arg[0] == '@' || strchr(arg, '/') || !strncmp(arg, "unix:", 5) ||
	    !strncmp(arg, "tcp:", 4) || !strncmp(arg, "abstract:", 9) ||
	    lstat(arg, &st) < 0)
		return arg;
	char *p;
	if (asprintf(&p, "./%s", arg) < 0)
		die_sys(1, "malloc");
	return p;
}

static void parse_argv(int argc, char **argv, struct args *a)
{
	int c;
	*a = (struct args){ 0 };
	opterr = 0;
	struct opt_iter it = OPT_ITER(argc, argv, 0);
	while ((c = opt_next(&it, "+:au:vqhV", longopts)) != -1) {
		switch (c) {
		case 'a': a->all = 1; break;
		case OPT_TCP: a->tcp = 1; break;
		case OPT_JSON: a->json = 1; break;
		case OPT_AUDIT: a->audit = 1; break;
		case 'u': a->user_arg = optarg; break;
		case OPT_PROBE: a->probe = 1; break;
		default: opt_common(c, usage_text, argv);
		}
	}
	a->addrs = argv + optind;
	a->naddrs = argc - optind;
	for (int i = 0; i < a->naddrs; i++)
		a->addrs[i] = operand(a->addrs[i]);
	if (a->naddrs && (a->all || a->tcp))
		die(EXIT_USAGE, "cannot use %s with an ADDRESS",
		    a->all ? "--all" : "--tcp");
	if (!a->naddrs && a->probe)
		die(EXIT_USAGE, "cannot use --probe without an ADDRESS");
	if (!a->naddrs)
		a->all = 1;
	const char *why;
	if (a->user_arg && perm_user_lookup(&a->user, a->user_arg, &why) < 0)
		die(errno == ENOMEM ? 1 : EXIT_USAGE, "--user: %s: %s", why,
		    log_esc(errno == ESRCH ? strchr(a->user_arg, ':') + 1 : a->user_arg));
	const char *nc = getenv("NO_COLOR");
	a->color = isatty(1) && !(nc && *nc);
}

/* ---- gathering ---- */

struct reports {
	struct inspect_report *v;
	size_t n, cap;
};

static struct inspect_report *new_report(struct reports *rs)
{
	if (rs->n == rs->cap) {
		size_t c = rs->cap ? rs->cap * 2 : 16;
		struct inspect_report *v = realloc(rs->v, c * sizeof *v);
		if (!v)
			die(1, "out of memory");
		rs->v = v;
		rs->cap = c;
	}
	return &rs->v[rs->n++];
}

static void append(struct reports *rs, struct inspect_report *v, long n)
{
	if (n < 0)
		die_sys(1, "read the socket tables");
	for (long i = 0; i < n; i++)
		*new_report(rs) = v[i];
	free(v);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Paths found below a directory, and the directories that could not
 * be read. */
struct scan {
	char **list;
	size_t n, cap;
	char **bad;
	int *bad_errno;
	size_t nbad;
};

/* Has something asked for been left out (a directory that could not be
 * read, a socket that could not be audited)?  Then exit EXIT_PARTIAL. */
static int incomplete;
#define EXIT_PARTIAL 3

static void scan_add(char ***v, size_t *n, size_t *cap, char *p)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*v = realloc(*v, *cap * sizeof **v);
		if (!*v)
			die(1, "out of memory");
	}
	(*v)[(*n)++] = p;
}

/* Collect the socket files below DIR (not following symbolic links). */
static void walk(const char *dir, struct scan *sc, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	if (!d) {
		int err = errno;
		size_t cap = sc->nbad;
		char *p = strdup(dir);
		int *e = realloc(sc->bad_errno, (sc->nbad + 1) * sizeof *e);
		if (e)
			sc->bad_errno = e;
		if (!p || !sc->bad_errno)
			die(1, "out of memory");
		sc->bad_errno[sc->nbad] = err;
		scan_add(&sc->bad, &sc->nbad, &cap, p);
		return;
	}
	while ((de = readdir(d))) {
		char *p;
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (asprintf(&p, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/",
			     de->d_name) < 0)
			die(1, "out of memory");
		unsigned t = de->d_type;
		if (t == DT_UNKNOWN && lstat(p, &st) == 0)
			t = S_ISDIR(st.st_mode) ? DT_DIR : S_ISSOCK(st.st_mode) ? DT_SOCK : 0;
		if (t == DT_SOCK) {
			scan_add(&sc->list, &sc->n, &sc->cap, p);
			continue;
		}
		if (t == DT_DIR && depth < 64)
			walk(p, sc, depth + 1);
		free(p);
	}
	closedir(d);
}

/* Say which directories below TOP could not be read, and add the
 * sockets the kernel's table shows bound in them. */
static void scan_unreadable(const struct inspect_ctx *c, const char *top,
			    struct scan *sc)
{
	for (size_t i = 0; i < sc->nbad; i++) {
		char abs[PATH_MAX], **names;
		incomplete = 1;
		log_err("%s: cannot read the directory: %s; socket files in it "
			"are not reported%s", log_esc(sc->bad[i]), strerror(sc->bad_errno[i]),
			c->have_ux ? " (except sockets bound there, from the "
			"kernel's table)" : "");
		size_t k = realpath(sc->bad[i], abs) ?
			   inspect_bound_below(c, abs, &names) : 0;
		for (size_t m = 0; m < k; m++) {
			int dup = 0;
			for (size_t q = 0; q < sc->n && !dup; q++)
				dup = !strcmp(sc->list[q], names[m]);
			if (dup)
				free(names[m]);
			else
				scan_add(&sc->list, &sc->n, &sc->cap, names[m]);
		}
		if (k)
			free(names);
		free(sc->bad[i]);
	}
	free(sc->bad);
	free(sc->bad_errno);
	if (!sc->n && !sc->nbad)
		log_warn("%s: no socket files below it", log_esc(top));
}

/* Add the reports for one ADDRESS; returns how many. */
static size_t gather(struct inspect_ctx *c, const char *arg, struct reports *rs)
{
	struct addr a;
	const char *why;
	int usage;
	struct stat st;

	if (addr_parse(&a, arg, ADDR_LISTEN, &why) < 0)
		die(EXIT_USAGE, "address '%s': %s", log_esc(arg), why);
	if (a.kind == ADDR_ABSTRACT) {
		inspect_abstract(c, log_esc_n(a.path, a.pathlen), new_report(rs));
		return 1;
	}
	if (a.kind == ADDR_TCP) {
		struct inspect_report *v;
		int any = !a.host[0];
		if (!strcmp(a.port, "0"))
			die(EXIT_USAGE, "address '%s': port 0 is only for listening",
			    log_esc(arg));
		if (!any && addr_resolve(&a, 0, &why, &usage) < 0)
			die(usage ? EXIT_USAGE : 1, "address '%s': %s", log_esc(arg), why);
		long n = inspect_tcp(c, &a, any, &v);
		append(rs, v, n);
		return (size_t)n;
	}
	if (stat(a.path, &st) == 0 && S_ISDIR(st.st_mode)) {
		struct scan sc = { 0 };
		walk(a.path, &sc, 0);
		scan_unreadable(c, a.path, &sc);
		if (sc.n)
			qsort(sc.list, sc.n, sizeof *sc.list, cmp_str);
		for (size_t i = 0; i < sc.n; i++) {
			inspect_path(c, sc.list[i], new_report(rs));
			free(sc.list[i]);
		}
		free(sc.list);
		return sc.n;
	}
	inspect_path(c, a.path, new_report(rs));
	return 1;
}

/* ---- names, modes, colours ---- */

static const char *user_of(uid_t uid)
{
	return uid == (uid_t)-1 ? "?" : perm_id_name((unsigned)uid, 0);
}

/* "srw-rw---- 0660" */
static char *mode_text(mode_t m, char *buf, size_t n)
{
	char s[11];
	const char *rwx = "rwxrwxrwx";
	s[0] = S_ISSOCK(m) ? 's' : S_ISDIR(m) ? 'd' : S_ISREG(m) ? '-' :
	       S_ISLNK(m) ? 'l' : S_ISFIFO(m) ? 'p' : S_ISCHR(m) ? 'c' :
	       S_ISBLK(m) ? 'b' : '?';
	for (int i = 0; i < 9; i++)
		s[i + 1] = (m & (0400u >> i)) ? rwx[i] : '-';
	if (m & S_ISUID)
		s[3] = (m & 0100) ? 's' : 'S';
	if (m & S_ISGID)
		s[6] = (m & 0010) ? 's' : 'S';
	if (m & S_ISVTX)
		s[9] = (m & 0001) ? 't' : 'T';
	s[10] = 0;
	snprintf(buf, n, "%s %04o", s, (unsigned)(m & 07777));
	return buf;
}

static int use_color;

static const char *col(const char *code)
{
	return use_color ? code : "";
}

#define BOLD "\033[1m"
#define RED "\033[31m"
#define GREEN "\033[32m"
#define YELLOW "\033[33m"
#define RESET "\033[0m"

static const char *state_color(const struct inspect_report *r)
{
	if (inspect_live(r))
		return GREEN;
	return r->state == INSPECT_NOT_SOCKET || r->state == INSPECT_UNKNOWN ?
	       YELLOW : RED;
}

/* ---- names: every output, the table, the blocks and the JSON, shows
 * what comes from outside (paths, process, user and group names, reasons
 * that quote them) through the one escaping rule of usock(7); a JSON
 * string holds that same text. ---- */

#define E(s) log_esc(s)

/* R's address in canonical form: a UNIX path escaped; an abstract name
 * is kept escaped from the start (it may hold NUL bytes); a TCP address
 * is printed by addr_format/sa_format. */
static const char *address_of(const struct inspect_report *r)
{
	static char buf[ADDR_STRLEN];
	static struct addr a;
	int typed = r->type == SOCK_DGRAM || r->type == SOCK_SEQPACKET;
	if (r->kind == ADDR_UNIX && r->path) {
		/* the printer adds unix-dgram: or unix-seqpacket: for those
		 * types, so the address reads back as the same kind of socket */
		a.kind = ADDR_UNIX;
		a.type = typed ? r->type : SOCK_STREAM;
		snprintf(a.path, sizeof a.path, "%s", r->path);
		return addr_format(&a, buf, sizeof buf);
	}
	if (r->kind == ADDR_ABSTRACT && typed && r->address && r->address[0] == '@') {
		snprintf(buf, sizeof buf, "%s%s", r->type == SOCK_DGRAM ?
			 "unix-dgram:" : "unix-seqpacket:", r->address);
		return buf;
	}
	return r->address;
}

/* ---- human output ---- */

static void print_procs(const char *label, const struct inspect_proc *p,
			size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("  %-9s pid %d %s (user %s)\n", i ? "" : label,
		       (int)p[i].pid, E(p[i].comm), E(user_of(p[i].uid)));
}

static void print_block(const struct inspect_report *r)
{
	char buf[64];
	const char *type = inspect_type_name(r->type);

	printf("%s%s%s\n", col(BOLD), address_of(r), col(RESET));
	printf("  %-9s %s%s%s", "state", col(state_color(r)),
	       inspect_state_name(r->state), col(RESET));
	if (type)
		printf(" (%s)", type);
	printf("\n");
	if (r->note && (!r->reason || !strstr(r->reason, r->note)))
		printf("  %-9s %s\n", "note", E(r->note));
	if (r->has_stat) {
		printf("  %-9s %s%s  owner %s  group %s%s\n", "file",
		       mode_text(r->st.st_mode, buf, sizeof buf),
		       r->has_acl ? "+acl" : "", E(perm_id_name(r->st.st_uid, 0)),
		       E(perm_id_name(r->st.st_gid, 1)),
		       r->is_link ? "  (via a symbolic link)" : "");
		if (log_level > 1)
			printf("  %-9s device %u:%u, inode %llu\n", "",
			       major(r->st.st_dev), minor(r->st.st_dev),
			       (unsigned long long)r->st.st_ino);
	}
	/* a listener listens; a bound datagram socket has holders */
	int listens = r->state == INSPECT_LISTENING;
	const char *label = listens ? r->nlisteners > 1 ? "listeners" : "listener" :
			    r->nlisteners > 1 ? "processes" : "process";
	if (r->nlisteners)
		print_procs(label, r->listeners, r->nlisteners);
	else if (r->procs_partial)
		printf("  %-9s not visible: run as root to see other users' "
		       "processes\n", label);
	else if (r->sock_ino && inspect_live(r))
		printf("  %-9s no process holds it%s%s\n", label,
		       r->has_sock_uid ? "; created by user " : "",
		       r->has_sock_uid ? E(user_of(r->sock_uid)) : "");
	if (r->has_queue && r->state == INSPECT_LISTENING) {
		printf("  %-9s %u waiting to be accepted (backlog %u)", "queue",
		       r->queue, r->backlog);
		if (r->has_peers && r->peers >= r->queue)
			printf(", %u accepted", r->peers - r->queue);
		printf("\n");
	} else if (r->has_peers) {
		printf("  %-9s %u connected\n", "peers", r->peers);
	}
	if (log_level > 1) {
		print_procs("clients", r->clients, r->nclients);
		if (r->sock_ino)
			printf("  %-9s socket:[%u]\n", "inode", r->sock_ino);
	}
	printf("  %-9s %s%s%s: %s\n", "connect",
	       col(r->can_connect ? GREEN : RED), r->can_connect ? "yes" : "no",
	       col(RESET), r->reason ? E(r->reason) : "");
	if (r->probed)
		printf("  %-9s %s%s%s\n", "probe", col(r->probe_ok ? GREEN : RED),
		       r->probe ? E(r->probe) : "", col(RESET));
	for (int i = 0; i < r->nfindings; i++)
		printf("  %-9s %s%s%s\n", i ? "" : "audit", col(RED), E(r->findings[i]),
		       col(RESET));
	if (r->audit_error)
		printf("  %-9s %scannot audit: %s%s\n", r->nfindings ? "" : "audit",
		       col(YELLOW), E(r->audit_error), col(RESET));
}

static int shown(const struct inspect_report *r, const struct args *a);

/* ---- the --all table, built from a column list (as ss(8) does) ---- */

enum col_id {
	COL_TYPE, COL_STATE, COL_MODE, COL_OWNER, COL_PROCESS, COL_QUEUE,
	COL_CONNECT, COL_ADDRESS, COL_MAX
};

enum col_align { ALIGN_LEFT, ALIGN_RIGHT };

/* Room for a cell: an escaped 4095-byte path, as log_esc() makes it. */
#define CELL_MAX (ADDR_STRLEN + 4096)

struct column {
	const char *header;
	enum col_align align;
	/* The cell of R in BUF (N bytes), escaped where it holds names. */
	void (*text)(const struct inspect_report *r, char *buf, size_t n);
	/* The cell's colour (an SGR sequence), or NULL for none. */
	const char *(*color)(const struct inspect_report *r);
	int width;       /* header and widest cell; the last column is not
			    padded */
	int disabled;    /* not shown in this run */
};

static void cell_type(const struct inspect_report *r, char *buf, size_t n)
{
	const char *t = inspect_type_name(r->type);
	snprintf(buf, n, "%s", r->kind == ADDR_TCP ? "tcp" : t ? t : "?");
}

static void cell_state(const struct inspect_report *r, char *buf, size_t n)
{
	snprintf(buf, n, "%s", inspect_state_name(r->state));
}

static void cell_mode(const struct inspect_report *r, char *buf, size_t n)
{
	if (r->has_stat)
		mode_text(r->st.st_mode, buf, n);
	else
		snprintf(buf, n, "-");
}

/* The socket file's owner and group; without a file, the socket's
 * owner (a listener in the abstract namespace or on TCP). */
static void cell_owner(const struct inspect_report *r, char *buf, size_t n)
{
	if (r->has_stat)
		snprintf(buf, n, "%s:%s", E(perm_id_name(r->st.st_uid, 0)),
			 E(perm_id_name(r->st.st_gid, 1)));
	else
		snprintf(buf, n, "%s", r->has_sock_uid ? E(user_of(r->sock_uid)) : "-");
}

/* PID/COMM of each listening process, "?" when some could not be seen,
 * "-" for none. */
static void cell_process(const struct inspect_report *r, char *buf, size_t n)
{
	size_t l = 0;
	buf[0] = 0;
	for (size_t i = 0; i < r->nlisteners && l < n; i++)
		l += (size_t)snprintf(buf + l, n - l, "%s%d/%s", i ? "," : "",
				      (int)r->listeners[i].pid, E(r->listeners[i].comm));
	if (!l)
		snprintf(buf, n, "%s", r->procs_partial ? "?" : "-");
}

/* Connections waiting to be accepted / the backlog. */
static void cell_queue(const struct inspect_report *r, char *buf, size_t n)
{
	if (r->has_queue)
		snprintf(buf, n, "%u/%u", r->queue, r->backlog);
	else
		snprintf(buf, n, "-");
}

/* May the -u user connect: yes or no. */
static void cell_connect(const struct inspect_report *r, char *buf, size_t n)
{
	snprintf(buf, n, "%s", r->can_connect ? "yes" : "no");
}

static const char *color_connect(const struct inspect_report *r)
{
	return r->can_connect ? GREEN : RED;
}

static void cell_address(const struct inspect_report *r, char *buf, size_t n)
{
	snprintf(buf, n, "%s", r->kind == ADDR_UNIX && r->path ? E(r->path) :
		 address_of(r));
}

static struct column columns[COL_MAX] = {
	[COL_TYPE]    = { "TYPE",    ALIGN_LEFT, cell_type,    NULL, 0, 0 },
	[COL_STATE]   = { "STATE",   ALIGN_LEFT, cell_state,   NULL, 0, 0 },
	[COL_MODE]    = { "MODE",    ALIGN_LEFT, cell_mode,    NULL, 0, 0 },
	[COL_OWNER]   = { "OWNER",   ALIGN_LEFT, cell_owner,   NULL, 0, 0 },
	[COL_PROCESS] = { "PROCESS", ALIGN_LEFT, cell_process, NULL, 0, 0 },
	[COL_QUEUE]   = { "QUEUE",   ALIGN_LEFT, cell_queue,   NULL, 0, 0 },
	[COL_CONNECT] = { "CONNECT", ALIGN_LEFT, cell_connect, color_connect, 0, 0 },
	[COL_ADDRESS] = { "ADDRESS", ALIGN_LEFT, cell_address, NULL, 0, 0 },
};

/* Print one row: TEXT[k] in each shown column, two spaces apart, the
 * last one unpadded; R (NULL for the header) gives the colours. */
static void print_row(const struct inspect_report *r, char text[][CELL_MAX])
{
	int last = COL_MAX - 1;
	while (last > 0 && columns[last].disabled)
		last--;
	for (int k = 0; k <= last; k++) {
		const struct column *c = &columns[k];
		if (c->disabled)
			continue;
		const char *on = r && c->color ? col(c->color(r)) : "";
		const char *off = r && c->color ? col(RESET) : "";
		if (k == last)
			printf("%s%s%s\n", on, text[k], off);
		else
			printf(c->align == ALIGN_LEFT ? "%s%-*s%s  " : "%s%*s%s  ",
			       on, c->width, text[k], off);
	}
}

/* The --all table: the rows shown() keeps (so -q leaves only what is
 * not a live listener one may connect to), with a CONNECT column
 * (yes/no for the -u user) when -u is given.  Nothing when no row is
 * left. */
static void print_table(const struct inspect_report *r, size_t n,
			const struct args *a)
{
	static char text[COL_MAX][CELL_MAX];
	int rows = 0;

	columns[COL_CONNECT].disabled = a->user_arg == NULL;
	for (int k = 0; k < COL_MAX; k++)
		columns[k].width = (int)strlen(columns[k].header);
	for (size_t i = 0; i < n; i++) {
		if (!shown(&r[i], a))
			continue;
		rows++;
		for (int k = 0; k < COL_MAX; k++) {
			columns[k].text(&r[i], text[k], sizeof text[k]);
			int w = (int)strlen(text[k]);
			if (w > columns[k].width)
				columns[k].width = w;
		}
	}
	if (!rows)
		return;
	for (int k = 0; k < COL_MAX; k++)
		snprintf(text[k], sizeof text[k], "%s", columns[k].header);
	print_row(NULL, text);
	for (size_t i = 0; i < n; i++) {
		if (!shown(&r[i], a))
			continue;
		for (int k = 0; k < COL_MAX; k++)
			columns[k].text(&r[i], text[k], sizeof text[k]);
		print_row(&r[i], text);
	}
}

/* ---- JSON ---- */

static void json_procs(struct json *j, const char *key,
		       const struct inspect_proc *p, size_t n)
{
	json_key(j, key);
	json_begin_array(j);
	for (size_t i = 0; i < n; i++) {
		json_begin_object(j);
		json_key(j, "pid");
		json_int(j, p[i].pid);
		json_key(j, "command");
		json_str(j, E(p[i].comm));
		json_key(j, "user");
		json_str(j, p[i].uid == (uid_t)-1 ? NULL : E(user_of(p[i].uid)));
		json_end_object(j);
	}
	json_end_array(j);
}

static void json_opt_int(struct json *j, const char *key, int has, long long v)
{
	json_key(j, key);
	if (has)
		json_int(j, v);
	else
		json_null(j);
}

static void print_json(struct json *j, const struct inspect_report *r)
{
	static const char *const kinds[] = { [ADDR_UNIX] = "unix",
		[ADDR_ABSTRACT] = "abstract", [ADDR_TCP] = "tcp" };
	char mode[8];
	int st = r->has_stat;

	json_begin_object(j);
	json_key(j, "address");
	json_str(j, address_of(r));
	json_key(j, "path");
	json_str(j, r->path ? E(r->path) : NULL);
	json_key(j, "kind");
	json_str(j, kinds[r->kind]);
	json_key(j, "type");
	json_str(j, inspect_type_name(r->type));
	json_key(j, "state");
	json_str(j, inspect_state_name(r->state));
	snprintf(mode, sizeof mode, "%04o", (unsigned)(r->st.st_mode & 07777));
	json_key(j, "mode");
	json_str(j, st ? mode : NULL);
	json_key(j, "owner");
	json_str(j, st ? E(perm_id_name(r->st.st_uid, 0)) :
		 r->has_sock_uid ? E(user_of(r->sock_uid)) : NULL);
	json_key(j, "group");
	json_str(j, st ? E(perm_id_name(r->st.st_gid, 1)) : NULL);
	json_procs(j, "listeners", r->listeners, r->nlisteners);
	json_opt_int(j, "queue", r->has_queue, r->queue);
	json_opt_int(j, "backlog", r->has_queue, r->backlog);
	json_opt_int(j, "peers", r->has_peers, r->peers);
	json_key(j, "can_connect");
	json_bool(j, r->can_connect);
	json_key(j, "reason");
	json_str(j, r->reason ? E(r->reason) : NULL);
	/* beyond the pinned keys */
	json_key(j, "exact");
	json_bool(j, r->exact);
	json_key(j, "note");
	json_str(j, r->note ? E(r->note) : NULL);
	json_opt_int(j, "uid", st, r->st.st_uid);
	json_opt_int(j, "gid", st, r->st.st_gid);
	json_key(j, "symlink");
	json_bool(j, r->is_link);
	json_opt_int(j, "inode", r->sock_ino != 0, r->sock_ino);
	json_key(j, "listeners_partial");
	json_bool(j, r->procs_partial);
	json_procs(j, "clients", r->clients, r->nclients);
	json_key(j, "audit");
	json_begin_array(j);
	for (int i = 0; i < r->nfindings; i++)
		json_str(j, E(r->findings[i]));
	json_end_array(j);
	json_key(j, "audit_error");
	json_str(j, r->audit_error ? E(r->audit_error) : NULL);
	if (r->probed) {
		json_key(j, "probe");
		json_begin_object(j);
		json_key(j, "ok");
		json_bool(j, r->probe_ok);
		json_key(j, "result");
		json_str(j, r->probe ? E(r->probe) : NULL);
		json_end_object(j);
	}
	json_end_object(j);
}

/* ---- main ---- */

/* Is report R worth showing under --audit / --quiet? */
static int shown(const struct inspect_report *r, const struct args *a)
{
	if (a->audit)
		return r->nfindings > 0 || r->audit_error;
	if (log_level == 0)
		return !inspect_live(r) || !r->can_connect;
	return 1;
}

/* Read the socket tables that the addresses (or --all) need. */
static void load_tables(struct inspect_ctx *c, const struct args *a)
{
	int want_tcp = a->all && a->tcp, want_unix = a->all;
	for (int i = 0; i < a->naddrs; i++) {
		struct addr ad;
		const char *why;
		if (addr_parse(&ad, a->addrs[i], ADDR_LISTEN, &why) < 0)
			die(EXIT_USAGE, "address '%s': %s", log_esc(a->addrs[i]), why);
		if (ad.kind == ADDR_TCP)
			want_tcp = 2;
		else
			want_unix = 2;
	}
	if (want_unix) {
		if (inspect_load_unix(c, want_unix == 2 ? DIAG_DETAIL : DIAG_LISTENERS) < 0)
			die_sys(1, "read the UNIX socket table");
		if (c->ux_errno)
			log_warn("socket diagnostics unavailable (%s): reading "
				 "/proc/net/unix, with less detail",
				 strerror(c->ux_errno));
	}
	if (want_tcp && inspect_load_tcp(c, want_tcp == 2) < 0)
		die_sys(1, "read the TCP socket table");
}

/* Fill RS with a report per socket: processes, verdicts, findings,
 * probes.  Returns 1 when some ADDRESS is not a live listener. */
static int collect(struct inspect_ctx *c, const struct args *a,
		   struct reports *rs)
{
	int failed = 0;
	if (a->all) {
		struct inspect_report *v = NULL;
		long n = inspect_all(c, a->tcp, &v);
		append(rs, v, n);
	}
	for (int i = 0; i < a->naddrs; i++)
		if (!gather(c, a->addrs[i], rs))
			failed = 1;
	if (inspect_procs(c, rs->v, rs->n) < 0)
		log_syserr("read /proc");
	inspect_resolve(rs->v, rs->n);
	for (size_t i = 0; c->procs_denied && geteuid() != 0 && i < rs->n; i++)
		if (rs->v[i].procs_partial) {
			log_warn("not root: %u processes of other users could not be "
				 "examined; their sockets show no listener",
				 c->procs_denied);
			break;
		}
	if ((a->json || a->audit || !a->all || a->user_arg || log_level == 0) &&
	    inspect_perms(rs->v, rs->n, a->user_arg ? &a->user : NULL) < 0)
		log_syserr("check permissions as %s", log_esc(a->user.name));
	for (size_t i = 0; i < rs->n; i++) {
		if (a->audit && inspect_audit(&rs->v[i]) < 0) {
			incomplete = 1;
			log_err("%s: cannot audit: %s", log_esc(rs->v[i].path),
				log_esc(rs->v[i].audit_error));
		}
		if (a->probe)
			inspect_probe(&rs->v[i]);
		if (!a->all && !inspect_live(&rs->v[i]))
			failed = 1;
	}
	return failed;
}

static void output(const struct reports *rs, const struct args *a)
{
	if (a->all && !a->json && !a->audit) {
		print_table(rs->v, rs->n, a);
	} else if (a->json) {
		struct json j;
		json_init(&j, stdout, 1);
		json_begin_array(&j);
		for (size_t i = 0; i < rs->n; i++)
			if (shown(&rs->v[i], a))
				print_json(&j, &rs->v[i]);
		json_end_array(&j);
	} else {
		int first = 1;
		for (size_t i = 0; i < rs->n; i++) {
			if (!shown(&rs->v[i], a))
				continue;
			if (!first)
				printf("\n");
			first = 0;
			print_block(&rs->v[i]);
		}
	}
	if (fflush(stdout) == EOF || ferror(stdout)) {
		if (errno == EPIPE)
			exit(1); /* the reader has gone: nothing to say */
		die_sys(1, "write stdout");
	}
}

int main(int argc, char **argv)
{
	struct args a;
	struct inspect_ctx c;
	struct reports rs = { 0 };

	log_init("sockinfo");
	/* Lines are written directly, not queued (cli_log_queue()): one
	 * table or answer, then exit; nothing waits on it. */
	if (stdio_guard() < 0)
		die_sys(1, "open /dev/null");
	signal(SIGPIPE, SIG_IGN);
	parse_argv(argc, argv, &a);
	use_color = a.color;
	inspect_init(&c);
	load_tables(&c, &a);
	int failed = collect(&c, &a, &rs);
	output(&rs, &a);
	int findings = 0;
	for (size_t i = 0; i < rs.n; i++)
		findings += rs.v[i].nfindings > 0;
	if (a.audit)
		log_verbose("%d of %zu socket%s with findings", findings, rs.n,
			    num_s(rs.n));
	inspect_reports_free(rs.v, rs.n);
	inspect_free(&c);
	perm_user_free(&a.user);
	if (incomplete)
		return EXIT_PARTIAL;
	return a.audit ? findings > 0 : failed;
}
