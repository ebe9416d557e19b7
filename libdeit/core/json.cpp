#include "core/json.h"

#include <clocale>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unordered_set>

#include "core/error.h"

// std::to_chars(double) gives the shortest round-trip text without locale
// surprises; older standard libraries fall back to snprintf.
#include <charconv>
#if defined(__cpp_lib_to_chars) && !defined(DEIT_JSON_NO_TO_CHARS)
#define DEIT_JSON_HAVE_TO_CHARS 1
#endif

namespace deit {
namespace {

[[noreturn]] void format_error(const std::string& what, size_t offset) {
  throw Error(DEIT_E_FORMAT, "JSON: " + what + " at offset " + std::to_string(offset));
}

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

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// strtod reads the C locale's decimal point; a host program may have changed it.
std::string localize_decimal_point(std::string text) {
  const char* point = std::localeconv()->decimal_point;
  if (point && std::strcmp(point, ".") != 0) {
    const size_t dot = text.find('.');
    if (dot != std::string::npos) text.replace(dot, 1, point);
  }
  return text;
}

#ifndef DEIT_JSON_HAVE_TO_CHARS
std::string delocalize_decimal_point(std::string text) {
  const char* point = std::localeconv()->decimal_point;
  if (point && *point && std::strcmp(point, ".") != 0) {
    const size_t at = text.find(point);
    if (at != std::string::npos) text.replace(at, std::strlen(point), ".");
  }
  return text;
}
#endif

std::string format_double(double v) {
  if (!std::isfinite(v))
    throw Error(DEIT_E_INVALID_ARG, "JSON: cannot write a non-finite number (NaN or infinity)");
  std::string text;
#ifdef DEIT_JSON_HAVE_TO_CHARS
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof(buf), v);
  text.assign(buf, res.ptr);
#else
  char buf[64];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  text = delocalize_decimal_point(buf);
#endif
  // Keep a double a double when read back ("3" would come back as an integer).
  if (text.find_first_of(".eE") == std::string::npos) text += ".0";
  return text;
}

class Parser {
 public:
  Parser(const char* data, size_t size, const Json::ParseOptions& options)
      : s_(reinterpret_cast<const unsigned char*>(data)), n_(size), opt_(options) {}

  Json parse_document() {
    skip_ws();
    Json value = parse_value(0);
    skip_ws();
    if (i_ != n_) format_error("unexpected " + describe_here() + " after the value", i_);
    return value;
  }

 private:
  std::string describe_here() const {
    if (i_ >= n_) return "end of input";
    const unsigned char c = s_[i_];
    if (c >= 0x20 && c < 0x7F) return std::string("character '") + static_cast<char>(c) + "'";
    char buf[16];
    std::snprintf(buf, sizeof(buf), "byte 0x%02X", c);
    return buf;
  }

