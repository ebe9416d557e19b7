// deitctl's JSON: nlohmann's ordered_json (Debian's nlohmann-json3-dev, header-only), so that the keys of
// summary.json, metrics.jsonl and every --json result stay in the order they are written.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace deitctl {

using Json = nlohmann::ordered_json;

// One line (indent < 0) or pretty with `indent` spaces.  Bytes that are not UTF-8 (a file name from the
// disk) become U+FFFD instead of an exception; NaN and infinities are written as null.
inline std::string dump_json(const Json& j, int indent = -1) {
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

// The member `key` of an object; nullptr when `j` is not an object or has no such member.
inline const Json* json_member(const Json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  const auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

// The string member `key`; `fallback` when absent or not a string.
inline std::string json_string(const Json& j, const char* key, const std::string& fallback = "") {
  const Json* v = json_member(j, key);
  return v && v->is_string() ? v->get<std::string>() : fallback;
}

}  // namespace deitctl
