/*
 * policy: the rules of policy.h applied to one proposal; see policy.h.
 *
 * policy_decide() walks every rule, in the order a DBA reads them (what the
 * risk allows, how sure the diagnosis is, how much it touches, how often it
 * ran, when it may run), and keeps the strictest outcome. Strictness, from
 * the strictest:
 *
 *   deny > escalate > skip > approval > allow
 *
 * deny first: a rule that forbids the action outright (blast radius, rate
 * limit, outside a maintenance window, policy says deny) holds whatever else
 * is true. escalate before skip: a diagnosis too unsure to act on should
 * reach a human even when the same action ran recently. skip before
 * approval: an operator's approval does not make a repeat run sensible.
 * Every rule that applied is named in p->policy_reason with the key that
 * changes it, so the operator sees why and where to change it.
 *
 * The run history (struct policy_state) is a list of (action, target, time,
 * audit seq) under a mutex: the brain thread reads it while the executor
 * thread notes runs. Entries older than a day are dropped as new ones come.
 */
#include "act/policy.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "act/action.h"
#include "core/clock.h"
#include "core/mem.h"
#include "core/strbuf.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Runs older than this are of no use to any rule. */
#define HISTORY_S (24 * 3600)
/* Lines of the audit log longer than this are not exec records. */
#define AUDIT_LINE_MAX (1024 * 1024)

/* Local names (policy.o links without proposal.o: config.c validates
 * maintenance windows with it). Same words as risk_name()/decision_name(). */
static const char *const risk_words[] = { "low", "medium", "high", "critical" };
static const char *const rule_words[] = { "allow", "approval", "deny" };
static const char *const decision_words[] = {
	"allow", "approval", "deny", "escalate", "skip",
};

/* ---------------------------------------------------------------- windows */

static const char *const day_names[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };

struct window {
	unsigned days;   /* bit d: the window opens on weekday d (0 = Sunday) */
	int start, end;  /* minutes after midnight; end <= start: runs past midnight */
};

static int parse_day(const char *s, size_t n)
{
	for (int d = 0; d < 7; d++)
		if (n == 3 && strncasecmp(s, day_names[d], 3) == 0)
			return d;
	return -1;
}

/* "HH:MM" at *s (24:00 allowed as an end); advances *s. -1 when malformed. */
static int parse_clock(const char **s, bool end)
{
	const char *p = *s;
	int h, m;

	if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) || p[2] != ':' ||
	    !isdigit((unsigned char)p[3]) || !isdigit((unsigned char)p[4]))
		return -1;
	h = (p[0] - '0') * 10 + (p[1] - '0');
	m = (p[3] - '0') * 10 + (p[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && (m != 0 || !end)))
		return -1;
	*s = p + 5;
	return h * 60 + m;
}

