/* interactive.c — usock-connect's interactive mode: readline's callback
 * interface and the socket in one poll loop.  What the peer sends is
 * printed above the prompt, made safe for the terminal first. */
#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#ifdef HAVE_READLINE
#include <readline/readline.h>
#include <readline/history.h>
#endif

#include "interactive.h"
#include "core/addr.h"
#include "core/relay.h"

/* The peer's unfinished last line stands in for the prompt; past this
 * many bytes it is printed with a line break of its own. */
#define PARTIAL_MAX 1024
/* Words remembered for completion, and their longest length. */
#define WORDS_MAX 4096
#define WORD_LEN 64

/* Create every missing directory of PATH (a writable copy) with MODE. */
static int mkdir_p(char *path, mode_t mode)
{
	for (char *p = path + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		int r = mkdir(path, mode);
		*p = c;
		if (r < 0 && errno != EEXIST)
			return -1;
		if (c == '\0')
			return 0;
	}
}

/* ENDPOINT as a file name (see interactive_history_default()) into OUT,
 * which has room for 240 bytes. */
static void history_name(const char *endpoint, char *out)
{
	static const char keep[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				   "0123456789._,:@+=-";
	size_t len = 0;
	uint64_t h = 1469598103934665603ULL; /* FNV-1a, 64 bits */
	int cut = 0;

	for (const unsigned char *p = (const unsigned char *)endpoint; *p; p++) {
		h = (h ^ *p) * 1099511628211ULL;
		if (len > 200 - 3) {
			cut = 1;
			continue;
		}
		if (*p && strchr(keep, *p))
			out[len++] = (char)*p;
		else
			len += (size_t)snprintf(out + len, 4, "%%%02X", *p);
	}
	if (!len || (len == 1 && out[0] == '.') ||
	    (len == 2 && out[0] == '.' && out[1] == '.'))
		len += (size_t)snprintf(out + len, 4, "%%%02X", 0);
	if (cut)
		len += (size_t)snprintf(out + len, 20, "~%016llx", (unsigned long long)h);
	out[len] = 0;
}

int interactive_history_default(char *buf, size_t n, const char *endpoint)
{
	char name[240];
	const char *state = getenv("XDG_STATE_HOME");
	int len;

	/* the XDG spec: a relative path there is invalid, so ignored */
	if (state && state[0] == '/') {
		len = snprintf(buf, n, "%s/usock", state);
	} else {
		const char *home = getenv("HOME");
		if (!home || home[0] != '/') {
			struct passwd *pw = getpwuid(getuid());
			home = pw ? pw->pw_dir : NULL;
		}
		if (!home || home[0] != '/') {
			buf[0] = '\0';
			errno = ENOENT;
			return -1;
		}
		len = snprintf(buf, n, "%s/.local/state/usock", home);
	}
	history_name(endpoint, name);
	if (len < 0 || (size_t)len + sizeof "/history.d/" + strlen(name) > n) {
		errno = ENAMETOOLONG;
		return -1;
	}
	buf[len] = '\0';
	if (mkdir_p(buf, 0700) < 0)
		return -1;      /* BUF names the directory */
	snprintf(buf + len, n - (size_t)len, "/history.d/%s", name);
	return 0;
}

/* Refuse what another user could have planted or can change: not owned
 * by the effective user (or root), or writable by group or others.  The
 * reason into *WHY (static text), or 0 if usable. */
static int history_unsafe(const struct stat *st, const char **why)
{
	if (st->st_uid != geteuid() && st->st_uid != 0) {
		*why = "owned by another user";
		return -1;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		*why = "writable by group or others";
		return -1;
	}
	return 0;
}

/* ENOTDIR/ELOOP from an O_NOFOLLOW open: say so if NAME is a link. */
static const char *history_link(int dfd, const char *name)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
		return "a symbolic link, not followed";
	return NULL;
}

