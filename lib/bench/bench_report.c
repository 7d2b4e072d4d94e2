/* bench_report.c — usock-bench results for people (an aligned table) and
 * for scripts (JSON: one object per result, on one line, with the keys
 * mode, address, size, connections, figures and units). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "core/json.h"

static void head(FILE *f, const char *mode, const char *addr, size_t size,
		 unsigned long conns)
{
	fprintf(f, "{\"mode\":\"%s\",\"address\":", mode);
	json_quote(f, addr);
	fprintf(f, ",\"size\":%zu,\"connections\":%lu,\"figures\":{", size, conns);
}

void bench_json_result(FILE *f, const char *addr, size_t size,
		       unsigned long conns, const struct bench_result *r)
{
	head(f, bench_mode_name(r->mode), addr, size, conns);
	switch (r->mode) {
	case BENCH_THROUGHPUT:
		fprintf(f, "\"bytes\":%llu,\"received\":%llu,\"seconds\":%.6f,"
			"\"bytes_per_second\":%.0f},\"units\":{\"bytes\":\"B\","
			"\"received\":\"B\",\"seconds\":\"s\","
			"\"bytes_per_second\":\"B/s\"}}\n",
			(unsigned long long)r->bytes, (unsigned long long)r->received,
			r->seconds, r->rate);
		return;
	case BENCH_HOLD:
		fprintf(f, "\"connections\":%lu,\"open_seconds\":%.6f,"
			"\"connections_per_second\":%.1f,\"held_seconds\":%.3f,"
			"\"checks\":%llu},\"units\":{\"connections\":\"1\","
			"\"open_seconds\":\"s\",\"connections_per_second\":\"1/s\","
			"\"held_seconds\":\"s\",\"checks\":\"1\"}}\n",
			conns, r->seconds, r->rate, r->held,
			(unsigned long long)r->count);
		return;
	default:;
		const char *n = r->mode == BENCH_LATENCY ? "round_trips" : "connections";
		fprintf(f, "\"%s\":%llu,\"seconds\":%.6f,\"%s_per_second\":%.1f,"
			"\"min\":%.3f,\"mean\":%.3f,\"p50\":%.3f,\"p90\":%.3f,"
			"\"p99\":%.3f,\"max\":%.3f},\"units\":{\"%s\":\"1\","
			"\"seconds\":\"s\",\"%s_per_second\":\"1/s\",\"min\":\"us\","
			"\"mean\":\"us\",\"p50\":\"us\",\"p90\":\"us\",\"p99\":\"us\","
			"\"max\":\"us\"}}\n", n, (unsigned long long)r->count,
			r->seconds, n, r->rate, r->min, r->mean, r->p50, r->p90,
			r->p99, r->max, n, n);
	}
}

void bench_json_compare(FILE *f, enum bench_mode mode, const char *addr,
			const char *versus, size_t size, unsigned long conns,
			const char *basis, double ratio)
{
	head(f, "compare", addr, size, conns);
	fprintf(f, "\"ratio\":%.4f},\"units\":{\"ratio\":\"x\"},\"workload\":\"%s\","
		"\"basis\":\"%s\",\"versus\":", ratio, bench_mode_name(mode), basis);
	json_quote(f, versus);
	fputs("}\n", f);
}

/* ---- the table ---- */

static void row(struct bench_table *t, int i, int n, ...)
{
	va_list ap;
	va_start(ap, n);
	for (int k = 0; k < n; k++)
		snprintf(t->cell[i][k], BENCH_CELL, "%s", va_arg(ap, const char *));
	va_end(ap);
	t->ncol = n;
}

void bench_table_add(struct bench_table *t, const char *addr, size_t size,
		     unsigned long conns, const struct bench_result *r)
{
	char c[9][32];
	const char *shown = addr;
	if (t->nrow + 1 >= BENCH_ROWS)
		return;
	int i = ++t->nrow;
	snprintf(c[0], 32, "%lu", conns);
	bench_format_bytes((double)size, c[1], 32);
	switch (r->mode) {
	case BENCH_THROUGHPUT:
		row(t, 0, 6, "ADDRESS", "CONNS", "WRITE", "SENT", "SECONDS", "RATE");
		snprintf(c[3], 32, "%.3f", r->seconds);
		row(t, i, 6, shown, c[0], c[1],
		    bench_format_bytes((double)r->bytes, c[2], 32), c[3],
		    bench_format_rate(r->rate, 1, c[4], 32));
		return;
	case BENCH_HOLD:
		row(t, 0, 5, "ADDRESS", "CONNECTIONS", "OPENED IN", "HELD", "CHECKS");
		snprintf(c[2], 32, "%.3f s", r->seconds);
		snprintf(c[3], 32, "%.1f s", r->held);
		snprintf(c[4], 32, "%llu ok", (unsigned long long)r->count);
		row(t, i, 5, shown, c[0], c[2], c[3], c[4]);
		return;
	default:
		row(t, 0, 10, "ADDRESS", r->mode == BENCH_LATENCY ? "CONNS" : "WORKERS",
		    "SIZE", r->mode == BENCH_LATENCY ? "ROUND TRIPS" : "CONNECTIONS",
		    "RATE", "MIN", "P50", "P90", "P99", "MAX");
		snprintf(c[2], 32, "%llu", (unsigned long long)r->count);
		row(t, i, 10, shown, c[0], c[1], c[2],
		    bench_format_rate(r->rate, 0, c[3], 32),
		    bench_format_us(r->min, c[4], 32), bench_format_us(r->p50, c[5], 32),
		    bench_format_us(r->p90, c[6], 32), bench_format_us(r->p99, c[7], 32),
		    bench_format_us(r->max, c[8], 32));
	}
}

void bench_table_print(FILE *f, const struct bench_table *t)
{
	int w[BENCH_COLS] = { 0 };
	for (int i = 0; i <= t->nrow; i++)
		for (int k = 0; k < t->ncol; k++) {
			int len = (int)strlen(t->cell[i][k]);
			if (len > w[k])
				w[k] = len;
		}
	for (int i = 0; i <= t->nrow; i++) {
		for (int k = 0; k < t->ncol; k++)
			fprintf(f, k ? "  %*s" : "%-*s", w[k], t->cell[i][k]);
		fputc('\n', f);
	}
}
