/*
 * recall: BM25 over the audit history and the runbooks (see recall.h).
 *
 * Each document keeps its term frequencies as an array sorted by term id,
 * so a record's tokens are merged in with one sort, and a query scores
 * every document with one merge walk: no posting lists to keep in step
 * while documents grow record by record. The dictionary (token -> id) is a
 * jansson object.
 */
#include "think/recall.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "core/strbuf.h"
#include "think/detect.h"
#include "think/runbook.h"

#define RECALL_K1 1.2
#define RECALL_B 0.75
/* Bytes kept of a summary, query, root cause or guidance for display. */
#define RECALL_MAX_TEXT 400
/* Bytes of a document's "done" story. */
#define RECALL_MAX_DONE 400
/* Proposals named in the story; later ones are counted. */
#define RECALL_MAX_PROPOSALS 3
/* Tokens taken from one record (a 10,000-waiter lock chain says enough
 * in its first ones). */
#define RECALL_MAX_RECORD_TOKENS 8192
#define RECALL_MAX_DEPTH 32
/* Candidates ranked per past incident asked for, so that repeats can be
 * passed over. */
#define RECALL_CANDIDATES 32
#define RECALL_CHUNK ((size_t)64 << 10)

struct tf {
	uint32_t term, n;
};

struct doc {
	char *key, *runbook, *at, *summary, *query, *root_cause;   /* owned or NULL */
	char *title, *guidance;                                    /* runbooks */
	struct strbuf done;
	bool done_full;
	size_t nproposed;
	double lasted_s;
	bool open;
	struct tf *tf;
	size_t ntf;
	uint64_t len;
};

struct corpus {
	struct doc *v;
	size_t n, alloc;
	uint32_t *df;          /* per term id: documents holding it */
	size_t dfalloc;
	uint64_t total_len;
};

struct recall {
	char *path;
	size_t max_bytes;
	json_t *terms;         /* token -> id */
	uint32_t nterms;
	struct corpus inc, rb;
	json_t *by_key;        /* incident key -> its latest document */
	json_t *by_proposal;   /* proposal id -> document */
	bool have_file;
	dev_t dev;
	ino_t ino;
	off_t off;             /* read up to here (just after a newline) */
	struct recall_stats st;
	char err[320];
	uint32_t *scratch;     /* the tokens of the record being added */
	size_t nscratch, ascratch;
	bool adding;           /* new tokens get ids (false for queries) */
};

/* ---------------------------------------------------------------- tokens */

