// The structs behind the opaque C handles.  Shared by the capi shims only.
#pragma once

#include "data/dataset.h"

struct deit_dataset {
  deit::data::Dataset data;
};
