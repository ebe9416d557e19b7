// libdeit's JSON: nlohmann's ordered_json (Debian's nlohmann-json3-dev, header-only; objects keep insertion
// order, so checkpoint metadata and `describe` output are stable), and what reading hostile files needs on
// top of it: a parse with limits (nesting depth, value count, duplicate keys reported rather than silently
// merged, non-finite numbers refused; nlohmann itself checks RFC 8259 and UTF-8), a strict dump, and typed
// member reads whose errors name the key.  Every failure is a deit::Error.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace deit {

using Json = nlohmann::ordered_json;

struct JsonParseOptions {
  size_t max_depth = 64;                                   // nesting of arrays/objects
  size_t max_values = std::numeric_limits<size_t>::max();  // bounds memory on hostile input
  // A key its object already holds: `path` names that object (its keys from the root; "" for an array
  // element).  Unset: "JSON: duplicate key" is a DEIT_E_FORMAT error.  Set: called (it may throw), the
  // first value stays and the repeated one is dropped.
  std::function<void(const std::vector<std::string>& path, const std::string& key)> on_duplicate;
};

// One JSON text (surrounding whitespace allowed).  Throws deit::Error(DEIT_E_FORMAT, "JSON: <what>").
Json parse_json(const char* data, size_t size, const JsonParseOptions& options = {});
inline Json parse_json(const std::string& text, const JsonParseOptions& options = {}) {
  return parse_json(text.data(), text.size(), options);
}

// Compact when indent < 0, else pretty.  Throws DEIT_E_INVALID_ARG for NaN/infinity or a string that is
// not UTF-8 (nothing libdeit writes may be unreadable later).
std::string dump_json(const Json& j, int indent = -1);

// A number written without fraction or exponent that fits int64 (nlohmann keeps large positive integers
// as uint64).
bool json_is_int(const Json& v);

// Members of an object, with the key in the error: "JSON: key 'depth': expected an integer, got string";
// a missing key: "JSON: missing key 'depth'"; `j` not an object: "JSON: expected an object, got array".
const Json& json_at(const Json& j, const std::string& key);
const Json* json_find(const Json& j, const std::string& key);  // nullptr when absent or not an object
bool json_bool(const Json& j, const std::string& key);
int64_t json_int(const Json& j, const std::string& key);
double json_double(const Json& j, const std::string& key);
const std::string& json_string(const Json& j, const std::string& key);
const Json& json_array(const Json& j, const std::string& key);
// json_int with a fallback when the key is absent (a wrong type still throws).
int64_t json_int_or(const Json& j, const std::string& key, int64_t fallback);

// `s` made safe for an error message: control characters and bytes that are
// not UTF-8 escaped as \xNN, cut to about `max_chars` with "..." (names read
// from hostile files end up in messages).
std::string printable(const std::string& s, size_t max_chars = 120);

}  // namespace deit
