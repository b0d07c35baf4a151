#pragma once

#include <string_view>

namespace og::okta {

// Sent as the User-Agent of every request, so Okta's System Log names the caller.
std::string_view user_agent();

}  // namespace og::okta
