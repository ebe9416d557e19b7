#include "test_support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char g_dir[1024];

const char *deit_test_dir(void) {
  if (g_dir[0]) return g_dir;
  const char *base = getenv("DEIT_TEST_TMPDIR");
  if (base && *base) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", base);
    if (system(cmd) != 0) fail_msg("cannot create %s", base);
    snprintf(g_dir, sizeof g_dir, "%s/run-XXXXXX", base);
  } else {
    snprintf(g_dir, sizeof g_dir, "/tmp/deit-test-XXXXXX");
  }
  if (!mkdtemp(g_dir)) fail_msg("mkdtemp(%s): %s", g_dir, strerror(errno));
  return g_dir;
}

const char *deit_test_path(const char *name) {
  static char bufs[8][1200];
  static int next = 0;
  char *b = bufs[next++ % 8];
  snprintf(b, sizeof bufs[0], "%s/%s", deit_test_dir(), name);
  return b;
}

void deit_test_write_file(const char *path, const void *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (!f) fail_msg("cannot write %s: %s", path, strerror(errno));
  if (size && fwrite(data, 1, size, f) != size) fail_msg("short write to %s", path);
  fclose(f);
}

void deit_test_write_gz(const char *path, const void *data, size_t size) {
  gzFile f = gzopen(path, "wb");
  if (!f) fail_msg("cannot write %s", path);
  if (size && gzwrite(f, data, (unsigned)size) != (int)size) fail_msg("short gz write to %s", path);
  gzclose(f);
}

void deit_test_assert_status_msg(deit_status got, deit_status expected, const char *needle,
                                 const char *expr, const char *file, int line) {
  if (got != expected) {
    fail_msg("%s:%d: %s returned %d (%s), expected %d (%s); last error: %s", file, line, expr, (int)got,
             deit_status_str(got), (int)expected, deit_status_str(expected), deit_last_error());
  }
  if (needle && !strstr(deit_last_error(), needle)) {
    fail_msg("%s:%d: %s: message \"%s\" does not mention \"%s\"", file, line, expr, deit_last_error(), needle);
  }
}

void deit_test_bar_images(uint8_t *pixels, int32_t *labels, int n, int side, int classes, unsigned seed) {
  srand(seed);
  for (int i = 0; i < n; ++i) {
    int k = i % classes;
    labels[i] = k;
    for (int y = 0; y < side; ++y)
      for (int x = 0; x < side; ++x)
        pixels[(i * side + y) * side + x] = (uint8_t)((y / 3 == k ? 170 : 30) + rand() % 60);
  }
}
