#pragma once

#include <simdjson.h>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "correlator/event.h"
#include "correlator/fields.h"
#include "correlator/parse.h"

// Shared by the Okta and the alert parsers: the checks every message goes through before simdjson
// sees it, simdjson error classification, and lenient readers for values whose JSON type varies
// between real payloads (numbers as strings, "null" as a string, null where an object belongs).
namespace og::correlator::json {

namespace od = simdjson::ondemand;
using simdjson::error_code;

// A reusable copy of one payload followed by SIMDJSON_PADDING zero bytes: Kafka payloads are not
// padded, and simdjson may read (never use) up to SIMDJSON_PADDING bytes past the end.
class PaddedBuffer {
 public:
  // Copies `payload`; the returned view stays valid until the next assign().
  std::string_view assign(std::string_view payload);
  std::size_t capacity() const { return capacity_; }
  // The '{' and '[' bytes of the last payload, counted during the copy (for precheck).
  std::size_t openers() const { return openers_; }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t capacity_ = 0;
  std::size_t openers_ = 0;
};

inline ParseFailure failure(ParseError error, std::string_view detail) {
  return ParseFailure{error, std::string(detail)};
}

// empty, too_large, invalid_utf8 and too_deep, decided on the raw bytes before any parsing.
std::optional<ParseFailure> precheck(std::string_view payload, const ParserLimits& limits);
// The same, given the payload's count of '{' and '[' bytes (PaddedBuffer::openers()).
std::optional<ParseFailure> precheck(std::string_view payload, const ParserLimits& limits, std::size_t openers);

// The nesting depth of a JSON text (brackets inside strings do not count). Exact for valid JSON.
std::size_t nesting_depth(std::string_view text);

ParseError classify(error_code error);

// Opens the root object. On failure tells a valid non-object document (not_an_object) from
// broken JSON.
std::optional<ParseFailure> open_root(od::document& doc, od::object& root);

// simdjson 3.0.1 refuses to open a root object unless the last token of the input is its closing
// brace, so `{...} xyz` fails as if truncated. When the input holds a complete first container
// followed by more than whitespace, returns the length of that container, so the caller can parse
// just it and report trailing_content if it is valid.
std::optional<std::size_t> trailing_split(std::string_view text);

// Call after the root value has been fully consumed: anything but whitespace left is an error.
std::optional<ParseFailure> check_trailing(od::document& doc);

namespace detail {

// The first '"', '\\' or NUL at or after `p`. Callers only scan strings that stage 1 has proven
// closed inside the padded buffer, so the block reads stay within the buffer's SIMDJSON_PADDING
// zero bytes. SSE2 is part of x86-64, so this needs no dispatch; 16 bytes a step covers nearly
// every key in one compare, where the word-at-a-time loop took two or three.
inline const char* find_quote_or_escape(const char* p) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"'), escape = _mm_set1_epi8('\\'), zero = _mm_setzero_si128();
  for (;; p += 16) {
    const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i hits = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(chunk, quote), _mm_cmpeq_epi8(chunk, escape)),
                                      _mm_cmpeq_epi8(chunk, zero));
    if (const auto mask = static_cast<unsigned>(_mm_movemask_epi8(hits))) return p + std::countr_zero(mask);
  }
#else
  constexpr std::uint64_t kOnes = 0x0101010101010101ull, kHighs = 0x8080808080808080ull;
  for (;; p += 8) {
    std::uint64_t word;
    std::memcpy(&word, p, sizeof word);
    const std::uint64_t quote = word ^ (kOnes * '"'), escape = word ^ (kOnes * '\\');
    // Exact for the lowest matching byte (borrows only carry upwards), which is all we need.
    const std::uint64_t hits = ((quote - kOnes) & ~quote) | ((escape - kOnes) & ~escape) | ((word - kOnes) & ~word);
    if (const std::uint64_t lowest = hits & kHighs) {
      static_assert(std::endian::native == std::endian::little);
      return p + (std::countr_zero(lowest) >> 3);
    }
  }
#endif
}

// Takes a copy: a reference would keep every caller's field in memory, fast path included.
error_code unescaped_key(od::field field, std::string_view& key);

}  // namespace detail

// The key of a field, unescaped only when it holds an escape (they never do in practice). Inline:
// out of line, the field went through memory, and copying it back stalled on store forwarding.
[[gnu::always_inline]] inline error_code key_of(od::field& field, std::string_view& key) {
  const char* start = field.key().raw();
  // Stage 1 has proven every string closed, and the zeroed padding stops the scan regardless.
  const char* end = detail::find_quote_or_escape(start);
  if (*end == '"') {
    key = std::string_view(start, static_cast<std::size_t>(end - start));
    return simdjson::SUCCESS;
  }
  return detail::unescaped_key(std::move(field), key);
}

namespace detail {

// Whether [p, end) holds a backslash. `end` lies inside a padded buffer, so reading up to 15
// bytes past it stays within the padding; the lanes past `end` are masked off. Inline SSE2
// rather than memchr: most values are a few dozen bytes, where the call and its setup dominated.
inline bool has_backslash(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i escape = _mm_set1_epi8('\\');
  for (; p < end; p += 16) {
    auto mask = static_cast<unsigned>(
        _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), escape)));
    const auto left = static_cast<std::size_t>(end - p);
    if (left < 16) mask &= (1u << left) - 1;
    if (mask != 0) return true;
  }
  return false;
