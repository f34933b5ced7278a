/*
 * Identifiers of the batch format: Iranian national codes (mod-11 check
 * digit, all-equal codes invalid), medical council numbers, pack ids (uid).
 *
 * A pack id is *valid* for authenticity (adjudication.md K07) when it is 20
 * ASCII digits with the 6th digit '0' (a unit-level pack). Dropping that
 * known digit leaves 19 digits, which fit a uint64 exactly, so the pack-id
 * set stores 8-byte keys with no collisions: ids_uid_pack is injective on
 * valid uids.
 */
#ifndef ADJ_CORE_BASE_IDS_H
#define ADJ_CORE_BASE_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/err.h"

/* Checks 10 ASCII digits (fold first). ADJ_OK, E_NATIONAL_ID_LENGTH,
 * E_NATIONAL_ID_CHECK or E_NATIONAL_ID_INVALID (all digits equal). */
enum adj_err ids_nid_check(const char digits[], size_t len);

/* Parses a national code of any digit script into its numeric value
 * (0..9,999,999,999) after the check. *err_offset as text_parse_u64. */
enum adj_err ids_nid_parse(const char *s, size_t len, uint64_t *out, size_t *err_offset);

/* Computes the check digit for 9 leading digits; returns 0..9. */
int ids_nid_check_digit(const char digits9[9]);

/* True for a well-formed uid: 1..40 bytes of [0-9A-Za-z]. */
bool ids_uid_well_formed(const char *s, size_t len);

/* Sentinel for a uid that is well formed but not a valid unit-level pack. */
#define IDS_UID_INVALID UINT64_MAX

/* Packs a uid into its 64-bit key, or IDS_UID_INVALID if it is not 20 ASCII
 * digits with 6th digit '0'. */
uint64_t ids_uid_pack(const char *s, size_t len);
/* The inverse for valid keys: writes the 20 digits and NUL (buf 21 bytes). */
void ids_uid_unpack(uint64_t key, char buf[21]);

#endif
