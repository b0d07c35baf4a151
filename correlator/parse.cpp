#include "correlator/parse.h"

#include <simdjson.h>

#include "correlator/alert_parser.h"
#include "correlator/json_util.h"
#include "correlator/okta_log_parser.h"

namespace og::correlator {

std::string_view to_string(ParseError error) {
  switch (error) {
    case ParseError::empty:
      return "empty";
    case ParseError::too_large:
      return "too_large";
    case ParseError::invalid_json:
      return "invalid_json";
    case ParseError::trailing_content:
      return "trailing_content";
    case ParseError::invalid_utf8:
      return "invalid_utf8";
    case ParseError::too_deep:
      return "too_deep";
    case ParseError::not_an_object:
      return "not_an_object";
    case ParseError::wrong_type:
      return "wrong_type";
    case ParseError::missing_field:
      return "missing_field";
    case ParseError::future_time:
      return "future_time";
  }
  return "invalid_json";
}

std::unique_ptr<EventParser> make_okta_parser(const FieldRegistry* extras, ParserLimits limits) {
  return std::make_unique<OktaLogParser>(extras, limits);
}

std::unique_ptr<EventParser> make_alert_parser(AlertMapping mapping, const FieldRegistry* extras, ParserLimits limits) {
  return std::make_unique<AlertParser>(std::move(mapping), extras, limits);
}

boost::system::result<std::vector<std::string>, ParseFailure> split_json_array(std::string_view document,
                                                                               ParserLimits limits) {
  namespace od = simdjson::ondemand;
  using json::failure;
  // A page of GET /api/v1/logs holds up to 1000 events, so the message size limit applies to each
  // element (the parser enforces it), not to the array.
  ParserLimits whole = limits;
  whole.max_message_bytes = std::max(limits.max_message_bytes, document.size());
  whole.max_depth = limits.max_depth + 1;
  if (auto bad = json::precheck(document, whole)) return *bad;

  simdjson::padded_string padded(document);
  od::parser parser;
  od::document doc;
  if (auto error = parser.iterate(padded).get(doc)) return failure(json::classify(error), "document");
  od::json_type type;
  if (doc.type().get(type) != simdjson::SUCCESS) return failure(ParseError::invalid_json, "root");
  if (type != od::json_type::array) return failure(ParseError::not_an_object, "root is not an array");
  od::array array;
  if (auto error = doc.get_array().get(array)) {
    if (auto end = json::trailing_split(document)) {
      auto prefix = split_json_array(document.substr(0, *end), limits);
      if (prefix) return failure(ParseError::trailing_content, "after root");
      return prefix.error();
    }
    return failure(json::classify(error), "root");
  }
  std::vector<std::string> elements;
  for (auto element : array) {
    od::value value;
    if (auto error = std::move(element).get(value)) return failure(json::classify(error), "element");
    od::json_type element_type;
    if (auto error = value.type().get(element_type)) return failure(json::classify(error), "element");
    std::string_view raw;
    simdjson::error_code error = simdjson::SUCCESS;
    if (element_type == od::json_type::object) {
      od::object object;
      error = value.get_object().get(object);
      if (!error) error = object.raw_json().get(raw);
    } else if (element_type == od::json_type::array) {
      od::array inner;
      error = value.get_array().get(inner);
      if (!error) error = inner.raw_json().get(raw);
    } else {
      // Kept so the element's parse reports it (not_an_object) and it is counted, not dropped.
      raw = value.raw_json_token();
    }
    if (error) return failure(json::classify(error), "element");
    while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' || raw.back() == '\t'))
      raw.remove_suffix(1);
    elements.emplace_back(raw);
  }
  if (auto bad = json::check_trailing(doc)) return *bad;
  return elements;
}

}  // namespace og::correlator
