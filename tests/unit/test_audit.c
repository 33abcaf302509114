/*
 * test_audit: the hash-chained audit log (src/act/audit.c).
 *
 * Each test works in its own temporary directory. The record format is
 * checked against an independent re-computation (jansson + SHA-256 here, not
 * the module's code); tampering (a changed byte, a removed line, a swap, a
 * seq gap, a re-serialised line) must be named with its line; a torn tail
 * must be kept aside and the chain continued; a full disk and a file-size
 * limit must fail an append cleanly; threads, processes and a writer killed
 * with SIGKILL at a random moment must leave an intact chain holding every
 * acknowledged record. The tmpfs case needs the right to mount (root outside
 * a locked-down container); it is skipped otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "act/audit.h"

#define ZEROS "0000000000000000000000000000000000000000000000000000000000000000"
#define CANON (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)

/* ---------------------------------------------------------------- helpers */

struct fixture {
	char dir[64];
	char path[128];
};

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_audit.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/audit.jsonl", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char mnt[100];

	/* test_full_tmpfs may have failed with its tmpfs still mounted */
	snprintf(mnt, sizeof(mnt), "%s/mnt", f->dir);
	umount2(mnt, MNT_DETACH);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	if (len)
		*len = (size_t)n;
	return buf;
}

static void spit(const char *path, const char *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void append_raw(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_APPEND);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* The file as lines, each with its '\n' (the last may lack it). */
struct lines {
	char *buf;
	char *line[4096];
	size_t len[4096];
	size_t n;
};

static void lines_read(struct lines *ls, const char *path)
{
	size_t total, start = 0;

	ls->buf = slurp(path, &total);
	ls->n = 0;
	for (size_t i = 0; i < total; i++) {
		if (ls->buf[i] == '\n' || i + 1 == total) {
			assert_true(ls->n < 4096);
			ls->line[ls->n] = ls->buf + start;
			ls->len[ls->n++] = i + 1 - start;
			start = i + 1;
		}
	}
}

static void lines_write(const struct lines *ls, const char *path, const size_t *order,
			size_t n)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	for (size_t i = 0; i < n; i++)
		fwrite(ls->line[order[i]], 1, ls->len[order[i]], fp);
	assert_int_equal(fclose(fp), 0);
}

static json_t *line_json(const struct lines *ls, size_t i)
{
	json_error_t e;
	json_t *j = json_loadb(ls->line[i], ls->len[i], 0, &e);

	if (!j)
		fail_msg("line %zu: %s", i + 1, e.text);
	return j;
}

static void sha256_hex(const char *s, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;

	assert_true(EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL));
	for (unsigned int i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static struct audit *open_ok(const char *path)
{
	char err[512] = "";
	struct audit *a = audit_open(path, err, sizeof(err));

	if (!a)
		fail_msg("audit_open: %s", err);
	return a;
}

static void append_n(struct audit *a, int n, const char *kind)
{
	char err[512];

	for (int i = 1; i <= n; i++) {
		json_t *f = json_pack("{s:i, s:s}", "i", i, "sql", "SELECT pg_cancel_backend(42)");

		if (audit_append(a, kind, f, err, sizeof(err)) != 0)
			fail_msg("audit_append %d: %s", i, err);
		json_decref(f);
	}
}

static void write_log(const char *path, int n)
{
	struct audit *a = open_ok(path);

	append_n(a, n, "test.step");
	audit_close(a);
}

/* verify must say exactly this */
static void expect_verify(const char *path, int ret, enum audit_verify_status st,
			  int64_t line, int64_t records, const char *reason_part)
{
	struct audit_verify_result r;
	char err[512] = "";
	int got = audit_verify(path, &r, err, sizeof(err));

	if (got != ret || r.status != st || r.line != line || r.records != records)
		fail_msg("verify: ret %d status %d line %lld records %lld (%s%s), expected ret %d "
			 "status %d line %lld records %lld", got, (int)r.status, (long long)r.line,
			 (long long)r.records, r.reason, err, ret, (int)st, (long long)line,
			 (long long)records);
	if (reason_part && !strstr(r.reason, reason_part))
		fail_msg("verify reason '%s' lacks '%s'", r.reason, reason_part);
	if (ret == 0)
		assert_string_equal(r.reason, "");
}

static void expect_intact(const char *path, int64_t records)
{
	expect_verify(path, 0, AUDIT_VERIFY_OK, 0, records, NULL);
}

static size_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (size_t)st.st_size;
}

/* ------------------------------------------------------- format and chain */

static void test_append_then_verify(void **state)
{
	struct fixture *f = *state;

	write_log(f->path, 25);
	expect_intact(f->path, 25);

	/* reopening continues the chain */
	write_log(f->path, 5);
	expect_intact(f->path, 30);
}

