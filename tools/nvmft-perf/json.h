/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A small streaming JSON writer: objects and arrays nest, commas and
 * string escaping are handled here.  Numbers that are not finite print as
 * null so the output always parses.
 */
#ifndef NVMFT_PERF_JSON_H
#define NVMFT_PERF_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JW_MAX_DEPTH 16

struct jw {
	FILE *f;
	int depth;
	bool need_comma[JW_MAX_DEPTH];
};

void jw_init(struct jw *w, FILE *f);
/* @key is NULL inside arrays and for the outermost value. */
void jw_obj_begin(struct jw *w, const char *key);
void jw_obj_end(struct jw *w);
void jw_arr_begin(struct jw *w, const char *key);
void jw_arr_end(struct jw *w);
void jw_str(struct jw *w, const char *key, const char *val); /* NULL prints null */
void jw_u64(struct jw *w, const char *key, uint64_t val);
void jw_i64(struct jw *w, const char *key, int64_t val);
/* @prec digits after the point. */
void jw_dbl(struct jw *w, const char *key, double val, int prec);
void jw_bool(struct jw *w, const char *key, bool val);
void jw_null(struct jw *w, const char *key);
/* Finish the document with a newline. */
void jw_end(struct jw *w);

#endif
