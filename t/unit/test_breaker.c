
/*
 * velro unit tests: the circuit breaker state machine (velro_breaker.c).
 */


#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "velro_breaker.h"
#include "util.h"


void test_breaker(void);

static void test_pack(void);
static void test_open(void);
static void test_half_open(void);
static void test_lost_trial(void);
static void test_success_resets(void);
static unsigned state_of(uint64_t word);


static unsigned
state_of(uint64_t word)
{
    velro_breaker_t  b;

    velro_breaker_unpack(word, &b);

    return b.state;
}


static void
test_pack(void)
{
    uint64_t         w;
    velro_breaker_t  b, u;

    memset(&b, 0, sizeof(b));
    is_int((long long) velro_breaker_pack(&b), 0, "pack: zero is closed");

    b.state = VELRO_BREAKER_HALF_OPEN;
    b.failures = 1234;
    b.until = 123456789012ULL;

    w = velro_breaker_pack(&b);
    velro_breaker_unpack(w, &u);

    is_int(u.state, VELRO_BREAKER_HALF_OPEN, "pack: state round trip");
    is_int(u.failures, 1234, "pack: failures round trip");
    is_int((long long) u.until, 123456789012LL, "pack: time round trip");

    b.failures = 1000000;
    b.until = UINT64_MAX;
    velro_breaker_unpack(velro_breaker_pack(&b), &u);

    is_int(u.failures, VELRO_BREAKER_FAILURES_MAX, "pack: failures capped");
    is_int((long long) u.until, (long long) VELRO_BREAKER_TIME_MAX,
           "pack: time capped");

    velro_breaker_unpack(3, &u);
    is_int(u.state, VELRO_BREAKER_CLOSED, "pack: state 3 reads as closed");

    is_str(velro_breaker_state_name(VELRO_BREAKER_OPEN), "open",
           "names: open");
    is_str(velro_breaker_state_name(VELRO_BREAKER_HALF_OPEN), "half-open",
           "names: half-open");
}


static void
test_open(void)
{
    int                   t, rc;
    uint64_t              w, next;
    velro_breaker_conf_t  conf = { 3, 30000 };

    w = 0;

    rc = velro_breaker_allow(w, &conf, 1000, &next, &t);
    is_int(rc, VELRO_BREAKER_PASS, "open: closed passes");
    ok(next == w && t == VELRO_BREAKER_SAME, "open: passing changes nothing");

    w = velro_breaker_result(w, &conf, 1000, 0, &t);
    is_int(t, VELRO_BREAKER_SAME, "open: 1 failure of 3: same");
    w = velro_breaker_result(w, &conf, 1001, 0, &t);
    is_int(state_of(w), VELRO_BREAKER_CLOSED, "open: 2 failures: closed");

    w = velro_breaker_result(w, &conf, 1002, 0, &t);
    is_int(t, VELRO_BREAKER_OPENED, "open: 3rd failure trips");
    is_int(state_of(w), VELRO_BREAKER_OPEN, "open: open");
    is_int((long long) velro_breaker_wait(w, 1002), 30000,
           "open: wait is the recovery");

    rc = velro_breaker_allow(w, &conf, 1002 + 29999, &next, &t);
    is_int(rc, VELRO_BREAKER_REJECT, "open: rejected before recovery");
    ok(next == w, "open: rejecting changes nothing");

    w = velro_breaker_result(w, &conf, 5000, 1, &t);
    ok(state_of(w) == VELRO_BREAKER_OPEN && t == VELRO_BREAKER_SAME,
       "open: a late success does not close it");
    w = velro_breaker_result(w, &conf, 5000, 0, &t);
    ok(state_of(w) == VELRO_BREAKER_OPEN && t == VELRO_BREAKER_SAME
       && velro_breaker_wait(w, 5000) == 1002 + 30000 - 5000,
       "open: a late failure does not extend it");

    conf.failures = 1;
    w = velro_breaker_result(0, &conf, 10, 0, &t);
    ok(state_of(w) == VELRO_BREAKER_OPEN && t == VELRO_BREAKER_OPENED,
       "open: failures=1 opens on the first failure");
}


