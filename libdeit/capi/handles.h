// The structs behind the opaque C handles.  Shared by the capi shims only.
#pragma once

#include <memory>
#include <utility>

#include "data/dataset.h"

struct deit_dataset {
  deit::data::Dataset data;
};

namespace deit::capi {
// A new handle owning `ds`, for a shim's out-parameter.
inline deit_dataset* wrap(data::Dataset&& ds) {
  auto handle = std::make_unique<deit_dataset>();
  handle->data = std::move(ds);
  return handle.release();
}
}  // namespace deit::capi
