/* json_out.c - the command's JSON printer.  jansson refuses strings that
 * are not UTF-8, but names from a command line or a file system may hold
 * any bytes; such a byte is printed as the escape \udcXX (the lone
 * surrogate Python's surrogateescape maps back to byte XX), so no name is
 * ever dropped and the output stays one JSON document. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void print_string(FILE *f, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t len = pvs_utf8_char_len(str + i, n - i);
        if (!len) {
            fprintf(f, "\\udc%02x", c);
            i++;
        } else if (c == '"' || c == '\\') {
            fprintf(f, "\\%c", c);
            i++;
        } else if (c < 0x20) {
            fprintf(f, "\\u%04x", c);
            i++;
        } else {
            fwrite(s + i, 1, len, f);
            i += len;
        }
    }
    fputc('"', f);
}

static void print_value(FILE *f, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        size_t klen;
        json_t *e;
        int first = 1;
        fputc('{', f);
        json_object_keylen_foreach((json_t *)v, k, klen, e) {
            if (!first)
                fputc(',', f);
            first = 0;
            print_string(f, k, klen);
            fputc(':', f);
            print_value(f, e);
        }
        fputc('}', f);
        break;
    }
    case JSON_ARRAY:
        fputc('[', f);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                fputc(',', f);
            print_value(f, json_array_get(v, i));
        }
        fputc(']', f);
        break;
    case JSON_STRING:
        print_string(f, json_string_value(v), json_string_length(v));
        break;
    default: {
        char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
        fputs(s ? s : "null", f);
        free(s);
        break;
    }
    }
}

void cli_print_json(FILE *f, const json_t *v)
{
    print_value(f, v);
    fputc('\n', f);
}

json_t *cli_string(const char *s)
{
    return json_stringn_nocheck(s, strlen(s));
}
