#include "correlator/json_util.h"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace og::correlator::json {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string_view trim_right(std::string_view text) {
  while (!text.empty() && is_space(text.back()))
    text.remove_suffix(1);
  return text;
}

// '{' plus '[' bytes: an upper bound of the nesting depth. Byte lanes with GCC vector extensions
// (AVX2 clone picked at load time, two SSE2 halves otherwise), because the package builds without
// -march and the plain byte loop GCC made of the scalar version cost 2 instructions a byte, half
// of simdjson's whole stage 1. With `dst`, the bytes are copied there on the way: the copy into
// the padded buffer is the message's first touch, waiting on memory, and the count fits in the
// wait, where a second pass over the copy cost as much again.
using Lanes = unsigned char __attribute__((vector_size(32)));

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
std::size_t
count_openers(std::string_view text, char* dst) {
  const char* bytes = text.data();
  const std::size_t size = text.size();
  std::size_t total = 0, i = 0;
  while (i + sizeof(Lanes) <= size) {
    // A lane counts at most 2 per block step, so 127 steps cannot wrap it.
    Lanes block{};
    for (int step = 0; step < 127 && i + sizeof(Lanes) <= size; ++step, i += sizeof(Lanes)) {
      Lanes chunk;
      std::memcpy(&chunk, bytes + i, sizeof chunk);
      if (dst != nullptr) std::memcpy(dst + i, &chunk, sizeof chunk);
      // A true comparison is all ones (-1): subtracting it adds 1.
      block -= reinterpret_cast<Lanes>(chunk == '{');
      block -= reinterpret_cast<Lanes>(chunk == '[');
    }
    for (std::size_t lane = 0; lane < sizeof(Lanes); ++lane)
      total += block[lane];
  }
  if (dst != nullptr && i < size) std::memcpy(dst + i, bytes + i, size - i);
  for (; i < size; ++i)
    total += (bytes[i] == '{') + (bytes[i] == '[');
  return total;
}

}  // namespace

std::string_view PaddedBuffer::assign(std::string_view payload) {
  std::size_t needed = payload.size() + simdjson::SIMDJSON_PADDING;
  if (needed > capacity_) {
    // Grow geometrically so a stream of slowly growing messages does not reallocate each time.
    std::size_t grown = std::max(needed, capacity_ + capacity_ / 2);
    data_ = std::make_unique<char[]>(grown);
    capacity_ = grown;
  }
  openers_ = count_openers(payload, data_.get());
  // Zeroed so no stale bytes of an earlier, longer message follow this one (and for MSan).
  std::memset(data_.get() + payload.size(), 0, simdjson::SIMDJSON_PADDING);
  return {data_.get(), payload.size()};
}

std::size_t nesting_depth(std::string_view text) {
  std::size_t depth = 0, max_depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      max_depth = std::max(max_depth, ++depth);
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return max_depth;
}

std::optional<std::size_t> trailing_split(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && is_space(text[i]))
    ++i;
  if (i == text.size() || (text[i] != '{' && text[i] != '[')) return std::nullopt;
  std::size_t depth = 0;
  bool in_string = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && --depth == 0) {
      std::size_t end = i + 1;
      std::string_view rest = text.substr(end);
      if (std::all_of(rest.begin(), rest.end(), is_space)) return std::nullopt;
      return end;
    }
  }
  return std::nullopt;
}

std::optional<ParseFailure> precheck(std::string_view payload, const ParserLimits& limits) {
  return precheck(payload, limits, count_openers(payload, nullptr));
}

std::optional<ParseFailure> precheck(std::string_view payload, const ParserLimits& limits, std::size_t openers) {
  if (payload.size() > limits.max_message_bytes) return failure(ParseError::too_large, "message");
  if (std::all_of(payload.begin(), payload.end(), is_space)) return failure(ParseError::empty, "message");
  // No separate UTF-8 pass: simdjson 3.0.1's On Demand stage 1 validates the whole input, skipped
  // values included, and iterate() fails with UTF8_ERROR (-> invalid_utf8); parse_errors_test and
  // the mutation test hold it to that.
  // The exact depth scan is scalar; a System Log event has a few dozen brackets in all, so counting
  // them (vectorised) proves most messages shallow enough without it.
  if (openers > limits.max_depth && nesting_depth(payload) > limits.max_depth)
    return failure(ParseError::too_deep, "message");
  return std::nullopt;
}