static bool window_parse(const char *spec, struct window *w, char *err, size_t errlen)
{
	const char *p = spec, *sp;
	int start, end;

	memset(w, 0, sizeof(*w));
	while (*p == ' ')
		p++;
	sp = strchr(p, ' ');
	if (!sp) {
		snprintf(err, errlen, "window '%s' needs days and hours, e.g. 'Sat 02:00-04:00', "
		         "'daily 01:00-05:00' or 'Mon-Fri 22:00-06:00'", spec);
		return false;
	}
	if ((size_t)(sp - p) == 5 && strncasecmp(p, "daily", 5) == 0) {
		w->days = 0x7f;
	} else {
		const char *q = p;

		while (q < sp) {
			size_t n = strcspn(q, ",- ");
			int a = parse_day(q, n), b;

			if (a < 0) {
				snprintf(err, errlen, "window '%s': '%.*s' is not a day — write "
				         "Mon, Tue, Wed, Thu, Fri, Sat, Sun, a range such as Mon-Fri, "
				         "or daily", spec, (int)n, q);
				return false;
			}
			q += n;
			b = a;
			if (*q == '-') {
				q++;
				n = strcspn(q, ", ");
				b = parse_day(q, n);
				if (b < 0) {
					snprintf(err, errlen, "window '%s': '%.*s' is not a day — "
					         "write a range such as Mon-Fri", spec, (int)n, q);
					return false;
				}
				q += n;
			}
			for (int d = a;; d = (d + 1) % 7) {
				w->days |= 1u << d;
				if (d == b)
					break;
			}
			if (*q == ',')
				q++;
		}
	}
	p = sp;
	while (*p == ' ')
		p++;
	start = parse_clock(&p, false);
	if (start < 0 || *p != '-') {
		snprintf(err, errlen, "window '%s': the hours must read HH:MM-HH:MM, e.g. "
		         "02:00-04:00", spec);
		return false;
	}
	p++;
	end = parse_clock(&p, true);
	while (*p == ' ')
		p++;
	if (end < 0 || *p) {
		snprintf(err, errlen, "window '%s': the hours must read HH:MM-HH:MM, e.g. "
		         "02:00-04:00", spec);
		return false;
	}
	if (start == end) {
		snprintf(err, errlen, "window '%s' is empty (it starts when it ends) — "
		         "write 00:00-24:00 for a whole day", spec);
		return false;
	}
	w->start = start;
	w->end = end;
	return true;
}

bool policy_window_valid(const char *spec, char *err, size_t errlen)
{
	struct window w;
	char tmp[8];

	if (!err) {
		err = tmp;
		errlen = sizeof(tmp);
	}
	return window_parse(spec, &w, err, errlen);
}

static bool window_holds(const struct window *w, int wday, int minute)
{
	int yday = (wday + 6) % 7;

	if (w->start < w->end)
		return (w->days & (1u << wday)) && minute >= w->start && minute < w->end;
	/* past midnight: from start on the named day to end on the next */
	return ((w->days & (1u << wday)) && minute >= w->start) ||
	       ((w->days & (1u << yday)) && minute < w->end);
}

bool policy_in_window(char *const *windows, size_t n, double now)
{
	time_t t = (time_t)now;
	struct tm tm;
	char err[8];

	if (n == 0)
		return true;
	if (!localtime_r(&t, &tm))
		return false;
	for (size_t i = 0; i < n; i++) {
		struct window w;

		if (window_parse(windows[i], &w, err, sizeof(err)) &&
		    window_holds(&w, tm.tm_wday, tm.tm_hour * 60 + tm.tm_min))
			return true;
	}
	return false;
}

/* ---------------------------------------------------------------- state */

struct run {
	char *action, *target;
	double at;
	long long seq;
};

struct policy_state {
	pthread_mutex_t mu;
	struct run *runs;
	size_t n, alloc;
};

struct policy_state *policy_state_new(void)
{
	struct policy_state *st = xcalloc(1, sizeof(*st));

	pthread_mutex_init(&st->mu, NULL);
	return st;
}

void policy_state_free(struct policy_state *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->n; i++) {
		free(st->runs[i].action);
		free(st->runs[i].target);
	}
	free(st->runs);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

/* Drop runs older than a day before now. Lock held. */
static void prune(struct policy_state *st, double now)
{
	size_t j = 0;

	for (size_t i = 0; i < st->n; i++) {
		if (st->runs[i].at < now - HISTORY_S) {
			free(st->runs[i].action);
			free(st->runs[i].target);
		} else {
			st->runs[j++] = st->runs[i];
		}
	}
	st->n = j;
}

void policy_note_run(struct policy_state *st, const char *action, const char *target,
		     double now, long long seq)
{
	if (!st || !action)
		return;
	pthread_mutex_lock(&st->mu);
	prune(st, now);
	xgrow((void **)&st->runs, &st->alloc, st->n + 1, sizeof(*st->runs));
	st->runs[st->n++] = (struct run){
		.action = xstrdup(action),
		.target = xstrdup(target ? target : ""),
		.at = now,
		.seq = seq,
	};
	pthread_mutex_unlock(&st->mu);
}

