/*
 * proposal: ownership, copies, ids, JSON and the line diff of act/proposal.h.
 */
#include "act/proposal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "act/action.h"
#include "core/mem.h"
#include "core/strbuf.h"

static const char *const risk_names[] = { "low", "medium", "high", "critical" };
static const char *const decision_names[] = { "allow", "approval", "deny", "escalate", "skip" };

const char *risk_name(enum risk r)
{
	if ((unsigned)r < sizeof(risk_names) / sizeof(risk_names[0]))
		return risk_names[r];
	return "unknown";
}

bool risk_parse(const char *s, enum risk *r)
{
	if (!s)
		return false;
	for (size_t i = 0; i < sizeof(risk_names) / sizeof(risk_names[0]); i++) {
		if (strcmp(s, risk_names[i]) == 0) {
			*r = (enum risk)i;
			return true;
		}
	}
	return false;
}

const char *decision_name(enum decision d)
{
	if ((unsigned)d < sizeof(decision_names) / sizeof(decision_names[0]))
		return decision_names[d];
	return "unknown";
}

struct proposal *proposal_new(void)
{
	struct proposal *p = xcalloc(1, sizeof(*p));
	p->risk = RISK_LOW;
	p->confidence = 0;
	p->table_bytes = -1;
	p->in_transaction = true;
	p->decision = DECISION_APPROVAL;
	return p;
}

static void verify_release(struct proposal_verify *v)
{
	free(v->sql);
	json_decref(v->args);
	free(v->expect);
	memset(v, 0, sizeof(*v));
}

void proposal_free(struct proposal *p)
{
	if (!p)
		return;
	free(p->id);
	free(p->incident_key);
	free(p->runbook);
	free(p->origin);
	json_decref(p->params);
	free(p->sql);
	json_decref(p->argv);
	free(p->rollback_sql);
	free(p->target);
	free(p->target_kind);
	free(p->diff);
	free(p->rationale);
	free(p->estimate);
	json_decref(p->evidence);
	json_decref(p->guard);
	verify_release(&p->verify);
	free(p->policy_reason);
	free(p->edited_from);
	free(p->edit_diff);
	free(p);
}

