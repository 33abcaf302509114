/*
 * redact: SQL normalisation, PII and secret masking, fences and injection
 * flags for text sent to an LLM; see redact.h.
 *
 * The PII pass is one left-to-right scan. At each word start it tries the
 * matchers in order of how specific they are (URI passwords, key=value
 * secrets, bearer tokens, known key prefixes, JWTs, emails, cards, phones,
 * long random-looking strings); the first that matches emits its mask and
 * the scan resumes after it. Hand-written matchers instead of regular
 * expressions because the rules need context a POSIX regex cannot express
 * (Luhn, "not after a '/' or ':'" to spare LSNs and timestamps) and because
 * the scan must stay linear on hostile input.
 */
#include "think/redact.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>

#include "core/mem.h"
#include "core/strbuf.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* How far the token matchers look ahead from one word start: a bound on the
 * work hostile input ("a-a-a-a...") can cause; longer runs are masked whole. */
#define LONG_TOKEN_CAP 1024

static const char *const kind_names[REDACT_NKINDS] = {
	"literal", "email", "card", "phone", "secret", "fence"
};

const char *redact_kind_name(enum redact_kind k)
{
	return (unsigned)k < REDACT_NKINDS ? kind_names[k] : "unknown";
}

void redact_report_add(struct redact_report *dst, const struct redact_report *src)
{
	for (int k = 0; k < REDACT_NKINDS; k++)
		dst->counts[k] += src->counts[k];
	dst->sql_unparsed += src->sql_unparsed;
}

unsigned redact_report_total(const struct redact_report *r)
{
	unsigned n = 0;

	for (int k = 0; k < REDACT_NKINDS; k++)
		n += r->counts[k];
	return n;
}

json_t *redact_report_to_json(const struct redact_report *r)
{
	json_t *o = json_object();

	for (int k = 0; k < REDACT_NKINDS; k++)
		if (r->counts[k])
			json_object_set_new(o, kind_names[k], json_integer(r->counts[k]));
	if (r->sql_unparsed)
		json_object_set_new(o, "sql_unparsed", json_integer(r->sql_unparsed));
	return o;
}

/* ---- character classes -------------------------------------------------- */

static bool is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Part of a word: no match may begin inside one. Bytes >= 0x80 (UTF-8)
 * count as word characters. */
