// The structs behind deit_teacher and deit_student (LibTorch types inside).
#pragma once

#include <memory>
#include <utility>

#include "models/student.h"
#include "models/teacher.h"

struct deit_teacher {
  std::unique_ptr<deit::models::Teacher> teacher;
};

struct deit_student {
  deit::models::StudentConfig config;
  deit::models::DistilledViT net{nullptr};
  deit::models::DataCard card;  // of the data it was distilled on (saved in its checkpoint)
};

namespace deit::capi {
c10::Device device_of(const deit_student& s);
// The student's data card, and with it the input normalisation its network applies.
inline void set_card(deit_student& s, deit::models::DataCard card) {
  s.net->input_norm = card.preprocess.normalize;
  s.card = std::move(card);
}
}
