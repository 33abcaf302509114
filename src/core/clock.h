/*
 * clock: the two clocks cockpit uses. Monotonic milliseconds for ages,
 * periods and timeouts (never jumps); wall-clock microseconds for timestamps
 * shown to people and written to JSON.
 */
#ifndef COCKPIT_CORE_CLOCK_H
#define COCKPIT_CORE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

int64_t clock_mono_ms(void);
int64_t clock_mono_us(void);
int64_t clock_wall_us(void); /* microseconds since the Unix epoch */
/* Format wall-clock µs as RFC 3339 UTC with milliseconds into buf (>= 32 bytes). */
const char *clock_format_rfc3339(int64_t wall_us, char *buf, size_t size);
/* Parse an RFC 3339 / PostgreSQL timestamptz text ("2026-11-22 04:05:06.123+00")
 * into µs since the epoch; returns 0 on success, -1 when unparsable. */
int clock_parse_timestamp(const char *s, int64_t *wall_us);
/* Sleep for ms milliseconds (restarts on EINTR). */
void clock_sleep_ms(int64_t ms);

#endif