int policy_state_load_audit(struct policy_state *st, const char *path, double now,
			    char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	if (!f) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "audit log '%s': cannot open: %s — check paths.audit_log "
		         "and its permissions", path, strerror(errno));
		return -1;
	}
	while ((len = getline(&line, &cap, f)) > 0) {
		json_t *rec, *kind;
		const char *k, *action, *target, *at;
		int64_t us;

		if (len > AUDIT_LINE_MAX || !strstr(line, "\"exec."))
			continue;
		rec = json_loadb(line, (size_t)len, 0, NULL);
		if (!rec)
			continue;   /* a torn tail; audit_verify() is the judge of that */
		kind = json_object_get(rec, "kind");
		k = json_string_value(kind);
		action = json_string_value(json_object_get(rec, "action"));
		target = json_string_value(json_object_get(rec, "target"));
		at = json_string_value(json_object_get(rec, "at"));
		if (k && (strcmp(k, "exec.done") == 0 || strcmp(k, "exec.unknown") == 0) &&
		    action && at && clock_parse_timestamp(at, &us) == 0 &&
		    (double)us / 1e6 >= now - HISTORY_S)
			policy_note_run(st, action, target, (double)us / 1e6,
					(long long)json_integer_value(json_object_get(rec, "seq")));
		json_decref(rec);
	}
	free(line);
	if (ferror(f)) {
		snprintf(err, errlen, "audit log '%s': read error — check the disk", path);
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

/* Runs of action on target in [since, now]; *last gets the newest one. */
static int count_runs(struct policy_state *st, const char *action, const char *target,
		      double since, struct run *last)
{
	int n = 0;

	last->at = -1;
	last->seq = 0;
	pthread_mutex_lock(&st->mu);
	for (size_t i = 0; i < st->n; i++) {
		const struct run *r = &st->runs[i];

		if (strcmp(r->action, action) != 0 || strcmp(r->target, target) != 0 ||
		    r->at < since)
			continue;
		n++;
		if (r->at > last->at) {
			last->at = r->at;
			last->seq = r->seq;
		}
	}
	pthread_mutex_unlock(&st->mu);
	return n;
}

/* ---------------------------------------------------------------- decide */

/* Index in the strictness order: higher is stricter. */
static int strictness(enum decision d)
{
	switch (d) {
	case DECISION_ALLOW: return 0;
	case DECISION_APPROVAL: return 1;
	case DECISION_SKIP: return 2;
	case DECISION_ESCALATE: return 3;
	case DECISION_DENY: return 4;
	}
	return 4;
}

struct verdict {
	enum decision d;
	struct strbuf why;
};

static void apply(struct verdict *v, enum decision d, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void apply(struct verdict *v, enum decision d, const char *fmt, ...)
{
	va_list ap;

	if (strictness(d) > strictness(v->d))
		v->d = d;
	if (v->why.len)
		strbuf_addstr(&v->why, "; ");
	va_start(ap, fmt);
	strbuf_vaddf(&v->why, fmt, ap);
	va_end(ap);
}

static enum decision rule_decision(enum policy_rule r)
{
	switch (r) {
	case POLICY_ALLOW: return DECISION_ALLOW;
	case POLICY_APPROVAL: return DECISION_APPROVAL;
	case POLICY_DENY: return DECISION_DENY;
	}
	return DECISION_DENY;
}

/* "1.5 GiB" */
static void add_bytes(struct strbuf *sb, long long b)
{
	static const char *const units[] = { "bytes", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double x = (double)b;
	size_t u = 0;

	while (x >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		x /= 1024;
		u++;
	}
	if (u == 0)
		strbuf_addf(sb, "%lld bytes", b);
	else
		strbuf_addf(sb, "%.1f %s", x, units[u]);
}

static bool is_vacuum_full(const struct proposal *p)
{
	return p->action && strcmp(p->action->name, "vacuum") == 0 &&
	       json_is_true(json_object_get(p->params, "full"));
}

/* "3 min ago", "45 s ago", "2 h ago" */
static void add_ago(struct strbuf *sb, double s)
{
	if (s < 0)
		s = 0;
	if (s < 90)
		strbuf_addf(sb, "%.0f s ago", s);
	else if (s < 5400)
		strbuf_addf(sb, "%.0f min ago", s / 60);
	else
		strbuf_addf(sb, "%.1f h ago", s / 3600);
}

enum decision policy_decide(const struct config *cfg, struct policy_state *st,
			    struct proposal *p, double now)
{
	const struct config_policy *pol = &cfg->policy;
	struct verdict v = { .d = DECISION_ALLOW, .why = STRBUF_INIT };
	const char *aname = p->action ? p->action->name : "?";
	const char *target = p->target ? p->target : "";
	enum risk risk = p->risk;
	bool overridden = false;

	if ((unsigned)risk > RISK_CRITICAL)
		risk = RISK_CRITICAL;
	if (p->action && p->action->risk > risk)
		risk = p->action->risk;     /* a proposal never lowers its action's risk */

	/* 1. what the risk, or the action's own rule, allows */
	for (size_t i = 0; i < pol->nactions; i++) {
		if (p->action && strcmp(pol->actions[i].action, aname) == 0) {
			apply(&v, rule_decision(pol->actions[i].rule), "%s: %s (policy.actions)",
			      aname, rule_words[pol->actions[i].rule]);
			overridden = true;
			break;
		}
	}
	if (!overridden)
		apply(&v, rule_decision(pol->by_risk[risk]), "risk %s: %s (policy.%s)",
		      risk_words[risk], rule_words[pol->by_risk[risk]], risk_words[risk]);
	if (risk == RISK_CRITICAL && v.d == DECISION_ALLOW)
		apply(&v, DECISION_APPROVAL, "critical actions always need approval");

	/* 2. how sure the diagnosis is */
	if (p->confidence < pol->escalate_below)
		apply(&v, DECISION_ESCALATE, "confidence %.2f < %.2f: escalate only "
		      "(policy.escalate_below)", p->confidence, pol->escalate_below);
	else if (p->confidence < pol->approval_below)
		apply(&v, DECISION_APPROVAL, "confidence %.2f < %.2f: approval "
		      "(policy.approval_below)", p->confidence, pol->approval_below);

	/* 3. blast radius */
	if (p->sessions > pol->max_sessions)
		apply(&v, DECISION_DENY, "%s %d sessions > %d (policy.max_sessions)",
		      strcmp(aname, "cancel_backend") == 0 ? "cancels statements of" : "ends",
		      p->sessions, pol->max_sessions);
	if (is_vacuum_full(p)) {
		struct strbuf sz = STRBUF_INIT, lim = STRBUF_INIT;

		add_bytes(&lim, pol->vacuum_full_max_bytes);
		if (p->table_bytes < 0) {
			apply(&v, DECISION_APPROVAL, "VACUUM FULL of %s, size unknown (limit %s, "
			      "policy.vacuum_full_max_bytes): approval", target, lim.buf);
		} else if (p->table_bytes > pol->vacuum_full_max_bytes) {
			add_bytes(&sz, p->table_bytes);
			apply(&v, DECISION_DENY, "VACUUM FULL of %s (%s) > %s: its ACCESS "
			      "EXCLUSIVE lock would last too long (policy.vacuum_full_max_bytes)",
			      target, sz.buf, lim.buf);
		}
		strbuf_release(&sz);
		strbuf_release(&lim);
	}

	/* 4. history: rate limit and idempotency */
	if (st && p->action) {
		struct run last;
		int hour = count_runs(st, aname, target, now - 3600, &last);

		if (hour >= pol->rate_limit_per_hour)
			apply(&v, DECISION_DENY, "%s on %s ran %d time%s in the last hour, limit "
			      "%d (policy.rate_limit_per_hour)", aname, target, hour,
			      hour == 1 ? "" : "s", pol->rate_limit_per_hour);
		if (pol->idempotency_min > 0 && hour > 0 &&
		    last.at >= now - pol->idempotency_min * 60.0) {
			struct strbuf ago = STRBUF_INIT;

			add_ago(&ago, now - last.at);
			if (last.seq > 0)
				apply(&v, DECISION_SKIP, "%s on %s ran %s (audit seq %lld): skipped "
				      "(policy.idempotency_min)", aname, target, ago.buf, last.seq);
			else
				apply(&v, DECISION_SKIP, "%s on %s ran %s: skipped "
				      "(policy.idempotency_min)", aname, target, ago.buf);
			strbuf_release(&ago);
		}
	}

	/* 5. maintenance windows for what is risky */
	if (risk >= RISK_HIGH && pol->nmaintenance_windows > 0 &&
	    !policy_in_window(pol->maintenance_windows, pol->nmaintenance_windows, now)) {
		struct strbuf w = STRBUF_INIT;

		for (size_t i = 0; i < pol->nmaintenance_windows && i < 3; i++)
			strbuf_addf(&w, "%s%s", i ? ", " : "", pol->maintenance_windows[i]);
		if (pol->nmaintenance_windows > 3)
			strbuf_addstr(&w, ", ...");
		apply(&v, DECISION_DENY, "risk %s outside the maintenance windows (%s): waits "
		      "for one (policy.maintenance_windows)", risk_words[risk], w.buf);
		strbuf_release(&w);
	}

	free(p->policy_reason);
	p->policy_reason = strbuf_detach(&v.why, NULL);
	p->decision = v.d;
	return v.d;
}

/* ---------------------------------------------------------------- gate */

static enum policy_gate gate(enum policy_gate g, char *reason, size_t len, const char *fmt,
			     ...) __attribute__((format(printf, 4, 5)));

static enum policy_gate gate(enum policy_gate g, char *reason, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (reason && len) {
		va_start(ap, fmt);
		vsnprintf(reason, len, fmt, ap);
		va_end(ap);
	}
	return g;
}

enum policy_gate policy_gate(enum cockpit_mode m, enum decision d, bool accepted,
			     char *reason, size_t reasonlen)
{
	const char *dn = (unsigned)d < ARRAY_SIZE(decision_words) ? decision_words[d] : "?";
	bool would_run;

	if (m == MODE_OBSERVE)
		return gate(GATE_REFUSE, reason, reasonlen, "observe mode: nothing runs — "
		            "switch to assist (mode: assist, or --mode assist) to run "
		            "approved actions");
	switch (d) {
	case DECISION_DENY:
	case DECISION_ESCALATE:
	case DECISION_SKIP:
		return gate(GATE_REFUSE, reason, reasonlen, "policy says %s: it does not run", dn);
	case DECISION_ALLOW:
		/* assist runs nothing without an operator; auto and shadow's
		 * "would have" run what policy allows */
		would_run = accepted || m != MODE_ASSIST;
		break;
	case DECISION_APPROVAL:
		would_run = accepted;
		break;
	default:
		return gate(GATE_REFUSE, reason, reasonlen, "unknown decision: it does not run");
	}
	if (!would_run)
		return gate(GATE_REFUSE, reason, reasonlen, "%s mode, policy says %s: it runs "
		            "once an operator accepts it", m == MODE_AUTO ? "auto" :
		            m == MODE_SHADOW ? "shadow" : "assist", dn);
	if (m == MODE_SHADOW)
		return gate(GATE_SHADOW, reason, reasonlen, "shadow mode: recorded what would "
		            "have run (policy %s%s); nothing ran", dn,
		            accepted ? ", accepted" : "");
	return gate(GATE_RUN, reason, reasonlen, "%s mode, policy %s%s: runs",
	            m == MODE_AUTO ? "auto" : "assist", dn, accepted ? ", accepted" : "");
}
