/* Writes the fuzzers' seed corpus into DIR/<target>/: tiny valid inputs of
 * each format (IDX raw and gzip, CIFAR-10/100, safetensors, a real student
 * checkpoint made through the C API), so the fuzzers start from files the
 * readers accept and mutate from there. */
#include <deit/deit.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

static const char* g_root;

static void die(const char* what, const char* detail) {
  fprintf(stderr, "make_seeds: %s: %s\n", what, detail);
  exit(1);
}

static const char* path_of(const char* target, const char* name) {
  static char buf[4096];
  if (snprintf(buf, sizeof buf, "%s/%s/%s", g_root, target, name) >= (int)sizeof buf)
    die("path too long", name);
  return buf;
}

static void make_dir(const char* path) {
  if (mkdir(path, 0755) != 0 && errno != EEXIST) die(path, strerror(errno));
}

static void write_seed(const char* target, const char* name, const void* data, size_t size) {
  const char* path = path_of(target, name);
  FILE* f = fopen(path, "wb");
  if (!f) die(path, strerror(errno));
  if (size && fwrite(data, 1, size, f) != size) die(path, "short write");
  if (fclose(f) != 0) die(path, strerror(errno));
}

static void put_be32(uint8_t* p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* gzip (not zlib) framing of src into dst; returns the length. */
static size_t gzip_bytes(const uint8_t* src, size_t n, uint8_t* dst, size_t cap) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) die("zlib", "deflateInit2");
  zs.next_in = (Bytef*)src;
  zs.avail_in = (uInt)n;
  zs.next_out = dst;
  zs.avail_out = (uInt)cap;
  if (deflate(&zs, Z_FINISH) != Z_STREAM_END) die("zlib", "deflate");
  size_t out = zs.total_out;
  deflateEnd(&zs);
  return out;
}

/* IDX input: 2-byte LE images length, images file, labels file. */
static void idx_seeds(void) {
  enum { N = 3, H = 4, W = 5 };
  uint8_t images[16 + N * H * W], labels[8 + N];
  put_be32(images, 0x00000803);
  put_be32(images + 4, N);
  put_be32(images + 8, H);
  put_be32(images + 12, W);
  for (int i = 0; i < N * H * W; ++i) images[16 + i] = (uint8_t)(i * 37);
  put_be32(labels, 0x00000801);
  put_be32(labels + 4, N);
  for (int i = 0; i < N; ++i) labels[8 + i] = (uint8_t)(i * 4);
  uint8_t input[1024];
  input[0] = sizeof images;
  input[1] = 0;
  memcpy(input + 2, images, sizeof images);
  memcpy(input + 2 + sizeof images, labels, sizeof labels);
  write_seed("idx", "raw", input, 2 + sizeof images + sizeof labels);
  /* Both files gzip-compressed. */
  uint8_t gz_images[512], gz_labels[256];
  size_t gi = gzip_bytes(images, sizeof images, gz_images, sizeof gz_images);
  size_t gl = gzip_bytes(labels, sizeof labels, gz_labels, sizeof gz_labels);
  input[0] = (uint8_t)gi;
  input[1] = (uint8_t)(gi >> 8);
  memcpy(input + 2, gz_images, gi);
  memcpy(input + 2 + gi, gz_labels, gl);
  write_seed("idx", "gzip", input, 2 + gi + gl);
}

/* CIFAR input: 1 selector byte (even 10, odd 100), then records. */
static void cifar_seeds(void) {
  static uint8_t input[1 + 2 * 3074];
  for (int classes = 10; classes <= 100; classes += 90) {
    const size_t label_bytes = classes == 100 ? 2 : 1, record = label_bytes + 3072;
    input[0] = classes == 100 ? 1 : 0;
    for (size_t r = 0; r < 2; ++r) {
      uint8_t* rec = input + 1 + r * record;
      rec[0] = (uint8_t)(3 + r);                   /* label (CIFAR-100: coarse) */
      rec[label_bytes - 1] = (uint8_t)(7 + 2 * r); /* fine label */
      for (size_t j = 0; j < 3072; ++j) rec[label_bytes + j] = (uint8_t)(j * 13 + r);
    }
    write_seed("cifar", classes == 100 ? "cifar100" : "cifar10", input, 1 + 2 * record);
  }
}

static uint8_t* read_all(const char* path, size_t* size) {
  FILE* f = fopen(path, "rb");
  if (!f) die(path, strerror(errno));
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t* b = malloc((size_t)n);
  if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) die(path, "short read");
  fclose(f);
  *size = (size_t)n;
  return b;
}

/* A plain safetensors file, and the smallest student checkpoint libdeit writes. */
static void safetensors_seeds(void) {
  const char header[] =
      "{\"__metadata__\":{\"format\":\"pt\"},"
      "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
      "\"b\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[16,24]},"
      "\"c\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[24,27]}}";
  uint8_t file[512];
  const uint64_t n = sizeof header - 1;
  for (int k = 0; k < 8; ++k) file[k] = (uint8_t)(n >> (8 * k));
  memcpy(file + 8, header, n);
  memset(file + 8 + n, 0, 27);
  file[8 + n + 24] = 1;
  write_seed("safetensors", "plain", file, 8 + n + 27);
  write_seed("checkpoint", "plain", file, 8 + n + 27);

  deit_student_config cfg;
  deit_student* s = NULL;
  if (deit_student_config_init(&cfg, "seed", 2) != DEIT_OK) die("config", deit_last_error());
  cfg.img_size = 8;
  cfg.patch_size = 4;
  cfg.in_channels = 1;
  cfg.embed_dim = 4;
  cfg.depth = 1;
  cfg.num_heads = 2;
  cfg.mlp_dim = 4;
  if (deit_student_create(&cfg, 1, &s) != DEIT_OK) die("student", deit_last_error());
  const char* path = path_of("checkpoint", "student");
  if (deit_student_save(s, path) != DEIT_OK) die("save", deit_last_error());
  deit_student_free(s);
  size_t size = 0;
  uint8_t* bytes = read_all(path, &size);
  write_seed("safetensors", "student", bytes, size);
  free(bytes);
}

/* Small netpbm images (the JPEG, PNG and BMP seeds are the ok- files of regressions/image). */
static void image_seeds(void) {
  static const char ppm[] = "P6\n# seed\n3 2\n255\n";
  uint8_t buf[64];
  memcpy(buf, ppm, sizeof ppm - 1);
  for (size_t i = 0; i < 18; ++i) buf[sizeof ppm - 1 + i] = (uint8_t)(i * 14);
  write_seed("image", "rgb.ppm", buf, sizeof ppm - 1 + 18);
  static const char pgm[] = "P2\n2 2\n100\n0 25 50 100\n";
  write_seed("image", "gray.pgm", pgm, sizeof pgm - 1);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  g_root = argv[1];
  make_dir(g_root);
  const char* targets[] = {"idx", "cifar", "image", "safetensors", "checkpoint"};
  for (size_t k = 0; k < sizeof targets / sizeof *targets; ++k) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", g_root, targets[k]);
    make_dir(dir);
  }
  idx_seeds();
  cifar_seeds();
  image_seeds();
  safetensors_seeds();
  printf("make_seeds: corpus written to %s\n", g_root);
  return 0;
}
