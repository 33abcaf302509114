/*
 * fuzz_config: libFuzzer harness for the cockpit.conf loader.
 *
 * Feeds arbitrary bytes to config_load_buffer() and checks what must hold
 * whatever the input: the result and the messages agree, every message is
 * one "fuzz.conf:..." line, and the config is complete and releasable.
 * ASan/UBSan catch the rest.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc -D_GNU_SOURCE \
 *       $(pkg-config --cflags yaml-0.1) -o fuzz_config tests/fuzz/fuzz_config.c \
 *       src/core/config.c src/core/yamlload.c src/core/mem.c src/core/strbuf.c \
 *       $(pkg-config --libs yaml-0.1)
 *   ./fuzz_config -max_total_time=60 -dict=tests/fuzz/config.dict \
 *       corpus/ tests/data/config/good tests/data/config/bad
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	char *errs = NULL;
	int ret = config_load_buffer(&c, "fuzz.conf", (const char *)data, size, &errs);

	if ((ret == 0) != (errs == NULL))
		abort();
	if (errs) {
		/* one message per line, each naming the file, ending in '\n' */
		for (const char *line = errs; *line;) {
			const char *nl = strchr(line, '\n');

			if (!nl || strncmp(line, "fuzz.conf:", 10) != 0)
				abort();
			line = nl + 1;
		}
	}
	/* complete whatever happened */
	if (!c.state_dir || !c.audit_log || !c.runbooks_dir || !c.themes_dir ||
	    !c.theme || !c.agent_role_pattern || !c.agent_app_patterns ||
	    c.agent_app_patterns[c.nagent_app_patterns] != NULL)
		abort();
	if (ret == 0) {
		for (size_t i = 0; i < c.ntargets; i++)
			if (!c.targets[i].name || !c.targets[i].conninfo ||
			    !c.targets[i].server_log || !c.targets[i].server_log_format)
				abort();
		if (c.default_target && !config_find_target(&c, NULL))
			abort();
	}
	free(errs);
	config_release(&c);
	return 0;
}
