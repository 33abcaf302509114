/*
 * audit: the hash-chained audit log; the format and the guarantees are in
 * audit.h.
 *
 * How an append goes: take the struct's mutex (threads of this process),
 * check the path still names the file we opened, take the file's flock
 * (other processes), and if the file's length is not the one our last append
 * left, re-read its last line (repairing a torn tail some crashed writer
 * left) to learn the seq and hash to chain to. Then build the record, write
 * the line with one write() (looping on short writes), fsync, and only then
 * let go of the lock and report success. A failed write or fsync truncates
 * the file back to where the record started, so the log stays a valid chain.
 *
 * The last record is found by reading the file backwards from its end, so
 * opening a large log costs one line, not the whole file. audit_verify() is
 * the full walk, streaming line by line.
 */
#include "act/audit.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/clock.h"
#include "core/mem.h"
#include "core/strbuf.h"

#define CANON_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)
/* Duplicate keys would let two texts carry one parsed record; NUL is legal
 * JSON (\u0000) that a caller's field may hold. */
#define LOAD_FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)
#define CHUNK 65536
#define MAX_TAIL_LINE ((off_t)64 << 20) /* bytes: refuse a "last record" larger */

static const char ZERO_HASH[AUDIT_HASH_HEXLEN + 1] =
	"0000000000000000000000000000000000000000000000000000000000000000";

static const char *const reserved[] = {
	"version", "seq", "at", "kind", "operator", "prev", "hash",
};

struct audit {
	pthread_mutex_t mu;     /* serialises appends; guards every field below */
	int fd;                 /* O_RDWR | O_APPEND on the log */
	char *path;             /* owned */
	dev_t dev;              /* identity of the file we opened, to notice */
	ino_t ino;              /*   it being renamed away or replaced */
	off_t known_len;        /* bytes: length after our last append or read;
	                           always a record boundary */
	int64_t seq;            /* seq of the last record; 0 when the log is empty */
	char prev[AUDIT_HASH_HEXLEN + 1]; /* hash of the last record, or zeros */
	int lock_timeout_ms;
	int poisoned;           /* errno of a failed fsync; 0 when healthy */
	json_t *operator;       /* owned: {"host", "ssh_client", "user"} */
	struct strbuf notice;   /* pending notices, one per line */
};

/* What the last complete line of the file told us. */
struct tail {
	int64_t seq;
	char hash[AUDIT_HASH_HEXLEN + 1];
};

/* ------------------------------------------------------------------ helpers */

__attribute__((format(printf, 3, 4)))
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* The fix to suggest after a failed write, fsync or open. */
static const char *errno_hint(int e)
{
	switch (e) {
	case ENOSPC:
	case EDQUOT:
		return "free space or point paths.audit_log elsewhere";
	case EFBIG:
		return "the file reached its size limit; point paths.audit_log at a new file";
	case EROFS:
		return "the file system is read-only; remount it read-write or point "
		       "paths.audit_log elsewhere";
	case EIO:
		return "check the disk (dmesg) or point paths.audit_log elsewhere";
	case EACCES:
	case EPERM:
		return "check the owner and mode of the file and its directory, or point "
		       "paths.audit_log elsewhere";
	default:
		return "point paths.audit_log elsewhere";
	}
}

