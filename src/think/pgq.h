/*
 * pgq: reading libpg_query's JSON parse trees (pg_query_parse), shared by
 * the slow-query analysis (think/plan.c) and the deadlock post-mortem
 * (think/deadlock.c). Every node is {"TypeName": {fields}}.
 */
#ifndef COCKPIT_THINK_PGQ_H
#define COCKPIT_THINK_PGQ_H

#include <jansson.h>

/* The node's type name ("SelectStmt") and its fields in *body; NULL (and
 * *body NULL) when node is not a one-key object. */
const char *pgq_node_kind(const json_t *node, json_t **body);
/* The string member key of o, or NULL. */
const char *pgq_str(const json_t *o, const char *key);
/* A RangeVar's relation as written ("schema.rel" or "rel"), malloc'ed;
 * NULL when it names none. */
char *pgq_rangevar_name(const json_t *rv);

#endif
