/*
 * xmalloc.h - allocation that never returns NULL.
 *
 * postie allocates little and has nothing useful to do without memory, so
 * an allocation failure prints "postie: out of memory" and exits with
 * EX_OSERR (71). This is the one exception to "only main exits": there is
 * no state to save and no caller that could recover.
 */
#ifndef POSTIE_XMALLOC_H
#define POSTIE_XMALLOC_H

#include <stddef.h>

/* malloc(3) that never returns NULL; size 0 still gives a unique pointer. */
void *xmalloc(size_t size);
/* Zeroed nmemb * size bytes; dies on overflow as on exhaustion. */
void *xcalloc(size_t nmemb, size_t size);
/* Resize to nmemb * size bytes; dies on overflow as on exhaustion. */
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
/* Copy of the NUL-terminated s. */
char *xstrdup(const char *s);
/* Copy of the first len bytes of s (which need not be NUL-terminated). */
char *xstrndup(const char *s, size_t len);

#endif