int interactive_history_fd(char *path, int dirs, const char **why)
{
	char *slash[64];
	int k = 0;
	struct stat st;

	*why = NULL;
	for (char *p = path; *p && k < 64; p++)
		if (*p == '/')
			slash[k++] = p;
	if (dirs < 0 || dirs > k || (dirs == k && k > 0)) {
		errno = EINVAL;
		return -1;
	}
	/* the directory above the DIRS checked ones, opened as named */
	char *top = k ? slash[k - 1 - dirs] : NULL;
	int dfd;
	if (!top) {
		dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else if (top == path) {
		dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		*top = '\0';
		dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return -1;      /* PATH names the directory */
		*top = '/';
	}
	if (dfd < 0)
		return -1;
	/* each checked directory: made if missing, never through a link */
	for (int i = k - dirs; i < k; i++) {
		char *name = slash[i - 1] + 1;
		*slash[i] = '\0';
		if (mkdirat(dfd, name, 0700) < 0 && errno != EEXIST)
			goto fail;
		int nfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0) {
			*why = history_link(dfd, name);
			goto fail;
		}
		close(dfd);
		dfd = nfd;
		if (fstat(dfd, &st) < 0 || history_unsafe(&st, why) < 0)
			goto fail;
		*slash[i] = '/';
	}
	const char *file = k ? slash[k - 1] + 1 : path;
	int fd = openat(dfd, file, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW |
			O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd < 0) {
		*why = history_link(dfd, file);
		goto fail;
	}
	close(dfd);
	if (fstat(fd, &st) < 0 || history_unsafe(&st, why) < 0) {
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		*why = "not a regular file";
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, O_APPEND);   /* blocking again */
	return fd;
fail: {
		int e = errno;
		close(dfd);
		errno = e;
		return -1;      /* PATH cut at the directory refused */
	}
}

/* A growable byte buffer. */
struct buf {
	char *p;
	size_t len, cap;
};

