#pragma once

#include <optional>
#include <string_view>

#include "correlator/event.h"

namespace og::correlator {

// Parses an RFC 3339 timestamp as Okta writes `published` ("2024-08-13T15:58:20.353Z").
// Tolerated because the samples carry them: any number of fractional digits (2, 3, 6, 9 ...; finer
// than milliseconds is truncated), a space instead of 'T', and no zone (read as UTC). A numeric
// offset ("+02:00", "-0500") is applied. Returns nullopt for anything else, including "redacted".
std::optional<EventTime> parse_timestamp(std::string_view text);

}  // namespace og::correlator
