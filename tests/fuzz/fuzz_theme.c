/*
 * fuzz_theme: libFuzzer harness for the theme loader.
 *
 * Feeds arbitrary bytes to theme_load_buffer() and checks what must hold
 * whatever the input: the result and the messages agree, every message is
 * one "fuzz.yaml:..." line, every style is in range, and the theme written
 * back by theme_to_yaml() loads without a message into the same theme.
 * ASan/UBSan catch the rest.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc -D_GNU_SOURCE \
 *       $(pkg-config --cflags yaml-0.1) -o fuzz_theme tests/fuzz/fuzz_theme.c \
 *       src/ui/theme.c src/core/yamlload.c src/core/mem.c src/core/strbuf.c \
 *       $(pkg-config --libs yaml-0.1)
 *   ./fuzz_theme -max_total_time=60 -dict=tests/fuzz/theme.dict \
 *       corpus/ themes tests/data/themes
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ui/theme.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int in(int v, int lo, int hi)
{
	return v >= lo && v <= hi;
}

static void check_theme(const struct theme *t)
{
	const int all = THEME_ATTR_BOLD | THEME_ATTR_REVERSE | THEME_ATTR_UNDERLINE |
	                THEME_ATTR_DIM;

	if (!t->name || !*t->name)
		abort();
	for (int r = 0; r < THEME_ROLE_COUNT; r++) {
		const struct theme_style *s = &t->roles[r];

		if (!in(s->fg256, -1, 255) || !in(s->bg256, -1, 255) ||
		    !in(s->fg8, -1, 7) || !in(s->bg8, -1, 7) ||
		    (s->attr & ~all) || (s->mono_attr & ~all))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct theme t, back;
	char *errs = NULL, *yaml;
	int ret = theme_load_buffer(&t, "fuzz.yaml", (const char *)data, size, &errs);

	if ((ret == 0) != (errs == NULL))
		abort();
	if (errs) {
		/* one message per line, each naming the file, ending in '\n' */
		for (const char *line = errs; *line;) {
			const char *nl = strchr(line, '\n');

			if (!nl || strncmp(line, "fuzz.yaml:", 10) != 0)
				abort();
			line = nl + 1;
		}
	}
	check_theme(&t);

	/* whatever was loaded, written out, loads back the same */
	yaml = theme_to_yaml(&t);
	if (theme_load_buffer(&back, "back.yaml", yaml, strlen(yaml), NULL) != 0)
		abort();
	if (strcmp(t.name, back.name) != 0 ||
	    memcmp(t.roles, back.roles, sizeof(t.roles)) != 0)
		abort();
	for (int r = 0; r < THEME_ROLE_COUNT; r++)
		if (!back.given[r])
			abort();

	free(yaml);
	free(errs);
	theme_release(&back);
	theme_release(&t);
	return 0;
}
