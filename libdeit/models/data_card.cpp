#include "models/data_card.h"

#include "core/error.h"
#include "data/image_folder.h"
#include "models/input_norm.h"

namespace deit::models {

DataCard card_of(const data::Dataset& ds) { return {ds.class_names, ds.preprocess}; }

Json card_json(const DataCard& card) {
  Json j = Json::object();
  if (!card.class_names.empty()) {
    Json names = Json::array();
    for (const std::string& n : card.class_names) names.push_back(n);
    j["class_names"] = names;
  }
  const data::Preprocess& p = card.preprocess;
  if (p.image_size > 0) {
    Json pre = Json::object();
    pre["image_size"] = p.image_size;
    pre["crop_pct"] = p.crop_pct;
    pre["filter"] = p.filter == DEIT_RESIZE_BILINEAR ? "bilinear" : "bicubic";
    pre["channels"] = p.channels;
    if (p.normalize != DEIT_NORMALIZE_NONE) pre["normalize"] = normalization(p.normalize).name;  // absent: none
    j["preprocess"] = pre;
  }
  return j;
}

DataCard card_from_json(const Json& j, int64_t num_classes, const std::string& path) {
  DataCard card;
  try {
    if (json_find(j, "class_names")) {
      for (const Json& n : json_array(j, "class_names")) {
        if (!n.is_string()) fail(DEIT_E_FORMAT, std::string("a class name is a ") + n.type_name() + ", not a string");
        card.class_names.push_back(n.get<std::string>());
      }
      if (static_cast<int64_t>(card.class_names.size()) != num_classes)
        fail(DEIT_E_FORMAT, std::to_string(card.class_names.size()) + " class names for " +
                                std::to_string(num_classes) + " classes");
    }
    if (const Json* pre = json_find(j, "preprocess")) {
      data::Preprocess& p = card.preprocess;
      p.image_size = static_cast<int32_t>(json_int(*pre, "image_size"));
      p.crop_pct = json_double(*pre, "crop_pct");
      const std::string filter = json_string(*pre, "filter");
      if (filter != "bilinear" && filter != "bicubic") fail(DEIT_E_FORMAT, "unknown filter '" + printable(filter) + "'");
      p.filter = filter == "bilinear" ? DEIT_RESIZE_BILINEAR : DEIT_RESIZE_BICUBIC;
      p.channels = static_cast<int32_t>(json_int(*pre, "channels"));
      if (json_find(*pre, "normalize")) {
        const std::string n = json_string(*pre, "normalize");
        if (!normalization_named(n, &p.normalize)) fail(DEIT_E_FORMAT, "unknown normalize '" + printable(n) + "'");
      }
      data::ImageSettings settings;  // the bounds deit_image_options has
      settings.image_size = p.image_size;
      settings.crop_pct = p.crop_pct;
      settings.channels = p.channels;
      data::validate(settings);
    }
  } catch (const Error& e) {
    fail(DEIT_E_FORMAT, path + ": data card: " + e.what());
  }
  return card;
}

}  // namespace deit::models
