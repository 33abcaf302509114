/*
 * format: compact human forms of durations, sizes, counts and shares; see
 * format.h.
 *
 * Every decimal is produced with integer arithmetic rather than "%.1f", so
 * output does not change with LC_NUMERIC once the TUI has called
 * setlocale(LC_ALL, ""). Values are scaled first and rounded once, and a
 * value that rounds up to the next unit is shown in that unit ("1.0 MiB",
 * never "1024 KiB").
 */
#include "ui/format.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define EPS 1e-6 /* absorbs binary noise: 4.2 is 4.19999... */

static char *put(char *buf, size_t size, const char *s)
{
	if (size)
		snprintf(buf, size, "%s", s);
	return buf;
}

char *fmt_duration(double seconds, char *buf, size_t size)
{
	long long t;

	if (!size)
		return buf;
	if (!isfinite(seconds) || seconds < 0)
		return put(buf, size, "-");
	if (seconds < 1) {
		t = (long long)floor(seconds * 1000 + EPS);
		if (t < 1000) {
			snprintf(buf, size, "%lldms", t);
			return buf;
		}
	}
	if (seconds < 10) {
		t = (long long)floor(seconds * 10 + EPS);
		if (t < 100) {
			snprintf(buf, size, "%lld.%llds", t / 10, t % 10);
			return buf;
		}
	}
	if (seconds > 1e12) /* 31,000 years: keep the arithmetic in range */
		seconds = 1e12;
	t = (long long)floor(seconds + EPS);
	if (t < 60)
		snprintf(buf, size, "%llds", t);
	else if (t < 3600)
		snprintf(buf, size, "%lldm%02llds", t / 60, t % 60);
	else if (t < 86400)
		snprintf(buf, size, "%lldh%02lldm", t / 3600, t % 3600 / 60);
	else
		snprintf(buf, size, "%lldd%02lldh", t / 86400, t % 86400 / 3600);
	return buf;
}

char *fmt_age(double seconds, char *buf, size_t size)
{
	if (isfinite(seconds) && seconds >= 0 && seconds < 1)
		return put(buf, size, "<1s");
	return fmt_duration(seconds, buf, size);
}

double fmt_age_key(double seconds)
{
	double unit;

	if (!isfinite(seconds) || seconds < 0)
		return -1;
	if (seconds < 1)
		return 0;
	if (seconds > 1e12)
		seconds = 1e12;
	/* fmt_duration's resolution at this magnitude, as it truncates. */
	unit = seconds < 10 ? 0.1 : seconds < 3600 ? 1 : seconds < 86400 ? 60 : 3600;
	return floor(seconds / unit + EPS) * unit;
}

/*
 * v >= 0 already divided down to unit u of units[0..nunits) (v < base unless
 * u is the last unit). Prints one decimal below 9.95, else an integer, moving
 * to the next unit when rounding reaches base. sep goes between number and
 * unit ("1.2 KiB" vs "1.2k").
 */
static void scaled(char *buf, size_t size, double v, double base, const char *const *units,
		   size_t nunits, size_t u, const char *sep, bool decimal_ok)
{
	long long r;

	if (decimal_ok && v < 9.95) {
		r = llround(v * 10);
		snprintf(buf, size, "%lld.%lld%s%s", r / 10, r % 10, units[u][0] ? sep : "",
			 units[u]);
		return;
	}
	r = llround(v);
	if (r >= (long long)base && u + 1 < nunits) {
		snprintf(buf, size, "1.0%s%s", sep, units[u + 1]);
		return;
	}
	snprintf(buf, size, "%lld%s%s", r, units[u][0] ? sep : "", units[u]);
}

char *fmt_bytes(int64_t bytes, char *buf, size_t size)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	const size_t nunits = sizeof(units) / sizeof(units[0]);
	double v;
	size_t u = 0;

	if (!size)
		return buf;
	if (bytes < 0)
		return put(buf, size, "?");
	if (bytes < 1024) {
		snprintf(buf, size, "%lld B", (long long)bytes);
		return buf;
	}
	v = (double)bytes;
	while (v >= 1024 && u + 1 < nunits) {
		v /= 1024;
		u++;
	}
	scaled(buf, size, v, 1024, units, nunits, u, " ", true);
	return buf;
}

char *fmt_count(double n, char *buf, size_t size)
{
	static const char *const units[] = { "", "k", "M", "G", "T", "P", "E" };
	const size_t nunits = sizeof(units) / sizeof(units[0]);
	size_t u = 0, off = 0;

	if (!size)
		return buf;
	if (isnan(n))
		return put(buf, size, "-");
	if (n < 0) {
		if (size < 2)
			return put(buf, size, "");
		buf[0] = '-';
		off = 1;
		n = -n;
	}
	if (isinf(n))
		n = 1e18;
	if (n < 1000) {
		/* integers stay integers; a fractional rate below 10 keeps a decimal */
		bool frac = n < 9.95 && fabs(n - round(n)) >= 0.05;

		scaled(buf + off, size - off, n, 1000, units, nunits, 0, "", frac);
		return buf;
	}
	while (n >= 1000 && u + 1 < nunits) {
		n /= 1000;
		u++;
	}
	scaled(buf + off, size - off, n, 1000, units, nunits, u, "", true);
	return buf;
}

char *fmt_percent(double fraction, char *buf, size_t size)
{
	double p;
	long long r;

	if (!size)
		return buf;
	if (isnan(fraction) || fraction < 0)
		return put(buf, size, "-");
	p = fraction * 100;
	if (p > 1e15)
		p = 1e15;
	if (fraction > 0 && p < 0.5)
		return put(buf, size, "<1%");
	r = llround(p);
	if (r >= 100 && fraction < 1)
		r = 99;
	snprintf(buf, size, "%lld%%", r);
	return buf;
}

char *fmt_age_since(double then, double now, char *buf, size_t size)
{
	if (!(then > 0)) /* also NaN */
		return put(buf, size, "-");
	if (now < then)
		now = then;
	return fmt_duration(now - then, buf, size);
}

static bool is_space(unsigned char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* Bytes of the UTF-8 sequence lead byte b announces (1 for anything else). */
static size_t seq_len(unsigned char b)
{
	if (b >= 0xF0 && b <= 0xF7)
		return 4;
	if (b >= 0xE0)
		return 3;
	if (b >= 0xC0)
		return 2;
	return 1;
}

char *fmt_oneline(const char *s, char *buf, size_t size)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t len = 0;
	bool space = false, cut = false;

	if (!size)
		return buf;
	for (; *p; p++) {
		if (is_space(*p)) {
			space = len > 0;
			continue;
		}
		if (len + (space ? 2 : 1) >= size) {
			cut = true;
			break;
		}
		if (space)
			buf[len++] = ' ';
		space = false;
		buf[len++] = (char)*p;
	}
	if (cut && len > 0) {
		/* drop a sequence whose tail did not fit */
		size_t i = len;

		while (i > 0 && ((unsigned char)buf[i - 1] & 0xC0) == 0x80)
			i--;
		if (i > 0) {
			unsigned char lead = (unsigned char)buf[i - 1];

			if (lead >= 0xC0 && seq_len(lead) > len - (i - 1))
				len = i - 1;
		}
	}
	buf[len] = '\0';
	return buf;
}
