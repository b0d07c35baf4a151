#include "okta_client/version.h"

namespace og::okta {

std::string_view user_agent() {
  return "oktaguard/0.1.0";
}

}  // namespace og::okta