static char *dupz(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* A deep copy, or with shared another reference to the same value. */
static json_t *jcopy(json_t *j, bool shared)
{
	if (!j)
		return NULL;
	return shared ? json_incref(j) : json_deep_copy(j);
}

static struct proposal *copy(const struct proposal *p, bool shared)
{
	struct proposal *d = xmalloc(sizeof(*d));
	*d = *p;
	d->id = dupz(p->id);
	d->incident_key = dupz(p->incident_key);
	d->runbook = dupz(p->runbook);
	d->origin = dupz(p->origin);
	d->params = jcopy(p->params, shared);
	d->sql = dupz(p->sql);
	d->argv = jcopy(p->argv, shared);
	d->rollback_sql = dupz(p->rollback_sql);
	d->target = dupz(p->target);
	d->target_kind = dupz(p->target_kind);
	d->diff = dupz(p->diff);
	d->rationale = dupz(p->rationale);
	d->estimate = dupz(p->estimate);
	d->evidence = jcopy(p->evidence, shared);
	d->guard = jcopy(p->guard, shared);
	d->verify.sql = dupz(p->verify.sql);
	d->verify.args = jcopy(p->verify.args, shared);
	d->verify.expect = dupz(p->verify.expect);
	d->policy_reason = dupz(p->policy_reason);
	d->edited_from = dupz(p->edited_from);
	d->edit_diff = dupz(p->edit_diff);
	return d;
}

struct proposal *proposal_dup(const struct proposal *p)
{
	return copy(p, false);
}

struct proposal *proposal_dup_shared(const struct proposal *p)
{
	return copy(p, true);
}

void proposal_set(char **field, const char *s)
{
	char *old = *field;
	*field = s ? xstrdup(s) : NULL;
	free(old);
}

void proposal_make_id(struct proposal *p)
{
	struct strbuf key = STRBUF_INIT;
	strbuf_init(&key, 64);
	strbuf_addf(&key, "%s/%s/%s", p->runbook ? p->runbook : "",
		    p->action ? p->action->name : "", p->target ? p->target : "");
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[13];
	if (EVP_Digest(key.buf, key.len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 6) {
		/* FNV-1a as a fallback: still stable, still 12 hex digits */
		uint64_t h = mem_hash(key.buf, key.len);
		snprintf(hex, sizeof(hex), "%012llx", (unsigned long long)(h & 0xffffffffffffULL));
	} else {
		for (int i = 0; i < 6; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
	}
	strbuf_release(&key);
	proposal_set(&p->id, hex);
}

static json_t *jstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *jref(json_t *j)
{
	return j ? json_incref(j) : json_null();
}

json_t *proposal_to_json(const struct proposal *p)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", jstr(p->id));
	json_object_set_new(o, "incident", jstr(p->incident_key));
	json_object_set_new(o, "runbook", jstr(p->runbook));
	json_object_set_new(o, "origin", jstr(p->origin));
	json_object_set_new(o, "action", jstr(p->action ? p->action->name : NULL));
	json_object_set_new(o, "params", jref(p->params));
	json_object_set_new(o, "sql", jstr(p->sql));
	if (p->argv)
		json_object_set_new(o, "argv", json_incref(p->argv));
	json_object_set_new(o, "target", jstr(p->target));
	json_object_set_new(o, "target_kind", jstr(p->target_kind));
	json_object_set_new(o, "risk", json_string(risk_name(p->risk)));
	json_object_set_new(o, "confidence", json_real(p->confidence));
	json_object_set_new(o, "diff", jstr(p->diff));
	json_object_set_new(o, "rollback_sql", jstr(p->rollback_sql));
	json_object_set_new(o, "reversible", json_boolean(p->rollback_sql != NULL));
	json_t *v;
	if (p->verify.sql) {
		v = json_object();
		json_object_set_new(v, "sql", json_string(p->verify.sql));
		json_object_set_new(v, "args", p->verify.args ? json_incref(p->verify.args)
							       : json_array());
		json_object_set_new(v, "expect", jstr(p->verify.expect));
		json_object_set_new(v, "wait_s", json_integer(p->verify.wait_s));
		json_object_set_new(v, "deadline_s", json_integer(p->verify.deadline_s));
		json_object_set_new(v, "attempts", json_integer(p->verify.attempts));
	} else {
		v = json_null();
	}
	json_object_set_new(o, "verify", v);
	json_object_set_new(o, "decision", json_string(decision_name(p->decision)));
	json_object_set_new(o, "policy_reason", jstr(p->policy_reason));
	json_object_set_new(o, "estimate", jstr(p->estimate));
	json_object_set_new(o, "rationale", jstr(p->rationale));
	json_object_set_new(o, "evidence", jref(p->evidence));
	json_object_set_new(o, "guard", jref(p->guard));
	json_object_set_new(o, "in_transaction", json_boolean(p->in_transaction));
	json_object_set_new(o, "lock_timeout_ms", json_integer(p->lock_timeout_ms));
	json_object_set_new(o, "statement_timeout_ms", json_integer(p->statement_timeout_ms));
	json_object_set_new(o, "sessions", json_integer(p->sessions));
	json_object_set_new(o, "table_bytes", p->table_bytes >= 0 ? json_integer(p->table_bytes)
								   : json_null());
	if (p->edited_from) {
		json_object_set_new(o, "edited_from", json_string(p->edited_from));
		json_object_set_new(o, "edit_diff", jstr(p->edit_diff));
	}
	return o;
}

/* Split text into lines (without the newline); a trailing newline does not
 * make an empty last line. The pointers point into a copy in *store. */
static char **split_lines(const char *text, size_t *n, char **store)
{
	*n = 0;
	*store = xstrdup(text ? text : "");
	char **lines = NULL;
	size_t alloc = 0;
	char *s = *store;
	if (!*s)
		return NULL;
	for (;;) {
		char *nl = strchr(s, '\n');
		XGROW(lines, alloc, *n + 1);
		lines[(*n)++] = s;
		if (!nl)
			break;
		*nl = '\0';
		s = nl + 1;
		if (!*s)
			break;
	}
	return lines;
}

char *proposal_text_diff(const char *before, const char *after)
{
	size_t na, nb;
	char *sa, *sb;
	char **a = split_lines(before, &na, &sa);
	char **b = split_lines(after, &nb, &sb);

	/* LCS lengths from the end: l[i][j] = LCS of a[i..] and b[j..]. */
	size_t w = nb + 1;
	size_t *l = xcalloc((na + 1) * w, sizeof(*l));
	for (size_t i = na; i-- > 0;) {
		for (size_t j = nb; j-- > 0;) {
			if (strcmp(a[i], b[j]) == 0)
				l[i * w + j] = l[(i + 1) * w + j + 1] + 1;
			else if (l[(i + 1) * w + j] >= l[i * w + j + 1])
				l[i * w + j] = l[(i + 1) * w + j];
			else
				l[i * w + j] = l[i * w + j + 1];
		}
	}

	struct strbuf out = STRBUF_INIT;
	strbuf_init(&out, 256);
	size_t i = 0, j = 0;
	while (i < na || j < nb) {
		if (i < na && j < nb && strcmp(a[i], b[j]) == 0) {
			strbuf_addf(&out, "  %s\n", a[i]);
			i++;
			j++;
		} else if (i < na && (j >= nb || l[(i + 1) * w + j] >= l[i * w + j + 1])) {
			strbuf_addf(&out, "- %s\n", a[i]);
			i++;
		} else {
			strbuf_addf(&out, "+ %s\n", b[j]);
			j++;
		}
	}
	free(l);
	free(a);
	free(b);
	free(sa);
	free(sb);
	return strbuf_detach(&out, NULL);
}