static int buf_add(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (!np)
			return -1;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

static int buf_puts(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

/* Drop the first N bytes of B. */
static void buf_drop(struct buf *b, size_t n)
{
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

/* ---- escaping: the peer never drives the terminal ---- */

/* Carried between chunks: a CR that may start a CR LF line end, and the
 * first bytes of a UTF-8 character that the next chunk completes. */
struct esc_state {
	unsigned char hold[4];
	size_t nhold;
	int cr;
	int hl;                /* reverse video is on */
};

/* Length of the well-formed UTF-8 character at P (N bytes there), with
 * its code point in *CP; 0 if N bytes are a valid start but too few;
 * -1 if P does not start a character. */
static int utf8_char(const unsigned char *p, size_t n, uint32_t *cp)
{
	unsigned char c = p[0];
	int len;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return -1;
	if (c == 0xe0)
		lo = 0xa0;          /* overlong */
	else if (c == 0xed)
		hi = 0x9f;          /* surrogates */
	else if (c == 0xf0)
		lo = 0x90;          /* overlong */
	else if (c == 0xf4)
		hi = 0x8f;          /* past U+10FFFF */
	*cp = c & (0x7f >> len);
	for (int i = 1; i < len; i++) {
		if ((size_t)i >= n)
			return 0;
		unsigned char lo_i = i == 1 ? lo : 0x80, hi_i = i == 1 ? hi : 0xbf;
		if (p[i] < lo_i || p[i] > hi_i)
			return -1;
		*cp = *cp << 6 | (p[i] & 0x3f);
	}
	return len;
}

/* Switch reverse video to ON; the \001 \002 around the sequence tell
 * readline it takes no room when the text is part of the prompt. */
static int esc_hl(struct buf *out, struct esc_state *st, int color, int on)
{
	if (!color || st->hl == on)
		return 0;
	st->hl = on;
	return buf_puts(out, on ? "\001\033[7m\002" : "\001\033[27m\002");
}

/* Append to OUT the terminal-safe form of P[0..N): printable ASCII as
 * it is, UTF-8 characters too when UTF8 and esc_keep() shows them as they
 * are (not the format characters, such as U+202E), a LF or a CR LF pair as a line
 * end, "\t", "\r" and "\xHH" for every other byte.  N 0 flushes what ST
 * holds.  0, or -1 (out of memory). */
static int esc_text(struct esc_state *st, const char *p, size_t n, int utf8,
		    int color, struct buf *out)
{
	struct buf in = { 0 };
	int flush = n == 0, r = 0;

	if (buf_add(&in, st->hold, st->nhold) < 0 || buf_add(&in, p, n) < 0) {
		free(in.p);
		return -1;
	}
	st->nhold = 0;
	const unsigned char *q = (const unsigned char *)in.p;
	size_t i = 0;
	while (i < in.len && r == 0) {
		unsigned char c = q[i];
		size_t k = 1;
		char hex[8];
		if (st->cr) {
			st->cr = 0;
			if (c == '\n') {
				r = esc_hl(out, st, color, 0) | buf_puts(out, "\n");
				i++;
				continue;
			}
			r = esc_hl(out, st, color, 1) | buf_puts(out, "\\r");
		}
		if (c == '\r') {
			st->cr = 1;
			i++;
			continue;
		}
		if (c == '\n' || (c >= 0x20 && c < 0x7f)) {
			r |= esc_hl(out, st, color, 0) | buf_add(out, &c, 1);
			i++;
			continue;
		}
		if (c >= 0x80 && utf8) {
			/* the one rule of what is shown as it is (core/addr.h):
			 * C1 controls, format characters (U+200B, U+202E...),
			 * separators and specials are escaped, every byte */
			int keep = esc_keep((const char *)q + i, in.len - i);
			if (keep < 0 && !flush) {
				st->nhold = in.len - i;
				memcpy(st->hold, q + i, st->nhold);
				break;
			}
			if (keep > 0) {
				r |= esc_hl(out, st, color, 0) |
				     buf_add(out, q + i, (size_t)keep);
				i += (size_t)keep;
				continue;
			}
			uint32_t cp = 0;
			int len = utf8_char(q + i, in.len - i, &cp);
			if (len > 0)
				k = (size_t)len;
		}
		r |= esc_hl(out, st, color, 1);
		for (size_t j = 0; j < k; j++) {
			if (q[i + j] == '\t')
				strcpy(hex, "\\t");
			else
				snprintf(hex, sizeof hex, "\\x%02x", q[i + j]);
			r |= buf_puts(out, hex);
		}
		i += k;
	}
	if (flush && st->cr) {
		st->cr = 0;
		r |= esc_hl(out, st, color, 1) | buf_puts(out, "\\r");
	}
	r |= esc_hl(out, st, color, 0);
	free(in.p);
	return r ? -1 : 0;
}

#ifndef HAVE_READLINE

int interactive_available(void)
{
	return 0;
}

int interactive_history_open(int fd)
{
	close(fd);
	errno = ENOTSUP;
	return -1;
}

int interactive_run(struct interactive *s)
{
	(void)s;
	(void)esc_text;
	(void)buf_drop;
	errno = ENOTSUP;
	return RELAY_ERROR;
}

#else

int interactive_available(void)
{
	return 1;
}

/* The state of the one session a process runs (readline's callbacks
 * take no context). */
static struct {
	struct interactive *s;
	struct buf out;        /* bytes on their way to the socket */
	struct buf partial;    /* the peer's unfinished line, display form */
	struct esc_state esc;
	int utf8;
	int split;             /* readline draws on stderr, the peer's bytes
	                          go to stdout (not a terminal) unchanged */
	int rl_on;             /* readline's handler is installed */
	int want_eof;          /* Ctrl-D: send EOF once OUT is drained */
	int eof_sent;
	int write_dead;        /* the peer takes no more */
	int line_open;         /* output ended mid-line */
	int prompt_stale;      /* the prompt waits for readline to be idle */
	int err;               /* errno of a failed write to stdout */
	int64_t last_int;      /* when Ctrl-C was last pressed */
	int64_t last_active;
	int hist_fd;
	char **words;          /* sorted, for completion */
	size_t nwords;
	struct { char b[WORD_LEN]; size_t n; int bad; } tok;
} S = { .hist_fd = -1 };

/* ---- words seen in the session, for Tab ---- */

/* Index of the first word not below W. */
static size_t words_find(const char *w)
{
	size_t lo = 0, hi = S.nwords;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strcmp(S.words[mid], w) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void words_add(const char *w)
{
	size_t i = words_find(w);
	if ((i < S.nwords && strcmp(S.words[i], w) == 0) || S.nwords >= WORDS_MAX)
		return;
	if (!S.words && !(S.words = calloc(WORDS_MAX, sizeof *S.words)))
		return;
	char *copy = strdup(w);
	if (!copy)
		return;
	memmove(S.words + i + 1, S.words + i, (S.nwords - i) * sizeof *S.words);
	S.words[i] = copy;
	S.nwords++;
}

static void tok_end(void)
{
	if (!S.tok.bad && S.tok.n >= 2) {
		S.tok.b[S.tok.n] = '\0';
		words_add(S.tok.b);
	}
	S.tok.n = 0;
	S.tok.bad = 0;
}

/* Collect the words of P[0..N): runs of printable bytes between
 * blanks; a word may go on in the next call unless END. */
static void words_scan(const char *p, size_t n, int end)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			tok_end();
		else if (c < 0x20 || c == 0x7f || S.tok.n >= WORD_LEN - 1)
			S.tok.bad = 1;
		else
			S.tok.b[S.tok.n++] = (char)c;
	}
	if (end)
		tok_end();
}

static char *word_match(const char *text, int state)
{
	static size_t i;
	if (!state)
		i = words_find(text);
	if (i < S.nwords && strncmp(S.words[i], text, strlen(text)) == 0)
		return strdup(S.words[i++]);
	return NULL;
}

static char **complete(const char *text, int start, int end)
{
	(void)start;
	(void)end;
	rl_attempted_completion_over = 1;   /* never file names */
	return rl_completion_matches(text, word_match);
}

/* ---- history ---- */

/* Replace the content of FD (opened for appending) with the history
 * list, in place: a concurrent session's appends then land after it. */
static int history_rewrite(int fd)
{
	struct buf b = { 0 };
	HIST_ENTRY **list = history_list();
	int r = 0;

	for (int i = 0; list && list[i] && r == 0; i++)
		r = buf_puts(&b, list[i]->line) < 0 || buf_puts(&b, "\n") < 0 ? -1 : 0;
	if (r == 0 && ftruncate(fd, 0) < 0)
		r = -1;
	for (size_t off = 0; r == 0 && off < b.len; ) {
		ssize_t w = write(fd, b.p + off, b.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			r = -1;
		else
			off += (size_t)w;
	}
	free(b.p);
	return r;
}

int interactive_history_open(int fd)
{
	FILE *f = fdopen(fd, "r");
	int lines = 0;

	if (!f) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	stifle_history(INTERACTIVE_HISTORY_MAX);
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (len > 0) {
			add_history(line);
			lines++;
		}
	}
	free(line);
	int e = ferror(f) ? errno : 0;
	int keep = e ? -1 : dup(fd);
	if (keep < 0 && !e)
		e = errno;
	fclose(f);
	if (keep >= 0 && lines > INTERACTIVE_HISTORY_MAX && history_rewrite(keep) < 0) {
		e = errno;
		close(keep);
		keep = -1;
	}
	if (keep < 0) {
		errno = e ? e : EIO;
		return -1;
	}
	S.hist_fd = keep;
	return 0;
}

/* Keep LINE in the history: not a blank line, not one that starts with
 * a space (so that secrets can stay out), not the line before again. */
static void history_keep(const char *line)
{
	if (line[strspn(line, " \t")] == '\0' || line[0] == ' ' ||
	    strchr(line, '\n'))
		return;
	HIST_ENTRY *last = history_length > 0 ?
		history_get(history_base + history_length - 1) : NULL;
	if (last && strcmp(last->line, line) == 0)
		return;
	add_history(line);
	if (S.hist_fd < 0)
		return;
	struct buf b = { 0 };
	if (buf_puts(&b, line) == 0 && buf_puts(&b, "\n") == 0 &&
	    write(S.hist_fd, b.p, b.len) == (ssize_t)b.len) {
		free(b.p);
		return;
	}
	S.s->history_errno = errno ? errno : EIO;
	free(b.p);
	close(S.hist_fd);
	S.hist_fd = -1;
}

/* ---- the screen ---- */

/* Write P[0..N) where readline draws, without the \001 \002 prompt
 * marks (escaped text never holds those bytes otherwise). */
static void term_write(const char *p, size_t n)
{
	for (size_t i = 0; i < n; ) {
		size_t k = 0;
		while (i + k < n && (S.s->raw || (p[i + k] != '\001' &&
						  p[i + k] != '\002')))
			k++;
		if (k && fwrite(p + i, 1, k, rl_outstream) != k && !S.err)
			S.err = errno ? errno : EIO;
		i += k;
		if (i < n && !S.s->raw)
			i++;
	}
	if (n)
		S.line_open = p[n - 1] != '\n';
	if (fflush(rl_outstream) != 0 && !S.err)
		S.err = errno ? errno : EIO;
}

/* Readline is showing a message of its own (a search, an argument)
 * in place of the prompt. */
static int rl_busy(void)
{
	return RL_ISSTATE(RL_STATE_ISEARCH | RL_STATE_NSEARCH |
			  RL_STATE_NUMERICARG | RL_STATE_COMPLETING);
}

/* Take the prompt and the line being edited off the screen. */
static void screen_hide(void)
{
	if (S.rl_on) {
		rl_clear_visible_line();
		fflush(rl_outstream);   /* before others write to fd 2 */
	}
}

/* Put them back, the peer's unfinished line standing in for the
 * prompt.  Nothing is lost from the line: only the screen changed. */
static void screen_show(void)
{
	if (!S.rl_on)
		return;
	if (rl_busy()) {
		S.prompt_stale = 1;
	} else {
		char *nul = NULL;
		if (S.partial.len && buf_add(&S.partial, "", 1) == 0)
			nul = S.partial.p;
		rl_set_prompt(nul ? nul : S.s->prompt);
		if (nul)
			S.partial.len--;
		S.prompt_stale = 0;
	}
	rl_on_new_line();
	rl_redisplay();
}

/* Print the unfinished line as it is and forget it. */
static void partial_commit(void)
{
	term_write(S.partial.p, S.partial.len);
	S.partial.len = 0;
}

/* Show N bytes from the peer. */
static void show_peer(const char *p, size_t n)
{
	struct buf text = { 0 };

	screen_hide();
	if (S.s->tap && n)
		S.s->tap(S.s->tap_ctx, '<', p, n);
	words_scan(p, n, 0);
	if (S.split) {
		if ((fwrite(p, 1, n, stdout) != n || fflush(stdout) != 0) && !S.err)
			S.err = errno ? errno : EIO;
		screen_show();
		return;
	}
	int r = S.s->raw ? buf_add(&text, p, n) :
		esc_text(&S.esc, p, n, S.utf8, S.s->color, &text);
	if (r < 0 && !S.err)
		S.err = ENOMEM;
	if (!S.rl_on) {
		term_write(text.p, text.len);
	} else if (buf_add(&S.partial, text.p, text.len) == 0) {
		char *nl = memrchr(S.partial.p, '\n', S.partial.len);
		if (nl) {
			size_t k = (size_t)(nl - S.partial.p) + 1;
			term_write(S.partial.p, k);
			buf_drop(&S.partial, k);
		}
		if (S.partial.len > PARTIAL_MAX) {
			partial_commit();
			term_write("\n", 1);
		}
	}
	free(text.p);
	screen_show();
}

/* Let the caller print a message, on a line of its own. */
static void notice(enum interactive_notice what)
{
	if (!S.s->notice)
		return;
	screen_hide();
	if (S.line_open)
		term_write("\n", 1);
	S.s->notice(S.s->notice_ctx, what);
	screen_show();
}

/* ---- input ---- */

static int flush_out(void)
{
	while (S.out.len && !S.write_dead) {
		ssize_t n = send(S.s->fd, S.out.p, S.out.len, MSG_NOSIGNAL);
		if (n > 0) {
			S.s->sent += (uint64_t)n;
			buf_drop(&S.out, (size_t)n);
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return 0;
		if (errno != EPIPE)
			return -1;
		/* the peer reads no more: its close is on the way */
		S.write_dead = 1;
		S.out.len = 0;
	}
	if (S.want_eof && !S.eof_sent && !S.out.len) {
		shutdown(S.s->fd, SHUT_WR);
		S.eof_sent = 1;
	}
	return 0;
}

/* Ctrl-D at an empty line (FROM_READLINE), or the terminal hung up:
 * no more input.  The peer gets end of file once what was typed has
 * gone out, and its output keeps coming. */
static void input_end(int from_readline)
{
	if (!S.rl_on)
		return;
	if (from_readline) {
		/* readline leaves the prompt line as it is, and moves to the
		 * next line itself when bracketed paste is on */
		const char *bp = rl_variable_value("enable-bracketed-paste");
		if (!bp || strcmp(bp, "on") != 0)
			term_write("\n", 1);
		S.partial.len = 0;
		S.line_open = 0;
	} else {
		screen_hide();
		partial_commit();
	}
	rl_callback_handler_remove();
	S.rl_on = 0;
	S.want_eof = 1;
	notice(INTERACTIVE_EOF_SENT);
}

/* readline's handler for a finished line (NULL at end of file). */
static void on_line(char *line)
{
	if (!line) {
		input_end(1);
		return;
	}
	/* the peer's unfinished line is on the screen now, before LINE */
	S.partial.len = 0;
	S.line_open = 0;
	rl_set_prompt(S.s->prompt);
	history_keep(line);
	words_scan(line, strlen(line), 1);

	const char *eol = S.s->crlf ? "\r\n" : "\n";
	size_t start = S.out.len;
	int r = 0;
	for (const char *p = line; ; ) {
		const char *nl = strchr(p, '\n');
		size_t k = nl ? (size_t)(nl - p) : strlen(p);
		r |= buf_add(&S.out, p, k) | buf_puts(&S.out, eol);
		if (!nl)
			break;
		p = nl + 1;
	}
	if (r < 0 && !S.err)
		S.err = ENOMEM;
	if (S.s->tap)
		S.s->tap(S.s->tap_ctx, '>', S.out.p + start, S.out.len - start);
	free(line);
}

/* Ctrl-C: forget the line being edited.  Returns 1 if this is the
 * second Ctrl-C within a second, which ends the session. */
static int on_interrupt(void)
{
	int64_t now = now_ms();
	if (!S.rl_on || (S.last_int && now - S.last_int < 1000))
		return 1;
	S.last_int = now;
	int empty = rl_end == 0;
	rl_callback_sigcleanup();
	rl_free_line_state();
	rl_point = rl_end;
	rl_redisplay();
	term_write("^C\n", 3);
	rl_replace_line("", 0);
	rl_point = 0;
	using_history();
	S.rl_on = 0;           /* the prompt is off the screen */
	if (empty)
		notice(INTERACTIVE_INT_HINT);
	S.rl_on = 1;
	screen_show();
	return 0;
}

/* Ctrl-Z: give the terminal back, stop, and take it again on SIGCONT. */
static void suspend(void)
{
	sigset_t tstp;
	sigemptyset(&tstp);
	sigaddset(&tstp, SIGTSTP);
	if (S.rl_on) {
		rl_point = rl_end;
		rl_redisplay();
		term_write("\n", 1);
		(*rl_deprep_term_function)();
	}
	signal(SIGTSTP, SIG_DFL);
	raise(SIGTSTP);
	sigprocmask(SIG_UNBLOCK, &tstp, NULL);  /* stops here */
	sigprocmask(SIG_BLOCK, &tstp, NULL);
	if (S.rl_on) {
		(*rl_prep_term_function)(1);
		rl_on_new_line();
		rl_redisplay();
	}
}

/* A signal from the signalfd: 1 if it ends the session. */
static int on_signal(void)
{
	int sig = sig_read(S.s->sigfd);
	switch (sig) {
	case SIGINT:
		if (!on_interrupt())
			return 0;
		/* fall through */
	case SIGTERM:
		S.s->signo = sig;
		return 1;
	case SIGWINCH:
		if (S.rl_on)
			rl_resize_terminal();
		return 0;
	case SIGTSTP:
		suspend();
		return 0;
	}
	return 0;
}

/* Read once from the socket: 1 at its end, -1 on error, else 0. */
static int on_socket(void)
{
	char buf[65536];
	ssize_t n = recv(S.s->fd, buf, sizeof buf, 0);
	if (n > 0) {
		S.s->received += (uint64_t)n;
		show_peer(buf, (size_t)n);
		return 0;
	}
	if (n == 0)
		return 1;
	if (errno == EINTR || errno == EAGAIN)
		return 0;
	S.s->failed = "read";
	return -1;
}

/* Before returning: the peer's last words, a clean line, the terminal
 * as it was. */
static void finish(int rc)
{
	int e = errno;
	struct buf text = { 0 };
	if (S.rl_on) {
		if (rc == RELAY_SIGNAL) {
			/* leave the line as it was, the peer's part with it */
			rl_point = rl_end;
			rl_redisplay();
			if (S.s->signo == SIGINT)
				term_write("^C", 2);
			term_write("\n", 1);
			S.partial.len = 0;
		} else {
			screen_hide();
		}
		rl_callback_handler_remove();
		S.rl_on = 0;
	}
	if (!S.s->raw && esc_text(&S.esc, "", 0, S.utf8, S.s->color, &text) == 0)
		buf_add(&S.partial, text.p, text.len);
	free(text.p);
	partial_commit();
	if (S.line_open)
		term_write("\n", 1);
	if (S.eof_sent)
		tcflush(0, TCIFLUSH);   /* what was typed after Ctrl-D */
	if (S.hist_fd >= 0)
		close(S.hist_fd);
	S.hist_fd = -1;
	errno = e;
}

static int run(struct interactive *s)
{
	for (;;) {
		if (S.err) {
			errno = S.err;
			s->failed = "stdout";
			return RELAY_ERROR;
		}
		if (flush_out() < 0) {
			s->failed = "write";
			return RELAY_ERROR;
		}
		struct pollfd pfd[3] = {
			{ s->sigfd, POLLIN, 0 },
			{ s->fd, (short)(POLLIN | (S.out.len ? POLLOUT : 0)), 0 },
			{ 0, POLLIN, 0 },
		};
		int timeout = -1;
		if (s->idle_ms >= 0) {
			int64_t left = S.last_active + s->idle_ms - now_ms();
			timeout = left < 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
		}
		int n = poll(pfd, S.rl_on ? 3 : 2, timeout);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return RELAY_ERROR;
		if (n == 0)
			return RELAY_TIMEOUT;
		if (pfd[0].revents && on_signal())
			return RELAY_SIGNAL;
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			int r = on_socket();
			if (r > 0)
				return RELAY_OK;
			if (r < 0)
				return RELAY_ERROR;
			S.last_active = now_ms();
		}
		if (S.rl_on && (pfd[2].revents & POLLIN)) {
			rl_callback_read_char();
			S.last_active = now_ms();
			if (S.prompt_stale && S.rl_on && !rl_busy()) {
				screen_hide();
				screen_show();
			}
		} else if (S.rl_on && pfd[2].revents) {
			input_end(0);   /* the terminal hung up */
		}
	}
}

int interactive_run(struct interactive *s)
{
	S.s = s;
	S.utf8 = MB_CUR_MAX > 1 && strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
	S.split = !isatty(1) && isatty(2);
	rl_outstream = S.split ? stderr : stdout;
	S.last_active = now_ms();
	s->signo = 0;
	s->failed = NULL;

	rl_readline_name = "usock-connect";
	rl_catch_signals = 0;       /* signals come through the signalfd */
	rl_catch_sigwinch = 0;
	rl_change_environment = 0;
	rl_basic_word_break_characters = " \t\n";
	rl_attempted_completion_function = complete;
	stifle_history(INTERACTIVE_HISTORY_MAX);
	using_history();
	rl_callback_handler_install(s->prompt, on_line);
	S.rl_on = 1;

	int rc = run(s);
	finish(rc);
	return rc;
}

#endif
