// The struct behind deit_group, and how the training shims take it from their options.
#pragma once

#include <deit/deit.h>

#include <memory>

#include "dist/group.h"

struct deit_group {
  std::unique_ptr<deit::dist::Group> group;
};

namespace deit::capi {
// A training's group from its options (NULL: this process alone).
inline dist::Group* group_of(deit_group* handle) { return handle ? handle->group.get() : nullptr; }
}  // namespace deit::capi
