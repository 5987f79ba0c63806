
/*
 * velro: a tiny TAP producer for the unit tests.
 *
 *     ok(cond, "name %d", i);        "ok N - name" or "not ok N - name"
 *     is_int(got, want, "name");     with a diagnostic when they differ
 *     is_str(got, want, "name");
 *     tap_done();                    prints "1..N", returns the exit code
 *
 * Define TAP_IMPLEMENTATION in exactly one file before including it.
 */


#ifndef _VELRO_TAP_H_INCLUDED_
#define _VELRO_TAP_H_INCLUDED_


#include <stdarg.h>


int tap_ok(int pass, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int tap_is_int(long long got, long long want, const char *file, int line,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int tap_is_str(const char *got, const char *want, const char *file, int line,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int tap_done(void);
int tap_failed(void);


#define ok(cond, ...)                                                         \
    tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...)                                                \
    tap_is_int((long long) (got), (long long) (want), __FILE__, __LINE__,     \
               __VA_ARGS__)
#define is_str(got, want, ...)                                                \
    tap_is_str(got, want, __FILE__, __LINE__, __VA_ARGS__)
#define diag(...)  tap_diag(__VA_ARGS__)


#ifdef TAP_IMPLEMENTATION

#include <stdio.h>
#include <string.h>


static int  tap_run;
static int  tap_fail;


static void
tap_line(int pass, const char *fmt, va_list args)
{
    tap_run++;

    if (!pass) {
        tap_fail++;
    }

    printf("%sok %d - ", pass ? "" : "not ", tap_run);
    vprintf(fmt, args);
    printf("\n");
    fflush(stdout);
}


int
tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    tap_line(pass, fmt, args);
    va_end(args);

    if (!pass) {
        printf("#   failed at %s line %d\n", file, line);
    }

    return pass;
}


int
tap_is_int(long long got, long long want, const char *file, int line,
    const char *fmt, ...)
{
    int      pass;
    va_list  args;

    pass = (got == want);

    va_start(args, fmt);
    tap_line(pass, fmt, args);
    va_end(args);

    if (!pass) {
        printf("#   failed at %s line %d\n#          got: %lld\n"
               "#     expected: %lld\n", file, line, got, want);
    }

    return pass;
}


int
tap_is_str(const char *got, const char *want, const char *file, int line,
    const char *fmt, ...)
{
    int      pass;
    va_list  args;

    pass = (got == NULL && want == NULL)
           || (got && want && strcmp(got, want) == 0);

    va_start(args, fmt);
    tap_line(pass, fmt, args);
    va_end(args);

    if (!pass) {
        printf("#   failed at %s line %d\n#          got: %s\n"
               "#     expected: %s\n", file, line,
               got ? got : "(null)", want ? want : "(null)");
    }

    return pass;
}


void
tap_diag(const char *fmt, ...)
{
    va_list  args;

    printf("# ");
    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);
    printf("\n");
    fflush(stdout);
}


int
tap_failed(void)
{
    return tap_fail;
}


int
tap_done(void)
{
    printf("1..%d\n", tap_run);

    if (tap_fail) {
        printf("# failed %d of %d tests\n", tap_fail, tap_run);
    }

    fflush(stdout);

    return tap_fail ? 1 : 0;
}

#endif /* TAP_IMPLEMENTATION */

#endif /* _VELRO_TAP_H_INCLUDED_ */
