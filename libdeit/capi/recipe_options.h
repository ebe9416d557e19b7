// The recipe fields deit_teacher_train_options and deit_distill_options share, converted once.
#pragma once

#include <deit/deit.h>

#include "train/train.h"

namespace deit::capi {

// `augment` NULL: no augmentation.  Checked (DEIT_E_INVALID_ARG naming the field).
train::RecipeSettings recipe_settings(const deit_augment_options* augment, double clip_grad);

}  // namespace deit::capi
