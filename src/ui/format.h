/*
 * format: the compact human forms of numbers that every screen shows.
 *
 * One place decides how a duration, a size, a count or a share looks, so the
 * sessions table, the lock tree and the disk panel agree ("3m07s" everywhere,
 * never "187s" on one screen and "3:07" on another). Each function writes
 * into the caller's buffer, always NUL-terminates it (truncating when size is
 * too small) and returns buf, so calls nest inside printf arguments.
 * Pure and thread-safe; no locale-dependent output (the decimal point is
 * always '.').
 *
 * FMT_SHORT is large enough for every function here except fmt_oneline.
 */
#ifndef COCKPIT_UI_FORMAT_H
#define COCKPIT_UI_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define FMT_SHORT 24

/* Duration in seconds: "0ms", "850ms", "4.2s", "42s", "3m07s", "2h05m",
 * "3d04h". Truncates toward zero (never rounds up into the next unit).
 * Negative, NaN or infinite: "-". */
char *fmt_duration(double seconds, char *buf, size_t size);
/* A session's age (how long its transaction, query or idleness has lasted)
 * as the Sessions screen shows it: fmt_duration, but "<1s" under a second.
 * An age shorter than the refresh period is sampling noise; printing its
 * milliseconds repainted, and re-sorted, every short transaction's row on
 * every refresh. */
char *fmt_age(double seconds, char *buf, size_t size);
/* The value fmt_age prints, in seconds, for sorting by it: two ages that
 * print the same get the same key (so a stable sort keeps their rows where
 * they were), and keys order as the printed values do. Under a second: 0;
 * negative, NaN or infinite ("-"): -1. */
double fmt_age_key(double seconds);
/* Size in bytes, binary units: "0 B", "812 B", "1.2 KiB", "812 KiB",
 * "1.2 GiB" (one decimal below 10). Negative (unknown): "?". */
char *fmt_bytes(int64_t bytes, char *buf, size_t size);
/* Count: "999", "1.2k", "12k", "1.2M", "3.4G"; fractional values below 10
 * keep one decimal ("2.5", a rate). Negative keeps its sign; NaN: "-". */
char *fmt_count(double n, char *buf, size_t size);
/* Fraction as a percentage: 0.853 -> "85%", 1 -> "100%"; a non-zero value
 * that would round to 0% or 100% shows as "<1%" or "99%", so a nearly full
 * disk never reads as full. Negative or NaN (unknown): "-". */
char *fmt_percent(double fraction, char *buf, size_t size);
/* Time elapsed from then to now (epoch seconds) as fmt_duration; "-" when
 * then <= 0 (NULL in PostgreSQL). Clock skew (now < then) shows as "0ms". */
char *fmt_age_since(double then, double now, char *buf, size_t size);
/* s on one line: every run of whitespace (newlines, tabs, ...) becomes one
 * space and leading whitespace goes, so a multi-line query fits a table
 * cell. Truncates at size without splitting a UTF-8 sequence. NULL -> "". */
char *fmt_oneline(const char *s, char *buf, size_t size);

#endif
