// The struct behind deit_group, and how the training shims take it from their options.
#pragma once

#include <deit/deit.h>

#include <memory>

#include "dist/group.h"
#include "train/train.h"

struct deit_group {
  std::unique_ptr<deit::dist::Group> group;
};

namespace deit::capi {
// A training's group from its options (NULL: none); only rank 0 writes the training state.
inline void use_group(deit_group* handle, dist::Group** group, train::StateSettings* state) {
  *group = handle ? handle->group.get() : nullptr;
  if (*group && !(*group)->root()) state->write = false;
}
}  // namespace deit::capi
