/* tz.h - time zones for logger files written in local time (tz.c).
 *
 * Loggers write wall-clock time without a zone; the pharmacist names the zone the logger kept
 * (`ctm temp import ... --tz Europe/Stockholm`), and libctm stores UTC.  A zone is one of:
 *   - "UTC" or "Z": no offset;
 *   - a fixed offset: "+01:00", "-05:30", "+0100", "+01" (hours 0-14, minutes 0-59): a logger
 *     that ignores daylight saving time keeps its standard offset all year;
 *   - an IANA zone name ("Europe/Stockholm"): 1-255 bytes of [A-Za-z0-9._+/-], no empty part, no
 *     "." or ".." part, not starting with '/'; read from the system's zoneinfo directory
 *     (/usr/share/zoneinfo, or the directory the environment variable TZDIR names), a TZif file
 *     (RFC 8536, versions 1 to 4; the 64-bit data of versions 2 and later is used), whose POSIX TZ
 *     footer rule (e.g. "CET-1CEST,M3.5.0,M10.5.0/3") gives the offsets after its last
 *     transition (Debian's "slim" files hold no transitions past the last rule change).
 *
 * Local time is counted like UTC: seconds since 1970-01-01 00:00 of the wall clock.  Converting it
 * has three outcomes:
 *   - unique: one instant;
 *   - ambiguous: when the clocks go back, a wall-clock time happens twice; both instants are given
 *     (first the earlier), and the caller chooses (a series of readings takes the first that
 *     does not go back in time);
 *   - a gap: when the clocks go forward, a wall-clock time never happens; CTM_ERULE, the message
 *     naming the local time and the zone (the logger did not follow the zone's daylight saving
 *     time: name its fixed offset instead).
 */
#ifndef CTM_TZ_H
#define CTM_TZ_H

#include <stddef.h>
#include <stdint.h>

typedef struct ctm__tz ctm__tz;

/* The zone named `name` (rules above).  CTM_EINVAL for a name that is none of the forms above,
 * CTM_ENOTFOUND for a zone name with no file (or not a regular file), CTM_EIO when the file
 * cannot be read, CTM_EINVAL (naming the zone) for a file larger than 1 MiB or not valid TZif;
 * CTM_ENOMEM.  On failure *out is NULL.  Free the zone with ctm__tz_free(). */
int ctm__tz_open(ctm__tz **out, const char *name);

/* The zone in a TZif text of len bytes (as read from a zoneinfo file), named `name` in messages.
 * The whole text is checked: every count, index and length within bounds, transitions in
 * increasing order, offsets within +-25 h, the footer a valid POSIX TZ rule when present.
 * ctm__tz_open uses it; the fuzz target calls it directly. */
int ctm__tz_parse(ctm__tz **out, const char *name, const uint8_t *text, size_t len);

void ctm__tz_free(ctm__tz *z); /* NULL is fine */

/* Local wall-clock seconds for messages: "2024-03-31 02:30" (":ss" too when the seconds are not
 * zero). */
void ctm__tz_format_local(int64_t local_s, char out[40]);

/* The zone's name as given (borrowed). */
const char *ctm__tz_name(const ctm__tz *z);

/* The UTC offset (seconds east of Greenwich) in force at the instant utc_s. */
int32_t ctm__tz_offset(const ctm__tz *z, int64_t utc_s);

/* The instant(s) of the wall-clock time local_s: *n is 1 (unique: utc[0]) or 2 (ambiguous:
 * utc[0] < utc[1]; should a hostile file make a time happen three times, the first and the
 * last).  CTM_ERULE when local_s falls in a gap ("2024-03-31 02:30 does not exist in
 * Europe/Stockholm: the clocks went forward"), CTM_EINVAL for a local time more than 2^40 s
 * (about 34,000 years) from 1970; *n is 0 then. */
int ctm__tz_to_utc(const ctm__tz *z, int64_t local_s, int64_t utc[2], int *n);

#endif