static void test_empty_and_missing(void **state)
{
	struct fixture *f = *state;
	struct audit_verify_result r;
	char err[512] = "", missing[160];

	spit(f->path, "", 0);
	expect_intact(f->path, 0);
	snprintf(missing, sizeof(missing), "%s/nope.jsonl", f->dir);
	assert_int_equal(audit_verify(missing, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nope.jsonl"));
	assert_non_null(strstr(err, "No such file"));
}

/* The documented format, re-derived here independently. */
static void test_record_format(void **state)
{
	struct fixture *f = *state;
	struct lines ls;
	char h[65], prev[65] = ZEROS;
	struct audit *a;
	json_t *fields;
	char err[512];

	setenv("USER", "tester", 1);
	setenv("SSH_CLIENT", "10.1.2.3 50122 22", 1);
	a = open_ok(f->path);
	fields = json_pack("{s:s, s:i, s:{s:[i,i]}}", "sql", "SELECT 'caf\xc3\xa9'", "pid", 4242,
			   "nested", "list", 2, 1);
	assert_int_equal(audit_append(a, "exec.start", fields, err, sizeof(err)), 0);
	assert_int_equal(audit_append(a, "exec.done", NULL, err, sizeof(err)), 0);
	json_decref(fields);
	audit_close(a);
	unsetenv("SSH_CLIENT");

	lines_read(&ls, f->path);
	assert_int_equal(ls.n, 2);
	for (size_t i = 0; i < ls.n; i++) {
		json_t *rec = line_json(&ls, i), *op = json_object_get(rec, "operator");
		const char *at = json_string_value(json_object_get(rec, "at"));
		char *canon, *full, host[256] = "";
		int y, mo, d, hh, mi, ss, ms;
		char z;

		/* the line is the canonical text, with "hash" */
		full = json_dumps(rec, CANON);
		assert_int_equal(strlen(full) + 1, ls.len[i]);
		assert_memory_equal(full, ls.line[i], strlen(full));
		free(full);
		/* hash = sha256(canonical text without "hash") */
		assert_string_equal(json_string_value(json_object_get(rec, "prev")), prev);
		snprintf(h, sizeof(h), "%s", json_string_value(json_object_get(rec, "hash")));
		json_object_del(rec, "hash");
		canon = json_dumps(rec, CANON);
		sha256_hex(canon, prev);
		free(canon);
		assert_string_equal(h, prev);

		assert_int_equal(json_integer_value(json_object_get(rec, "seq")), (json_int_t)i + 1);
		assert_int_equal(json_integer_value(json_object_get(rec, "version")), 1);
		assert_string_equal(json_string_value(json_object_get(rec, "kind")),
				    i == 0 ? "exec.start" : "exec.done");
		assert_non_null(at);
		assert_int_equal(strlen(at), 24);
		assert_int_equal(sscanf(at, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &y, &mo, &d, &hh, &mi,
					&ss, &ms, &z), 8);
		assert_int_equal(z, 'Z');
		assert_true(json_is_object(op));
		assert_string_equal(json_string_value(json_object_get(op, "user")), "tester");
		assert_string_equal(json_string_value(json_object_get(op, "ssh_client")),
				    "10.1.2.3 50122 22");
		gethostname(host, sizeof(host) - 1);
		assert_string_equal(json_string_value(json_object_get(op, "host")), host);
		assert_int_equal(json_object_size(op), 3);
		if (i == 0) {
			assert_int_equal(json_object_size(rec), 9); /* 6 ours + 3 fields */
			assert_string_equal(json_string_value(json_object_get(rec, "sql")),
					    "SELECT 'caf\xc3\xa9'");
			assert_int_equal(json_integer_value(json_object_get(rec, "pid")), 4242);
		} else {
			assert_int_equal(json_object_size(rec), 6);
		}
		json_decref(rec);
	}
	/* ASCII only on disk */
	assert_non_null(strcasestr(ls.line[0], "caf\\u00e9"));
	for (size_t i = 0; i < ls.len[0]; i++)
		assert_true((unsigned char)ls.line[0][i] < 0x80);
	free(ls.buf);
	expect_intact(f->path, 2);
}

/* Without SSH_CLIENT the field is null, not missing. */
static void test_no_ssh_client(void **state)
{
	struct fixture *f = *state;
	struct lines ls;
	json_t *rec;

	unsetenv("SSH_CLIENT");
	write_log(f->path, 1);
	lines_read(&ls, f->path);
	rec = line_json(&ls, 0);
	assert_true(json_is_null(json_object_get(json_object_get(rec, "operator"),
						 "ssh_client")));
	json_decref(rec);
	free(ls.buf);
}

static void test_fields_nul_and_unicode(void **state)
{
	struct fixture *f = *state;
	struct audit *a = open_ok(f->path);
	json_t *fields = json_object();
	char err[512];

	json_object_set_new(fields, "raw", json_stringn("a\0b", 3));
	json_object_set_new(fields, "emoji", json_string("\xf0\x9f\x94\xa5 lock"));
	json_object_set_new(fields, "real", json_real(0.1));
	json_object_set_new(fields, "big", json_integer(INT64_MAX));
	assert_int_equal(audit_append(a, "t", fields, err, sizeof(err)), 0);
	assert_int_equal(audit_append(a, "t", fields, err, sizeof(err)), 0);
	json_decref(fields);
	audit_close(a);
	expect_intact(f->path, 2);
}

static void test_bad_arguments(void **state)
{
	struct fixture *f = *state;
	struct audit *a = open_ok(f->path);
	char err[512];
	json_t *fields = json_pack("{s:i}", "seq", 99);

	assert_int_equal(audit_append(a, "t", fields, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "field 'seq'"));
	assert_non_null(strstr(err, "reserved"));
	assert_non_null(strstr(err, "nothing was executed"));
	json_decref(fields);
	fields = json_pack("[i]", 1);
	assert_int_equal(audit_append(a, "t", fields, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "object"));
	json_decref(fields);
	assert_int_equal(audit_append(a, "", NULL, err, sizeof(err)), -1);
	assert_int_equal(audit_append(a, "bad\xff", NULL, err, sizeof(err)), -1);
	/* a NULL or tiny err buffer is fine */
	assert_int_equal(audit_append(a, "", NULL, NULL, 0), -1);
	assert_int_equal(audit_append(a, "", NULL, err, 1), -1);
	audit_close(a);
	expect_intact(f->path, 0);
}

static void test_creates_private_dirs_and_file(void **state)
{
	struct fixture *f = *state;
	char path[200], sub[160];
	struct stat st;

	snprintf(path, sizeof(path), "%s/state/cockpit/audit.jsonl", f->dir);
	write_log(path, 1);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(sub, sizeof(sub), "%s/state/cockpit", f->dir);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(sub, sizeof(sub), "%s/state", f->dir);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	expect_intact(path, 1);
}

static void test_open_errors(void **state)
{
	struct fixture *f = *state;
	char err[512] = "", path[200];

	assert_null(audit_open("", err, sizeof(err)));
	assert_non_null(strstr(err, "paths.audit_log"));
	/* a directory where the file should be */
	assert_null(audit_open(f->dir, err, sizeof(err)));
	assert_non_null(strstr(err, f->dir));
	/* a file where a directory should be */
	spit(f->path, "", 0);
	snprintf(path, sizeof(path), "%s/sub/audit.jsonl", f->path);
	assert_null(audit_open(path, err, sizeof(err)));
	assert_non_null(strstr(err, "Not a directory"));
}

/* ------------------------------------------------------------- tampering */

static void test_flipped_byte(void **state)
{
	struct fixture *f = *state;
	struct lines ls;
	char *p;
	size_t all[9];

	write_log(f->path, 9);
	lines_read(&ls, f->path);
	p = strstr(ls.line[4], "pg_cancel_backend");
	assert_non_null(p);
	p[3] ^= 0x01; /* 'c' -> 'b': still JSON, another value */
	for (size_t i = 0; i < 9; i++)
		all[i] = i;
	lines_write(&ls, f->path, all, 9);
	free(ls.buf);
	expect_verify(f->path, 1, AUDIT_VERIFY_HASH_MISMATCH, 5, 4, "hash mismatch");
	expect_verify(f->path, 1, AUDIT_VERIFY_HASH_MISMATCH, 5, 4, "record was changed");
}

static void test_deleted_line(void **state)
{
	struct fixture *f = *state;
	struct lines ls;
	size_t order[] = { 0, 1, 2, 3, 5, 6, 7, 8 };

	write_log(f->path, 9);
	lines_read(&ls, f->path);
	lines_write(&ls, f->path, order, 8);
	free(ls.buf);
	expect_verify(f->path, 1, AUDIT_VERIFY_PREV_MISMATCH, 5, 4, "prev mismatch");
	expect_verify(f->path, 1, AUDIT_VERIFY_PREV_MISMATCH, 5, 4, "removed or reordered");
}

static void test_deleted_first_line(void **state)
{
	struct fixture *f = *state;
	struct lines ls;
	size_t order[] = { 1, 2, 3 };

	write_log(f->path, 4);
	lines_read(&ls, f->path);
	lines_write(&ls, f->path, order, 3);
	free(ls.buf);
	expect_verify(f->path, 1, AUDIT_VERIFY_PREV_MISMATCH, 1, 0, "first record");
}

static void test_reordered_lines(void **state)
{
	struct fixture *f = *state;
	struct lines ls;
	size_t order[] = { 0, 1, 2, 4, 3, 5, 6 };

	write_log(f->path, 7);
	lines_read(&ls, f->path);
	lines_write(&ls, f->path, order, 7);
	free(ls.buf);
	expect_verify(f->path, 1, AUDIT_VERIFY_PREV_MISMATCH, 4, 3, "prev mismatch");
}

/* A record forged with a valid hash and prev but the wrong seq. */
static char *forge(int64_t seq, const char *prev, char hash[65])
{
	json_t *rec = json_pack("{s:i, s:I, s:s, s:s, s:{s:s, s:n, s:s}, s:s}", "version", 1,
				"seq", (json_int_t)seq, "at", "2026-01-01T00:00:00.000Z", "kind",
				"forged", "operator", "user", "x", "ssh_client", "host", "h",
				"prev", prev);
	char *canon = json_dumps(rec, CANON), *line;

	sha256_hex(canon, hash);
	free(canon);
	json_object_set_new(rec, "hash", json_string(hash));
	line = json_dumps(rec, CANON);
	json_decref(rec);
	return line;
}

static void test_seq_gap(void **state)
{
	struct fixture *f = *state;
	char h1[65], h2[65], h3[65];
	char *l1 = forge(1, ZEROS, h1), *l2 = forge(2, h1, h2), *l3 = forge(4, h2, h3);
	char buf[4096];

	/* the forged chain itself is valid: our format is what verify checks */
	snprintf(buf, sizeof(buf), "%s\n%s\n", l1, l2);
	spit(f->path, buf, strlen(buf));
	expect_intact(f->path, 2);
	snprintf(buf, sizeof(buf), "%s\n%s\n%s\n", l1, l2, l3);
	spit(f->path, buf, strlen(buf));
	expect_verify(f->path, 1, AUDIT_VERIFY_SEQ_GAP, 3, 2, "expected seq 3, found 4");
	free(l1);
	free(l2);
	free(l3);
	/* and the writer refuses nothing here: it continues from the last record */
}

static void test_bad_lines(void **state)
{
	static const struct {
		const char *line;
		enum audit_verify_status st;
		const char *reason;
	} cases[] = {
		{ "not json", AUDIT_VERIFY_BAD_JSON, "bad JSON" },
		{ "", AUDIT_VERIFY_BAD_JSON, "empty line" },
		{ "[1,2]", AUDIT_VERIFY_BAD_RECORD, "not a JSON object" },
		{ "{\"a\":1,\"a\":2}", AUDIT_VERIFY_BAD_JSON, "duplicate" },
		{ "{\"version\":2}", AUDIT_VERIFY_BAD_RECORD, "'version'" },
		{ "{\"version\":1,\"seq\":0}", AUDIT_VERIFY_BAD_RECORD, "'seq'" },
		{ "{\"version\":1,\"seq\":\"2\"}", AUDIT_VERIFY_BAD_RECORD, "'seq'" },
		{ "{\"version\":1,\"seq\":2,\"kind\":\"k\",\"at\":\"t\",\"operator\":{}}",
		  AUDIT_VERIFY_BAD_RECORD, "'prev'" },
		{ "{\"version\":1,\"seq\":2,\"kind\":\"k\",\"at\":\"t\",\"operator\":{},\"prev\":"
		  "\"" ZEROS "\",\"hash\":\"xyz\"}", AUDIT_VERIFY_BAD_RECORD, "'hash'" },
		{ "{\"version\":1,\"seq\":2,\"kind\":\"k\",\"at\":\"t\",\"operator\":{},\"prev\":"
		  "\"" ZEROS "\",\"hash\":\"" ZEROS "\"}", AUDIT_VERIFY_HASH_MISMATCH,
		  "hash mismatch" },
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lines ls;
		size_t all[3] = { 0, 1, 2 };

		write_log(f->path, 3);
		lines_read(&ls, f->path);
		unlink(f->path);
		lines_write(&ls, f->path, all, 1);
		append_raw(f->path, cases[i].line, strlen(cases[i].line));
		append_raw(f->path, "\n", 1);
		free(ls.buf);
		expect_verify(f->path, 1, cases[i].st, 2, 1, cases[i].reason);
		unlink(f->path);
	}
}

/* The hash still fits, but the text is not the canonical one. */
static void test_not_canonical(void **state)
{
	struct fixture *f = *state;
	struct lines ls;
	char buf[8192];
	char *comma;
	size_t head;

	write_log(f->path, 2);
	lines_read(&ls, f->path);
	comma = memchr(ls.line[1], ',', ls.len[1]);
	head = (size_t)(comma - ls.line[1]) + 1;
	memcpy(buf, ls.line[0], ls.len[0]);
	memcpy(buf + ls.len[0], ls.line[1], head);
	buf[ls.len[0] + head] = ' ';
	memcpy(buf + ls.len[0] + head + 1, ls.line[1] + head, ls.len[1] - head);
	spit(f->path, buf, ls.len[0] + ls.len[1] + 1);
	free(ls.buf);
	expect_verify(f->path, 1, AUDIT_VERIFY_NOT_CANONICAL, 2, 1, "canonical");
}

/* A log whose last complete record was changed is not continued. */
static void test_open_refuses_changed_last_record(void **state)
{
	struct fixture *f = *state;
	struct lines ls;
	size_t all[3] = { 0, 1, 2 };
	char err[512] = "";
	char *p;

	write_log(f->path, 3);
	lines_read(&ls, f->path);
	p = strstr(ls.line[2], "SELECT");
	p[0] = 'Z';
	lines_write(&ls, f->path, all, 3);
	free(ls.buf);
	assert_null(audit_open(f->path, err, sizeof(err)));
	assert_non_null(strstr(err, "last record is not valid"));
	assert_non_null(strstr(err, "hash mismatch"));
	assert_non_null(strstr(err, "cockpit audit verify"));
}

/* ------------------------------------------------------------ torn tails */

static char *torn_file(const char *path)
{
	char pat[200];
	glob_t g;
	char *name = NULL;

	snprintf(pat, sizeof(pat), "%s.torn-*", path);
	if (glob(pat, 0, NULL, &g) == 0) {
		assert_int_equal(g.gl_pathc, 1);
		name = strdup(g.gl_pathv[0]);
		globfree(&g);
	}
	return name;
}

static void check_repair_record(const char *path, size_t idx, const char *torn,
				size_t torn_len)
{
	struct lines ls;
	json_t *rec;

	lines_read(&ls, path);
	rec = line_json(&ls, idx);
	assert_string_equal(json_string_value(json_object_get(rec, "kind")), "audit.repair");
	assert_string_equal(json_string_value(json_object_get(rec, "torn_file")), torn);
	assert_int_equal(json_integer_value(json_object_get(rec, "torn_bytes")), torn_len);
	assert_int_equal(strlen(json_string_value(json_object_get(rec, "torn_sha256"))), 64);
	json_decref(rec);
	free(ls.buf);
}

static void test_torn_tail_at_open(void **state)
{
	struct fixture *f = *state;
	struct lines ls;
	struct audit *a;
	char *half, *name, *kept, *notice;
	size_t half_len, kept_len, before;
	struct stat st;

	write_log(f->path, 5);
	lines_read(&ls, f->path);
	half_len = ls.len[2] / 2;
	half = malloc(half_len);
	memcpy(half, ls.line[2], half_len);
	free(ls.buf);
	before = file_size(f->path);
	append_raw(f->path, half, half_len); /* a crash mid-write */
	expect_verify(f->path, 1, AUDIT_VERIFY_TORN, 6, 5, "torn last line");

	a = open_ok(f->path);
	name = torn_file(f->path);
	assert_non_null(name);
	/* the torn bytes are kept, byte for byte, privately */
	kept = slurp(name, &kept_len);
	assert_int_equal(kept_len, half_len);
	assert_memory_equal(kept, half, half_len);
	assert_int_equal(stat(name, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* and the caller is told */
	notice = audit_take_notice(a);
	assert_non_null(notice);
	assert_non_null(strstr(notice, "torn"));
	assert_non_null(strstr(notice, name));
	assert_null(strchr(notice, '\n'));
	free(notice);
	assert_null(audit_take_notice(a));
	/* the log was cut back, then the repair chained */
	assert_true(file_size(f->path) > before);
	expect_intact(f->path, 6);
	check_repair_record(f->path, 5, name, half_len);
	append_n(a, 2, "after.repair");
	audit_close(a);
	expect_intact(f->path, 8);
	free(kept);
	free(name);
	free(half);
}

/* A file that is nothing but a torn first record. */
static void test_torn_only_line(void **state)
{
	struct fixture *f = *state;
	static const char torn[] = "{\"at\":\"2026-01-01T00:00:00.0";
	struct audit *a;
	char *name;

	spit(f->path, torn, sizeof(torn) - 1);
	expect_verify(f->path, 1, AUDIT_VERIFY_TORN, 1, 0, "torn");
	a = open_ok(f->path);
	name = torn_file(f->path);
	assert_non_null(name);
	audit_close(a);
	expect_intact(f->path, 1);
	check_repair_record(f->path, 0, name, sizeof(torn) - 1);
	free(name);
}

/* Another writer crashed mid-append while we had the log open. */
static void test_torn_tail_at_append(void **state)
{
	struct fixture *f = *state;
	struct audit *a = open_ok(f->path);
	char *notice, *name;

	append_n(a, 2, "before");
	append_raw(f->path, "{\"seq\":3,\"kin", 13);
	append_n(a, 1, "after");
	notice = audit_take_notice(a);
	assert_non_null(notice);
	assert_non_null(strstr(notice, "torn"));
	free(notice);
	audit_close(a);
	name = torn_file(f->path);
	assert_non_null(name);
	expect_intact(f->path, 4); /* 2, the repair, ours */
	check_repair_record(f->path, 2, name, 13);
	free(name);
}

static void test_shrunk_log_refused(void **state)
{
	struct fixture *f = *state;
	struct audit *a = open_ok(f->path);
	struct lines ls;
	char err[512];

	append_n(a, 3, "t");
	lines_read(&ls, f->path);
	assert_int_equal(truncate(f->path, (off_t)(ls.len[0] + ls.len[1])), 0);
	free(ls.buf);
	assert_int_equal(audit_append(a, "t", NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "shrank"));
	assert_non_null(strstr(err, "nothing was executed"));
	audit_close(a);
}

static void test_replaced_log_refused(void **state)
{
	struct fixture *f = *state;
	struct audit *a = open_ok(f->path);
	char err[512], moved[200];

	append_n(a, 1, "t");
	snprintf(moved, sizeof(moved), "%s.old", f->path);
	assert_int_equal(rename(f->path, moved), 0);
	assert_int_equal(audit_append(a, "t", NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "gone"));
	spit(f->path, "", 0);
	assert_int_equal(audit_append(a, "t", NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "replaced"));
	audit_close(a);
	expect_intact(moved, 1);
}

/* ------------------------------------------------------------- full disk */

static void test_file_size_limit(void **state)
{
	struct fixture *f = *state;
	struct audit *a = open_ok(f->path);
	struct rlimit old, lim;
	void (*old_handler)(int);
	char err[512] = "";
	size_t before;
	json_t *fields = json_pack("{s:s}", "sql", "SELECT 1 /* padding padding padding */");
	int ret;

	append_n(a, 3, "t");
	before = file_size(f->path);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = before + 40; /* the next record fits only in part */
	old_handler = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	ret = audit_append(a, "exec.start", fields, err, sizeof(err));
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, old_handler);

	assert_int_equal(ret, -1);
	assert_non_null(strstr(err, f->path));
	assert_non_null(strstr(err, "File too large"));
	assert_non_null(strstr(err, "nothing was executed"));
	/* no part of the record was left behind */
	assert_int_equal(file_size(f->path), before);
	expect_intact(f->path, 3);
	/* once there is room again, the chain goes on */
	assert_int_equal(audit_append(a, "exec.start", fields, err, sizeof(err)), 0);
	json_decref(fields);
	audit_close(a);
	expect_intact(f->path, 4);
}

static void test_full_tmpfs(void **state)
{
	struct fixture *f = *state;
	char mnt[100], path[160], err[512] = "", big[2000];
	struct audit *a;
	int ok = 0, ret = 0;
	json_t *fields;

	snprintf(mnt, sizeof(mnt), "%s/mnt", f->dir);
	assert_int_equal(mkdir(mnt, 0700), 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k") != 0) {
		fprintf(stderr, "# tmpfs mount not permitted (%s): skipped\n", strerror(errno));
		skip();
	}
	snprintf(path, sizeof(path), "%s/audit.jsonl", mnt);
	a = audit_open(path, err, sizeof(err));
	if (!a) {
		umount(mnt);
		fail_msg("audit_open: %s", err);
	}
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fields = json_pack("{s:s}", "pad", big);
	for (int i = 0; i < 1000; i++) {
		ret = audit_append(a, "fill", fields, err, sizeof(err));
		if (ret != 0)
			break;
		ok++;
	}
	json_decref(fields);
	audit_close(a);
	assert_int_equal(ret, -1);
	assert_true(ok > 0);
	assert_non_null(strstr(err, "No space left on device"));
	assert_non_null(strstr(err, "free space or point paths.audit_log elsewhere"));
	assert_non_null(strstr(err, "nothing was executed"));
	expect_intact(path, ok);
	assert_int_equal(umount(mnt), 0);
}

/* ---------------------------------------------------------- concurrency */

struct thread_arg {
	struct audit *a;
	int id;
	int failures;
};

static void *thread_main(void *p)
{
	struct thread_arg *t = p;
	char err[512];

	for (int i = 0; i < 200; i++) {
		json_t *f = json_pack("{s:i, s:i}", "thread", t->id, "i", i);

		if (audit_append(t->a, "thread", f, err, sizeof(err)) != 0)
			t->failures++;
		json_decref(f);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct fixture *f = *state;
	struct audit *a = open_ok(f->path);
	struct thread_arg args[4];
	pthread_t th[4];
	struct lines ls;
	int next[4] = { 0 };

	for (int i = 0; i < 4; i++) {
		args[i] = (struct thread_arg){ .a = a, .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, thread_main, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].failures, 0);
	}
	audit_close(a);
	expect_intact(f->path, 800);
	/* each thread's records are all there, in its order */
	lines_read(&ls, f->path);
	assert_int_equal(ls.n, 800);
	for (size_t i = 0; i < ls.n; i++) {
		json_t *rec = line_json(&ls, i);
		int t = (int)json_integer_value(json_object_get(rec, "thread"));

		assert_true(t >= 0 && t < 4);
		assert_int_equal(json_integer_value(json_object_get(rec, "i")), next[t]++);
		json_decref(rec);
	}
	free(ls.buf);
}

/* Two handles on one file in one process: each must notice the other's
 * records (the flock is per open file, so this is the two-process case
 * without the fork). */
static void test_two_handles(void **state)
{
	struct fixture *f = *state;
	struct audit *a = open_ok(f->path), *b = open_ok(f->path);

	for (int i = 0; i < 20; i++) {
		append_n(i % 3 ? a : b, 1 + i % 2, "two");
	}
	audit_close(a);
	audit_close(b);
	expect_intact(f->path, 30);
}

static void test_two_processes(void **state)
{
	struct fixture *f = *state;
	struct audit *a = open_ok(f->path);
	int status;
	pid_t pid;

	append_n(a, 1, "parent");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char err[512] = "";
		struct audit *b;
		int bad = 0;

		/* The inherited handle shares the parent's open file (and its
		 * flock): the child drops it and opens its own. */
		audit_close(a);
		b = audit_open(f->path, err, sizeof(err));
		if (!b)
			_exit(2);
		for (int i = 0; i < 200; i++)
			if (audit_append(b, "child", NULL, err, sizeof(err)) != 0)
				bad = 1;
		audit_close(b);
		_exit(bad);
	}
	append_n(a, 200, "parent");
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	append_n(a, 1, "parent");
	audit_close(a);
	expect_intact(f->path, 402);
}

static void test_lock_held_elsewhere(void **state)
{
	struct fixture *f = *state;
	struct audit *a = open_ok(f->path);
	char err[512], want[64];
	int fd = open(f->path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	audit_set_lock_timeout(a, 150);
	assert_int_equal(audit_append(a, "t", NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "locked by another writer"));
	assert_non_null(strstr(err, "nothing was executed"));
	snprintf(want, sizeof(want), "(pid %ld)", (long)getpid());
	if (access("/proc/locks", R_OK) == 0)
		assert_non_null(strstr(err, want));
	flock(fd, LOCK_UN);
	close(fd);
	append_n(a, 1, "t");
	audit_close(a);
	expect_intact(f->path, 1);
}

/* ---------------------------------------------------------------- kill -9 */

/* Child: append forever, reporting each acknowledged i through the pipe.
 * Every fourth record is large (1 MiB, or $COCKPIT_AUDIT_KILL_PAD bytes), so
 * SIGKILL can land inside write() and leave a torn line. */
__attribute__((noreturn)) static void noreturn_child(const char *path, int wfd)
{
	const char *env_pad = getenv("COCKPIT_AUDIT_KILL_PAD");
	size_t pad_len = env_pad ? strtoul(env_pad, NULL, 10) : 1 << 20;
	char err[512] = "";
	struct audit *a = audit_open(path, err, sizeof(err));
	char *pad = malloc(pad_len + 1);

	if (!a || !pad)
		_exit(2);
	memset(pad, 'p', pad_len);
	pad[pad_len] = '\0';
	for (int64_t i = 1;; i++) {
		json_t *f = json_pack("{s:I, s:s}", "i", (json_int_t)i, "pad",
				      i % 4 == 0 ? pad : "");

		if (audit_append(a, "kill.test", f, err, sizeof(err)) != 0)
			_exit(3);
		json_decref(f);
		if (write(wfd, &i, sizeof(i)) != (ssize_t)sizeof(i))
			_exit(4);
	}
}

/* Spin until the file is seen mid-write (its last byte is not a newline),
 * for at most two seconds: the odd rounds kill the writer right then. */
static void wait_mid_write(const char *path)
{
	int fd = open(path, O_RDONLY);
	struct timespec t0, t;

	assert_true(fd >= 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		struct stat st;
		char c;

		if (fstat(fd, &st) == 0 && st.st_size > 0 &&
		    pread(fd, &c, 1, st.st_size - 1) == 1 && c != '\n')
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec < 2);
	close(fd);
}

static void test_kill9(void **state)
{
	struct fixture *f = *state;
	const char *env_rounds = getenv("COCKPIT_AUDIT_KILL_ROUNDS");
	const char *env_seed = getenv("COCKPIT_AUDIT_KILL_SEED");
	int rounds = env_rounds ? atoi(env_rounds) : 6, torn = 0;
	unsigned int seed = env_seed ? (unsigned int)strtoul(env_seed, NULL, 10)
				     : (unsigned int)time(NULL) ^ (unsigned int)getpid();

	fprintf(stderr, "# kill -9: %d rounds, seed %u (COCKPIT_AUDIT_KILL_SEED)\n", rounds,
		seed);
	srand(seed);
	for (int round = 0; round < rounds; round++) {
		char path[200];
		int p[2], status;
		int64_t acked = 0, got;
		struct lines ls;
		struct audit *a;
		char *notice;
		pid_t pid;
		char *seen;

		snprintf(path, sizeof(path), "%s/kill%d.jsonl", f->dir, round);
		assert_int_equal(pipe(p), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			noreturn_child(path, p[1]);
		}
		close(p[1]);
		/* wait for a few acknowledgements, then kill at a random moment */
		for (int n = 1 + rand() % 8; n > 0; n--) {
			assert_int_equal(read(p[0], &got, sizeof(got)), (ssize_t)sizeof(got));
			acked = got;
		}
		if (round % 2)
			wait_mid_write(path);
		else
			usleep((useconds_t)(rand() % 20000));
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
		while (read(p[0], &got, sizeof(got)) == (ssize_t)sizeof(got))
			acked = got;
		close(p[0]);

		/* a torn tail, if any, is moved aside; the chain then holds */
		a = open_ok(path);
		notice = audit_take_notice(a);
		if (notice) {
			fprintf(stderr, "# round %d: %s\n", round, notice);
			torn++;
		}
		free(notice);
		audit_close(a);

		lines_read(&ls, path);
		seen = calloc((size_t)acked + ls.n + 2, 1);
		for (size_t i = 0; i < ls.n; i++) {
			json_t *rec = line_json(&ls, i);
			json_int_t v = json_integer_value(json_object_get(rec, "i"));

			if (v >= 1 && v <= acked)
				seen[v] = 1;
			json_decref(rec);
		}
		for (int64_t i = 1; i <= acked; i++)
			if (!seen[i])
				fail_msg("round %d: acknowledged record %lld is missing", round,
					 (long long)i);
		free(seen);
		free(ls.buf);
		{
			struct audit_verify_result r;
			char err[512] = "";

			if (audit_verify(path, &r, err, sizeof(err)) != 0)
				fail_msg("round %d: %s%s at line %lld", round, r.reason, err,
					 (long long)r.line);
			assert_true(r.records >= acked);
		}
	}
	fprintf(stderr, "# kill -9: %d of %d rounds left a torn tail\n", torn, rounds);
}

/* ---------------------------------------------------------- sample files */

static const char *top(void)
{
	const char *t = getenv("COCKPIT_TOP");

	return t && *t ? t : ".";
}

/* tests/data/audit: logs written by an independent implementation of the
 * format (Python's json + hashlib), intact and damaged. */
static void test_sample_files(void **state)
{
	static const struct {
		const char *file;
		int ret;
		enum audit_verify_status st;
		int64_t line, records;
	} cases[] = {
		{ "intact.jsonl", 0, AUDIT_VERIFY_OK, 0, 5 },
		{ "empty.jsonl", 0, AUDIT_VERIFY_OK, 0, 0 },
		{ "torn-last-line.jsonl", 1, AUDIT_VERIFY_TORN, 5, 4 },
		{ "hash-mismatch.jsonl", 1, AUDIT_VERIFY_HASH_MISMATCH, 3, 2 },
		{ "prev-mismatch.jsonl", 1, AUDIT_VERIFY_PREV_MISMATCH, 3, 2 },
		{ "reordered.jsonl", 1, AUDIT_VERIFY_PREV_MISMATCH, 2, 1 },
		{ "bad-json.jsonl", 1, AUDIT_VERIFY_BAD_JSON, 4, 3 },
	};
	struct fixture *f = *state;
	char path[512];
	size_t len;
	char *data;
	struct audit *a;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(path, sizeof(path), "%s/tests/data/audit/%s", top(), cases[i].file);
		expect_verify(path, cases[i].ret, cases[i].st, cases[i].line, cases[i].records,
			      NULL);
	}
	/* a chain written elsewhere is continued */
	snprintf(path, sizeof(path), "%s/tests/data/audit/intact.jsonl", top());
	data = slurp(path, &len);
	spit(f->path, data, len);
	free(data);
	a = open_ok(f->path);
	append_n(a, 2, "continued");
	audit_close(a);
	expect_intact(f->path, 7);
}

/* ------------------------------------------------------ the subcommand */

static char *capture(int fd, int (*fn)(const char *), const char *arg, int *ret)
{
	char tmpl[] = "/tmp/test_audit.out.XXXXXX";
	int out = mkstemp(tmpl), saved = dup(fd);
	char *text;

	assert_true(out >= 0 && saved >= 0);
	fflush(stdout);
	fflush(stderr);
	dup2(out, fd);
	*ret = fn(arg);
	fflush(stdout);
	fflush(stderr);
	dup2(saved, fd);
	close(saved);
	close(out);
	text = slurp(tmpl, NULL);
	unlink(tmpl);
	return text;
}

static void test_cmd_verify(void **state)
{
	struct fixture *f = *state;
	struct lines ls;
	size_t order[] = { 0, 2 };
	char want[300], missing[200];
	char *out;
	int ret;

	write_log(f->path, 3);
	out = capture(STDOUT_FILENO, audit_cmd_verify, f->path, &ret);
	snprintf(want, sizeof(want), "%s: 3 records, chain intact\n", f->path);
	assert_int_equal(ret, 0);
	assert_string_equal(out, want);
	free(out);

	lines_read(&ls, f->path);
	lines_write(&ls, f->path, order, 2);
	free(ls.buf);
	out = capture(STDERR_FILENO, audit_cmd_verify, f->path, &ret);
	snprintf(want, sizeof(want), "%s:2: prev mismatch", f->path);
	assert_int_equal(ret, 1);
	assert_true(strncmp(out, want, strlen(want)) == 0);
	free(out);

	snprintf(missing, sizeof(missing), "%s/missing.jsonl", f->dir);
	out = capture(STDERR_FILENO, audit_cmd_verify, missing, &ret);
	assert_int_equal(ret, 1);
	assert_non_null(strstr(out, "missing.jsonl"));
	free(out);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_append_then_verify),
		T(test_empty_and_missing),
		T(test_record_format),
		T(test_no_ssh_client),
		T(test_fields_nul_and_unicode),
		T(test_bad_arguments),
		T(test_creates_private_dirs_and_file),
		T(test_open_errors),
		T(test_flipped_byte),
		T(test_deleted_line),
		T(test_deleted_first_line),
		T(test_reordered_lines),
		T(test_seq_gap),
		T(test_bad_lines),
		T(test_not_canonical),
		T(test_open_refuses_changed_last_record),
		T(test_torn_tail_at_open),
		T(test_torn_only_line),
		T(test_torn_tail_at_append),
		T(test_shrunk_log_refused),
		T(test_replaced_log_refused),
		T(test_file_size_limit),
		T(test_full_tmpfs),
		T(test_threads),
		T(test_two_handles),
		T(test_two_processes),
		T(test_lock_held_elsewhere),
		T(test_kill9),
		T(test_sample_files),
		T(test_cmd_verify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