static bool is_word(unsigned char c)
{
	return is_alnum(c) || c == '_' || c >= 0x80;
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_email_local(unsigned char c)
{
	return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

static bool is_b64(unsigned char c)
{
	return is_alnum(c) || c == '+' || c == '/' || c == '=' || c == '_' || c == '-';
}

static bool is_b64url(unsigned char c)
{
	return is_alnum(c) || c == '_' || c == '-';
}

static int lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static bool prefix_ci(const char *s, size_t n, size_t i, const char *pre)
{
	size_t k = strlen(pre);

	if (n - i < k)
		return false;
	for (size_t j = 0; j < k; j++)
		if (lower((unsigned char)s[i + j]) != (unsigned char)pre[j])
			return false;
	return true;
}

/* ---- the scanner --------------------------------------------------------- */

struct scan {
	const char *s;
	size_t n;
	struct strbuf *out;
	struct redact_report *rep;
};

static void emit_mask(struct scan *sc, enum redact_kind k)
{
	strbuf_addch(sc->out, '[');
	strbuf_addstr(sc->out, kind_names[k]);
	strbuf_addch(sc->out, ']');
	if (sc->rep)
		sc->rep->counts[k]++;
}

/* scheme://user:PASSWORD@host → mask the password. Returns where the scan
 * goes on (the '@'), or 0. */
static size_t match_uri(struct scan *sc, size_t i)
{
	const char *s = sc->s;
	size_t n = sc->n, j = i, auth, end, at = 0, colon = 0;

	if (!(s[j] >= 'a' && s[j] <= 'z') && !(s[j] >= 'A' && s[j] <= 'Z'))
		return 0;
	while (j < n && j - i < 32 &&
	       (is_alnum((unsigned char)s[j]) || s[j] == '+' || s[j] == '.' || s[j] == '-'))
		j++;
	if (n - j < 3 || memcmp(s + j, "://", 3) != 0)
		return 0;
	auth = j + 3;
	for (end = auth; end < n && !is_space((unsigned char)s[end]) && s[end] != '/' &&
	     s[end] != '?' && s[end] != '#' && s[end] != '"' && s[end] != '\'';
	     end++)
		if (s[end] == '@')
			at = end;
	if (!at)
		return 0;
	for (size_t k = auth; k < at; k++)
		if (s[k] == ':') {
			colon = k;
			break;
		}
	if (!colon || colon + 1 == at)
		return 0;
	strbuf_add(sc->out, s + i, colon + 1 - i);
	emit_mask(sc, REDACT_SECRET);
	return at;
}

static const char *const secret_keys[] = {
	"password", "passwd", "passphrase", "pwd", "secret", "token", "apikey", "api_key",
	"api-key", "access_key", "accesskey", "private_key", "privatekey", "credentials",
	"auth_token", "sslpassword",
};

/* key=value, key: value, "key": "value", key = 'value' where key ends in a
 * secret-ish word (db_password, PGPASSWORD, client_secret, x-api-key...). */
static size_t match_keyvalue(struct scan *sc, size_t i)
{
	const char *s = sc->s;
	size_t n = sc->n, j = i, klen, v, vend;
	char key[64];
	bool secret = false;

	while (j < n && j - i < sizeof(key) &&
	       (is_alnum((unsigned char)s[j]) || s[j] == '_' || s[j] == '-' || s[j] == '.'))
		j++;
	klen = j - i;
	if (klen < 3 || klen >= sizeof(key))
		return 0;
	for (size_t k = 0; k < klen; k++)
		key[k] = (char)lower((unsigned char)s[i + k]);
	key[klen] = '\0';
	for (size_t k = 0; k < ARRAY_SIZE(secret_keys); k++) {
		size_t sl = strlen(secret_keys[k]);

		if (klen >= sl && strcmp(key + klen - sl, secret_keys[k]) == 0) {
			secret = true;
			break;
		}
	}
	if (!secret)
		return 0;
	if (j < n && (s[j] == '"' || s[j] == '\''))
		j++;
	while (j < n && (s[j] == ' ' || s[j] == '\t'))
		j++;
	if (j >= n || (s[j] != '=' && s[j] != ':'))
		return 0;
	if (s[j] == ':' && j + 1 < n && s[j + 1] == ':')
		return 0; /* a cast: token::text */
	j++;
	while (j < n && (s[j] == ' ' || s[j] == '\t'))
		j++;
	if (j >= n)
		return 0;
	if (s[j] == '\'' || s[j] == '"') {
		char q = s[j];

		v = j + 1;
		for (vend = v; vend < n && s[vend] != q; vend++)
			if (s[vend] == '\\' && vend + 1 < n)
				vend++;
		if (vend == v)
			return 0;
		strbuf_add(sc->out, s + i, v - i);
		emit_mask(sc, REDACT_SECRET);
		return vend; /* the closing quote (or the end) is copied by the scan */
	}
	v = j;
	if (n - v >= 8 && memcmp(s + v, "[secret]", 8) == 0)
		return 0; /* masked already */
	for (vend = v; vend < n && !is_space((unsigned char)s[vend]) && !strchr(",;&)}]\"'", s[vend]);
	     vend++)
		;
	if (vend == v)
		return 0;
	strbuf_add(sc->out, s + i, v - i);
	emit_mask(sc, REDACT_SECRET);
	return vend;
}

/* "Bearer <token>", "Basic <base64>". */
static size_t match_auth_scheme(struct scan *sc, size_t i)
{
	const char *s = sc->s;
	size_t n = sc->n, j, t, k;
	bool basic;

	if (prefix_ci(s, n, i, "bearer"))
		j = i + 6, basic = false;
	else if (prefix_ci(s, n, i, "basic"))
		j = i + 5, basic = true;
	else
		return 0;
	if (j >= n || (s[j] != ' ' && s[j] != '\t'))
		return 0;
	while (j < n && (s[j] == ' ' || s[j] == '\t'))
		j++;
	t = j;
	for (k = t; k < n && (is_b64((unsigned char)s[k]) || s[k] == '.' || s[k] == '~'); k++)
		;
	if (k - t < 8)
		return 0;
	if (basic) {
		bool up = false, lo = false, dg = false;

		for (size_t m = t; m < k; m++) {
			up |= s[m] >= 'A' && s[m] <= 'Z';
			lo |= s[m] >= 'a' && s[m] <= 'z';
			dg |= is_digit((unsigned char)s[m]);
		}
		if (!(up && lo) && !(dg && (up || lo)))
			return 0;
	}
	strbuf_add(sc->out, s + i, t - i);
	emit_mask(sc, REDACT_SECRET);
	return k;
}

static const char *const key_prefixes[] = {
	"sk-", "sk_live_", "sk_test_", "rk_live_", "rk_test_", "pk_live_", "ghp_", "gho_",
	"ghs_", "ghu_", "ghr_", "github_pat_", "glpat-", "xoxb-", "xoxp-", "xoxa-", "xoxs-",
	"AKIA", "ASIA", "AIza", "hf_",
};

static size_t match_key_prefix(struct scan *sc, size_t i)
{
	const char *s = sc->s;
	size_t n = sc->n;

	for (size_t k = 0; k < ARRAY_SIZE(key_prefixes); k++) {
		size_t pl = strlen(key_prefixes[k]), j;

		if (n - i < pl || memcmp(s + i, key_prefixes[k], pl) != 0)
			continue;
		for (j = i + pl; j < n && is_b64url((unsigned char)s[j]); j++)
			;
		if (j - i - pl >= 16 && (j >= n || !is_word((unsigned char)s[j]))) {
			emit_mask(sc, REDACT_SECRET);
			return j;
		}
	}
	return 0;
}

/* header.payload.signature, base64url, the header starting "eyJ" ({"). */
static size_t match_jwt(struct scan *sc, size_t i)
{
	const char *s = sc->s;
	size_t n = sc->n, j = i;

	if (n - i < 3 || memcmp(s + i, "eyJ", 3) != 0)
		return 0;
	for (int part = 0; part < 3; part++) {
		size_t start = j;

		while (j < n && j - start < LONG_TOKEN_CAP && is_b64url((unsigned char)s[j]))
			j++;
		if (part < 2) {
			if (j - start < 4 || j >= n || s[j] != '.')
				return 0;
			j++;
		}
	}
	emit_mask(sc, REDACT_SECRET);
	return j;
}

static size_t match_email(struct scan *sc, size_t i)
{
	const char *s = sc->s;
	size_t n = sc->n, j = i, labels = 0, last_label = 0, end;
	bool tld_alpha = true;

	while (j < n && is_email_local((unsigned char)s[j]) && j - i <= 64)
		j++;
	if (j == i || j >= n || s[j] != '@')
		return 0;
	j++;
	end = j;
	for (;;) {
		size_t start = j;

		while (j < n && (is_alnum((unsigned char)s[j]) || s[j] == '-'))
			j++;
		if (j == start || j - start > 63)
			break;
		labels++;
		last_label = start;
		end = j;
		if (j + 1 < n && s[j] == '.' && (is_alnum((unsigned char)s[j + 1])))
			j++;
		else
			break;
	}
	if (labels < 2)
		return 0;
	for (size_t k = last_label; k < end; k++)
		if (!((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z')))
			tld_alpha = false;
	if (!tld_alpha || end - last_label < 2)
		return 0;
	emit_mask(sc, REDACT_EMAIL);
	return end;
}

/* Digits that may not come right before a number we mask: it would be part
 * of something else (an LSN 0/16B3, a decimal, a time, a negative query id). */
static bool number_glued_left(const char *s, size_t i)
{
	unsigned char p;

	if (i == 0)
		return false;
	p = (unsigned char)s[i - 1];
	return is_word(p) || p == '-' || p == '.' || p == '/' || p == ':' || p == '+' ||
	       p == '$' || p == '#' || p == ',';
}

/* ...and after it. */
static bool number_glued_right(const char *s, size_t n, size_t j)
{
	unsigned char c;

	if (j >= n)
		return false;
	c = (unsigned char)s[j];
	if (is_word(c) || c == '@')
		return true;
	if ((c == '.' || c == ',' || c == ':' || c == '-' || c == '/') && j + 1 < n &&
	    is_digit((unsigned char)s[j + 1]))
		return true;
	return false;
}

static bool luhn_ok(const char *d, size_t nd)
{
	int sum = 0;

	for (size_t k = 0; k < nd; k++) {
		int v = d[nd - 1 - k] - '0';

		if (k % 2 == 1) {
			v *= 2;
			if (v > 9)
				v -= 9;
		}
		sum += v;
	}
	return sum % 10 == 0;
}

/* Issuer prefixes and lengths of the card schemes in use (Visa, Mastercard,
 * Amex, Discover, JCB, Diners, UnionPay, Maestro, Mir). A bigint id that
 * happens to pass Luhn rarely also has one of these. */
static bool card_prefix_ok(const char *d, size_t nd)
{
	int p2 = (d[0] - '0') * 10 + (d[1] - '0');
	int p3 = p2 * 10 + (d[2] - '0');
	int p4 = p3 * 10 + (d[3] - '0');

	if (d[0] == '4')
		return nd == 13 || nd == 16 || nd == 19;                       /* Visa */
	if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720))
		return nd == 16;                                              /* Mastercard */
	if (p2 == 34 || p2 == 37)
		return nd == 15;                                              /* Amex */
	if (p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649) || p2 == 62)
		return nd >= 16 && nd <= 19;                                  /* Discover, UnionPay */
	if (p4 >= 3528 && p4 <= 3589)
		return nd >= 16 && nd <= 19;                                  /* JCB */
	if (p2 == 36 || p2 == 38 || p2 == 39 || (p3 >= 300 && p3 <= 305))
		return nd >= 14 && nd <= 19;                                  /* Diners */
	if (p2 == 50 || (p2 >= 56 && p2 <= 69) || (p4 >= 2200 && p4 <= 2204))
		return nd >= 13 && nd <= 19;                                  /* Maestro, Mir */
	return false;
}

static size_t match_card(struct scan *sc, size_t i)
{
	const char *s = sc->s;
	size_t n = sc->n, j = i, nd = 0;
	char d[20], sep = 0;

	if (!is_digit((unsigned char)s[i]))
		return 0;
	/* A ':' or ',' before is fine here: no time or list item has 13 digits. */
	if (i > 0 && s[i - 1] != ':' && s[i - 1] != ',' && number_glued_left(s, i))
		return 0;
	for (;;) {
		if (j < n && is_digit((unsigned char)s[j])) {
			if (nd == 19)
				return 0; /* longer than any card */
			d[nd++] = s[j++];
			continue;
		}
		if (j + 1 < n && (s[j] == ' ' || s[j] == '-') && is_digit((unsigned char)s[j + 1]) &&
		    (!sep || sep == s[j])) {
			sep = s[j];
			j++;
			continue;
		}
		break;
	}
	if (nd < 13 || number_glued_right(s, n, j))
		return 0;
	if (!card_prefix_ok(d, nd) || !luhn_ok(d, nd))
		return 0;
	emit_mask(sc, REDACT_CARD);
	return j;
}

/* A phone number: "+CC ..." (8-15 digits), North American (NPA) NXX-XXXX,
 * or a national number with trunk prefix 0 in groups (020 7946 0958,
 * 06 12 34 56 78, 030-12345678). */
static size_t match_phone(struct scan *sc, size_t i)
{
	const char *s = sc->s;
	size_t n = sc->n, j = i, ng = 0, digits = 0, end;
	size_t glen[16];
	char gfirst[16], seps[16];
	bool paren[16], plus = false;
	unsigned char c = (unsigned char)s[i];

	if (!(c == '+' || c == '(' || is_digit(c)))
		return 0;
	if (c == '+' ? i > 0 && is_word((unsigned char)s[i - 1]) : number_glued_left(s, i))
		return 0;
	if (c == '+') {
		plus = true;
		j++;
		if (j >= n || !is_digit((unsigned char)s[j]))
			return 0;
	}
	seps[0] = 0;
	for (;;) {
		size_t start;
		bool par = false;

		if (ng == ARRAY_SIZE(glen))
			return 0;
		if (j < n && s[j] == '(') {
			par = true;
			j++;
		}
		start = j;
		while (j < n && is_digit((unsigned char)s[j]) && j - start < 16)
			j++;
		if (j == start)
			return 0;
		glen[ng] = j - start;
		gfirst[ng] = s[start];
		paren[ng] = par;
		digits += j - start;
		if (par) {
			if (j >= n || s[j] != ')')
				return 0;
			j++;
		}
		ng++;
		end = j;
		if (digits > 15)
			return 0;
		/* One separator (or none after a ')'), then another group. */
		if (j < n && (s[j] == ' ' || s[j] == '-' || s[j] == '.') && j + 1 < n &&
		    (is_digit((unsigned char)s[j + 1]) || s[j + 1] == '(')) {
			seps[ng] = s[j];
			j++;
			continue;
		}
		if (par && j < n && (is_digit((unsigned char)s[j]))) {
			seps[ng] = 0;
			continue;
		}
		break;
	}
	if (number_glued_right(s, n, end) || (end < n && s[end] == '('))
		return 0;
	if (plus) {
		if (digits < 8 || (ng == 1 && digits < 10))
			return 0;
		goto matched;
	}
	/* North American: [1 ]NPA NXX XXXX */
	{
		size_t g = 0;

		if (ng == 4 && glen[0] == 1 && gfirst[0] == '1' && !paren[0])
			g = 1;
		if (ng - g == 3 && glen[g] == 3 && glen[g + 1] == 3 && glen[g + 2] == 4 &&
		    gfirst[g] >= '2' && gfirst[g + 1] >= '2' && !paren[g + 1] && !paren[g + 2]) {
			char s1 = seps[g + 1], s2 = seps[g + 2];

			if (paren[g] ? (s1 == 0 || s1 == ' ' || s1 == '-') && s2 != 0
				     : s1 != 0 && s1 == s2)
				goto matched;
		}
	}
	/* National with trunk prefix 0: consistent separator, groups of >= 2. */
	if (gfirst[0] == '0' && ng >= 2 && digits >= 10 && digits <= 13) {
		bool ok = true;

		for (size_t g = 0; g < ng; g++)
			if (glen[g] < 2 || paren[g] || (g >= 2 && seps[g] != seps[1]))
				ok = false;
		if (ok)
			goto matched;
	}
	return 0;
matched:
	emit_mask(sc, REDACT_PHONE);
	return end;
}

/* 32+ hex digits, or 32+ base64 characters mixing upper, lower and digits:
 * keys and hashes that no rule above recognised. */
static size_t match_long_token(struct scan *sc, size_t i)
{
	const char *s = sc->s;
	size_t n = sc->n, j = i, slashes = 0;
	bool hex = true, up = false, lo = false, dg = false;

	if (s[i] == '/' || s[i] == '-' || s[i] == '+' || s[i] == '=')
		return 0;
	while (j < n && is_b64((unsigned char)s[j])) {
		unsigned char ch = (unsigned char)s[j];

		if (j - i == LONG_TOKEN_CAP) {
			/* Longer than any identifier: mask the whole run, scan on after it
			 * (a bound on the work a hostile "a-a-a-..." can cause). */
			while (j < n && is_b64((unsigned char)s[j]))
				j++;
			emit_mask(sc, REDACT_SECRET);
			return j;
		}
		hex &= is_hex(ch);
		up |= ch >= 'A' && ch <= 'Z';
		lo |= ch >= 'a' && ch <= 'z';
		dg |= is_digit(ch);
		slashes += ch == '/';
		j++;
	}
	if (j - i < 32 || (j < n && is_word((unsigned char)s[j])))
		return 0;
	if (!hex && !(up && lo && dg && slashes <= 2))
		return 0;
	emit_mask(sc, REDACT_SECRET);
	return j;
}

typedef size_t (*matcher_fn)(struct scan *sc, size_t i);

static const matcher_fn matchers[] = {
	match_uri, match_keyvalue, match_auth_scheme, match_key_prefix, match_jwt,
	match_email, match_card, match_phone, match_long_token,
};

static void redact_scan(struct scan *sc)
{
	const char *s = sc->s;
	size_t i = 0;

	while (i < sc->n) {
		unsigned char c = (unsigned char)s[i];
		bool start = i == 0 || !is_word((unsigned char)s[i - 1]);
		size_t next = 0;

		if (start && (is_alnum(c) || c == '+' || c == '(')) {
			for (size_t m = 0; m < ARRAY_SIZE(matchers) && !next; m++)
				next = matchers[m](sc, i);
		}
		if (next) {
			i = next;
			continue;
		}
		/* Copy the rest of a word at once: no match starts inside it. */
		do
			strbuf_addch(sc->out, s[i++]);
		while (i < sc->n && is_word((unsigned char)s[i]) && is_word(c));
	}
}

char *redact_textn(const char *text, size_t len, struct redact_report *rep)
{
	struct strbuf out = STRBUF_INIT;
	struct scan sc;

	strbuf_init(&out, len + 16);
	sc.s = text;
	sc.n = len;
	sc.out = &out;
	sc.rep = rep;
	redact_scan(&sc);
	return strbuf_detach(&out, NULL);
}

char *redact_text(const char *text, struct redact_report *rep)
{
	return redact_textn(text ? text : "", text ? strlen(text) : 0, rep);
}

/* ---- SQL ------------------------------------------------------------------ */

static unsigned count_params(const char *s)
{
	unsigned k = 0;

	for (const char *p = s; *p; p++)
		if (*p == '$' && is_digit((unsigned char)p[1]) &&
		    (p == s || !is_word((unsigned char)p[-1])))
			k++;
	return k;
}

/* The fallback for SQL that does not parse: every quoted string, dollar-
 * quoted string and number becomes $n; identifiers, quoted identifiers and
 * comments stay (the PII pass sees them next). An unterminated string or
 * comment runs to the end (truncated query texts end that way). */
static char *mask_sql_literals(const char *s, unsigned *masked)
{
	struct strbuf out = STRBUF_INIT;
	size_t n = strlen(s), i = 0;
	unsigned k = 0;

	strbuf_init(&out, n + 8);
	while (i < n) {
		unsigned char c = (unsigned char)s[i];

		if (c == '-' && i + 1 < n && s[i + 1] == '-') {
			size_t j = i;

			while (j < n && s[j] != '\n')
				j++;
			strbuf_add(&out, s + i, j - i);
			i = j;
		} else if (c == '/' && i + 1 < n && s[i + 1] == '*') {
			const char *e = strstr(s + i + 2, "*/");
			size_t j = e ? (size_t)(e - s) + 2 : n;

			strbuf_add(&out, s + i, j - i);
			i = j;
		} else if (c == '"') {
			size_t j = i + 1;

			while (j < n && s[j] != '"')
				j++;
			j = j < n ? j + 1 : n;
			strbuf_add(&out, s + i, j - i);
			i = j;
		} else if (c == '\'') {
			bool esc = i > 0 && (s[i - 1] == 'E' || s[i - 1] == 'e') &&
				   (i < 2 || !is_word((unsigned char)s[i - 2]));
			size_t j = i + 1;

			while (j < n) {
				if (esc && s[j] == '\\' && j + 1 < n) {
					j += 2;
					continue;
				}
				if (s[j] == '\'') {
					if (j + 1 < n && s[j + 1] == '\'') {
						j += 2;
						continue;
					}
					break;
				}
				j++;
			}
			i = j < n ? j + 1 : n;
			strbuf_addf(&out, "$%u", ++k);
		} else if (c == '$' && (i == 0 || !is_word((unsigned char)s[i - 1])) && i + 1 < n &&
			   !is_digit((unsigned char)s[i + 1])) {
			/* $tag$ ... $tag$ */
			size_t j = i + 1, tl;
			const char *e;
			char *tag;

			while (j < n && (is_alnum((unsigned char)s[j]) || s[j] == '_'))
				j++;
			if (j >= n || s[j] != '$') {
				strbuf_addch(&out, (char)c);
				i++;
				continue;
			}
			tl = j + 1 - i;
			tag = xstrndup(s + i, tl);
			e = strstr(s + j + 1, tag);
			free(tag);
			i = e ? (size_t)(e - s) + tl : n;
			strbuf_addf(&out, "$%u", ++k);
		} else if (c == '$' && i + 1 < n && is_digit((unsigned char)s[i + 1])) {
			size_t j = i + 1;

			while (j < n && is_digit((unsigned char)s[j]))
				j++;
			strbuf_add(&out, s + i, j - i);
			i = j;
		} else if ((is_digit(c) || (c == '.' && i + 1 < n && is_digit((unsigned char)s[i + 1]))) &&
			   (i == 0 || !is_word((unsigned char)s[i - 1]))) {
			size_t j = i;

			while (j < n && (is_digit((unsigned char)s[j]) || s[j] == '.'))
				j++;
			if (j < n && (s[j] == 'e' || s[j] == 'E')) {
				size_t e = j + 1;

				if (e < n && (s[e] == '+' || s[e] == '-'))
					e++;
				if (e < n && is_digit((unsigned char)s[e])) {
					j = e;
					while (j < n && is_digit((unsigned char)s[j]))
						j++;
				}
			}
			strbuf_addf(&out, "$%u", ++k);
			i = j;
		} else if (is_word(c)) {
			size_t j = i;

			while (j < n && (is_word((unsigned char)s[j]) || s[j] == '$'))
				j++;
			strbuf_add(&out, s + i, j - i);
			i = j;
		} else {
			strbuf_addch(&out, (char)c);
			i++;
		}
	}
	*masked = k;
	return strbuf_detach(&out, NULL);
}

char *redact_sql(const char *sql, struct redact_report *rep)
{
	PgQueryNormalizeResult r;
	char *norm, *out;
	unsigned lits;

	if (!sql)
		sql = "";
	r = pg_query_normalize(sql);
	if (!r.error && r.normalized_query) {
		unsigned before = count_params(sql), after = count_params(r.normalized_query);

		norm = xstrdup(r.normalized_query);
		lits = after > before ? after - before : 0;
	} else {
		norm = mask_sql_literals(sql, &lits);
		if (rep)
			rep->sql_unparsed++;
	}
	pg_query_free_normalize_result(r);
	if (rep)
		rep->counts[REDACT_LITERAL] += lits;
	out = redact_text(norm, rep);
	free(norm);
	return out;
}

/* ---- fences --------------------------------------------------------------- */

char *redact_fence(const char *kind, const char *text, struct redact_report *rep)
{
	struct strbuf out = STRBUF_INIT;
	size_t n = text ? strlen(text) : 0, i = 0;

	strbuf_init(&out, n + 64);
	strbuf_addstr(&out, REDACT_FENCE_OPEN " kind=");
	if (!kind || !*kind)
		kind = "data";
	for (size_t k = 0; kind[k] && k < 32; k++)
		strbuf_addch(&out, (kind[k] >= 'a' && kind[k] <= 'z') || kind[k] == '_' ? kind[k] : '_');
	strbuf_addstr(&out, ">>>\n");
	while (i < n) {
		char c = text[i];
		size_t j = i;

		if (c == '<' || c == '>') {
			while (j < n && text[j] == c)
				j++;
			if (j - i >= 3) {
				/* "<<<<" -> "< < < <": no three in a row survive. */
				for (size_t k = i; k < j; k++) {
					if (k > i)
						strbuf_addch(&out, ' ');
					strbuf_addch(&out, c);
				}
				if (rep)
					rep->counts[REDACT_FENCE]++;
				i = j;
				continue;
			}
		}
		strbuf_addch(&out, c);
		i++;
	}
	if (n && text[n - 1] != '\n')
		strbuf_addch(&out, '\n');
	strbuf_addstr(&out, REDACT_FENCE_CLOSE ">>>\n");
	return strbuf_detach(&out, NULL);
}

/* ---- injection flags -------------------------------------------------------- */

static const char *const inj_names[REDACT_INJ_NKINDS] = {
	"override", "role", "prompt", "command", "markup", "sql"
};

static const int inj_weight[REDACT_INJ_NKINDS] = { 60, 40, 40, 30, 40, 25 };

/* Word patterns over the text lower-cased with punctuation folded to single
 * spaces; "*" stands for up to three words. */
static const struct {
	unsigned flag;
	const char *pattern;
} inj_patterns[] = {
	{ REDACT_INJ_OVERRIDE, "ignore * instructions" },
	{ REDACT_INJ_OVERRIDE, "ignore * instruction" },
	{ REDACT_INJ_OVERRIDE, "ignore * prompt" },
	{ REDACT_INJ_OVERRIDE, "ignore * rules" },
	{ REDACT_INJ_OVERRIDE, "ignore the above" },
	{ REDACT_INJ_OVERRIDE, "ignore everything" },
	{ REDACT_INJ_OVERRIDE, "disregard * instructions" },
	{ REDACT_INJ_OVERRIDE, "disregard * above" },
	{ REDACT_INJ_OVERRIDE, "disregard * previous" },
	{ REDACT_INJ_OVERRIDE, "disregard * rules" },
	{ REDACT_INJ_OVERRIDE, "forget * instructions" },
	{ REDACT_INJ_OVERRIDE, "forget * previous" },
	{ REDACT_INJ_OVERRIDE, "forget everything" },
	{ REDACT_INJ_OVERRIDE, "override * instructions" },
	{ REDACT_INJ_OVERRIDE, "do not follow * instructions" },
	{ REDACT_INJ_ROLE, "you are now" },
	{ REDACT_INJ_ROLE, "you are no longer" },
	{ REDACT_INJ_ROLE, "act as" },
	{ REDACT_INJ_ROLE, "pretend to be" },
	{ REDACT_INJ_ROLE, "pretend you are" },
	{ REDACT_INJ_ROLE, "roleplay as" },
	{ REDACT_INJ_ROLE, "from now on" },
	{ REDACT_INJ_ROLE, "you must now" },
	{ REDACT_INJ_PROMPT, "system prompt" },
	{ REDACT_INJ_PROMPT, "new instructions" },
	{ REDACT_INJ_PROMPT, "your instructions" },
	{ REDACT_INJ_PROMPT, "developer message" },
	{ REDACT_INJ_PROMPT, "developer mode" },
	{ REDACT_INJ_PROMPT, "jailbreak" },
	{ REDACT_INJ_PROMPT, "hidden instructions" },
	{ REDACT_INJ_COMMAND, "run the following" },
	{ REDACT_INJ_COMMAND, "execute the following" },
	{ REDACT_INJ_COMMAND, "run this" },
	{ REDACT_INJ_COMMAND, "execute this" },
	{ REDACT_INJ_COMMAND, "perform the following" },
	{ REDACT_INJ_COMMAND, "respond only with" },
	{ REDACT_INJ_COMMAND, "reply only with" },
	{ REDACT_INJ_COMMAND, "output only" },
	{ REDACT_INJ_COMMAND, "set confidence" },
	{ REDACT_INJ_COMMAND, "propose * drop" },
	{ REDACT_INJ_COMMAND, "you must propose" },
	{ REDACT_INJ_COMMAND, "recommend * drop" },
	{ REDACT_INJ_SQL, "drop table" },
	{ REDACT_INJ_SQL, "drop database" },
	{ REDACT_INJ_SQL, "drop schema" },
	{ REDACT_INJ_SQL, "drop role" },
	{ REDACT_INJ_SQL, "drop user" },
	{ REDACT_INJ_SQL, "drop owned" },
	{ REDACT_INJ_SQL, "drop extension" },
	{ REDACT_INJ_SQL, "truncate table" },
	{ REDACT_INJ_SQL, "truncate *" },
	{ REDACT_INJ_SQL, "delete from" },
	{ REDACT_INJ_SQL, "alter system" },
	{ REDACT_INJ_SQL, "grant all" },
	{ REDACT_INJ_SQL, "with superuser" },
	{ REDACT_INJ_SQL, "superuser" },
	{ REDACT_INJ_SQL, "pg_terminate_backend" },
	{ REDACT_INJ_SQL, "pg_read_file" },
	{ REDACT_INJ_SQL, "copy * program" },
};

/* Raw (lower-cased) substrings: turn markers of chat templates, our fence. */
static const char *const inj_markup[] = {
	"<|im_start|>", "<|im_end|>", "<|system|>", "<|assistant|>", "<|user|>", "[inst]",
	"[/inst]", "<<sys>>", "### system", "### instruction", "<<<untrusted", "<<<end untrusted",
	"</system>", "<system>", "\nsystem:", "\nassistant:",
};

/* Fold text to lower-case words separated by one space ('_' stays part of
 * a word, so pg_terminate_backend is one). */
static char *fold_words(const char *text)
{
	struct strbuf out = STRBUF_INIT;
	bool space = true;

	strbuf_init(&out, strlen(text) + 2);
	strbuf_addch(&out, ' ');
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (is_word(*p)) {
			strbuf_addch(&out, (char)lower(*p));
			space = false;
		} else if (!space) {
			strbuf_addch(&out, ' ');
			space = true;
		}
	}
	if (!space)
		strbuf_addch(&out, ' ');
	return strbuf_detach(&out, NULL);
}

/* Does the word sequence pat occur in folded (" w1 w2 ... ")? */
static bool words_match_at(const char *f, const char *pat)
{
	/* f points at a word start; pat is words separated by single spaces. */
	while (*pat) {
		const char *pe = strchr(pat, ' ');
		size_t pl = pe ? (size_t)(pe - pat) : strlen(pat);

		if (pl == 1 && *pat == '*') {
			const char *rest = pe ? pe + 1 : "";

			if (!*rest)
				return *f != '\0'; /* at least one word follows */
			for (int skip = 0; skip <= 3 && *f; skip++) {
				if (words_match_at(f, rest))
					return true;
				f = strchr(f, ' ');
				if (!f)
					return false;
				f++;
			}
			return false;
		}
		if (strncmp(f, pat, pl) != 0 || f[pl] != ' ')
			return false;
		f += pl + 1;
		pat = pe ? pe + 1 : pat + pl;
	}
	return true;
}

unsigned redact_injection_flags(const char *text)
{
	unsigned flags = 0;
	char *f, *low;
	size_t n;

	if (!text || !*text)
		return 0;
	f = fold_words(text);
	for (const char *w = f + 1; *w; w = strchr(w, ' ') + 1) {
		for (size_t k = 0; k < ARRAY_SIZE(inj_patterns); k++)
			if (!(flags & inj_patterns[k].flag) && words_match_at(w, inj_patterns[k].pattern))
				flags |= inj_patterns[k].flag;
		if (!strchr(w, ' '))
			break;
	}
	free(f);
	n = strlen(text);
	low = xmalloc(n + 2);
	low[0] = '\n';
	for (size_t i = 0; i < n; i++)
		low[i + 1] = (char)lower((unsigned char)text[i]);
	low[n + 1] = '\0';
	for (size_t k = 0; k < ARRAY_SIZE(inj_markup); k++)
		if (strstr(low, inj_markup[k]))
			flags |= REDACT_INJ_MARKUP;
	free(low);
	return flags;
}

int redact_injection_score(const char *text)
{
	unsigned flags = redact_injection_flags(text);
	int score = 0;

	for (int k = 0; k < REDACT_INJ_NKINDS; k++)
		if (flags & (1u << k))
			score += inj_weight[k];
	return score > 100 ? 100 : score;
}

const char *redact_injection_name(unsigned bit)
{
	for (int k = 0; k < REDACT_INJ_NKINDS; k++)
		if (bit == 1u << k)
			return inj_names[k];
	return "unknown";
}

json_t *redact_injection_to_json(unsigned flags)
{
	json_t *a = json_array();

	for (int k = 0; k < REDACT_INJ_NKINDS; k++)
		if (flags & (1u << k))
			json_array_append_new(a, json_string(inj_names[k]));
	return a;
}
