/* Compiled with -std=c99 -pedantic -Werror by ctest: the header must stay plain C99. */
#include <deit/deit.h>

int main(void) {
  deit_dataset_info info;
  info.struct_size = sizeof info;
  return deit_version_number() == DEIT_VERSION_NUMBER && info.struct_size > 0 ? 0 : 1;
}
