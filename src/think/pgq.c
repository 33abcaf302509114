/*
 * pgq: see pgq.h.
 */
#include "think/pgq.h"

#include "core/strbuf.h"

const char *pgq_node_kind(const json_t *node, json_t **body)
{
	const char *k;
	json_t *v;

	*body = NULL;
	if (!json_is_object(node) || json_object_size(node) != 1)
		return NULL;
	json_object_foreach((json_t *)node, k, v) {
		*body = v;
		return k;
	}
	return NULL;
}

const char *pgq_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

char *pgq_rangevar_name(const json_t *rv)
{
	const char *schema = pgq_str(rv, "schemaname"), *rel = pgq_str(rv, "relname");
	struct strbuf sb;

	if (!rel)
		return NULL;
	strbuf_init(&sb, 32);
	if (schema)
		strbuf_addf(&sb, "%s.", schema);
	strbuf_addstr(&sb, rel);
	return strbuf_detach(&sb, NULL);
}