ParseError classify(error_code error) {
  switch (error) {
    case simdjson::EMPTY:
      return ParseError::empty;
    case simdjson::CAPACITY:
      return ParseError::too_large;
    case simdjson::UTF8_ERROR:
      return ParseError::invalid_utf8;
    case simdjson::DEPTH_ERROR:
      return ParseError::too_deep;
    case simdjson::TRAILING_CONTENT:
      return ParseError::trailing_content;
    case simdjson::INCORRECT_TYPE:
    case simdjson::NUMBER_OUT_OF_RANGE:
      return ParseError::wrong_type;
    case simdjson::NO_SUCH_FIELD:
      return ParseError::missing_field;
    default:
      return ParseError::invalid_json;
  }
}

std::optional<ParseFailure> open_root(od::document& doc, od::object& root) {
  od::json_type type;
  if (auto error = doc.type().get(type))
    return failure(classify(error) == ParseError::empty ? ParseError::empty : ParseError::invalid_json, "root");
  if (type == od::json_type::object) {
    if (doc.get_object().get(root) != simdjson::SUCCESS) return failure(ParseError::invalid_json, "root");
    return std::nullopt;
  }
  // Consume the scalar or array fully so broken JSON is not reported as a mere wrong shape.
  error_code error = simdjson::SUCCESS;
  switch (type) {
    case od::json_type::array: {
      std::string_view raw;
      error = doc.raw_json().get(raw);
      break;
    }
    case od::json_type::string: {
      std::string_view s;
      error = doc.get_string().get(s);
      break;
    }
    case od::json_type::number: {
      double d;
      error = doc.get_double().get(d);
      break;
    }
    case od::json_type::boolean: {
      bool b;
      error = doc.get_bool().get(b);
      break;
    }
    case od::json_type::null: {
      bool is_null = false;
      error = doc.is_null().get(is_null);
      if (!error && !is_null) error = simdjson::N_ATOM_ERROR;
      break;
    }
    case od::json_type::object:
      break;
  }
  if (error == simdjson::TRAILING_CONTENT) return failure(ParseError::trailing_content, "root");
  if (error) return failure(ParseError::invalid_json, "root");
  if (type == od::json_type::array) {
    if (auto trailing = check_trailing(doc)) return trailing;
  }
  return failure(ParseError::not_an_object, "root");
}

std::optional<ParseFailure> check_trailing(od::document& doc) {
  // simdjson 3.0.1: current_location() fails with OUT_OF_BOUNDS once every structural token has
  // been consumed; a pointer means tokens are left after the root value.
  const char* location = nullptr;
  auto error = doc.current_location().get(location);
  if (error == simdjson::OUT_OF_BOUNDS) return std::nullopt;
  if (error) return failure(ParseError::invalid_json, "root");
  return failure(ParseError::trailing_content, "after root");
}

namespace detail {

error_code unescaped_key(od::field field, std::string_view& key) {
  return field.unescaped_key().get(key);
}

}  // namespace detail

namespace detail {

namespace {

error_code read_view_into(od::value value, std::string_view& out) {
  // Escapes (or a string simdjson must judge): unescape; a failed get_string() consumes nothing.
  if (value.get_string().get(out) == simdjson::SUCCESS) {
    if (out == "null") out = {};
    return simdjson::SUCCESS;
  }
  od::json_type type;
  SIMDJSON_TRY(value.type().get(type));
  switch (type) {
    case od::json_type::string: {
      SIMDJSON_TRY(value.get_string().get(out));
      if (out == "null") out = {};
      return simdjson::SUCCESS;
    }
    case od::json_type::number: {
      std::string_view raw = value.raw_json_token();
      double number;
      SIMDJSON_TRY(value.get_double().get(number));  // validates the token
      out = trim_right(raw);
      return simdjson::SUCCESS;
    }
    case od::json_type::boolean: {
      bool flag;
      SIMDJSON_TRY(value.get_bool().get(flag));
      out = flag ? "true" : "false";
      return simdjson::SUCCESS;
    }
    case od::json_type::null: {
      bool is_null = false;
      SIMDJSON_TRY(value.is_null().get(is_null));
      if (!is_null) return simdjson::N_ATOM_ERROR;
      out = {};
      return simdjson::SUCCESS;
    }
    default:
      return simdjson::INCORRECT_TYPE;
  }
}

}  // namespace

ViewResult read_view_general(od::value value, std::string_view current) {
  // `current` is what a failure leaves in the caller's view, as when this wrote through a reference.
  std::string_view out = current;
  const error_code error = read_view_into(value, out);
  return {out, error};
}

}  // namespace detail

