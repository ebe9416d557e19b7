/* Process-wide settings (deit_runtime_init): this executable is its own
 * process, so the first calls here are the process's first libdeit calls. */
#include <string.h>

#include "test_support.h"

/* Before any libdeit work: nothing applied yet, the defaults reported; then
 * the caller's choice applied once and reported; a second init refused. */
static void test_runtime_init_applies_once(void **state) {
  (void)state;
  deit_runtime_options o;
  int applied = -1;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  assert_ok(deit_runtime_get(&o, &applied));
  assert_int_equal(applied, 0);
  assert_int_equal(o.num_threads, 0);
  assert_int_equal(o.single_threaded_blas, 1);
  assert_int_equal(o.tune_malloc, 1);

  assert_ok(deit_runtime_options_init(&o));
  o.num_threads = -2;
  assert_status_msg(deit_runtime_init(&o), DEIT_E_INVALID_ARG, "num_threads = -2");
  o.num_threads = 1;
  o.single_threaded_blas = 0;
  o.tune_malloc = 0;
  assert_ok(deit_runtime_init(&o));
  assert_int_equal(deit_get_num_threads(), 1);

  deit_runtime_options now;
  now.struct_size = sizeof now;
  assert_ok(deit_runtime_get(&now, &applied));
  assert_int_equal(applied, 1);
  assert_int_equal(now.num_threads, 1);
  assert_int_equal(now.single_threaded_blas, 0);
  assert_int_equal(now.tune_malloc, 0);

  assert_status_msg(deit_runtime_init(NULL), DEIT_E_STATE, "applied already");
  /* deit_set_num_threads still changes the thread count afterwards. */
  assert_ok(deit_set_num_threads(2));
  assert_int_equal(deit_get_num_threads(), 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_runtime_init_applies_once)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
