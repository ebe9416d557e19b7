// What a model knows of the data it was trained on, carried in its checkpoint: the class names and how image
// files were preprocessed, so that prediction names classes and prepares photographs as training did.
#pragma once

#include <string>
#include <vector>

#include "core/json.h"
#include "data/dataset.h"

namespace deit::models {

struct DataCard {
  std::vector<std::string> class_names;  // empty: classes are numbers
  data::Preprocess preprocess;           // image_size 0: not trained on image files

  bool empty() const { return class_names.empty() && preprocess.image_size == 0; }
};

DataCard card_of(const data::Dataset& ds);
// {"class_names": [...], "preprocess": {"image_size", "crop_pct", "filter", "channels"}}; fields absent
// when unset.
Json card_json(const DataCard& card);
// Throws DEIT_E_FORMAT naming `path` for a malformed card; `num_classes` bounds the names.
DataCard card_from_json(const Json& j, int64_t num_classes, const std::string& path);

}  // namespace deit::models