static void sha256_hex(const void *data, size_t len, char out[AUDIT_HASH_HEXLEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		abort(); /* libcrypto without SHA-256: nothing sensible to do */
	for (unsigned int i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[AUDIT_HASH_HEXLEN] = '\0';
}

static int is_hash(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == AUDIT_HASH_HEXLEN;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static ssize_t pread_full(int fd, char *buf, size_t len, off_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, off + (off_t)got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static int fsync_retry(int fd)
{
	int r;

	do
		r = fsync(fd);
	while (r < 0 && errno == EINTR);
	return r;
}

static int ftruncate_retry(int fd, off_t len)
{
	int r;

	do
		r = ftruncate(fd, len);
	while (r < 0 && errno == EINTR);
	return r;
}

/* The directory part of path ("." when there is none); caller frees. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

/* fsync a directory, so a name created in it survives a crash. */
static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r, e;

	if (fd < 0)
		return -1;
	r = fsync_retry(fd);
	e = errno;
	close(fd);
	/* Some file systems cannot fsync a directory; nothing more to do there. */
	if (r < 0 && e == EINVAL)
		r = 0;
	errno = e;
	return r;
}

/* mkdir -p for the directories above the file at path, mode 0700, each new
 * one made durable in its parent. */
static int make_parents(const char *path, char *err, size_t errlen)
{
	char *dir = dir_of(path);
	int ret = 0;

	for (char *p = dir + 1; ; p++) {
		char saved = *p;

		if (saved != '/' && saved != '\0')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) == 0) {
			char *parent = dir_of(dir);

			if (fsync_dir(parent) < 0) {
				set_err(err, errlen, "audit log '%s': cannot sync directory '%s': %s",
					path, parent, strerror(errno));
				ret = -1;
			}
			free(parent);
		} else if (errno != EEXIST) {
			set_err(err, errlen, "audit log '%s': cannot create directory '%s': %s — %s",
				path, dir, strerror(errno), errno_hint(errno));
			ret = -1;
		}
		*p = saved;
		if (ret < 0 || saved == '\0')
			break;
	}
	free(dir);
	return ret;
}

/* A JSON string from text that may not be UTF-8 (environment, hostname):
 * bytes that are not printable ASCII become '?'. */
static json_t *json_text(const char *s)
{
	json_t *j = json_string(s);
	char *copy;

	if (j)
		return j;
	copy = xstrdup(s);
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

static json_t *operator_new(void)
{
	const char *user = getenv("USER");
	const char *ssh = getenv("SSH_CLIENT");
	char host[256] = "";
	char namebuf[64];
	json_t *op = json_object();

	if (!user || !*user) {
		struct passwd pw, *found = NULL;
		char pwbuf[1024];

		if (getpwuid_r(geteuid(), &pw, pwbuf, sizeof(pwbuf), &found) == 0 && found &&
		    found->pw_name && *found->pw_name) {
			user = found->pw_name;
			json_object_set_new(op, "user", json_text(user));
		} else {
			snprintf(namebuf, sizeof(namebuf), "uid:%ld", (long)geteuid());
			json_object_set_new(op, "user", json_string(namebuf));
		}
	} else {
		json_object_set_new(op, "user", json_text(user));
	}
	json_object_set_new(op, "ssh_client", ssh && *ssh ? json_text(ssh) : json_null());
	if (gethostname(host, sizeof(host) - 1) != 0 || !*host)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	json_object_set_new(op, "host", json_text(host));
	return op;
}

/* ------------------------------------------------------- checking one line */

struct rec_info {
	int64_t seq;
	char hash[AUDIT_HASH_HEXLEN + 1];
	char prev[AUDIT_HASH_HEXLEN + 1];
};

/*
 * Check one line (without its newline) on its own: JSON, the required
 * fields, the hash, the canonical text. The chain (prev, seq) is the
 * caller's. Returns AUDIT_VERIFY_OK with info filled, or a status and a
 * reason.
 */
static enum audit_verify_status check_line(const char *line, size_t len, struct rec_info *info,
					   char *reason, size_t rlen)
{
	enum audit_verify_status st = AUDIT_VERIFY_OK;
	json_error_t jerr;
	json_t *rec, *v;
	char *canon = NULL, *full = NULL;
	char computed[AUDIT_HASH_HEXLEN + 1];

	if (len == 0) {
		set_err(reason, rlen, "bad JSON: empty line");
		return AUDIT_VERIFY_BAD_JSON;
	}
	rec = json_loadb(line, len, LOAD_FLAGS, &jerr);
	if (!rec) {
		set_err(reason, rlen, "bad JSON: %s (column %d)", jerr.text, jerr.column);
		return AUDIT_VERIFY_BAD_JSON;
	}
	if (!json_is_object(rec)) {
		set_err(reason, rlen, "bad record: not a JSON object");
		st = AUDIT_VERIFY_BAD_RECORD;
		goto out_rec;
	}
	v = json_object_get(rec, "version");
	if (!json_is_integer(v) || json_integer_value(v) != AUDIT_RECORD_VERSION) {
		set_err(reason, rlen, "bad record: 'version' is missing or not %d",
			AUDIT_RECORD_VERSION);
		st = AUDIT_VERIFY_BAD_RECORD;
		goto out_rec;
	}
	v = json_object_get(rec, "seq");
	if (!json_is_integer(v) || json_integer_value(v) < 1) {
		set_err(reason, rlen, "bad record: 'seq' is missing or not a positive integer");
		st = AUDIT_VERIFY_BAD_RECORD;
		goto out_rec;
	}
	info->seq = json_integer_value(v);
	if (!json_is_string(json_object_get(rec, "kind")) ||
	    !json_is_string(json_object_get(rec, "at")) ||
	    !json_is_object(json_object_get(rec, "operator"))) {
		set_err(reason, rlen, "bad record: 'kind', 'at' or 'operator' is missing or mistyped");
		st = AUDIT_VERIFY_BAD_RECORD;
		goto out_rec;
	}
	v = json_object_get(rec, "prev");
	if (!json_is_string(v) || !is_hash(json_string_value(v))) {
		set_err(reason, rlen, "bad record: 'prev' is missing or not 64 hex digits");
		st = AUDIT_VERIFY_BAD_RECORD;
		goto out_rec;
	}
	memcpy(info->prev, json_string_value(v), sizeof(info->prev));
	v = json_object_get(rec, "hash");
	if (!json_is_string(v) || !is_hash(json_string_value(v))) {
		set_err(reason, rlen, "bad record: 'hash' is missing or not 64 hex digits");
		st = AUDIT_VERIFY_BAD_RECORD;
		goto out_rec;
	}
	memcpy(info->hash, json_string_value(v), sizeof(info->hash));

	json_object_del(rec, "hash");
	canon = json_dumps(rec, CANON_FLAGS);
	if (!canon) {
		set_err(reason, rlen, "bad record: cannot be serialised");
		st = AUDIT_VERIFY_BAD_RECORD;
		goto out_rec;
	}
	sha256_hex(canon, strlen(canon), computed);
	if (strcmp(computed, info->hash) != 0) {
		set_err(reason, rlen,
			"hash mismatch: the record was changed (its hash is %.12s..., its "
			"content hashes to %.12s...)", info->hash, computed);
		st = AUDIT_VERIFY_HASH_MISMATCH;
		goto out_canon;
	}
	json_object_set_new(rec, "hash", json_string(info->hash));
	full = json_dumps(rec, CANON_FLAGS);
	if (!full || strlen(full) != len || memcmp(full, line, len) != 0) {
		set_err(reason, rlen,
			"not canonical: the hash fits but the text differs from the record's "
			"canonical form (the line was edited or re-serialised)");
		st = AUDIT_VERIFY_NOT_CANONICAL;
	}
	free(full);
out_canon:
	free(canon);
out_rec:
	json_decref(rec);
	return st;
}

/* ------------------------------------------------------------- the tail */

/* Offset just after the last '\n' in [0, end), or 0 when there is none. */
static int line_start(int fd, off_t end, off_t *start)
{
	char *buf = xmalloc(CHUNK);
	off_t pos = end;
	int ret = 0;

	*start = 0;
	while (pos > 0) {
		size_t n = pos > CHUNK ? CHUNK : (size_t)pos;
		ssize_t got;

		pos -= (off_t)n;
		got = pread_full(fd, buf, n, pos);
		if (got != (ssize_t)n) {
			if (got >= 0)
				errno = EIO; /* shrank under us, despite the lock */
			ret = -1;
			break;
		}
		for (size_t i = n; i-- > 0;) {
			if (buf[i] == '\n') {
				*start = pos + (off_t)i + 1;
				goto out;
			}
		}
	}
out:
	free(buf);
	return ret;
}

/* PATH.torn-20261122T040506.123Z (then -2, -3... if taken), created 0600. */
static int create_torn_file(const char *path, struct strbuf *name)
{
	char ts[40], compact[40];
	size_t j = 0;

	clock_format_rfc3339(clock_wall_us(), ts, sizeof(ts));
	for (size_t i = 0; ts[i] && j + 1 < sizeof(compact); i++)
		if (ts[i] != '-' && ts[i] != ':')
			compact[j++] = ts[i];
	compact[j] = '\0';
	for (int n = 1; n < 1000; n++) {
		int fd;

		strbuf_reset(name);
		strbuf_addf(name, "%s.torn-%s", path, compact);
		if (n > 1)
			strbuf_addf(name, "-%d", n);
		fd = open(name->buf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

static int append_locked(struct audit *a, const char *kind, json_t *fields, char *err,
			 size_t errlen);

/*
 * The bytes [start, end) are a torn last line: copy them to a new file next
 * to the log, make that durable, then cut them off the log and chain an
 * "audit.repair" record that names the copy. Called with the flock held.
 */
static int repair_torn(struct audit *a, off_t start, off_t end, char *err, size_t errlen)
{
	struct strbuf name = STRBUF_INIT;
	char *buf = xmalloc(CHUNK), *dir = dir_of(a->path);
	char hex[AUDIT_HASH_HEXLEN + 1];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char why[512];
	json_t *fields;
	int fd, ret = -1;

	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		abort();
	fd = create_torn_file(a->path, &name);
	if (fd < 0) {
		set_err(err, errlen, "audit log '%s': its last line is torn (%lld bytes) and "
			"cannot be moved aside to '%s': %s — %s", a->path, (long long)(end - start),
			name.buf, strerror(errno), errno_hint(errno));
		goto out;
	}
	for (off_t pos = start; pos < end;) {
		size_t n = end - pos > CHUNK ? CHUNK : (size_t)(end - pos);
		ssize_t got = pread_full(a->fd, buf, n, pos);

		if (got != (ssize_t)n) {
			if (got >= 0)
				errno = EIO;
			goto fail_copy;
		}
		if (write_all(fd, buf, n) < 0)
			goto fail_copy;
		EVP_DigestUpdate(ctx, buf, n);
		pos += (off_t)n;
	}
	if (fsync_retry(fd) < 0 || fsync_dir(dir) < 0)
		goto fail_copy;
	close(fd);
	fd = -1;

	/* The copy is durable: now the log may lose the bytes. */
	if (ftruncate_retry(a->fd, start) < 0 || fsync_retry(a->fd) < 0) {
		set_err(err, errlen, "audit log '%s': cannot cut its torn last line (kept in '%s'): "
			"%s — %s", a->path, name.buf, strerror(errno), errno_hint(errno));
		goto out;
	}
	a->known_len = start;
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	for (unsigned int i = 0; i < mdlen && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	strbuf_addf(&a->notice, "audit log '%s': its last line was torn (%lld bytes without a "
		    "newline: a crash mid-write?); moved them to '%s' and continued the chain\n",
		    a->path, (long long)(end - start), name.buf);

	fields = json_object();
	json_object_set_new(fields, "torn_file", json_text(name.buf));
	json_object_set_new(fields, "torn_bytes", json_integer((json_int_t)(end - start)));
	json_object_set_new(fields, "torn_sha256", json_string(hex));
	ret = append_locked(a, "audit.repair", fields, why, sizeof(why));
	json_decref(fields);
	if (ret < 0)
		set_err(err, errlen, "audit log '%s': moved its torn last line to '%s', but "
			"recording that failed: %s", a->path, name.buf, why);
	goto out;

fail_copy:
	set_err(err, errlen, "audit log '%s': its last line is torn and copying it to '%s' "
		"failed: %s — %s; the log was not changed", a->path, name.buf, strerror(errno),
		errno_hint(errno));
	close(fd);
	fd = -1;
	unlink(name.buf);
out:
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(ctx);
	free(dir);
	free(buf);
	strbuf_release(&name);
	return ret;
}


/* The file's content up to end (> 0) ends with '\n': check the line before
 * it and continue the chain from it. */
static int load_last_record(struct audit *a, off_t end, char *err, size_t errlen)
{
	struct rec_info info;
	char reason[320];
	off_t start;
	char *line;
	ssize_t got;

	if (line_start(a->fd, end - 1, &start) < 0)
		goto read_error;
	if (end - 1 - start > MAX_TAIL_LINE) {
		set_err(err, errlen, "audit log '%s': its last line is %lld bytes long, not a "
			"record; run 'cockpit audit verify %s'", a->path,
			(long long)(end - 1 - start), a->path);
		return -1;
	}
	line = xmalloc((size_t)(end - start));
	got = pread_full(a->fd, line, (size_t)(end - 1 - start), start);
	if (got != (ssize_t)(end - 1 - start)) {
		free(line);
		if (got >= 0)
			errno = EIO;
		goto read_error;
	}
	if (check_line(line, (size_t)got, &info, reason, sizeof(reason)) != AUDIT_VERIFY_OK) {
		free(line);
		set_err(err, errlen, "audit log '%s': its last record is not valid (%s); run "
			"'cockpit audit verify %s' and move the file aside", a->path, reason,
			a->path);
		return -1;
	}
	free(line);
	if (info.seq == INT64_MAX) {
		set_err(err, errlen, "audit log '%s': its last record's seq is the largest there "
			"is; point paths.audit_log at a new file", a->path);
		return -1;
	}
	if (info.seq < a->seq) {
		set_err(err, errlen, "audit log '%s': its last record has seq %lld, before the "
			"%lld we wrote; run 'cockpit audit verify %s'", a->path,
			(long long)info.seq, (long long)a->seq, a->path);
		return -1;
	}
	a->seq = info.seq;
	memcpy(a->prev, info.hash, sizeof(a->prev));
	a->known_len = end;
	return 0;

read_error:
	set_err(err, errlen, "audit log '%s': cannot read: %s — %s", a->path, strerror(errno),
		errno_hint(errno));
	return -1;
}

/*
 * (Re)load the end of the chain from the file, repairing a torn tail first.
 * Called with the flock held: at open, and whenever the file's length is not
 * the one we left (another writer appended, or crashed mid-append).
 */
static int load_tail(struct audit *a, char *err, size_t errlen)
{
	struct stat st;
	off_t size, start;
	ssize_t got;
	char last;

	if (fstat(a->fd, &st) < 0)
		goto read_error;
	size = st.st_size;
	if (size < a->known_len) {
		set_err(err, errlen, "audit log '%s': shrank from %lld to %lld bytes since our last "
			"append (records removed?); run 'cockpit audit verify %s'", a->path,
			(long long)a->known_len, (long long)size, a->path);
		return -1;
	}
	if (size == 0) {
		a->seq = 0;
		memcpy(a->prev, ZERO_HASH, sizeof(a->prev));
		a->known_len = 0;
		return 0;
	}
	got = pread_full(a->fd, &last, 1, size - 1);
	if (got != 1) {
		if (got >= 0)
			errno = EIO;
		goto read_error;
	}
	if (last == '\n')
		return load_last_record(a, size, err, errlen);

	/* Torn: the chain ends at the last complete line before the tail. */
	if (line_start(a->fd, size, &start) < 0)
		goto read_error;
	if (start < a->known_len) {
		set_err(err, errlen, "audit log '%s': a record already written lost its newline; "
			"run 'cockpit audit verify %s'", a->path, a->path);
		return -1;
	}
	if (start > 0) {
		if (load_last_record(a, start, err, errlen) < 0)
			return -1;
	} else {
		a->seq = 0;
		memcpy(a->prev, ZERO_HASH, sizeof(a->prev));
		a->known_len = 0;
	}
	return repair_torn(a, start, size, err, errlen);

read_error:
	set_err(err, errlen, "audit log '%s': cannot read: %s — %s", a->path, strerror(errno),
		errno_hint(errno));
	return -1;
}

/* ------------------------------------------------------------ the lock */

/* The pid holding an flock on the file (dev, ino), from /proc/locks; 0 when
 * unknown (no /proc, another pid namespace...). */
static long lock_holder(dev_t dev, ino_t ino)
{
	FILE *f = fopen("/proc/locks", "re");
	char line[256];
	long pid = 0;

	if (!f)
		return 0;
	while (!pid && fgets(line, sizeof(line), f)) {
		char type[16], mode[16], rw[16];
		unsigned int maj, min;
		unsigned long long i;
		long p;

		if (strstr(line, "->")) /* a waiter, not the holder */
			continue;
		if (sscanf(line, "%*[^:]: %15s %15s %15s %ld %x:%x:%llu", type, mode, rw, &p, &maj,
			   &min, &i) == 7 &&
		    strcmp(type, "FLOCK") == 0 && i == (unsigned long long)ino &&
		    makedev(maj, min) == dev)
			pid = p;
	}
	fclose(f);
	return pid;
}

static int lock_file(struct audit *a, char *err, size_t errlen)
{
	int64_t deadline = clock_mono_ms() + a->lock_timeout_ms;
	long nap_us = 50;

	for (;;) {
		struct timespec ts;
		long pid;

		if (flock(a->fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			set_err(err, errlen, "audit log '%s': cannot lock: %s", a->path,
				strerror(errno));
			return -1;
		}
		if (clock_mono_ms() >= deadline) {
			pid = lock_holder(a->dev, a->ino);
			if (pid > 0)
				set_err(err, errlen, "audit log '%s': locked by another writer (pid "
					"%ld) for more than %d ms — check that process", a->path, pid,
					a->lock_timeout_ms);
			else
				set_err(err, errlen, "audit log '%s': locked by another writer for "
					"more than %d ms — check for a hung cockpit", a->path,
					a->lock_timeout_ms);
			return -1;
		}
		/* Another writer holds it for one write and one fsync: back off
		 * from 50 µs to 5 ms. */
		ts.tv_sec = 0;
		ts.tv_nsec = nap_us * 1000;
		nanosleep(&ts, NULL);
		if (nap_us < 5000)
			nap_us *= 2;
	}
}

static void unlock_file(struct audit *a)
{
	while (flock(a->fd, LOCK_UN) < 0 && errno == EINTR)
		;
}

/* --------------------------------------------------------------- append */

/*
 * Build, write and fsync one record. Called with the flock held and the
 * chain's end loaded (known_len is the file's length). On failure the file
 * is cut back to known_len.
 */
static int append_locked(struct audit *a, const char *kind, json_t *fields, char *err,
			 size_t errlen)
{
	struct strbuf line = STRBUF_INIT;
	char at[40], hash[AUDIT_HASH_HEXLEN + 1];
	json_t *rec = json_object();
	char *canon = NULL, *text = NULL;
	int ret = -1, e;

	if (fields)
		json_object_update(rec, fields);
	json_object_set_new(rec, "version", json_integer(AUDIT_RECORD_VERSION));
	json_object_set_new(rec, "seq", json_integer(a->seq + 1));
	json_object_set_new(rec, "at",
			    json_string(clock_format_rfc3339(clock_wall_us(), at, sizeof(at))));
	json_object_set_new(rec, "kind", json_string(kind));
	json_object_set(rec, "operator", a->operator);
	json_object_set_new(rec, "prev", json_string(a->prev));
	canon = json_dumps(rec, CANON_FLAGS);
	if (!canon) {
		set_err(err, errlen, "audit log '%s': the '%s' record cannot be serialised (a "
			"field holds a string that is not UTF-8?)", a->path, kind);
		goto out;
	}
	sha256_hex(canon, strlen(canon), hash);
	json_object_set_new(rec, "hash", json_string(hash));
	text = json_dumps(rec, CANON_FLAGS);
	if (!text) {
		set_err(err, errlen, "audit log '%s': out of memory serialising a record", a->path);
		goto out;
	}
	strbuf_addstr(&line, text);
	strbuf_addch(&line, '\n');

	if (write_all(a->fd, line.buf, line.len) < 0) {
		e = errno;
		set_err(err, errlen, "audit log '%s': %s — %s", a->path, strerror(e), errno_hint(e));
		goto cut;
	}
	if (fsync_retry(a->fd) < 0) {
		e = errno;
		/* After a failed fsync the page cache may say one thing and the
		 * disk another: trust neither again until the log is reopened. */
		a->poisoned = e;
		set_err(err, errlen, "audit log '%s': fsync failed: %s — %s", a->path, strerror(e),
			errno_hint(e));
		goto cut;
	}
	a->known_len += (off_t)line.len;
	a->seq++;
	memcpy(a->prev, hash, sizeof(a->prev));
	ret = 0;
	goto out;

cut:
	/* Leave no part of an unacknowledged record behind. */
	if (ftruncate_retry(a->fd, a->known_len) < 0 || fsync_retry(a->fd) < 0) {
		size_t n = err ? strlen(err) : 0;

		if (err && n < errlen)
			snprintf(err + n, errlen - n, " (and cutting the partial record off failed: "
				 "%s; it will be moved aside on the next append)", strerror(errno));
	}
out:
	free(text);
	free(canon);
	json_decref(rec);
	strbuf_release(&line);
	return ret;
}

/* The path must still name the file we opened: appending to a file renamed
 * away or replaced would hide records from whoever reads the path. */
static int check_identity(struct audit *a, char *err, size_t errlen)
{
	struct stat st;

	if (stat(a->path, &st) < 0) {
		set_err(err, errlen, "audit log '%s': the file is gone since it was opened (%s) — "
			"restore it or restart cockpit", a->path, strerror(errno));
		return -1;
	}
	if (st.st_dev != a->dev || st.st_ino != a->ino) {
		set_err(err, errlen, "audit log '%s': the file was replaced since it was opened — "
			"restart cockpit to continue in the new file", a->path);
		return -1;
	}
	return 0;
}

static int check_args(const char *kind, json_t *fields, char *err, size_t errlen)
{
	json_t *k;

	if (!kind || !*kind || !(k = json_string(kind))) {
		set_err(err, errlen, "audit: record kind must be a non-empty UTF-8 string");
		return -1;
	}
	json_decref(k);
	if (!fields)
		return 0;
	if (!json_is_object(fields)) {
		set_err(err, errlen, "audit: fields of a '%s' record must be a JSON object", kind);
		return -1;
	}
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		if (json_object_get(fields, reserved[i])) {
			set_err(err, errlen, "audit: field '%s' of a '%s' record is reserved",
				reserved[i], kind);
			return -1;
		}
	}
	return 0;
}

int audit_append(struct audit *a, const char *kind, json_t *fields, char *err, size_t errlen)
{
	struct stat st;
	int ret = -1;

	assert(a);
	if (check_args(kind, fields, err, errlen) < 0)
		goto suffix;
	pthread_mutex_lock(&a->mu);
	if (a->poisoned) {
		set_err(err, errlen, "audit log '%s': an earlier fsync failed (%s), so what is on "
			"disk is unknown — check the disk (dmesg) and restart cockpit", a->path,
			strerror(a->poisoned));
		goto unlock_mu;
	}
	if (check_identity(a, err, errlen) < 0 || lock_file(a, err, errlen) < 0)
		goto unlock_mu;
	if (fstat(a->fd, &st) < 0) {
		set_err(err, errlen, "audit log '%s': cannot stat: %s", a->path, strerror(errno));
		goto unlock_file;
	}
	if (st.st_size != a->known_len && load_tail(a, err, errlen) < 0)
		goto unlock_file;
	ret = append_locked(a, kind, fields, err, errlen);
unlock_file:
	unlock_file(a);
unlock_mu:
	pthread_mutex_unlock(&a->mu);
suffix:
	if (ret < 0 && err && errlen) {
		size_t n = strlen(err);

		snprintf(err + n, errlen - n, "; nothing was executed");
	}
	return ret;
}

/* ----------------------------------------------------------------- open */

struct audit *audit_open(const char *path, char *err, size_t errlen)
{
	struct audit *a;
	struct stat st;
	int fd = -1, created = 0;
	char *dir;

	if (!path || !*path) {
		set_err(err, errlen, "audit log: no path — set paths.audit_log");
		return NULL;
	}
	if (make_parents(path, err, errlen) < 0)
		return NULL;
	/* O_EXCL first, to know whether we created it (then its name must be
	 * made durable); retry if it vanishes between the two opens. */
	for (int tries = 0; tries < 3; tries++) {
		fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0) {
			created = 1;
			break;
		}
		if (errno != EEXIST)
			break;
		fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT)
			break;
	}
	if (fd < 0) {
		set_err(err, errlen, "audit log '%s': cannot open: %s — %s", path, strerror(errno),
			errno_hint(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		set_err(err, errlen, "audit log '%s': not a regular file — point paths.audit_log "
			"at a file", path);
		close(fd);
		return NULL;
	}
	if (created) {
		dir = dir_of(path);
		if (fsync_dir(dir) < 0) {
			set_err(err, errlen, "audit log '%s': cannot sync directory '%s': %s — %s",
				path, dir, strerror(errno), errno_hint(errno));
			free(dir);
			close(fd);
			return NULL;
		}
		free(dir);
	}

	a = xcalloc(1, sizeof(*a));
	pthread_mutex_init(&a->mu, NULL);
	a->fd = fd;
	a->path = xstrdup(path);
	a->dev = st.st_dev;
	a->ino = st.st_ino;
	a->lock_timeout_ms = AUDIT_LOCK_TIMEOUT_MS;
	memcpy(a->prev, ZERO_HASH, sizeof(a->prev));
	a->operator = operator_new();
	strbuf_init(&a->notice, 0);

	if (lock_file(a, err, errlen) < 0)
		goto fail;
	if (load_tail(a, err, errlen) < 0) {
		unlock_file(a);
		goto fail;
	}
	unlock_file(a);
	return a;

fail:
	audit_close(a);
	return NULL;
}

char *audit_take_notice(struct audit *a)
{
	char *s = NULL;

	pthread_mutex_lock(&a->mu);
	if (a->notice.len) {
		if (a->notice.buf[a->notice.len - 1] == '\n')
			a->notice.buf[--a->notice.len] = '\0';
		s = strbuf_detach(&a->notice, NULL);
	}
	pthread_mutex_unlock(&a->mu);
	return s;
}

void audit_set_lock_timeout(struct audit *a, int ms)
{
	assert(ms > 0);
	pthread_mutex_lock(&a->mu);
	a->lock_timeout_ms = ms;
	pthread_mutex_unlock(&a->mu);
}

void audit_close(struct audit *a)
{
	if (!a)
		return;
	close(a->fd);
	json_decref(a->operator);
	strbuf_release(&a->notice);
	free(a->path);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

/* --------------------------------------------------------------- verify */

__attribute__((format(printf, 4, 5)))
static int verify_fail(struct audit_verify_result *res, enum audit_verify_status st,
		       int64_t line, const char *fmt, ...)
{
	va_list ap;

	res->status = st;
	res->line = line;
	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	va_end(ap);
	return 1;
}

int audit_verify(const char *path, struct audit_verify_result *res, char *err, size_t errlen)
{
	char prev[AUDIT_HASH_HEXLEN + 1];
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int64_t lineno = 0, seq = 0;
	int ret = 0;
	FILE *f;

	assert(res);
	memset(res, 0, sizeof(*res));
	memcpy(prev, ZERO_HASH, sizeof(prev));
	f = fopen(path, "rbe");
	if (!f) {
		set_err(err, errlen, "audit log '%s': cannot open: %s", path, strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		struct rec_info info;
		char reason[sizeof(res->reason)];
		enum audit_verify_status st;

		lineno++;
		if (line[n - 1] != '\n') {
			ret = verify_fail(res, AUDIT_VERIFY_TORN, lineno,
					  "torn last line: %lld bytes without a newline (a crash "
					  "mid-write?); opening the log moves them aside",
					  (long long)n);
			break;
		}
		st = check_line(line, (size_t)n - 1, &info, reason, sizeof(reason));
		if (st != AUDIT_VERIFY_OK) {
			ret = verify_fail(res, st, lineno, "%s", reason);
			break;
		}
		if (strcmp(info.prev, prev) != 0) {
			if (lineno == 1)
				ret = verify_fail(res, AUDIT_VERIFY_PREV_MISMATCH, lineno,
						  "prev mismatch: the first record's prev is %.12s..., "
						  "not zeros (records before it were removed?)",
						  info.prev);
			else
				ret = verify_fail(res, AUDIT_VERIFY_PREV_MISMATCH, lineno,
						  "prev mismatch: prev is %.12s... but line %lld "
						  "hashes to %.12s... (a record was removed or "
						  "reordered)", info.prev, (long long)(lineno - 1),
						  prev);
			break;
		}
		if (info.seq != seq + 1) {
			ret = verify_fail(res, AUDIT_VERIFY_SEQ_GAP, lineno,
					  "seq gap: expected seq %lld, found %lld",
					  (long long)(seq + 1), (long long)info.seq);
			break;
		}
		seq = info.seq;
		memcpy(prev, info.hash, sizeof(prev));
		res->records++;
		res->last_seq = seq;
		memcpy(res->last_hash, info.hash, sizeof(res->last_hash));
	}
	if (ret == 0 && ferror(f)) {
		set_err(err, errlen, "audit log '%s': read error: %s", path, strerror(errno));
		ret = -1;
	}
	free(line);
	fclose(f);
	return ret;
}

int audit_cmd_verify(const char *path)
{
	struct audit_verify_result res;
	char err[512];
	int r = audit_verify(path, &res, err, sizeof(err));

	if (r < 0) {
		fprintf(stderr, "cockpit: %s\n", err);
		return 1;
	}
	if (r > 0) {
		fprintf(stderr, "%s:%lld: %s\n", path, (long long)res.line, res.reason);
		return 1;
	}
	printf("%s: %lld record%s, chain intact\n", path, (long long)res.records,
	       res.records == 1 ? "" : "s");
	return 0;
}
