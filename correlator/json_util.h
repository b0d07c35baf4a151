#pragma once

#include <simdjson.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

 private:
  std::unique_ptr<char[]> data_;
  std::size_t capacity_ = 0;
};

inline ParseFailure failure(ParseError error, std::string_view detail) {
  return ParseFailure{error, std::string(detail)};
}

// empty, too_large, invalid_utf8 and too_deep, decided on the raw bytes before any parsing.
std::optional<ParseFailure> precheck(std::string_view payload, const ParserLimits& limits);

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

// The key of a field, unescaped only when it holds an escape (they never do in practice).
error_code key_of(od::field& field, std::string_view& key);

// Scalar text: a string as is ("null" reads as empty), a number or boolean as its JSON text,
// null as empty. Objects and arrays are wrong_type. The view lives until the next iterate().
error_code read_view(od::value value, std::string_view& out);
error_code read_text(od::value value, std::string& out);
error_code read_symbol(od::value value, Symbol& out);
// Like read_text, but objects and arrays are kept as their raw JSON text.
error_code read_any_text(od::value value, std::string& out);
// A number, or a string holding one; null, "" and "null" leave `out` empty.
error_code read_double(od::value value, std::optional<double>& out);
error_code read_int64(od::value value, std::optional<std::int64_t>& out);
// true/false, or the strings "true"/"false".
error_code read_bool(od::value value, std::optional<bool>& out);
// Any JSON value as a rule sees it: objects and arrays become their raw JSON text.
error_code read_extra(od::value value, ExtraValue& out);

// An object, or null (present = false). Anything else is INCORRECT_TYPE.
error_code object_or_null(od::value value, od::object& out, bool& present);
error_code array_or_null(od::value value, od::array& out, bool& present);

// Reads the registry's extra paths by JSON pointer into `out` (sorted by slot). Absent paths are
// skipped. Must be called after the document was fully consumed: it rewinds the document.
std::optional<ParseFailure> read_extras(od::document& doc, const FieldRegistry* extras, std::vector<ExtraField>& out);
// One slot of read_extras: appends the value at `pointer`, if present, to `out`.
std::optional<ParseFailure> read_extra_pointer(od::document& doc, std::string_view pointer, std::string_view path,
                                               std::uint16_t slot, std::vector<ExtraField>& out);
// The failure for an extra path whose value is there but cannot be read.
ParseFailure extra_failure(error_code error, std::string_view path);

}  // namespace og::correlator::json
