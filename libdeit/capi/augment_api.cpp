// deit_augment_options: its init and its conversion into the trainers' recipe settings.
#include "capi/caller_struct.h"
#include "capi/guard.h"
#include "capi/option_defaults.h"
#include "capi/recipe_options.h"

namespace deit::capi {

train::RecipeSettings recipe_settings(const deit_augment_options* augment, double clip_grad) {
  train::RecipeSettings r;
  r.clip_grad = clip_grad;
  if (augment) {
    const deit_augment_options a = read_caller_struct(augment, option_defaults<deit_augment_options>(), "augment");
    r.augment.crop_padding = a.crop_padding;
    r.augment.resized_crop_scale = a.resized_crop_scale;
    r.augment.hflip = a.hflip != 0;
    r.augment.erase_prob = a.erase_prob;
    r.augment.mixup_alpha = a.mixup_alpha;
    r.augment.cutmix_alpha = a.cutmix_alpha;
  }
  train::validate(r);
  return r;
}

}  // namespace deit::capi

extern "C" {

DEIT_API deit_status deit_augment_options_init_sized(deit_augment_options* o, size_t size) {
  return deit::capi::guard(__func__, [&] {
    deit::capi::init_caller_struct(o, size, deit::capi::option_defaults<deit_augment_options>(), "options");
  });
}

}  // extern "C"