static bool is_word(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static bool is_stop(const char *t, size_t len)
{
	static const char *const stop[] = {
		"an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "into",
		"is", "it", "its", "no", "not", "of", "on", "or", "s", "so", "that", "the", "this",
		"to", "was", "were", "with", NULL,
	};

	if (len > 5)
		return false;   /* the longest stop word */
	for (size_t i = 0; stop[i]; i++)
		if (t[0] == stop[i][0] && strcmp(t, stop[i]) == 0)
			return true;
	return false;
}

void recall_tokenize(const char *text, int sql, void (*fn)(void *arg, const char *tok, size_t len),
		     void *arg)
{
	char buf[RECALL_MAX_TOKEN + 1];
	const unsigned char *p = (const unsigned char *)text;

	while (p && *p) {
		if (sql && *p == '\'') {
			for (p++; *p; p++) {
				if (*p == '\'' && p[1] == '\'')
					p++;
				else if (*p == '\'')
					break;
			}
			if (*p)
				p++;
			continue;
		}
		if (!is_word(*p)) {
			p++;
			continue;
		}
		const unsigned char *s = p;

		while (is_word(*p))
			p++;
		size_t n = (size_t)(p - s);

		if (n < RECALL_MIN_TOKEN || n > RECALL_MAX_TOKEN || (*s >= '0' && *s <= '9'))
			continue;
		for (size_t i = 0; i < n; i++)
			buf[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + ('a' - 'A') : s[i]);
		buf[n] = '\0';
		if (!is_stop(buf, n))
			fn(arg, buf, n);
	}
}

/* A token's id; a new one only while adding. -1 when unknown. */
static int64_t term_id(struct recall *r, const char *tok)
{
	json_t *v = json_object_get(r->terms, tok);

	if (v)
		return json_integer_value(v);
	if (!r->adding)
		return -1;
	json_object_set_new(r->terms, tok, json_integer(r->nterms));
	return r->nterms++;
}

static void on_token(void *arg, const char *tok, size_t len)
{
	struct recall *r = arg;
	int64_t id;

	(void)len;
	if (r->nscratch >= RECALL_MAX_RECORD_TOKENS || (id = term_id(r, tok)) < 0)
		return;
	XGROW(r->scratch, r->ascratch, r->nscratch + 1);
	r->scratch[r->nscratch++] = (uint32_t)id;
}

static void tokens_of(struct recall *r, const char *text, bool sql)
{
	if (text)
		recall_tokenize(text, sql, on_token, r);
}

/* A name kept whole ("lock-chain"): it cannot collide with a token, which
 * never holds '-'. */
static void token_whole(struct recall *r, const char *name)
{
	int64_t id;

	if (name && *name && (id = term_id(r, name)) >= 0) {
		XGROW(r->scratch, r->ascratch, r->nscratch + 1);
		r->scratch[r->nscratch++] = (uint32_t)id;
	}
}

static bool key_is_sql(const char *key)
{
	return key && (strcmp(key, "query") == 0 || strcmp(key, "sql") == 0 ||
		       strcmp(key, "statement") == 0 || strcmp(key, "rollback_sql") == 0);
}

static void tokens_of_json(struct recall *r, const char *key, const json_t *v, int depth)
{
	const char *k;
	json_t *e;
	size_t i;

	if (!v || depth > RECALL_MAX_DEPTH || r->nscratch >= RECALL_MAX_RECORD_TOKENS)
		return;
	switch (json_typeof(v)) {
	case JSON_STRING:
		tokens_of(r, json_string_value(v), key_is_sql(key));
		break;
	case JSON_OBJECT:
		json_object_foreach((json_t *)v, k, e) {
			tokens_of(r, k, false);
			tokens_of_json(r, k, e, depth + 1);
		}
		break;
	case JSON_ARRAY:
		json_array_foreach(v, i, e)
			tokens_of_json(r, key, e, depth + 1);
		break;
	default:
		break;
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* Merge the scratch tokens into document d of corpus c. */
static void doc_take_tokens(struct recall *r, struct corpus *c, struct doc *d)
{
	size_t n = r->nscratch, i = 0, j = 0, k = 0;
	struct tf *out;

	if (n == 0)
		return;
	qsort(r->scratch, n, sizeof(*r->scratch), cmp_u32);
	if (c->dfalloc < r->nterms) {
		size_t old = c->dfalloc;

		XGROW(c->df, c->dfalloc, r->nterms);
		memset(c->df + old, 0, (c->dfalloc - old) * sizeof(*c->df));
	}
	out = xmalloc((d->ntf + n) * sizeof(*out));
	while (i < d->ntf || j < n) {
		if (j >= n || (i < d->ntf && d->tf[i].term < r->scratch[j])) {
			out[k++] = d->tf[i++];
			continue;
		}
		uint32_t t = r->scratch[j], cnt = 0;

		while (j < n && r->scratch[j] == t) {
			j++;
			cnt++;
		}
		if (i < d->ntf && d->tf[i].term == t) {
			out[k] = d->tf[i++];
			out[k++].n += cnt;
		} else {
			out[k++] = (struct tf){ t, cnt };
			c->df[t]++;
		}
	}
	free(d->tf);
	d->tf = out;
	d->ntf = k;
	d->len += n;
	c->total_len += n;
	r->nscratch = 0;
}

/* ---------------------------------------------------------------- documents */

static char *cut_dup(const char *s)
{
	size_t n;

	if (!s || !*s)
		return NULL;
	n = strlen(s);
	if (n <= RECALL_MAX_TEXT)
		return xstrdup(s);
	n = RECALL_MAX_TEXT;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;   /* whole UTF-8 sequences */
	char *c = xmalloc(n + sizeof("..."));

	memcpy(c, s, n);
	memcpy(c + n, "...", sizeof("..."));
	return c;
}

static struct doc *doc_new(struct corpus *c)
{
	struct doc *d;

	XGROW(c->v, c->alloc, c->n + 1);
	d = &c->v[c->n++];
	memset(d, 0, sizeof(*d));
	strbuf_init(&d->done, 0);
	d->lasted_s = -1;
	return d;
}

static void doc_release(struct doc *d)
{
	free(d->key);
	free(d->runbook);
	free(d->at);
	free(d->summary);
	free(d->query);
	free(d->root_cause);
	free(d->title);
	free(d->guidance);
	strbuf_release(&d->done);
	free(d->tf);
}

static void corpus_release(struct corpus *c)
{
	for (size_t i = 0; i < c->n; i++)
		doc_release(&c->v[i]);
	free(c->v);
	free(c->df);
	memset(c, 0, sizeof(*c));
}

static void doc_step(struct doc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void doc_step(struct doc *d, const char *fmt, ...)
{
	char buf[RECALL_MAX_DONE];
	va_list ap;

	if (d->done_full)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (d->done.len + strlen(buf) + 2 > RECALL_MAX_DONE) {
		strbuf_addstr(&d->done, d->done.len ? "; ..." : "...");
		d->done_full = true;
		return;
	}
	strbuf_addf(&d->done, "%s%s", d->done.len ? "; " : "", buf);
}

static const char *str_of(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* The first "query" string anywhere in v, the root's before the rest. */
static const char *first_query(const json_t *v, int depth)
{
	const char *k, *q;
	json_t *e;
	size_t i;

	if (depth > RECALL_MAX_DEPTH)
		return NULL;
	if (json_is_object(v)) {
		if ((q = str_of(v, "query")) && *q)
			return q;
		if ((q = first_query(json_object_get(v, "root"), depth + 1)))
			return q;
		json_object_foreach((json_t *)v, k, e)
			if ((json_is_object(e) || json_is_array(e)) && (q = first_query(e, depth + 1)))
				return q;
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			if ((q = first_query(e, depth + 1)))
				return q;
	}
	return NULL;
}

/* "2026-11-22T04:05:06.123Z" -> "2026-11-22 04:05 UTC". */
static char *minute_of(const char *at)
{
	char buf[32];

	if (!at || strlen(at) < 16 || at[10] != 'T')
		return at ? xstrdup(at) : NULL;
	snprintf(buf, sizeof(buf), "%.10s %.5s UTC", at, at + 11);
	return xstrdup(buf);
}

static struct doc *doc_of(struct recall *r, const json_t *rec)
{
	const char *key = str_of(rec, "incident"), *pid;
	json_t *ix = NULL;

	if (!key)
		key = str_of(rec, "incident_key");
	if (key)
		ix = json_object_get(r->by_key, key);
	if (!ix && (pid = str_of(rec, "proposal_id")) && *pid)
		ix = json_object_get(r->by_proposal, pid);
	return ix ? &r->inc.v[json_integer_value(ix)] : NULL;
}

static void add_open(struct recall *r, const json_t *rec)
{
	const char *key = str_of(rec, "incident");
	const json_t *ev = json_object_get(rec, "evidence");
	json_t *old;
	struct doc *d;

	if (!key)
		return;
	if ((old = json_object_get(r->by_key, key)))
		r->inc.v[json_integer_value(old)].open = false;   /* not seen to clear */
	d = doc_new(&r->inc);
	d->key = xstrdup(key);
	d->runbook = str_of(rec, "runbook") ? xstrdup(str_of(rec, "runbook")) : NULL;
	d->at = minute_of(str_of(rec, "at"));
	d->summary = cut_dup(str_of(rec, "summary"));
	d->query = cut_dup(first_query(ev, 0));
	d->open = true;
	json_object_set_new(r->by_key, key, json_integer((json_int_t)(r->inc.n - 1)));
	token_whole(r, d->runbook);
	tokens_of(r, d->runbook, false);
	tokens_of(r, key, false);
	tokens_of(r, d->summary, false);
	if (ev)
		tokens_of_json(r, NULL, ev, 0);
	doc_take_tokens(r, &r->inc, d);
}

static void add_proposal(struct recall *r, struct doc *d, const json_t *rec)
{
	const json_t *p = json_object_get(rec, "proposal");
	const char *id = str_of(p, "id"), *action = str_of(p, "action");
	const char *target = str_of(p, "target"), *origin = str_of(p, "origin");

	if (id && *id)
		json_object_set_new(r->by_proposal, id,
				    json_integer((json_int_t)(d - r->inc.v)));
	if (d->nproposed++ < RECALL_MAX_PROPOSALS)
		doc_step(d, "proposed %s%s%s%s%s%s", action ? action : "?", target ? " on " : "",
			 target ? target : "", origin ? " (" : "", origin ? origin : "", origin ? ")" : "");
	else if (d->nproposed == RECALL_MAX_PROPOSALS + 1)
		doc_step(d, "more proposals");
	tokens_of(r, action, false);
	tokens_of(r, target, false);
	tokens_of(r, str_of(p, "rationale"), false);
	tokens_of(r, str_of(p, "sql"), true);
	doc_take_tokens(r, &r->inc, d);
}

/* What an execution record adds to the story; NULL for those that add
 * nothing (exec.start, verify.baseline). */
static const char *step_of(const char *kind)
{
	static const char *const steps[][2] = {
		{ "exec.done", "executed" },          { "exec.error", "failed" },
		{ "exec.unknown", "outcome unknown" }, { "exec.dropped", "dropped" },
		{ "verify.pass", "verified" },        { "verify.fail", "verification failed" },
		{ "rollback.done", "rolled back" },   { "rollback.error", "rollback failed" },
		{ "escalate", "escalated" },
	};

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (strcmp(kind, steps[i][0]) == 0)
			return steps[i][1];
	return NULL;
}

void recall_add_record(struct recall *r, const json_t *rec)
{
	const char *kind = str_of(rec, "kind"), *step, *s;
	struct doc *d;

	if (!kind)
		return;
	r->st.records++;
	r->adding = true;
	if (strcmp(kind, "incident.open") == 0) {
		add_open(r, rec);
		return;
	}
	if (!(d = doc_of(r, rec)))
		return;
	if (strcmp(kind, "proposal") == 0) {
		add_proposal(r, d, rec);
	} else if (strncmp(kind, "decision.", 9) == 0) {
		const char *action = str_of(rec, "action"), *why = str_of(rec, "reason");

		doc_step(d, "%s %s%s%s", strcmp(kind + 9, "accept") == 0 ? "accepted" :
			 strcmp(kind + 9, "reject") == 0 ? "rejected" :
			 strcmp(kind + 9, "defer") == 0 ? "deferred" :
			 strcmp(kind + 9, "edit") == 0 ? "edited" : kind + 9,
			 action ? action : "the proposal", why ? ": " : "", why ? why : "");
		tokens_of(r, why, false);
		doc_take_tokens(r, &r->inc, d);
	} else if ((step = step_of(kind))) {
		s = str_of(rec, "action");
		doc_step(d, "%s%s%s", s ? s : "", s ? " " : "", step);
	} else if (strcmp(kind, "llm.diagnosis") == 0) {
		if (!d->root_cause && (s = str_of(rec, "root_cause")) && *s)
			d->root_cause = cut_dup(s);
		tokens_of(r, str_of(rec, "root_cause"), false);
		tokens_of_json(r, NULL, json_object_get(rec, "hypotheses"), 0);
		doc_take_tokens(r, &r->inc, d);
	} else if (strcmp(kind, "incident.clear") == 0) {
		d->open = false;
		d->lasted_s = json_number_value(json_object_get(rec, "lasted_s"));
	}
}

int recall_add_line(struct recall *r, const char *line, size_t len)
{
	json_t *rec = NULL;

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len == 0)
		return 0;
	if (len > RECALL_MAX_LINE ||
	    !(rec = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL)) || !json_is_object(rec)) {
		json_decref(rec);
		r->st.corrupt++;
		return -1;
	}
	recall_add_record(r, rec);
	json_decref(rec);
	return 0;
}

/* ---------------------------------------------------------------- the log */

static void forget_log(struct recall *r)
{
	corpus_release(&r->inc);
	json_object_clear(r->by_key);
	json_object_clear(r->by_proposal);
	r->have_file = false;
	r->off = 0;
}

int64_t recall_refresh(struct recall *r)
{
	struct stat st;
	int64_t before = r->st.records;
	struct strbuf carry;
	char *buf;
	off_t pos, done;
	bool skipping = false, failed = false;
	int fd;

	if (!r->path)
		return 0;
	fd = open(r->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			r->err[0] = '\0';
			return 0;   /* no history yet */
		}
		snprintf(r->err, sizeof(r->err), "%s: %s", r->path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		snprintf(r->err, sizeof(r->err), "%s: %s", r->path, strerror(errno));
		close(fd);
		return -1;
	}
	r->err[0] = '\0';
	if (r->have_file && (st.st_dev != r->dev || st.st_ino != r->ino || st.st_size < r->off))
		forget_log(r);   /* replaced or shrunk: start again from its tail */
	pos = r->off;
	if (st.st_size - pos > (off_t)r->max_bytes) {
		/* from the tail only, starting at a line: skip the partial one */
		char prev = '\n';

		pos = st.st_size - (off_t)r->max_bytes;
		if (pread(fd, &prev, 1, pos - 1) == 1 && prev != '\n')
			skipping = true;
		r->st.skipped_bytes += pos - r->off;
	}
	r->have_file = true;
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	done = pos;
	buf = xmalloc(RECALL_CHUNK);
	strbuf_init(&carry, 0);
	while (pos < st.st_size) {
		size_t want = (size_t)(st.st_size - pos) < RECALL_CHUNK ? (size_t)(st.st_size - pos)
									: RECALL_CHUNK;
		ssize_t got = pread(fd, buf, want, pos);
		size_t at = 0;

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			if (got < 0) {
				snprintf(r->err, sizeof(r->err), "%s: %s", r->path, strerror(errno));
				failed = true;
			}
			break;
		}
		r->st.read_bytes += got;
		while (at < (size_t)got) {
			char *nl = memchr(buf + at, '\n', (size_t)got - at);
			size_t n = nl ? (size_t)(nl - (buf + at)) + 1 : (size_t)got - at;

			if (!nl) {
				if (!skipping && carry.len + n > RECALL_MAX_LINE) {
					strbuf_reset(&carry);
					skipping = true;
					r->st.corrupt++;
				} else if (!skipping) {
					strbuf_add(&carry, buf + at, n);
				}
				at += n;
				break;
			}
			if (skipping) {
				skipping = false;
			} else if (carry.len) {
				strbuf_add(&carry, buf + at, n);
				recall_add_line(r, carry.buf, carry.len);
				strbuf_reset(&carry);
			} else {
				recall_add_line(r, buf + at, n);
			}
			at += n;
			done = pos + (off_t)at;
		}
		pos += got;
	}
	r->off = done;   /* an unfinished last line is read again next time */
	strbuf_release(&carry);
	free(buf);
	close(fd);
	return failed ? -1 : r->st.records - before;
}

/* ---------------------------------------------------------------- index */

static void add_runbooks(struct recall *r, const struct runbook_set *rs)
{
	for (size_t i = 0; rs && i < rs->n; i++) {
		const struct runbook *rb = &rs->v[i];
		struct doc *d = doc_new(&r->rb);
		const char *k;
		json_t *e;

		d->key = xstrdup(rb->name);
		d->title = rb->title ? xstrdup(rb->title) : NULL;
		d->guidance = cut_dup(rb->guidance);
		r->adding = true;
		token_whole(r, rb->name);
		tokens_of(r, rb->name, false);
		tokens_of(r, rb->title, false);
		tokens_of(r, rb->detector, false);
		tokens_of(r, rb->guidance, false);
		json_object_foreach(rb->thresholds, k, e)
			tokens_of(r, k, false);
		for (size_t j = 0; j < rb->nactions; j++) {
			tokens_of(r, rb->actions[j].action, false);
			tokens_of(r, rb->actions[j].rationale, false);
		}
		doc_take_tokens(r, &r->rb, d);
	}
}

struct recall *recall_new(const char *audit_path, const struct runbook_set *rs, size_t max_bytes)
{
	struct recall *r = xcalloc(1, sizeof(*r));

	r->path = audit_path ? xstrdup(audit_path) : NULL;
	r->max_bytes = max_bytes ? max_bytes : RECALL_DEFAULT_MAX_BYTES;
	r->terms = json_object();
	r->by_key = json_object();
	r->by_proposal = json_object();
	add_runbooks(r, rs);
	recall_refresh(r);
	return r;
}

void recall_free(struct recall *r)
{
	if (!r)
		return;
	corpus_release(&r->inc);
	corpus_release(&r->rb);
	json_decref(r->terms);
	json_decref(r->by_key);
	json_decref(r->by_proposal);
	free(r->scratch);
	free(r->path);
	free(r);
}

/* ---------------------------------------------------------------- query */

struct ranked {
	double score;
	size_t doc;
};

/* idf[j] is the query term q[j]'s, computed once per query. */
static double bm25(const struct doc *d, const uint32_t *q, const double *idf, size_t nq,
		   double avgdl)
{
	double s = 0, norm = RECALL_K1 * (1 - RECALL_B + RECALL_B * (double)d->len / avgdl);
	size_t i = 0, j = 0;

	while (i < d->ntf && j < nq) {
		if (d->tf[i].term < q[j]) {
			i++;
		} else if (d->tf[i].term > q[j]) {
			j++;
		} else {
			double tf = d->tf[i].n;

			s += idf[j] * tf * (RECALL_K1 + 1) / (tf + norm);
			i++;
			j++;
		}
	}
	return s;
}

/* The top k of c for the query; skip is a document left out (or SIZE_MAX). */
static size_t rank(const struct corpus *c, const uint32_t *q, size_t nq, size_t skip,
		   const char *skip_key, size_t k, struct ranked *top)
{
	double avgdl = c->n && c->total_len ? (double)c->total_len / (double)c->n : 1;
	double *idf = xmalloc((nq ? nq : 1) * sizeof(*idf));
	size_t n = 0;

	for (size_t j = 0; j < nq; j++) {
		double df = q[j] < c->dfalloc ? c->df[q[j]] : 0;

		idf[j] = log(1.0 + ((double)c->n - df + 0.5) / (df + 0.5));
	}
	for (size_t i = 0; k > 0 && i < c->n; i++) {
		double s;
		size_t at;

		if (i == skip || (skip_key && strcmp(c->v[i].key, skip_key) == 0))
			continue;
		if ((s = bm25(&c->v[i], q, idf, nq, avgdl)) <= 0)
			continue;
		if (n == k && s <= top[n - 1].score)
			continue;
		/* insert in order; on a tie the later (newer) document first */
		at = n < k ? n++ : n - 1;
		while (at > 0 && top[at - 1].score <= s) {
			top[at] = top[at - 1];
			at--;
		}
		top[at] = (struct ranked){ s, i };
	}
	free(idf);
	return n;
}

/* Where a number starts: a digit not inside a name ("pid 4711", "4.5s";
 * not "t042_accounts" nor "svc-07"). */
static bool number_at(const char *s, const char *p)
{
	return *p >= '0' && *p <= '9' && (p == s || !(is_word((unsigned char)p[-1]) || p[-1] == '-'));
}

/* Equal but for their numbers: "terminate_backend on pid 4711" tells what
 * "... pid 9658" told. */
static bool same(const char *a, const char *b)
{
	const char *a0 = a, *b0 = b;

	if (!a || !b)
		return a == b;
	for (;;) {
		if (number_at(a0, a) && number_at(b0, b)) {
			while (*a >= '0' && *a <= '9')
				a++;
			while (*b >= '0' && *b <= '9')
				b++;
			continue;
		}
		if (*a != *b)
			return false;
		if (!*a)
			return true;
		a++;
		b++;
	}
}

/* Whether candidate i tells what a better one already told: the same
 * runbook, summary, query and story, numbers aside (the same blocker seen
 * again). */
static bool repeats(const struct recall *r, const struct ranked *top, size_t i)
{
	const struct doc *d = &r->inc.v[top[i].doc];

	for (size_t j = 0; j < i; j++) {
		const struct doc *e = &r->inc.v[top[j].doc];

		if (same(d->runbook, e->runbook) && same(d->summary, e->summary) &&
		    same(d->query, e->query) && same(d->done.buf, e->done.buf))
			return true;
	}
	return false;
}

static void query_tokens(struct recall *r, const struct incident *in)
{
	size_t n = 0;

	r->adding = false;
	r->nscratch = 0;
	token_whole(r, in->runbook);
	tokens_of(r, in->runbook, false);
	tokens_of(r, in->key, false);
	tokens_of(r, in->summary, false);
	if (in->evidence)
		tokens_of_json(r, NULL, in->evidence, 0);
	qsort(r->scratch, r->nscratch, sizeof(*r->scratch), cmp_u32);
	for (size_t i = 0; i < r->nscratch; i++)   /* each term once */
		if (n == 0 || r->scratch[n - 1] != r->scratch[i])
			r->scratch[n++] = r->scratch[i];
	r->nscratch = n;
}

void recall_query(struct recall *r, const struct incident *in, size_t k, size_t krb,
		  struct recall_result *out)
{
	json_t *cur = in->key ? json_object_get(r->by_key, in->key) : NULL;
	size_t skip = SIZE_MAX, n;
	struct ranked *top;

	memset(out, 0, sizeof(*out));
	if (cur && r->inc.v[json_integer_value(cur)].open)
		skip = (size_t)json_integer_value(cur);
	out->history = r->inc.n - (skip != SIZE_MAX);
	query_tokens(r, in);
	top = xmalloc((k * RECALL_CANDIDATES + krb + 1) * sizeof(*top));
	n = rank(&r->inc, r->scratch, r->nscratch, skip, NULL, k * RECALL_CANDIDATES, top);
	if (n) {
		out->v = xcalloc(k, sizeof(*out->v));
		for (size_t i = 0; i < n && out->n < k; i++) {
			const struct doc *d = &r->inc.v[top[i].doc];

			if (repeats(r, top, i))
				continue;
			out->v[out->n++] = (struct recall_hit){
				.score = top[i].score, .key = d->key, .runbook = d->runbook, .at = d->at,
				.summary = d->summary, .query = d->query,
				.done = d->done.len ? d->done.buf : NULL, .root_cause = d->root_cause,
				.lasted_s = d->open ? -1 : d->lasted_s,
			};
		}
	}
	n = rank(&r->rb, r->scratch, r->nscratch, SIZE_MAX, in->runbook, krb, top);
	if (n) {
		out->rb = xcalloc(n, sizeof(*out->rb));
		for (size_t i = 0; i < n; i++) {
			const struct doc *d = &r->rb.v[top[i].doc];

			out->rb[i] = (struct recall_runbook_hit){ top[i].score, d->key, d->title,
								  d->guidance };
		}
		out->nrb = n;
	}
	r->nscratch = 0;
	free(top);
}

void recall_result_release(struct recall_result *res)
{
	free(res->v);
	free(res->rb);
	memset(res, 0, sizeof(*res));
}

void recall_get_stats(const struct recall *r, struct recall_stats *st)
{
	*st = r->st;
	st->incidents = r->inc.n;
	st->runbooks = r->rb.n;
	st->terms = r->nterms;
}

const char *recall_error(const struct recall *r)
{
	return r->err;
}