  void skip_ws() {
    while (i_ < n_ && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }

  void count_value() {
    if (++values_ > opt_.max_values) {
      format_error("more than " + std::to_string(opt_.max_values) + " values", i_);
    }
  }

  Json parse_value(size_t depth) {
    if (i_ >= n_) format_error("unexpected end of input", i_);
    count_value();
    switch (s_[i_]) {
      case '{': return parse_object(depth + 1);
      case '[': return parse_array(depth + 1);
      case '"': return Json(parse_string());
      case 't': return parse_literal("true", Json(true));
      case 'f': return parse_literal("false", Json(false));
      case 'n': return parse_literal("null", Json());
      default:
        if (s_[i_] == '-' || (s_[i_] >= '0' && s_[i_] <= '9')) return parse_number();
        format_error("unexpected " + describe_here(), i_);
    }
  }

  Json parse_literal(const char* word, Json value) {
    const size_t len = std::strlen(word);
    if (n_ - i_ < len || std::memcmp(s_ + i_, word, len) != 0) format_error("invalid literal", i_);
    i_ += len;
    return value;
  }

  void check_depth(size_t depth) {
    if (depth > opt_.max_depth) {
      format_error("nesting deeper than " + std::to_string(opt_.max_depth) + " levels", i_);
    }
  }

  Json parse_array(size_t depth) {
    check_depth(depth);
    ++i_;  // '['
    Json::Array items;
    skip_ws();
    if (i_ < n_ && s_[i_] == ']') {
      ++i_;
      return Json(std::move(items));
    }
    for (;;) {
      skip_ws();
      items.push_back(parse_value(depth));
      skip_ws();
      if (i_ < n_ && s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < n_ && s_[i_] == ']') {
        ++i_;
        return Json(std::move(items));
      }
      format_error("expected ',' or ']' but found " + describe_here(), i_);
    }
  }

  Json parse_object(size_t depth) {
    check_depth(depth);
    ++i_;  // '{'
    Json::Object members;
    // Small objects are checked for duplicates by scanning; large ones by a set.
    std::unordered_set<std::string> seen;
    constexpr size_t kScanLimit = 16;
    skip_ws();
    if (i_ < n_ && s_[i_] == '}') {
      ++i_;
      return Json(std::move(members));
    }
    for (;;) {
      skip_ws();
      if (i_ >= n_ || s_[i_] != '"') format_error("expected a string key but found " + describe_here(), i_);
      const size_t key_offset = i_;
      std::string key = parse_string();
      if (!opt_.allow_duplicate_keys) {
        bool dup = false;
        if (members.size() < kScanLimit) {
          for (const auto& m : members) dup = dup || m.first == key;
        } else {
          if (seen.empty()) {
            for (const auto& m : members) seen.insert(m.first);
          }
          dup = !seen.insert(key).second;
        }
        if (dup) format_error("duplicate key \"" + printable(key) + "\"", key_offset);
      }
      skip_ws();
      if (i_ >= n_ || s_[i_] != ':') format_error("expected ':' but found " + describe_here(), i_);
      ++i_;
      skip_ws();
      Json value = parse_value(depth);
      members.emplace_back(std::move(key), std::move(value));
      skip_ws();
      if (i_ < n_ && s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < n_ && s_[i_] == '}') {
        ++i_;
        return Json(std::move(members));
      }
      format_error("expected ',' or '}' but found " + describe_here(), i_);
    }
  }

  uint32_t parse_hex4() {
    if (n_ - i_ < 4) format_error("truncated \\u escape", i_);
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const unsigned char c = s_[i_ + k];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= c - '0';
      } else if (c >= 'a' && c <= 'f') {
        v |= c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        v |= c - 'A' + 10;
      } else {
        format_error("invalid hex digit in \\u escape", i_ + k);
      }
    }
    i_ += 4;
    return v;
  }

  std::string parse_string() {
    ++i_;  // opening quote
    std::string out;
    for (;;) {
      // Copy runs of plain characters at once.
      const size_t run = i_;
      while (i_ < n_ && s_[i_] >= 0x20 && s_[i_] < 0x80 && s_[i_] != '"' && s_[i_] != '\\') ++i_;
      out.append(reinterpret_cast<const char*>(s_ + run), i_ - run);
      if (i_ >= n_) format_error("unterminated string", i_);
      const unsigned char c = s_[i_];
      if (c == '"') {
        ++i_;
        return out;
      }
      if (c < 0x20) format_error("unescaped control character in string", i_);
      if (c >= 0x80) {
        const size_t len = utf8_sequence_length(s_, i_, n_);
        if (len == 0) format_error("invalid UTF-8 in string", i_);
        out.append(reinterpret_cast<const char*>(s_ + i_), len);
        i_ += len;
        continue;
      }
      // Backslash escape.
      const size_t esc = i_;
      if (++i_ >= n_) format_error("unterminated string", i_);
      const unsigned char e = s_[i_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = parse_hex4();
          if (cp >= 0xDC00 && cp <= 0xDFFF) format_error("lone low surrogate in \\u escape", esc);
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (n_ - i_ < 2 || s_[i_] != '\\' || s_[i_ + 1] != 'u') {
              format_error("high surrogate not followed by a low surrogate", esc);
            }
            i_ += 2;
            const uint32_t low = parse_hex4();
            if (low < 0xDC00 || low > 0xDFFF)
              format_error("high surrogate not followed by a low surrogate", esc);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default: format_error("invalid escape in string", esc);
      }
    }
  }

