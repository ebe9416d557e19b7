// Image files: deit_image_options, image-folder data sets, one preprocessed file, class names.
#include <cstring>

#include "capi/caller_struct.h"
#include "capi/guard.h"
#include "capi/handles.h"
#include "capi/model_handles.h"
#include "capi/option_defaults.h"
#include "capi/results.h"
#include "core/c_enum.h"
#include "data/image_folder.h"
#include "runtime/runtime.h"

namespace {

using deit::capi::guard;
using deit::capi::require_arg;

// The caller's options (NULL: defaults) as checked settings; threads 0 follow the runtime's thread count.
deit::data::ImageSettings image_settings(const deit_image_options* options) {
  const auto defaults = deit::capi::option_defaults<deit_image_options>();
  const deit_image_options o = options ? deit::capi::read_caller_struct(options, defaults, "options") : defaults;
  deit::data::ImageSettings s;
  s.image_size = o.image_size;
  s.crop_pct = o.crop_pct;
  s.filter = o.filter;
  s.channels = o.channels;
  s.threads = o.threads;
  s.skip_bad = o.skip_bad != 0;
  s.max_pixels = o.max_pixels;
  s.normalize = deit::checked_enum(o.normalize, "options->normalize");
  deit::data::validate(s);
  if (s.threads == 0) s.threads = deit::runtime::num_threads();
  return s;
}

void write_class_name(const deit::models::DataCard& card, int64_t num_classes, int32_t index, char* buf,
                      size_t capacity) {
  require_arg(buf, "buf");
  deit::require(index >= 0 && index < num_classes,
                "class index " + std::to_string(index) + " is outside [0, " + std::to_string(num_classes) + ")");
  const bool named = static_cast<int64_t>(card.class_names.size()) == num_classes;
  deit::capi::copy_string(named ? card.class_names[static_cast<size_t>(index)] : std::string(), buf, capacity);
}

void write_image_options(const deit::models::DataCard& card, deit_image_options* options) {
  const deit::data::Preprocess& p = card.preprocess;
  if (p.image_size == 0) deit::fail(DEIT_E_STATE, "the model was not trained on image files: no preprocessing recorded");
  deit_image_options o = deit::capi::option_defaults<deit_image_options>();
  o.image_size = p.image_size;
  o.crop_pct = p.crop_pct;
  o.filter = p.filter;
  o.channels = p.channels;
  o.normalize = p.normalize;
  deit::capi::write_caller_struct(options, o, "options");
}

}  // namespace

extern "C" {

DEIT_API deit_status deit_teacher_class_name(const deit_teacher* teacher, int32_t index, char* buf,
                                             size_t capacity) {
  return guard(__func__, [&] {
    require_arg(teacher, "teacher");
    write_class_name(teacher->teacher->card, teacher->teacher->num_classes, index, buf, capacity);
  });
}

DEIT_API deit_status deit_student_class_name(const deit_student* student, int32_t index, char* buf,
                                             size_t capacity) {
  return guard(__func__, [&] {
    require_arg(student, "student");
    write_class_name(student->card, student->config.num_classes, index, buf, capacity);
  });
}

DEIT_API deit_status deit_teacher_image_options(const deit_teacher* teacher, deit_image_options* options) {
  return guard(__func__, [&] {
    require_arg(teacher, "teacher");
    write_image_options(teacher->teacher->card, options);
  });
}

DEIT_API deit_status deit_student_image_options(const deit_student* student, deit_image_options* options) {
  return guard(__func__, [&] {
    require_arg(student, "student");
    write_image_options(student->card, options);
  });
}

DEIT_API deit_status deit_image_options_init_sized(deit_image_options* o, size_t size) {
  return guard(__func__, [&] {
    deit::capi::init_caller_struct(o, size, deit::capi::option_defaults<deit_image_options>(), "options");
  });
}

DEIT_API deit_status deit_dataset_open_folder(const char* path, deit_split split, const deit_image_options* options,
                                              deit_dataset** out) {
  return guard(__func__, [&] {
    deit::capi::reset_out(out);
    require_arg(path, "path");
    *out = deit::capi::wrap(deit::data::open_folder(path, split, image_settings(options)));
  });
}

DEIT_API deit_status deit_dataset_open(const char* path, deit_split split, const deit_image_options* options,
                                       deit_dataset** out) {
  return guard(__func__, [&] {
    deit::capi::reset_out(out);
    require_arg(path, "path");
    *out = deit::capi::wrap(deit::data::open_any(path, split, image_settings(options)));
  });
}

DEIT_API deit_status deit_image_read_file(const char* path, const deit_image_options* options, uint8_t* buf,
                                          size_t capacity_bytes) {
  return guard(__func__, [&] {
    require_arg(path, "path");
    require_arg(buf, "buf");
    const deit::data::ImageSettings s = image_settings(options);
    const size_t needed = static_cast<size_t>(s.channels) * static_cast<size_t>(s.image_size) *
                          static_cast<size_t>(s.image_size);
    if (capacity_bytes < needed)
      deit::fail(DEIT_E_BUFFER_TOO_SMALL, "capacity_bytes " + std::to_string(capacity_bytes) +
                                              " is too small for one " + std::to_string(s.channels) + "x" +
                                              std::to_string(s.image_size) + "x" + std::to_string(s.image_size) +
                                              " image (needs " + std::to_string(needed) + ")");
    const std::vector<uint8_t> pixels = deit::data::read_image_file(path, s);
    std::memcpy(buf, pixels.data(), pixels.size());
  });
}

DEIT_API deit_status deit_dataset_class_name(const deit_dataset* dataset, int32_t index, char* buf,
                                             size_t capacity) {
  return guard(__func__, [&] {
    require_arg(dataset, "dataset");
    write_class_name(deit::models::card_of(dataset->data), dataset->data.num_classes, index, buf, capacity);
  });
}

}  // extern "C"
