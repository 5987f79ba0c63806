
/*
 * velro: circuit breakers, the state machine (velro_breaker.h).
 *
 * The word: bits 0-1 the state, bits 2-17 the consecutive failures,
 * bits 18-63 a time in msec (nginx's monotonic clock, the same in every
 * process: 46 bits last two thousand years from boot).
 */


#include <stddef.h>

#include "velro_breaker.h"


#define VELRO_BREAKER_STATE_MASK     0x3ULL
#define VELRO_BREAKER_FAILURES_SHIFT 2
#define VELRO_BREAKER_TIME_SHIFT     18


uint64_t
velro_breaker_pack(const velro_breaker_t *b)
{
    uint64_t  failures, until;

    failures = b->failures > VELRO_BREAKER_FAILURES_MAX
               ? VELRO_BREAKER_FAILURES_MAX : b->failures;
    until = b->until > VELRO_BREAKER_TIME_MAX
            ? VELRO_BREAKER_TIME_MAX : b->until;

    return ((uint64_t) b->state & VELRO_BREAKER_STATE_MASK)
           | (failures << VELRO_BREAKER_FAILURES_SHIFT)
           | (until << VELRO_BREAKER_TIME_SHIFT);
}


void
velro_breaker_unpack(uint64_t word, velro_breaker_t *b)
{
    b->state = (unsigned) (word & VELRO_BREAKER_STATE_MASK);
    b->failures = (uint32_t) ((word >> VELRO_BREAKER_FAILURES_SHIFT)
                              & VELRO_BREAKER_FAILURES_MAX);
    b->until = word >> VELRO_BREAKER_TIME_SHIFT;

    if (b->state > VELRO_BREAKER_HALF_OPEN) {
        /* not a word of ours: treat it as closed */
        b->state = VELRO_BREAKER_CLOSED;
    }
}


int
velro_breaker_allow(uint64_t word, const velro_breaker_conf_t *conf,
    uint64_t now, uint64_t *next, int *transition)
{
    velro_breaker_t  b;

    velro_breaker_unpack(word, &b);

    *next = word;
    *transition = VELRO_BREAKER_SAME;

    switch (b.state) {

    case VELRO_BREAKER_CLOSED:
        return VELRO_BREAKER_PASS;

    case VELRO_BREAKER_OPEN:
        if (now < b.until) {
            return VELRO_BREAKER_REJECT;
        }

        *transition = VELRO_BREAKER_TRIALED;
        break;

    default: /* VELRO_BREAKER_HALF_OPEN */
        if (now < b.until) {
            /* the trial is under way */
            return VELRO_BREAKER_REJECT;
        }

        /* the trial never reported (its request went away): another */
        break;
    }

    b.state = VELRO_BREAKER_HALF_OPEN;
    b.failures = 0;
    b.until = now + conf->recovery;

    *next = velro_breaker_pack(&b);

    return VELRO_BREAKER_TRIAL;
}


uint64_t
velro_breaker_result(uint64_t word, const velro_breaker_conf_t *conf,
    uint64_t now, int ok, int *transition)
{
    velro_breaker_t  b;

    velro_breaker_unpack(word, &b);

    *transition = VELRO_BREAKER_SAME;

    switch (b.state) {

    case VELRO_BREAKER_CLOSED:
        if (ok) {
            if (b.failures == 0) {
                return word;
            }

            b.failures = 0;
            break;
        }

        if (b.failures < VELRO_BREAKER_FAILURES_MAX) {
            b.failures++;
        }

        if (b.failures >= conf->failures) {
            b.state = VELRO_BREAKER_OPEN;
            b.failures = 0;
            b.until = now + conf->recovery;
            *transition = VELRO_BREAKER_OPENED;
        }

        break;

    case VELRO_BREAKER_OPEN:
        /* late answers to calls made before it opened change nothing */
        return word;

    default: /* VELRO_BREAKER_HALF_OPEN */

        /* any answer now is news about the backend, the trial's or not */

        if (ok) {
            b.state = VELRO_BREAKER_CLOSED;
            b.failures = 0;
            b.until = 0;
            *transition = VELRO_BREAKER_CLOSED_NOW;

        } else {
            b.state = VELRO_BREAKER_OPEN;
            b.failures = 0;
            b.until = now + conf->recovery;
            *transition = VELRO_BREAKER_REOPENED;
        }

        break;
    }

    return velro_breaker_pack(&b);
}


uint64_t
velro_breaker_wait(uint64_t word, uint64_t now)
{
    velro_breaker_t  b;

    velro_breaker_unpack(word, &b);

    if (b.state == VELRO_BREAKER_CLOSED || now >= b.until) {
        return 0;
    }

    return b.until - now;
}


const char *
velro_breaker_state_name(unsigned state)
{
    static const char  *names[] = { "closed", "open", "half-open" };

    return state <= VELRO_BREAKER_HALF_OPEN ? names[state] : "closed";
}