namespace {

// Symbol::intern takes a shared lock and hashes; the values interned (event types, countries,
// outcome reasons) repeat from message to message, so a small direct-mapped cache per parsing
// thread answers most of them without touching the shared table.
std::uint64_t load64(const char* p) {
  std::uint64_t word;
  std::memcpy(&word, p, sizeof word);
  return word;
}

std::uint32_t load32(const char* p) {
  std::uint32_t word;
  std::memcpy(&word, p, sizeof word);
  return word;
}

// The first and last 8 bytes (overlapping when shorter), read with whole-word loads: a memcpy of
// a variable length into a zeroed word went through the stack and stalled on store forwarding.
struct Ends {
  std::uint64_t head, tail;
};
Ends ends_of(const char* p, std::size_t n) {
  if (n >= 8) return {load64(p), load64(p + n - 8)};
  if (n >= 4) return {load32(p), load32(p + n - 4)};
  return {static_cast<unsigned char>(p[0]) | static_cast<std::uint64_t>(static_cast<unsigned char>(p[n / 2])) << 8,
          static_cast<unsigned char>(p[n - 1])};
}

// Equality of two ranges of n bytes; overlapping word compares up to 16 bytes, memcmp beyond.
bool same_bytes(const char* a, const char* b, std::size_t n) {
  if (n > 16) return std::memcmp(a, b, n) == 0;
  if (n >= 8) return load64(a) == load64(b) && load64(a + n - 8) == load64(b + n - 8);
  if (n >= 4) return load32(a) == load32(b) && load32(a + n - 4) == load32(b + n - 4);
  for (std::size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return false;
  return true;
}

class SymbolCache {
 public:
  Symbol get(std::string_view text) {
    if (text.empty()) return Symbol{};
    // Length and the first and last 8 bytes: O(1), and enough to spread event types, countries
    // and reasons; a collision only costs a miss, the comparison below keeps it correct.
    const Ends ends = ends_of(text.data(), text.size());
    std::uint64_t hash = (ends.head * 0x9E3779B97F4A7C15ull) ^ (ends.tail * 0xC2B2AE3D27D4EB4Full) ^ text.size();
    Entry& entry = entries_[(hash >> 32) % kEntries];
    // Up to 16 bytes, the two words cover the whole text, so the interned string (another cache
    // line, often cold) is read only for longer ones.
    if (entry.size == text.size() && entry.head == ends.head && entry.tail == ends.tail &&
        (text.size() <= 16 || same_bytes(entry.symbol.str().data(), text.data(), text.size())))
      return entry.symbol;
    entry.symbol = Symbol::intern(text);
    entry.size = text.size();
    entry.head = ends.head;
    entry.tail = ends.tail;
    return entry.symbol;
  }

 private:
  static constexpr std::size_t kEntries = 1024;
  struct Entry {
    std::uint64_t head = 0, tail = 0;
    std::size_t size = 0;  // 0: unused (empty text is not cached)
    Symbol symbol;
  };
  std::array<Entry, kEntries> entries_{};
};

}  // namespace

namespace detail {

Symbol cached_symbol(std::string_view text) {
  thread_local SymbolCache cache;
  return cache.get(text);
}

}  // namespace detail

namespace detail {

template <typename Out>
error_code read_any_text_general(od::value value, Out& out) {
  od::json_type type;
  SIMDJSON_TRY(value.type().get(type));
  std::string_view raw;
  if (type == od::json_type::object) {
    od::object object;
    SIMDJSON_TRY(value.get_object().get(object));
    SIMDJSON_TRY(object.raw_json().get(raw));
  } else if (type == od::json_type::array) {
    od::array array;
    SIMDJSON_TRY(value.get_array().get(array));
    SIMDJSON_TRY(array.raw_json().get(raw));
  } else {
    return read_text(value, out);
  }
  out.assign(trim_right(raw));
  return simdjson::SUCCESS;
}
template error_code read_any_text_general(od::value, std::string&);
template error_code read_any_text_general(od::value, Text&);

}  // namespace detail

namespace {

template <typename T>
error_code number_from_string(std::string_view text, std::optional<T>& out) {
  if (text.empty() || text == "null") {
    out.reset();
    return simdjson::SUCCESS;
  }
  T parsed{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (ec != std::errc{} || end != text.data() + text.size()) return simdjson::INCORRECT_TYPE;
  out = parsed;
  return simdjson::SUCCESS;
}

}  // namespace

error_code read_double(od::value value, std::optional<double>& out) {
  od::json_type type;
  SIMDJSON_TRY(value.type().get(type));
  if (type == od::json_type::number) {
    double number;
    SIMDJSON_TRY(value.get_double().get(number));
    out = number;
    return simdjson::SUCCESS;
  }
  if (type == od::json_type::string || type == od::json_type::null) {
    std::string_view text;
    SIMDJSON_TRY(read_view(value, text));
    return number_from_string(text, out);
  }
  return simdjson::INCORRECT_TYPE;
}

error_code read_int64(od::value value, std::optional<std::int64_t>& out) {
  od::json_type type;
  SIMDJSON_TRY(value.type().get(type));
  if (type == od::json_type::number) {
    std::int64_t number;
    SIMDJSON_TRY(value.get_int64().get(number));
    out = number;
    return simdjson::SUCCESS;
  }
  if (type == od::json_type::string || type == od::json_type::null) {
    std::string_view text;
    SIMDJSON_TRY(read_view(value, text));
    return number_from_string(text, out);
  }
  return simdjson::INCORRECT_TYPE;
}

error_code read_bool(od::value value, std::optional<bool>& out) {
  od::json_type type;
  SIMDJSON_TRY(value.type().get(type));
  if (type == od::json_type::boolean) {
    bool flag;
    SIMDJSON_TRY(value.get_bool().get(flag));
    out = flag;
    return simdjson::SUCCESS;
  }
  if (type == od::json_type::string || type == od::json_type::null) {
    std::string_view text;
    SIMDJSON_TRY(read_view(value, text));
    if (text.empty())
      out.reset();
    else if (text == "true")
      out = true;
    else if (text == "false")
      out = false;
    else
      return simdjson::INCORRECT_TYPE;
    return simdjson::SUCCESS;
  }
  return simdjson::INCORRECT_TYPE;
}

error_code read_extra(od::value value, ExtraValue& out) {
  od::json_type type;
  SIMDJSON_TRY(value.type().get(type));
  switch (type) {
    case od::json_type::string: {
      std::string_view text;
      SIMDJSON_TRY(value.get_string().get(text));
      out = Text(text);
      return simdjson::SUCCESS;
    }
    case od::json_type::number: {
      double number;
      SIMDJSON_TRY(value.get_double().get(number));
      out = number;
      return simdjson::SUCCESS;
    }
    case od::json_type::boolean: {
      bool flag;
      SIMDJSON_TRY(value.get_bool().get(flag));
      out = flag;
      return simdjson::SUCCESS;
    }
    case od::json_type::null: {
      bool is_null = false;
      SIMDJSON_TRY(value.is_null().get(is_null));
      if (!is_null) return simdjson::N_ATOM_ERROR;
      out = std::monostate{};
      return simdjson::SUCCESS;
    }
    case od::json_type::object:
    case od::json_type::array: {
      Text text;
      SIMDJSON_TRY(read_any_text(value, text));
      out = std::move(text);
      return simdjson::SUCCESS;
    }
  }
  return simdjson::INCORRECT_TYPE;
}

namespace detail {

error_code object_or_null_general(od::value value, od::object& out, bool& present) {
  od::json_type type;
  SIMDJSON_TRY(value.type().get(type));
  if (type == od::json_type::null) {
    present = false;
    bool is_null = false;
    SIMDJSON_TRY(value.is_null().get(is_null));
    return is_null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
  }
  if (type != od::json_type::object) return simdjson::INCORRECT_TYPE;
  present = true;
  return value.get_object().get(out);
}

error_code array_or_null_general(od::value value, od::array& out, bool& present) {
  od::json_type type;
  SIMDJSON_TRY(value.type().get(type));
  if (type == od::json_type::null) {
    present = false;
    bool is_null = false;
    SIMDJSON_TRY(value.is_null().get(is_null));
    return is_null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
  }
  if (type != od::json_type::array) return simdjson::INCORRECT_TYPE;
  present = true;
  return value.get_array().get(out);
}

}  // namespace detail

ParseFailure extra_failure(error_code error, std::string_view path) {
  return failure(classify(error) == ParseError::wrong_type ? ParseError::invalid_json : classify(error), path);
}

std::optional<ParseFailure> read_extra_pointer(od::document& doc, std::string_view pointer, std::string_view path,
                                               std::uint16_t slot, std::vector<ExtraField>& out) {
  od::value value;
  auto error = doc.at_pointer(pointer).get(value);
  if (error == simdjson::NO_SUCH_FIELD || error == simdjson::INDEX_OUT_OF_BOUNDS || error == simdjson::INCORRECT_TYPE ||
      error == simdjson::INVALID_JSON_POINTER)
    return std::nullopt;  // absent here: a rule sees `missing`
  ExtraValue extra;
  if (!error) error = read_extra(value, extra);
  if (error) return extra_failure(error, path);
  out.push_back(ExtraField{slot, std::move(extra)});
  return std::nullopt;
}

std::optional<ParseFailure> read_extras(od::document& doc, const FieldRegistry* extras, std::vector<ExtraField>& out) {
  if (extras == nullptr) return std::nullopt;
  const std::vector<std::string>& pointers = extras->extra_json_pointers();
  for (std::size_t slot = 0; slot < pointers.size(); ++slot) {
    if (auto bad =
            read_extra_pointer(doc, pointers[slot], extras->extra_paths()[slot], static_cast<std::uint16_t>(slot), out))
      return bad;
  }
  return std::nullopt;
}

}  // namespace og::correlator::json