#else
  return std::memchr(p, '\\', static_cast<std::size_t>(end - p)) != nullptr;
#endif
}

// read_view for everything but a string without escapes.
// Returned rather than written through a reference: a reference would keep every caller's view
// in memory, fast path included, where storing its two halves and reloading them as one 16-byte
// copy stalled on store forwarding.
struct ViewResult {
  std::string_view view;
  error_code error;
};
ViewResult read_view_general(od::value value, std::string_view current);

}  // namespace detail

// Scalar text: a string as is ("null" reads as empty), a number or boolean as its JSON text,
// null as empty. Objects and arrays are wrong_type. The view lives until the next iterate().
// Always inline: it runs for nearly every field the model holds, and out of line the call and the
// by-memory passing of `value` cost about as much as the work (the callee's copy of an argument
// just stored stalled on store forwarding); GCC declined plain `inline` for read_text.
[[gnu::always_inline]] inline error_code read_view(od::value value, std::string_view& out) {
  // Nearly every value read is a string without escapes: view it in place in the padded buffer
  // (stage 1 has validated its UTF-8 and found its closing quote), with no unescaping copy. A
  // scalar left unconsumed is skipped by the enclosing iteration.
  std::string_view token = value.raw_json_token();
  if (token.size() >= 2 && token.front() == '"') {
    // The token runs to the next structural, so its last non-blank byte is the closing quote. No
    // backslash before it means no escape (and no earlier, escaped quote).
    const char* start = token.data() + 1;
    const char* quote = token.data() + token.size() - 1;
    while (quote >= start && (*quote == ' ' || *quote == '\t' || *quote == '\n' || *quote == '\r'))
      --quote;
    if (quote >= start && *quote == '"' && !detail::has_backslash(start, quote)) {
      out = std::string_view(start, static_cast<std::size_t>(quote - start));
      if (out == "null") out = {};
      return simdjson::SUCCESS;
    }
  }
  const detail::ViewResult general = detail::read_view_general(value, out);
  out = general.view;
  return general.error;
}
// `Out` is std::string or Text.
template <typename Out>
[[gnu::always_inline]] inline error_code read_text(od::value value, Out& out) {
  std::string_view view;
  SIMDJSON_TRY(read_view(value, view));
  out.assign(view);
  return simdjson::SUCCESS;
}
namespace detail {
// The interned symbol for `text`, through a per-thread cache.
Symbol cached_symbol(std::string_view text);
}  // namespace detail
[[gnu::always_inline]] inline error_code read_symbol(od::value value, Symbol& out) {
  std::string_view view;
  SIMDJSON_TRY(read_view(value, view));
  out = detail::cached_symbol(view);
  return simdjson::SUCCESS;
}
namespace detail {
template <typename Out>
error_code read_any_text_general(od::value value, Out& out);
}  // namespace detail
// Like read_text, but objects and arrays are kept as their raw JSON text.
template <typename Out>
[[gnu::always_inline]] inline error_code read_any_text(od::value value, Out& out) {
  // A string (nearly always) is read_text's, which is what the general path would pick for it.
  std::string_view token = value.raw_json_token();
  if (!token.empty() && token.front() == '"') return read_text(value, out);
  return detail::read_any_text_general(value, out);
}
// A number, or a string holding one; null, "" and "null" leave `out` empty.
error_code read_double(od::value value, std::optional<double>& out);
error_code read_int64(od::value value, std::optional<std::int64_t>& out);
// true/false, or the strings "true"/"false".
error_code read_bool(od::value value, std::optional<bool>& out);
// Any JSON value as a rule sees it: objects and arrays become their raw JSON text.
error_code read_extra(od::value value, ExtraValue& out);

namespace detail {
error_code object_or_null_general(od::value value, od::object& out, bool& present);
error_code array_or_null_general(od::value value, od::array& out, bool& present);
}  // namespace detail

// An object, or null (present = false). Anything else is INCORRECT_TYPE. The common case first,
// inline: a get_object() that fails consumes nothing, so the general path still sees the value.
[[gnu::always_inline]] inline error_code object_or_null(od::value value, od::object& out, bool& present) {
  if (value.get_object().get(out) == simdjson::SUCCESS) {
    present = true;
    return simdjson::SUCCESS;
  }
  return detail::object_or_null_general(value, out, present);
}
[[gnu::always_inline]] inline error_code array_or_null(od::value value, od::array& out, bool& present) {
  if (value.get_array().get(out) == simdjson::SUCCESS) {
    present = true;
    return simdjson::SUCCESS;
  }
  return detail::array_or_null_general(value, out, present);
}

// Reads the registry's extra paths by JSON pointer into `out` (sorted by slot). Absent paths are
// skipped. Must be called after the document was fully consumed: it rewinds the document.
std::optional<ParseFailure> read_extras(od::document& doc, const FieldRegistry* extras, std::vector<ExtraField>& out);
// One slot of read_extras: appends the value at `pointer`, if present, to `out`.
std::optional<ParseFailure> read_extra_pointer(od::document& doc, std::string_view pointer, std::string_view path,
                                               std::uint16_t slot, std::vector<ExtraField>& out);
// The failure for an extra path whose value is there but cannot be read.
ParseFailure extra_failure(error_code error, std::string_view path);

}  // namespace og::correlator::json
