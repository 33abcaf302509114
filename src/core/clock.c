/*
 * clock: monotonic and wall clocks, RFC 3339 formatting and parsing; see clock.h.
 */
#include "core/clock.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t ts_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t clock_mono_us(void)
{
	return ts_us(CLOCK_MONOTONIC);
}

int64_t clock_mono_ms(void)
{
	return ts_us(CLOCK_MONOTONIC) / 1000;
}

int64_t clock_wall_us(void)
{
	return ts_us(CLOCK_REALTIME);
}

const char *clock_format_rfc3339(int64_t wall_us, char *buf, size_t size)
{
	time_t secs = (time_t)(wall_us / 1000000);
	int ms = (int)((wall_us % 1000000) / 1000);
	struct tm tm;

	if (ms < 0) {
		ms += 1000;
		secs--;
	}
	gmtime_r(&secs, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
	return buf;
}

static int digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)**p))
			return -1;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*out = v;
	return 0;
}

int clock_parse_timestamp(const char *s, int64_t *wall_us)
{
	struct tm tm;
	int y, mo, d, h, mi, sec;
	int64_t frac = 0, scale = 1000000;
	long off = 0;
	time_t t;
	const char *p = s;

	memset(&tm, 0, sizeof(tm));
	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
	    digits(&p, 2, &d) || (*p != ' ' && *p != 'T') || (p++, digits(&p, 2, &h)) ||
	    *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' || digits(&p, 2, &sec))
		return -1;
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p)) {
			if (scale > 1) {
				frac = frac * 10 + (*p - '0');
				scale /= 10;
			}
			p++;
		}
		frac *= scale;
	}
	while (*p == ' ')
		p++;
	if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, oh = 0, om = 0;

		p++;
		if (digits(&p, 2, &oh))
			return -1;
		if (*p == ':')
			p++;
		if (isdigit((unsigned char)*p) && digits(&p, 2, &om))
			return -1;
		off = sign * (oh * 3600L + om * 60L);
	}
	/* "Z", "UTC", "GMT" or no zone: UTC. Other zone names cannot be resolved
	 * reliably here; they are treated as UTC too (callers set log_timezone=UTC
	 * or use the epoch columns when they can). */
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	*wall_us = ((int64_t)t - off) * 1000000 + frac;
	return 0;
}

void clock_sleep_ms(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}
