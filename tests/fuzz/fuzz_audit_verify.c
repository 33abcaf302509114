/*
 * fuzz_audit_verify: libFuzzer harness for the audit log's reader.
 *
 * Writes the input to a file and runs audit_verify() on it, then checks what
 * must hold whatever the bytes: the verdict and the result agree (intact
 * means every line verified; broken names a line, a reason, and counts the
 * records before it), and the line named is one the file has. When the
 * chain is intact, or intact but for a torn last line, audit_open() must
 * take the file (moving a torn tail aside, byte for byte) and one more
 * append must leave a chain that verifies with one record more (two after a
 * repair). ASan/UBSan catch the rest. Files live in a private directory
 * under /dev/shm when there is one (fsync is free there).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *     $(pkg-config --cflags jansson libcrypto) -o fuzz_audit_verify \
 *     tests/fuzz/fuzz_audit_verify.c src/act/audit.c src/core/mem.c \
 *     src/core/strbuf.c src/core/clock.c $(pkg-config --libs jansson libcrypto) -lpthread
 *   ./fuzz_audit_verify -dict=tests/fuzz/audit_verify.dict -max_total_time=60 CORPUS \
 *     tests/data/audit
 */
#include "act/audit.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static char path[128];

static int clean_dir(const uint8_t *torn, size_t torn_len);

static void remove_dir(void)
{
	clean_dir(NULL, 0);
	rmdir(dir);
}

static void setup_dir(void)
{
	if (dir[0])
		return;
	snprintf(dir, sizeof(dir), "%s/fuzz_audit.XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	atexit(remove_dir);
}

/* Remove every file in dir; returns how many were torn-tail copies. Unless
 * torn is NULL (at exit), such a copy must hold exactly those bytes. */
static int clean_dir(const uint8_t *torn, size_t torn_len)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];
	int n = 0;

	if (!d)
		abort();
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (strstr(e->d_name, ".torn-")) {
			FILE *f = fopen(p, "rb");
			uint8_t *buf = malloc(torn_len + 1);
			size_t got;

			if (!f || !buf)
				abort();
			got = fread(buf, 1, torn_len + 1, f);
			fclose(f);
			if (torn && (got != torn_len || memcmp(buf, torn, torn_len) != 0))
				abort();
			free(buf);
			n++;
		}
		unlink(p);
	}
	closedir(d);
	return n;
}

static int64_t count_lines(const uint8_t *data, size_t size)
{
	int64_t n = 0;

	for (size_t i = 0; i < size; i++)
		n += data[i] == '\n';
	return n + (size && data[size - 1] != '\n');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct audit_verify_result r, r2;
	char err[512] = "";
	int64_t lines = count_lines(data, size);
	const uint8_t *torn = NULL;
	size_t torn_len = 0;
	struct audit *a;
	int fd, ret, repairs;

	setup_dir();
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	close(fd);

	ret = audit_verify(path, &r, err, sizeof(err));
	if (ret == 0) {
		if (r.status != AUDIT_VERIFY_OK || r.line != 0 || r.reason[0] ||
		    r.records != lines || (size && data[size - 1] != '\n') ||
		    (r.records > 0) != (r.last_hash[0] != '\0') || r.last_seq != r.records)
			abort();
	} else if (ret == 1) {
		if (r.status == AUDIT_VERIFY_OK || r.line < 1 || r.line > lines || !r.reason[0] ||
		    r.records != r.line - 1 || strlen(r.reason) >= sizeof(r.reason))
			abort();
		if (r.status == AUDIT_VERIFY_TORN && r.line != lines)
			abort();
	} else {
		abort(); /* the file is there and readable */
	}

	if (ret == 0 || r.status == AUDIT_VERIFY_TORN) {
		if (ret != 0) {
			/* the torn tail: the bytes after the last newline */
			size_t start = size;

			while (start > 0 && data[start - 1] != '\n')
				start--;
			torn = data + start;
			torn_len = size - start;
		}
		a = audit_open(path, err, sizeof(err));
		if (!a)
			abort();
		free(audit_take_notice(a));
		if (audit_append(a, "fuzz", NULL, err, sizeof(err)) != 0)
			abort();
		audit_close(a);
		if (audit_verify(path, &r2, err, sizeof(err)) != 0 ||
		    r2.records != r.records + 1 + (ret != 0))
			abort();
	}
	repairs = clean_dir(torn ? torn : (const uint8_t *)"", torn_len);
	if (repairs != (ret != 0 && torn != NULL))
		abort();
	return 0;
}
