/* quote.c - text from the host made safe for a person: a command line to
 * paste into bash (the audit's fix, a dry run's plan, the commands the
 * core's messages name) and a name to show on a terminal (the command's
 * tables).  Names (rbd images, files, pools) may hold any byte; one rule
 * here says which characters a terminal shows as they are, and everything
 * else is written as an escape. */
#include <string.h>

#include "internal.h"

size_t pvs_utf8_char_len(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    if (!n)
        return 0;
    unsigned c = s[0];
    size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (!len || len > n || (len == 2 && c < 0xC2))
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if (len == 3) {
        unsigned cp = (c & 0x0F) << 12 | (s[1] & 0x3Fu) << 6 | (s[2] & 0x3Fu);
        if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
    } else if (len == 4) {
        unsigned cp = (c & 0x07) << 18 | (s[1] & 0x3Fu) << 12 | (s[2] & 0x3Fu) << 6 | (s[3] & 0x3Fu);
        if (cp < 0x10000 || cp > 0x10FFFF)
            return 0;
    }
    return len;
}

/* The invisible characters that reorder or break a line on screen, so that
 * what a person reads is not what runs: U+061C, U+200E, U+200F (marks),
 * U+2028, U+2029 (separators), U+202A..U+202E, U+2066..U+2069 (bidi
 * embeddings, overrides and isolates). */
static int reorders(const unsigned char *s, size_t len)
{
    if (len == 2)
        return s[0] == 0xD8 && s[1] == 0x9C;
    if (len != 3 || s[0] != 0xE2)
        return 0;
    if (s[1] == 0x80)
        return s[2] == 0x8E || s[2] == 0x8F || (s[2] >= 0xA8 && s[2] <= 0xAE);
    return s[1] == 0x81 && s[2] >= 0xA6 && s[2] <= 0xA9;
}

/* The one rule: how many bytes at s (n of them) make one character a
 * terminal shows as it is, or 0 when the byte at s must be written as an
 * escape -- a C0 control (newline, ESC ...), DEL, a C1 control (some
 * terminals take U+009B for CSI), a byte that is not UTF-8, or one of the
 * characters above. */
static size_t shown_len(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t len = pvs_utf8_char_len(str, n);
    if (len == 1)
        return s[0] >= 0x20 && s[0] != 0x7F;
    if (len == 2 && s[0] == 0xC2 && s[1] < 0xA0)
        return 0;
    return reorders(s, len) ? 0 : len;
}

/* One byte as bash's $'...' reads it back, which is also how `ls -b` and
 * systemd show it: \n, \r, \t, else \xHH (always two digits, so the next
 * character is never taken into the escape). */
static void add_escape(strbuf *sb, unsigned char c)
{
    if (c == '\n')
        sb_add(sb, "\\n");
    else if (c == '\r')
        sb_add(sb, "\\r");
    else if (c == '\t')
        sb_add(sb, "\\t");
    else
        sb_addf(sb, "\\x%02x", c);
}

char *pvs_visible_text(const char *s, size_t n)
{
    strbuf sb;
    sb_init(&sb);
    for (size_t i = 0; i < n;) {
        size_t len = shown_len(s + i, n - i);
        if (len == 1 && s[i] == '\\')
            sb_add(&sb, "\\\\");   /* so that an escape is never ambiguous */
        else if (len)
            sb_addn(&sb, s + i, len);
        else
            add_escape(&sb, (unsigned char)s[i]);
        i += len ? len : 1;
    }
    return sb_take(&sb);
}

/* Words bash takes as they are: only these characters, and for the first
 * word (the command) neither an assignment nor a reserved word. */
static int bare_word(const char *s, int first)
{
    static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,@+%";
    static const char *const reserved[] = { "case", "coproc", "do", "done", "elif", "else", "esac", "fi", "for",
                                            "function", "if", "in", "select", "then", "time", "until", "while" };
    if (!*s || s[strspn(s, safe)] != '\0')
        return 0;
    if (!first)
        return 1;
    if (strchr(s, '='))
        return 0;
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcmp(s, reserved[i]) == 0)
            return 0;
    return 1;
}

/* A word in pieces bash joins into one: what a terminal shows as it is in
 * '...', a single quote as \', everything else in $'...' escapes. */
static void quote_word(strbuf *sb, const char *s)
{
    enum piece { NONE, QUOTED, ESCAPED } in = NONE;
    size_t n = strlen(s);
    if (n == 0)
        sb_add(sb, "''");
    for (size_t i = 0; i < n;) {
        size_t len = shown_len(s + i, n - i);
        enum piece want = !len ? ESCAPED : s[i] == '\'' ? NONE : QUOTED;
        if (want != in) {
            sb_add(sb, in == NONE ? "" : "'");
            sb_add(sb, want == QUOTED ? "'" : want == ESCAPED ? "$'" : "");
            in = want;
        }
        if (want == NONE)
            sb_add(sb, "\\'");
        else if (len)
            sb_addn(sb, s + i, len);
        else
            add_escape(sb, (unsigned char)s[i]);
        i += len ? len : 1;
    }
    if (in != NONE)
        sb_add(sb, "'");
}

/* argv's words, each as word() writes it, joined by blanks */
static char *join_words(const char *const *argv, void (*word)(strbuf *sb, const char *s, int first))
{
    strbuf sb;
    sb_init(&sb);
    for (size_t i = 0; argv[i]; i++) {
        if (i)
            sb_add(&sb, " ");
        word(&sb, argv[i], i == 0);
    }
    return sb_take(&sb);
}

static void bash_word(strbuf *sb, const char *s, int first)
{
    if (bare_word(s, first))
        sb_add(sb, s);
    else
        quote_word(sb, s);
}

char *pvs_shell_quote_argv(const char *const *argv)
{
    return join_words(argv, bash_word);
}

/* ---- how upstream's messages name a command ---- */

/* String::ShellQuote 1.04 on one word, as PVE::Tools::cmd2string applies
 * it to each argv element alone: a word of [A-Za-z0-9_!%+,./:@^-] stays
 * bare; an empty one is ''; any other (one holding '=' among them) is
 * single-quoted, a quote written '\'', two or more of those in a row
 * '"''"', and a leading or trailing '' dropped. */
static void perl_quote_word(strbuf *sb, const char *s, int first)
{
    (void)first;   /* each word is quoted alone */
    if (!*s) {
        sb_add(sb, "''");
        return;
    }
    if (s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_!%+,-./:@^")] == '\0') {
        sb_add(sb, s);
        return;
    }
    strbuf w;
    sb_init(&w);
    sb_add(&w, "'");
    for (const char *p = s; *p;) {
        size_t q = strspn(p, "'");
        if (q == 1)
            sb_add(&w, "'\\''");
        else if (q > 1) {
            sb_add(&w, "'\"");
            for (size_t i = 0; i < q; i++)
                sb_add(&w, "'");
            sb_add(&w, "\"'");
        }
        p += q;
        size_t r = strcspn(p, "'");
        sb_addn(&w, p, r);
        p += r;
    }
    sb_add(&w, "'");
    const char *t = w.s ? w.s : "";
    size_t len = w.len;
    if (len >= 2 && t[0] == '\'' && t[1] == '\'')
        t += 2, len -= 2;
    if (len >= 2 && t[len - 1] == '\'' && t[len - 2] == '\'')
        len -= 2;
    sb_addn(sb, t, len);
    if (w.failed)
        sb->failed = 1;
    sb_free(&w);
}

char *pvs_perl_quote_argv(const char *const *argv)
{
    return join_words(argv, perl_quote_word);
}
