/* CHECK and CHECK_OK for the test programs that must not use cmocka or
 * test_support.h (they include a header of their own in place of deit.h:
 * header_c99.c, abi/first_release.c).  Include after that header; count
 * failures in `failures` and exit non-zero when it is not 0. */
#ifndef DEIT_PLAIN_CHECKS_H
#define DEIT_PLAIN_CHECKS_H

#include <stdio.h>

static int failures;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

#define CHECK_OK(call)                                                                         \
  do {                                                                                         \
    deit_status check_ok_status_ = (call);                                                     \
    if (check_ok_status_ != DEIT_OK) {                                                         \
      fprintf(stderr, "%s:%d: %s returned %d (%s)\n", __FILE__, __LINE__, #call,               \
              (int)check_ok_status_, deit_last_error());                                       \
      ++failures;                                                                              \
    }                                                                                          \
  } while (0)

#endif /* DEIT_PLAIN_CHECKS_H */
