/* json.h — a small streaming JSON writer with correct string escaping. */
#ifndef USOCK_JSON_H
#define USOCK_JSON_H

#include <stdio.h>

#define JSON_DEPTH 16

struct json {
	FILE *f;
	int depth;
	int count[JSON_DEPTH]; /* values written so far at each depth */
	int after_key;
	int lines;             /* put each element of the top array on a line */
};

void json_init(struct json *j, FILE *f, int lines);
void json_begin_array(struct json *j);
void json_end_array(struct json *j);
void json_begin_object(struct json *j);
void json_end_object(struct json *j);
void json_key(struct json *j, const char *key);
/* A string (NULL writes null).  Bytes that are not valid UTF-8 become
 * U+FFFD; control characters are escaped. */
void json_str(struct json *j, const char *s);
void json_int(struct json *j, long long v);
void json_bool(struct json *j, int v);
void json_null(struct json *j);
/* Write S as a JSON string (quotes included) to F. */
void json_quote(FILE *f, const char *s);

#endif
