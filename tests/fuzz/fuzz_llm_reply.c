/*
 * fuzz_llm_reply: libFuzzer harness for everything that reads what an LLM
 * endpoint sends back, and for the redaction of what we send it.
 *
 * The first byte picks the provider (bit 0) and the second where the rest
 * is cut. The rest is decoded as a streamed reply fed in two pieces and in
 * one piece: both runs must end the same way with the same text (where the
 * network cuts the bytes never changes the result); the decoded text and the
 * raw bytes go through the diagnosis parser (its result must be well formed:
 * probabilities in 0..1, ranked, every proposal with action, params object
 * and rationale), the raw bytes through the whole-body parser, and through
 * redaction and fencing (a fence holds exactly one opening and one closing
 * marker, whatever the text).
 *
 *   make fuzz FUZZ_ONLY=llm_reply
 */
#include "think/llm.h"
#include "think/redact.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const registry[] = { "terminate_backend", "create_index", "vacuum", NULL };

static int decode(enum llm_provider pv, const char *d, size_t n, size_t cut, char **text,
		  size_t *len)
{
	struct llm_stream st;
	int rc;

	llm_stream_init(&st, pv, NULL, NULL);
	rc = llm_stream_feed(&st, d, cut);
	if (rc == 0)
		rc = llm_stream_feed(&st, d + cut, n - cut);
	if (rc == 0)
		rc = llm_stream_finish(&st);
	if ((rc < 0) != (st.error != NULL))
		abort();
	*len = st.text.len;
	*text = malloc(st.text.len + 1);
	memcpy(*text, st.text.buf, st.text.len + 1);
	llm_stream_release(&st);
	return rc;
}

static void check_diagnosis(const char *t, size_t n)
{
	struct llm_diagnosis d;
	char err[256];

	if (llm_parse_diagnosis(t, n, registry, &d, err, sizeof(err)) < 0) {
		if (d.root_cause || d.rejected || !err[0])
			abort();
		return;
	}
	if (!d.root_cause || !d.rejected || !(d.confidence >= 0 && d.confidence <= 1))
		abort();
	for (size_t i = 0; i < d.nhypotheses; i++) {
		if (!d.hypotheses[i].text || !(d.hypotheses[i].probability >= 0 &&
					       d.hypotheses[i].probability <= 1))
			abort();
		if (i && d.hypotheses[i].probability > d.hypotheses[i - 1].probability)
			abort();
	}
	for (size_t i = 0; i < d.nproposals; i++)
		if (!d.proposals[i].action || !json_is_object(d.proposals[i].params) ||
		    !d.proposals[i].rationale)
			abort();
	json_decref(llm_diagnosis_to_json(&d));
	llm_diagnosis_release(&d);
}

static size_t count(const char *s, const char *needle)
{
	size_t k = 0;

	for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
		k++;
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum llm_provider pv;
	const char *d;
	size_t n, cut, la, lb;
	char *a, *b;
	int ra, rb;

	if (size < 2)
		return 0;
	pv = (data[0] & 1) ? LLM_ANTHROPIC : LLM_OPENAI;
	d = (const char *)data + 2;
	n = size - 2;
	cut = data[1] % (n + 1);

	ra = decode(pv, d, n, cut, &a, &la);
	rb = decode(pv, d, n, 0, &b, &lb);
	if (ra != rb || la != lb || memcmp(a, b, la) != 0)
		abort();
	check_diagnosis(a, la);
	check_diagnosis(d, n);
	free(a);
	free(b);

	{
		char err[256], *text = NULL, *sr = NULL;
		int64_t in, out;

		if (llm_parse_response(pv, d, n, &text, &in, &out, &sr, err, sizeof(err)) == 0) {
			if (!text)
				abort();
			check_diagnosis(text, strlen(text));
		} else if (text || sr) {
			abort();
		}
		free(text);
		free(sr);
	}

	{
		char *s = malloc(n + 1), *r, *q, *f;

		memcpy(s, d, n);
		s[n] = '\0';
		r = redact_textn(d, n, NULL);
		q = redact_sql(s, NULL);
		f = redact_fence("log", s, NULL);
		if (count(f, "<<<") != 2 || strncmp(f, "<<<UNTRUSTED kind=log>>>\n", 25) != 0)
			abort();
		(void)redact_injection_score(s);
		free(r);
		free(q);
		free(f);
		free(s);
	}
	return 0;
}