static void
test_half_open(void)
{
    int                   t, rc;
    uint64_t              w, next, trial;
    velro_breaker_conf_t  conf = { 2, 1000 };

    w = velro_breaker_result(0, &conf, 0, 0, &t);
    w = velro_breaker_result(w, &conf, 0, 0, &t);
    is_int(state_of(w), VELRO_BREAKER_OPEN, "half-open: opened at 0");

    rc = velro_breaker_allow(w, &conf, 1000, &next, &t);
    is_int(rc, VELRO_BREAKER_TRIAL, "half-open: at recovery, a trial");
    is_int(t, VELRO_BREAKER_TRIALED, "half-open: transition reported");
    is_int(state_of(next), VELRO_BREAKER_HALF_OPEN, "half-open: state");

    trial = next;

    /* the compare-and-set of a second worker fails: it reads the new word */

    rc = velro_breaker_allow(trial, &conf, 1001, &next, &t);
    is_int(rc, VELRO_BREAKER_REJECT, "half-open: exactly one trial");
    ok(next == trial, "half-open: the second is refused, no change");

    w = velro_breaker_result(trial, &conf, 1100, 1, &t);
    is_int(t, VELRO_BREAKER_CLOSED_NOW, "half-open: success closes");
    is_int(state_of(w), VELRO_BREAKER_CLOSED, "half-open: closed");
    rc = velro_breaker_allow(w, &conf, 1100, &next, &t);
    is_int(rc, VELRO_BREAKER_PASS, "half-open: closed again, passes");

    w = velro_breaker_result(trial, &conf, 1100, 0, &t);
    is_int(t, VELRO_BREAKER_REOPENED, "half-open: failure reopens");
    is_int(state_of(w), VELRO_BREAKER_OPEN, "half-open: open again");
    is_int((long long) velro_breaker_wait(w, 1100), 1000,
           "half-open: a new recovery period");

    rc = velro_breaker_allow(w, &conf, 2099, &next, &t);
    is_int(rc, VELRO_BREAKER_REJECT, "half-open: reopened refuses");
    rc = velro_breaker_allow(w, &conf, 2100, &next, &t);
    is_int(rc, VELRO_BREAKER_TRIAL, "half-open: next trial after it");
}


static void
test_lost_trial(void)
{
    int                   t, rc;
    uint64_t              w, next;
    velro_breaker_conf_t  conf = { 1, 500 };

    w = velro_breaker_result(0, &conf, 0, 0, &t);
    rc = velro_breaker_allow(w, &conf, 500, &w, &t);
    is_int(rc, VELRO_BREAKER_TRIAL, "lost trial: trial at 500");

    rc = velro_breaker_allow(w, &conf, 999, &next, &t);
    is_int(rc, VELRO_BREAKER_REJECT, "lost trial: under way until 1000");

    rc = velro_breaker_allow(w, &conf, 1000, &next, &t);
    is_int(rc, VELRO_BREAKER_TRIAL, "lost trial: replaced after recovery");
    is_int(t, VELRO_BREAKER_SAME, "lost trial: still half-open");
    is_int((long long) velro_breaker_wait(next, 1000), 500,
           "lost trial: the new trial has its own deadline");
}


static void
test_success_resets(void)
{
    int                   t;
    uint64_t              w;
    velro_breaker_conf_t  conf = { 3, 1000 };

    w = velro_breaker_result(0, &conf, 0, 0, &t);
    w = velro_breaker_result(w, &conf, 0, 0, &t);
    w = velro_breaker_result(w, &conf, 0, 1, &t);
    is_int(t, VELRO_BREAKER_SAME, "reset: success while closed");

    w = velro_breaker_result(w, &conf, 0, 0, &t);
    w = velro_breaker_result(w, &conf, 0, 0, &t);
    is_int(state_of(w), VELRO_BREAKER_CLOSED,
           "reset: failures are consecutive ones");
    w = velro_breaker_result(w, &conf, 0, 0, &t);
    is_int(state_of(w), VELRO_BREAKER_OPEN, "reset: third in a row opens");

    ok(velro_breaker_result(0, &conf, 0, 1, &t) == 0,
       "reset: success on a clean breaker leaves the word as is");
}


void
test_breaker(void)
{
    test_pack();
    test_open();
    test_half_open();
    test_lost_trial();
    test_success_resets();
}
