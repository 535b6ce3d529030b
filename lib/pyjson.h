/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON encoding exactly like Python's json.dumps defaults (", " and ": "
 * separators, ensure_ascii, shortest round-trip floats) and Python repr()
 * of strings and values, as Circus's wire format and circusctl need them.
 */
#ifndef CIRCUS_PYJSON_H
#define CIRCUS_PYJSON_H

#include <stddef.h>

#include <jansson.h>

/* A JSON text written piece by piece, as json.dumps would write it:
 * zero-initialise, append, then pyjson_buf_finish. */
struct pyjson_buf {
	char	*data;
	size_t	 len;
	size_t	 size;
};

/* Append bytes as they are. */
void pyjson_buf_raw(struct pyjson_buf *b, const char *s, size_t len);
/* Append ", " (unless the buffer is empty or ends with '{'), then
 * "key": . */
void pyjson_buf_key(struct pyjson_buf *b, const char *key);
/* Append json.dumps(v). */
void pyjson_buf_dumps(struct pyjson_buf *b, const json_t *v);
/* Append json.dumps(d) of a float. */
void pyjson_buf_float(struct pyjson_buf *b, double d);
/* The text (caller frees; never NULL) and its length in *len if len is
 * not NULL. */
char *pyjson_buf_finish(struct pyjson_buf *b, size_t *len);

/* json_loadb(buf, len, flags, err), faster for the plain documents control
 * requests are: the same values, and jansson's own errors. */
json_t *pyjson_loadb(const char *buf, size_t len, size_t flags,
    json_error_t *err);

/* One member that pyjson_load_members looks for. */
struct pyjson_member {
	const char	*key;
	json_t		*value;		/* not a plain string: held */
	const char	*str;		/* a plain string: its bytes, in the text */
	size_t		 len;
};
int pyjson_load_members(const char *buf, size_t len, struct pyjson_member *m,
    size_t n);

/* Encode like json.dumps(v). Caller frees. Never NULL. */
char *pyjson_dumps(const json_t *v);
/* Encode with indent 2 and sorted keys (json.dumps(v, indent=2, sort_keys=True)). */
char *pyjson_dumps_pretty(const json_t *v);
/* Python repr(float): "30.0", "0.007", "1e+16". buf >= 32 bytes. */
void pyjson_float_repr(double d, char *buf, size_t len);
/* Python repr(str) of a UTF-8 string. Caller frees. */
char *pyjson_str_repr(const char *s);
/* Python repr(bytes) of a byte buffer: b'...'. Caller frees. */
char *pyjson_bytes_repr(const char *s, size_t len);
/* Python str() of a JSON value: strings raw, True/False/None, floats repr,
 * objects/arrays as Python dict/list repr. Caller frees. */
char *pyjson_str(const json_t *v);
/* Python type name of a JSON value ("dict", "str", "NoneType"...), for
 * messages that quote Python's errors. */
const char *pyjson_type_name(const json_t *v);
/* Python repr() of a JSON value (strings quoted). Caller frees. */
char *pyjson_repr(const json_t *v);

#endif
