
/*
 * velro: circuit breakers, the state machine.
 *
 * A breaker's whole state is one 64-bit word, so that the nginx side can
 * move it from one state to the next with a single compare-and-set in
 * shared memory, with no lock: the functions here compute the next word
 * from the current one, the time and an event.  Pure C, no nginx.
 *
 *   closed     requests pass; "failures" consecutive failures open it
 *   open       requests are refused until "until" (opened + recovery)
 *   half-open  one trial request passes; its success closes the breaker,
 *              its failure opens it again for another recovery period;
 *              a trial that never reports is replaced after recovery
 */


#ifndef _VELRO_BREAKER_H_INCLUDED_
#define _VELRO_BREAKER_H_INCLUDED_


#include <stdint.h>


#define VELRO_BREAKER_CLOSED     0
#define VELRO_BREAKER_OPEN       1
#define VELRO_BREAKER_HALF_OPEN  2

/* what velro_breaker_allow() decided */
#define VELRO_BREAKER_PASS       0     /* closed: go on */
#define VELRO_BREAKER_TRIAL      1     /* half-open: this is the trial */
#define VELRO_BREAKER_REJECT     2     /* open, or a trial under way */

/* the transition an event made, if any */
#define VELRO_BREAKER_SAME       0
#define VELRO_BREAKER_OPENED     1     /* closed -> open: a trip */
#define VELRO_BREAKER_REOPENED   2     /* half-open -> open */
#define VELRO_BREAKER_TRIALED    3     /* open -> half-open */
#define VELRO_BREAKER_CLOSED_NOW 4     /* half-open -> closed */

#define VELRO_BREAKER_FAILURES_MAX  0xffff
#define VELRO_BREAKER_TIME_MAX      ((1ULL << 46) - 1)


typedef struct {
    uint32_t      failures;       /* to open, 1 .. FAILURES_MAX */
    uint64_t      recovery;       /* msec */
} velro_breaker_conf_t;


/* the word, unpacked */
typedef struct {
    unsigned      state;
    uint32_t      failures;       /* consecutive, while closed */
    uint64_t      until;          /* msec: open until, or the trial's end */
} velro_breaker_t;


uint64_t velro_breaker_pack(const velro_breaker_t *b);
void velro_breaker_unpack(uint64_t word, velro_breaker_t *b);

/*
 * May a request use the backend now?  *next is the word to store (it may
 * equal word); *transition says what changed.
 */
int velro_breaker_allow(uint64_t word, const velro_breaker_conf_t *conf,
    uint64_t now, uint64_t *next, int *transition);

/* a call to the backend ended: ok 1 for success, 0 for failure */
uint64_t velro_breaker_result(uint64_t word, const velro_breaker_conf_t *conf,
    uint64_t now, int ok, int *transition);

/* msec until the breaker lets a trial through (0 when closed or due) */
uint64_t velro_breaker_wait(uint64_t word, uint64_t now);

const char *velro_breaker_state_name(unsigned state);


#endif /* _VELRO_BREAKER_H_INCLUDED_ */
