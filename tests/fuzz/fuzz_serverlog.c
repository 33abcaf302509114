/*
 * fuzz_serverlog: libFuzzer harness for the server-log deadlock parser.
 *
 * The first two bytes of the input choose where the rest is split; the rest
 * is fed in those two chunks to a parser of each format (and AUTO), then in
 * one piece to another, and the two runs must give the same reports: where
 * the bytes happen to be cut must never change what is found. Every report
 * must also be well formed (procs with mode, object and locktype).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *     $(pkg-config --cflags jansson) -o fuzz_serverlog tests/fuzz/fuzz_serverlog.c \
 *     src/perceive/serverlog.c src/core/mem.c src/core/strbuf.c src/core/clock.c \
 *     $(pkg-config --libs jansson)
 *   ./fuzz_serverlog -dict=tests/fuzz/serverlog.dict -max_total_time=60 CORPUS \
 *     tests/data/serverlog
 */
#include "perceive/serverlog.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int str_same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_same(const struct deadlock_report *a, const struct deadlock_report *b,
		       size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (a[i].time_us != b[i].time_us || a[i].pid != b[i].pid ||
		    !str_same(a[i].user, b[i].user) || !str_same(a[i].database, b[i].database) ||
		    !str_same(a[i].application, b[i].application) ||
		    !str_same(a[i].statement, b[i].statement) ||
		    !str_same(a[i].context, b[i].context) || a[i].nprocs != b[i].nprocs)
			abort();
		if ((a[i].nprocs == 0) != (a[i].procs == NULL))
			abort();
		for (size_t k = 0; k < a[i].nprocs; k++) {
			const struct deadlock_proc *x = &a[i].procs[k], *y = &b[i].procs[k];

			if (!x->mode || !x->object || !x->locktype)
				abort();
			if (x->pid != y->pid || x->blocked_by != y->blocked_by ||
			    x->relation != y->relation || x->database != y->database ||
			    x->xid != y->xid || !str_same(x->mode, y->mode) ||
			    !str_same(x->object, y->object) || !str_same(x->locktype, y->locktype) ||
			    !str_same(x->statement, y->statement))
				abort();
		}
	}
}

static size_t run(enum serverlog_format fmt, const char *d, size_t n, size_t cut,
		  struct deadlock_report **out)
{
	struct serverlog_parser *p = serverlog_parser_new(fmt);
	size_t fed = 0, got;

	fed += serverlog_parser_feed(p, d, cut);
	fed += serverlog_parser_feed(p, d + cut, n - cut);
	fed += serverlog_parser_finish(p);
	got = serverlog_parser_take(p, out);
	if (got != fed)
		abort();
	serverlog_parser_free(p);
	return got;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum serverlog_format fmts[] = {
		SERVERLOG_AUTO, SERVERLOG_STDERR, SERVERLOG_CSVLOG, SERVERLOG_JSONLOG
	};
	const char *d;
	size_t n, cut;

	if (size < 2)
		return 0;
	d = (const char *)data + 2;
	n = size - 2;
	cut = ((size_t)data[0] | (size_t)data[1] << 8) % (n + 1);
	for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++) {
		struct deadlock_report *split, *whole;
		size_t ns = run(fmts[f], d, n, cut, &split);
		size_t nw = run(fmts[f], d, n, 0, &whole);

		if (ns != nw)
			abort();
		check_same(split, whole, ns);
		serverlog_reports_free(split, ns);
		serverlog_reports_free(whole, nw);
	}
	return 0;
}
