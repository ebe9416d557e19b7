#include "core/json.h"

#include <cmath>
#include <cstdio>
#include <deque>
#include <unordered_set>
#include <utility>

#include "core/error.h"

namespace deit {
namespace {

[[noreturn]] void format_error(const std::string& what) { throw Error(DEIT_E_FORMAT, "JSON: " + what); }

// Length of the valid UTF-8 sequence at s[i] (1..4), or 0 when it is not one
// (overlong forms, UTF-16 surrogates and code points above U+10FFFF rejected).
size_t utf8_sequence_length(const unsigned char* s, size_t i, size_t n) {
  const unsigned char c = s[i];
  if (c < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (n - i < len) return 0;
  if (s[i + 1] < lo || s[i + 1] > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if (s[i + k] < 0x80 || s[i + k] > 0xBF) return 0;
  }
  return len;
}

// Builds the document from nlohmann's SAX events, with the limits of JsonParseOptions.  (nlohmann's own
// DOM builder has no limits and keeps the last of two equal keys.)
class LimitedBuilder {
 public:
  explicit LimitedBuilder(const JsonParseOptions& options) : options_(options) {}

  Json take() { return std::move(root_); }

  bool null() { return add(Json(nullptr)); }
  bool boolean(bool b) { return add(Json(b)); }
  bool number_integer(Json::number_integer_t v) { return add(Json(v)); }
  bool number_unsigned(Json::number_unsigned_t v) { return add(Json(v)); }
  bool number_float(Json::number_float_t v, const std::string& text) {
    if (!std::isfinite(v)) format_error("number " + printable(text, 40) + " is out of range");
    return add(Json(v));
  }
  bool string(std::string& s) { return add(Json(std::move(s))); }
  bool binary(Json::binary_t&) { format_error("binary value"); }  // not reachable from JSON text

  bool start_object(size_t) { return open(Json::object()); }
  bool start_array(size_t) { return open(Json::array()); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(std::string& k) {
    Json& object = *stack_.back();
    if (!seen_.back().insert(k).second) {
      if (!options_.on_duplicate) format_error("duplicate key '" + printable(k) + "'");
      options_.on_duplicate(path(), k);
      dropped_.emplace_back();
      slot_ = &dropped_.back();
    } else {
      // Appended without ordered_map's linear search for the key (the set above knows it is new).
      auto& members = object.get_ref<Json::object_t&>();
      members.emplace_back(k, nullptr);
      slot_ = &members.back().second;
    }
    key_ = std::move(k);
    return true;
  }

  bool parse_error(size_t position, const std::string&, const nlohmann::json::exception& e) {
    // e.what(): "[json.exception.parse_error.101] parse error at line 1, column 7: syntax error ..." or
    // "[json.exception.out_of_range.406] number overflow parsing '1e427'": the part after the prefixes.
    std::string what = e.what();
    if (what.rfind('[', 0) == 0 && what.find("] ") != std::string::npos) what = what.substr(what.find("] ") + 2);
    if (what.rfind("parse error", 0) == 0 && what.find(": ") != std::string::npos)
      what = what.substr(what.find(": ") + 2);
    format_error(what + " at offset " + std::to_string(position > 0 ? position - 1 : 0));
  }

 private:
  bool add(Json v) {
    count();
    *place() = std::move(v);
    return true;
  }

  bool open(Json container) {
    count();
    if (stack_.size() >= options_.max_depth)
      format_error("nesting deeper than " + std::to_string(options_.max_depth));
    Json* at = place();
    *at = std::move(container);
    keys_.push_back(stack_.empty() || stack_.back()->is_array() ? std::string() : key_);
    stack_.push_back(at);
    seen_.emplace_back();
    return true;
  }

  bool close() {
    stack_.pop_back();
    keys_.pop_back();
    seen_.pop_back();
    return true;
  }

  void count() {
    if (++values_ > options_.max_values)
      format_error("more than " + std::to_string(options_.max_values) + " values");
  }

  // Where the next value goes: the root, the end of the open array, or the key just read.
  Json* place() {
    if (stack_.empty()) return &root_;
    Json& top = *stack_.back();
    if (top.is_array()) {
      top.push_back(nullptr);
      return &top.back();
    }
    return slot_;
  }

  std::vector<std::string> path() const { return {keys_.begin() + 1, keys_.end()}; }

  const JsonParseOptions& options_;
  Json root_;
  std::vector<Json*> stack_;       // the open containers (element pointers stay valid: only the top grows)
  std::vector<std::string> keys_;  // the key each open container sits under ("" for the root and in arrays)
  std::vector<std::unordered_set<std::string>> seen_;  // the keys of each open object (linear time)
  std::deque<Json> dropped_;       // repeated keys' values, parsed and then dropped
  Json* slot_ = nullptr;
  std::string key_;
  size_t values_ = 0;
};

void check_writable(const Json& j) {
  if (j.is_number_float() && !std::isfinite(j.get<double>()))
    throw Error(DEIT_E_INVALID_ARG, "JSON: cannot write a non-finite number (NaN or infinity)");
  if (j.is_structured())
    for (const Json& v : j) check_writable(v);
}

std::string type_text(const Json& v) {
  if (v.is_number_float()) return "non-integer number";
  if (v.is_number_unsigned() && !json_is_int(v)) return "integer beyond int64";
  return v.type_name();
}

[[noreturn]] void key_error(const std::string& key, const char* expected, const Json& v) {
  format_error("key '" + printable(key) + "': expected " + expected + ", got " + type_text(v));
}

}  // namespace

Json parse_json(const char* data, size_t size, const JsonParseOptions& options) {
  if (!data && size) throw Error(DEIT_E_INVALID_ARG, "JSON: null input");
  if (!data) data = "";
  LimitedBuilder builder(options);
  // The builder throws on every failure; strict: nothing but whitespace after the value.
  Json::sax_parse(data, data + size, &builder, nlohmann::detail::input_format_t::json, true);
  return builder.take();
}

std::string dump_json(const Json& j, int indent) {
  check_writable(j);
  try {
    return j.dump(indent);
  } catch (const nlohmann::json::type_error&) {
    throw Error(DEIT_E_INVALID_ARG, "JSON: cannot write a string that is not valid UTF-8");
  }
}

bool json_is_int(const Json& v) {
  if (v.is_number_unsigned())
    return v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  return v.is_number_integer();
}

const Json* json_find(const Json& j, const std::string& key) {
  if (!j.is_object()) return nullptr;
  const auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

const Json& json_at(const Json& j, const std::string& key) {
  if (!j.is_object()) format_error(std::string("expected an object, got ") + type_text(j));
  const Json* v = json_find(j, key);
  if (!v) format_error("missing key '" + printable(key) + "'");
  return *v;
}

bool json_bool(const Json& j, const std::string& key) {
  const Json& v = json_at(j, key);
  if (!v.is_boolean()) key_error(key, "a bool", v);
  return v.get<bool>();
}

int64_t json_int(const Json& j, const std::string& key) {
  const Json& v = json_at(j, key);
  if (!json_is_int(v)) key_error(key, "an integer", v);
  return v.get<int64_t>();
}

double json_double(const Json& j, const std::string& key) {
  const Json& v = json_at(j, key);
  if (!v.is_number()) key_error(key, "a number", v);
  return v.get<double>();
}

const std::string& json_string(const Json& j, const std::string& key) {
  const Json& v = json_at(j, key);
  if (!v.is_string()) key_error(key, "a string", v);
  return v.get_ref<const std::string&>();
}

const Json& json_array(const Json& j, const std::string& key) {
  const Json& v = json_at(j, key);
  if (!v.is_array()) key_error(key, "an array", v);
  return v;
}

int64_t json_int_or(const Json& j, const std::string& key, int64_t fallback) {
  return json_find(j, key) ? json_int(j, key) : fallback;
}

std::string printable(const std::string& s, size_t max_chars) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  std::string out;
  size_t chars = 0;
  for (size_t i = 0; i < n;) {
    if (chars >= max_chars) {
      out += "...";
      break;
    }
    const size_t len = utf8_sequence_length(p, i, n);
    if (len == 0 || p[i] < 0x20 || p[i] == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02X", p[i]);
      out += buf;
      i += 1;
    } else {
      out.append(s, i, len);
      i += len;
    }
    ++chars;
  }
  return out;
}

}  // namespace deit
