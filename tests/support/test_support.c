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

/* --- safetensors, parsed here independently of libdeit's reader ---------- */
/* Layout: u64 little-endian header length, a JSON object {name: {"dtype", "shape", "data_offsets": [b, e]},
 * "__metadata__": {...}}, then the tensor bytes. */

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) ++p;
  return p;
}

/* Copies the JSON string at p (which must be '"') into buf; returns the position after it. */
static const char *read_json_string(const char *p, const char *end, char *buf, size_t cap, const char *path) {
  if (p >= end || *p != '"') fail_msg("%s: safetensors header: string expected", path);
  size_t n = 0;
  for (++p; p < end && *p != '"'; ++p) {
    if (*p == '\\') ++p; /* names here need no unescaping beyond skipping the escape */
    if (p < end && n + 1 < cap) buf[n++] = *p;
  }
  if (p >= end) fail_msg("%s: safetensors header: unterminated string", path);
  buf[n] = '\0';
  return p + 1;
}

/* The end of the JSON value starting at p (an object, array, string or scalar). */
static const char *skip_json_value(const char *p, const char *end) {
  int depth = 0, in_string = 0;
  for (; p < end; ++p) {
    char c = *p;
    if (in_string) {
      if (c == '\\') ++p;
      else if (c == '"') {
        in_string = 0;
        if (depth == 0) return p + 1;
      }
    } else if (c == '"') {
      in_string = 1;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (depth == 0) return p;
      if (--depth == 0) return p + 1;
    } else if (depth == 0 && c == ',') {
      return p;
    }
  }
  return p;
}

void deit_test_safetensors_read(const char *path, deit_test_safetensors *out) {
  memset(out, 0, sizeof *out);
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("cannot open %s: %s", path, strerror(errno));
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  if (size < 8) fail_msg("%s: %ld bytes, too short for safetensors", path, size);
  out->file = malloc((size_t)size);
  if (!out->file || fread(out->file, 1, (size_t)size, f) != (size_t)size) fail_msg("cannot read %s", path);
  fclose(f);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | out->file[i];
  if (hlen > (uint64_t)size - 8) fail_msg("%s: header length %llu beyond the file", path, (unsigned long long)hlen);
  const char *p = (const char *)out->file + 8, *end = p + hlen;
  const unsigned char *body = out->file + 8 + hlen;
  const size_t body_size = (size_t)size - 8 - (size_t)hlen;
  p = skip_ws(p, end);
  if (p >= end || *p != '{') fail_msg("%s: safetensors header is not a JSON object", path);
  p = skip_ws(p + 1, end);
  int cap = 0;
  while (p < end && *p != '}') {
    char key[160];
    p = skip_ws(read_json_string(p, end, key, sizeof key, path), end);
    if (p >= end || *p != ':') fail_msg("%s: safetensors header: ':' expected after \"%s\"", path, key);
    p = skip_ws(p + 1, end);
    const char *value = p;
    p = skip_json_value(p, end);
    if (strcmp(key, "__metadata__") != 0) {
      if (out->count == cap) {
        cap = cap ? 2 * cap : 64;
        out->tensors = realloc(out->tensors, sizeof(deit_test_tensor) * (size_t)cap);
        if (!out->tensors) fail_msg("out of memory");
      }
      deit_test_tensor *t = &out->tensors[out->count++];
      memset(t, 0, sizeof *t);
      snprintf(t->name, sizeof t->name, "%s", key);
      /* Within this tensor's object: "dtype":"F32" and "data_offsets":[b,e]. */
      char obj[512];
      size_t n = (size_t)(p - value) < sizeof obj - 1 ? (size_t)(p - value) : sizeof obj - 1;
      memcpy(obj, value, n);
      obj[n] = '\0';
      const char *d = strstr(obj, "\"dtype\"");
      const char *o = strstr(obj, "\"data_offsets\"");
      unsigned long long b = 0, e = 0;
      if (!d || !o || sscanf(strchr(d + 7, '"') + 1, "%7[^\"]", t->dtype) != 1 ||
          sscanf(strchr(o, '[') + 1, " %llu , %llu", &b, &e) != 2 || b > e || e > body_size)
        fail_msg("%s: tensor \"%s\" has no valid dtype/data_offsets: %s", path, key, obj);
      t->data = body + b;
      t->nbytes = (size_t)(e - b);
    }
    p = skip_ws(p, end);
    if (p < end && *p == ',') p = skip_ws(p + 1, end);
  }
}

const deit_test_tensor *deit_test_safetensors_find(const deit_test_safetensors *st, const char *name) {
  for (int i = 0; i < st->count; ++i)
    if (strcmp(st->tensors[i].name, name) == 0) return &st->tensors[i];
  return NULL;
}

void deit_test_safetensors_free(deit_test_safetensors *st) {
  free(st->tensors);
  free(st->file);
  memset(st, 0, sizeof *st);
}

int deit_test_tensors_equal(const deit_test_tensor *a, const deit_test_tensor *b) {
  return a && b && strcmp(a->dtype, b->dtype) == 0 && a->nbytes == b->nbytes &&
         memcmp(a->data, b->data, a->nbytes) == 0;
}

int deit_test_files_equal(const char *a, const char *b) {
  FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
  int same = fa && fb;
  while (same) {
    int ca = fgetc(fa), cb = fgetc(fb);
    if (ca != cb) same = 0;
    if (ca == EOF || cb == EOF) break;
  }
  if (fa) fclose(fa);
  if (fb) fclose(fb);
  return same;
}