  Json parse_number() {
    const size_t start = i_;
    bool integral = true;
    if (s_[i_] == '-') ++i_;
    if (i_ >= n_ || !(s_[i_] >= '0' && s_[i_] <= '9')) format_error("invalid number", start);
    if (s_[i_] == '0') {
      ++i_;
      if (i_ < n_ && s_[i_] >= '0' && s_[i_] <= '9') format_error("leading zero in number", start);
    } else {
      while (i_ < n_ && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    }
    if (i_ < n_ && s_[i_] == '.') {
      integral = false;
      ++i_;
      if (i_ >= n_ || !(s_[i_] >= '0' && s_[i_] <= '9')) format_error("digit expected after '.'", i_);
      while (i_ < n_ && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    }
    if (i_ < n_ && (s_[i_] == 'e' || s_[i_] == 'E')) {
      integral = false;
      ++i_;
      if (i_ < n_ && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (i_ >= n_ || !(s_[i_] >= '0' && s_[i_] <= '9')) format_error("digit expected in exponent", i_);
      while (i_ < n_ && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    }
    const std::string text(reinterpret_cast<const char*>(s_ + start), i_ - start);
    if (integral) {
      // Exact int64 when it fits: accumulate the magnitude as unsigned.
      const bool negative = text[0] == '-';
      const uint64_t limit = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
      uint64_t mag = 0;
      bool fits = true;
      for (size_t k = negative ? 1 : 0; k < text.size() && fits; ++k) {
        const uint64_t d = static_cast<uint64_t>(text[k] - '0');
        if (mag > (limit - d) / 10) {
          fits = false;
        } else {
          mag = mag * 10 + d;
        }
      }
      if (fits) {
        // Two's complement negation of the magnitude (well defined for INT64_MIN too).
        const int64_t v = negative ? static_cast<int64_t>(~mag + 1) : static_cast<int64_t>(mag);
        return Json(static_cast<long long>(v));
      }
    }
    const std::string local = localize_decimal_point(text);
    const double v = std::strtod(local.c_str(), nullptr);
    if (std::isinf(v)) format_error("number out of range", start);
    return Json(v);
  }

  const unsigned char* s_;
  size_t n_;
  size_t i_ = 0;
  size_t values_ = 0;
  Json::ParseOptions opt_;
};

void append_quoted(std::string& out, const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  out += '"';
  for (size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    if (c >= 0x80) {
      const size_t len = utf8_sequence_length(p, i, n);
      if (len == 0) throw Error(DEIT_E_INVALID_ARG, "JSON: cannot write a string that is not valid UTF-8");
      out.append(s, i, len);
      i += len;
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04X", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
}

void write_value(std::string& out, const Json& v, int indent, int level) {
  const auto newline = [&](int lvl) {
    if (indent < 0) return;
    out += '\n';
    out.append(static_cast<size_t>(indent) * static_cast<size_t>(lvl), ' ');
  };
  switch (v.type()) {
    case Json::Type::Null: out += "null"; break;
    case Json::Type::Bool: out += v.as_bool() ? "true" : "false"; break;
    case Json::Type::Number:
      out += v.is_int() ? std::to_string(v.as_int()) : format_double(v.as_double());
      break;
    case Json::Type::String: append_quoted(out, v.as_string()); break;
    case Json::Type::Array: {
      const auto& items = v.as_array();
      out += '[';
      for (size_t k = 0; k < items.size(); ++k) {
        if (k) out += ',';
        newline(level + 1);
        write_value(out, items[k], indent, level + 1);
      }
      if (!items.empty()) newline(level);
      out += ']';
      break;
    }
    case Json::Type::Object: {
      const auto& members = v.as_object();
      out += '{';
      for (size_t k = 0; k < members.size(); ++k) {
        if (k) out += ',';
        newline(level + 1);
        append_quoted(out, members[k].first);
        out += indent < 0 ? ":" : ": ";
        write_value(out, members[k].second, indent, level + 1);
      }
      if (!members.empty()) newline(level);
      out += '}';
      break;
    }
  }
}

std::string expected_got(const char* expected, const Json& v) {
  std::string got = v.type_name();
  if (v.is_number() && !v.is_int()) got = "non-integer number";
  return std::string("expected ") + expected + ", got " + got;
}

[[noreturn]] void type_error(const char* expected, const Json& v) {
  throw Error(DEIT_E_FORMAT, "JSON: " + expected_got(expected, v));
}

[[noreturn]] void key_error(const std::string& key, const char* expected, const Json& v) {
  throw Error(DEIT_E_FORMAT, "JSON: key '" + printable(key) + "': " + expected_got(expected, v));
}

}  // namespace

Json::Json(unsigned long long v) : type_(Type::Number) {
  if (v <= static_cast<unsigned long long>(std::numeric_limits<int64_t>::max())) {
    is_int_ = true;
    int_ = static_cast<int64_t>(v);
  }
  num_ = static_cast<double>(v);
}

Json::Json(Array a) : type_(Type::Array), arr_(std::make_unique<Array>(std::move(a))) {}
Json::Json(Object o) : type_(Type::Object), obj_(std::make_unique<Object>(std::move(o))) {}

Json::Json(const Json& other)
    : type_(other.type_),
      is_int_(other.is_int_),
      bool_(other.bool_),
      num_(other.num_),
      int_(other.int_),
      str_(other.str_),
      arr_(other.arr_ ? std::make_unique<Array>(*other.arr_) : nullptr),
      obj_(other.obj_ ? std::make_unique<Object>(*other.obj_) : nullptr) {}

Json& Json::operator=(const Json& other) {
  if (this != &other) {
    Json copy(other);
    *this = std::move(copy);
  }
  return *this;
}

Json Json::parse(const std::string& text, const ParseOptions& options) {
  return parse(text.data(), text.size(), options);
}

Json Json::parse(const char* data, size_t size, const ParseOptions& options) {
  if (!data && size) throw Error(DEIT_E_INVALID_ARG, "JSON: null input");
  Parser parser(data ? data : "", size, options);
  return parser.parse_document();
}

std::string Json::dump(int indent) const {
  std::string out;
  write_value(out, *this, indent, 0);
  return out;
}

const char* Json::type_name(Type t) {
  switch (t) {
    case Type::Null: return "null";
    case Type::Bool: return "bool";
    case Type::Number: return "number";
    case Type::String: return "string";
    case Type::Array: return "array";
    case Type::Object: return "object";
  }
  return "?";
}

bool Json::as_bool() const {
  if (!is_bool()) type_error("a bool", *this);
  return bool_;
}

double Json::as_double() const {
  if (!is_number()) type_error("a number", *this);
  return num_;
}

int64_t Json::as_int() const {
  if (!is_int()) type_error("an integer", *this);
  return int_;
}

const std::string& Json::as_string() const {
  if (!is_string()) type_error("a string", *this);
  return str_;
}

const Json::Array& Json::as_array() const {
  if (!is_array()) type_error("an array", *this);
  return *arr_;
}

Json::Array& Json::as_array() {
  if (!is_array()) type_error("an array", *this);
  return *arr_;
}

const Json::Object& Json::as_object() const {
  if (!is_object()) type_error("an object", *this);
  return *obj_;
}

Json::Object& Json::as_object() {
  if (!is_object()) type_error("an object", *this);
  return *obj_;
}

size_t Json::size() const {
  if (is_array()) return arr_->size();
  if (is_object()) return obj_->size();
  return 0;
}

void Json::push_back(Json value) {
  if (is_null()) *this = array();
  as_array().push_back(std::move(value));
}

const Json* Json::find(const std::string& key) const {
  if (!is_object()) return nullptr;
  for (const auto& m : *obj_) {
    if (m.first == key) return &m.second;
  }
  return nullptr;
}

Json* Json::find(const std::string& key) {
  return const_cast<Json*>(static_cast<const Json*>(this)->find(key));
}

const Json& Json::at(const std::string& key) const {
  if (!is_object()) type_error("an object", *this);
  const Json* v = find(key);
  if (!v) throw Error(DEIT_E_FORMAT, "JSON: missing key '" + printable(key) + "'");
  return *v;
}

void Json::set(const std::string& key, Json value) {
  if (is_null()) *this = object();
  if (Json* existing = find(key)) {
    *existing = std::move(value);
  } else {
    as_object().emplace_back(key, std::move(value));
  }
}

Json& Json::operator[](const std::string& key) {
  if (is_null()) *this = object();
  if (Json* existing = find(key)) return *existing;
  auto& members = as_object();
  members.emplace_back(key, Json());
  return members.back().second;
}

bool Json::get_bool(const std::string& key) const {
  const Json& v = at(key);
  if (!v.is_bool()) key_error(key, "a bool", v);
  return v.bool_;
}

int64_t Json::get_int(const std::string& key) const {
  const Json& v = at(key);
  if (!v.is_int()) key_error(key, "an integer", v);
  return v.int_;
}

double Json::get_double(const std::string& key) const {
  const Json& v = at(key);
  if (!v.is_number()) key_error(key, "a number", v);
  return v.num_;
}

const std::string& Json::get_string(const std::string& key) const {
  const Json& v = at(key);
  if (!v.is_string()) key_error(key, "a string", v);
  return v.str_;
}

const Json::Array& Json::get_array(const std::string& key) const {
  const Json& v = at(key);
  if (!v.is_array()) key_error(key, "an array", v);
  return *v.arr_;
}

const Json& Json::get_object(const std::string& key) const {
  const Json& v = at(key);
  if (!v.is_object()) key_error(key, "an object", v);
  return v;
}

bool Json::get_bool_or(const std::string& key, bool fallback) const {
  if (is_object() && !contains(key)) return fallback;
  return get_bool(key);
}

int64_t Json::get_int_or(const std::string& key, int64_t fallback) const {
  if (is_object() && !contains(key)) return fallback;
  return get_int(key);
}

double Json::get_double_or(const std::string& key, double fallback) const {
  if (is_object() && !contains(key)) return fallback;
  return get_double(key);
}

std::string Json::get_string_or(const std::string& key, const std::string& fallback) const {
  if (is_object() && !contains(key)) return fallback;
  return get_string(key);
}

bool Json::operator==(const Json& other) const {
  if (type_ != other.type_) return false;
  switch (type_) {
    case Type::Null: return true;
    case Type::Bool: return bool_ == other.bool_;
    case Type::Number: return (is_int_ && other.is_int_) ? int_ == other.int_ : num_ == other.num_;
    case Type::String: return str_ == other.str_;
    case Type::Array: return *arr_ == *other.arr_;
    case Type::Object: {
      // Members compare by key, not position.
      if (obj_->size() != other.obj_->size()) return false;
      for (const auto& m : *obj_) {
        const Json* o = other.find(m.first);
        if (!o || !(*o == m.second)) return false;
      }
      return true;
    }
  }
  return false;
}

std::string json_quote(const std::string& s) {
  std::string out;
  append_quoted(out, s);
  return out;
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
